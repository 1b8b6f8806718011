"""The delivery ledger's interface, and a no-op one for processes that run without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from schemas import Event

Prior = Literal["delivered", "deadlettered", "deadlettering", "ambiguous"] | None


@dataclass(frozen=True)
class KeptDeadLetter:
    """What a dead-letter record holds (value, key, headers), kept by the ledger beside the topic."""

    target: str
    value: bytes
    headers: dict[str, str]
    record_key: bytes | None = None
    key: str = ""  # the action's idempotency key (as read back)
    written_at: float = 0.0  # epoch seconds (as read back)


class Ledger(Protocol):
    """What the sync runner records around every action (see services/ledger for backends)."""

    async def begin(
        self, key: str, event: Event, target: str, flow: str, action: str, idempotency: str
    ) -> Prior:
        """Register an action about to run; "delivered" if done before, "deadlettered" if it is
        in the dead-letter topic (only a replay retries it), "ambiguous" if a call of an
        `idempotency` "none" or "lookup" action was interrupted between sending and confirmation."""
        ...

    async def sending(self, key: str, attempt: int) -> None:
        """The call to the target starts now."""
        ...

    async def delivered(self, key: str, external_id: str, attempts: int) -> None:
        """The target confirmed the action."""
        ...

    async def failed(self, key: str, error: str, attempts: int) -> None:
        """An attempt failed (it may be retried)."""
        ...

    async def retrying(self, key: str, next_attempt_at: float) -> None:
        """The next attempt is scheduled for this time (epoch seconds)."""
        ...

    async def deadlettering(self, key: str, copy: KeptDeadLetter | None = None) -> None:
        """The action is about to be written to the dead-letter topic (a crash right after leaves
        "deadlettering", which tells the next owner to look there before writing it again);
        `copy` is kept with it, so the dead letter can be written again should the topic lose it."""
        ...

    async def deadlettered(self, key: str, error: str, attempts: int, dlq_offset: int) -> None:
        """The action went to its target's dead-letter topic."""
        ...

    async def in_doubt(self, key: str, error: str, attempts: int) -> None:
        """An attempt may have taken effect and is not settled yet: keep the action "sending"
        (a restart then looks it up before anything else), noting the error and attempts."""
        ...

    async def record_sent(self, key: str, fields: dict[str, Any], answer: str, secrets: Iterable[str] = ()) -> None:
        """Keep what an attempt sent and what the target answered (the audit trail), secrets masked."""
        ...


class NullLedger:
    """Records nothing: every action counts as new (connectors' own idempotency still holds)."""

    async def begin(self, key: str, event: Event, target: str, flow: str, action: str, idempotency: str) -> Prior:
        return None

    async def sending(self, key: str, attempt: int) -> None:
        return None

    async def delivered(self, key: str, external_id: str, attempts: int) -> None:
        return None

    async def failed(self, key: str, error: str, attempts: int) -> None:
        return None

    async def retrying(self, key: str, next_attempt_at: float) -> None:
        return None

    async def deadlettering(self, key: str, copy: KeptDeadLetter | None = None) -> None:
        return None

    async def deadlettered(self, key: str, error: str, attempts: int, dlq_offset: int) -> None:
        return None

    async def in_doubt(self, key: str, error: str, attempts: int) -> None:
        return None

    async def record_sent(self, key: str, fields: dict[str, Any], answer: str, secrets: Iterable[str] = ()) -> None:
        return None
