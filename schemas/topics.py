"""The one place Kafka topic names live."""

from __future__ import annotations

PREFIX = "handover"


def event_topic(event_type: str) -> str:
    """The topic for one event type: "order.created" -> "handover.events.order.created"."""
    return f"{PREFIX}.events.{event_type}"


def deadletter_topic(target: str) -> str:
    """The dead-letter topic for one target."""
    return f"{PREFIX}.deadletter.{target}"


def sync_group(target: str) -> str:
    """The consumer group that delivers to one target."""
    return f"{PREFIX}-sync-{target}"


RECORDER_GROUP = f"{PREFIX}-recorder"
