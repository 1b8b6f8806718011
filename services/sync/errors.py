"""Delivery errors carry their retry policy; the runner decides from the class alone.

    DeliveryError
    ├── Transient        try again later: timeouts, connection errors, 5xx, 429
    │                    (`retry_after` in seconds when the target said so)
    │                    (`sent=False` when the request certainly never reached the target:
    │                    refused connections, 429, a client-side rate limit)
    └── Permanent        retrying cannot help: 4xx validation, mapping errors, undecodable
        │                events; dead-lettered after the configured attempts
        └── Ambiguous    the target cannot tell whether a create took effect: dead-lettered
                         for a person to check, never repeated blindly
"""

from __future__ import annotations

from collections.abc import Mapping


class DeliveryError(Exception):
    """A delivery failed; `retriable` says whether the runner tries again."""

    retriable: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Transient(DeliveryError):
    """The target may succeed later; honour `retry_after` (seconds) when given."""

    retriable = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        # False only when the request certainly did not reach the target; True means it may
        # have taken effect (a timeout, a dropped connection, a 5xx after the request went out).
        self.sent = sent


class Permanent(DeliveryError):
    """The same request will fail the same way; the vendor's message is kept."""


class Ambiguous(Permanent):
    """A create may or may not have taken effect and the target cannot say which; the message
    tells the owner what to check there."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def from_http(
    status: int, body: str, headers: Mapping[str, str] | None = None, *, target: str = ""
) -> DeliveryError:
    """Map an HTTP error answer onto the policy: 408/425/429/5xx transient, other 4xx permanent."""
    headers = headers or {}
    text = f"{target + ' ' if target else ''}answered {status}: {body[:500]}".strip()
    if status in (408, 425, 429) or status >= 500:
        # A 429 is a refusal before any work (RFC 6585); anything else may have been applied.
        return Transient(text, status=status, retry_after=parse_retry_after(headers.get("Retry-After")),
                         sent=status != 429)
    return Permanent(text, status=status)
