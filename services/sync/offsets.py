"""Which offsets of a partition are safe to commit: everything below the first unfinished one."""

from __future__ import annotations

import time


class PartitionOffsets:
    """Offsets of one partition handed out (in order) and not yet finished."""

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.highest_started: int | None = None
        self.committed: int | None = None
        # A commit failed: until a new record shows the log goes on, commit nothing (the broker
        # may have come back without this log, and an old position would skip the new records).
        self.unconfirmed = False

    def started(self, offset: int) -> None:
        """An offset was handed out for processing (offsets arrive in increasing order)."""
        self.pending.add(offset)
        self.highest_started = offset
        self.unconfirmed = False

    def finished(self, offset: int) -> None:
        """An offset's work is done: delivered, skipped, or dead-lettered."""
        self.pending.discard(offset)

    def first_unfinished(self) -> int | None:
        """The lowest offset not done yet (last started + 1 when all are); None before any."""
        if self.highest_started is None:
            return None
        return min(self.pending) if self.pending else self.highest_started + 1

    def commit_offset(self) -> int | None:
        """The offset to commit now (first unfinished, or last started + 1); None if unchanged."""
        if self.highest_started is None or self.unconfirmed:
            return None
        safe = min(self.pending) if self.pending else self.highest_started + 1
        return None if safe == self.committed else safe


class CommitClock:
    """Says when the next periodic commit is due: every `interval_s`, the first one interval_s
    after it is made."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.next_at = time.monotonic() + interval_s

    def due(self) -> bool:
        """True once per interval; the caller commits then."""
        now = time.monotonic()
        if now < self.next_at:
            return False
        self.next_at = now + self.interval_s
        return True
