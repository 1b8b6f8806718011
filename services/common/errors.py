"""Errors every service shares.

    HandoverError
    ├── ConfigError          the config file is wrong; carries the key path ("targets.crm.kind")
    ├── BrokerUnavailable    Kafka did not acknowledge in time (the gateway answers 503)
    └── EventTooLarge        an event is over Kafka's record limit (the gateway answers 413; never retried)

Delivery errors, which carry their retry policy, live in `services.sync.errors`.
"""

from __future__ import annotations


class HandoverError(Exception):
    """Base of every error Handover raises on purpose."""


class ConfigError(HandoverError):
    """A config value is missing or wrong; `path` names the key, dotted from the file's root."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class BrokerUnavailable(HandoverError):
    """Kafka did not acknowledge a publish within the configured time."""


class EventTooLarge(HandoverError):
    """An event is larger than the broker takes; sending it again can never succeed."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the event is {size} bytes encoded, over Kafka's record limit of {limit} bytes")
        self.size = size
        self.limit = limit
