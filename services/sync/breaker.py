"""A target's circuit breaker: consecutive transient failures pause it; one prober tries again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Breaker:
    """Consecutive transient failures of one target; open (paused) past the threshold.

    While open, one task at a time (the prober) keeps trying every `breaker_probe_s`; the
    others wait for its success instead of hammering the target.
    """

    threshold: int
    failures: int = 0
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    prober: asyncio.Task[Any] | None = None

    def __post_init__(self) -> None:
        self.resumed.set()

    @property
    def open(self) -> bool:
        """True while the target is paused."""
        return not self.resumed.is_set()

    def failed(self) -> bool:
        """Count a transient failure; True when this one opened the breaker."""
        self.failures += 1
        if self.failures >= self.threshold and not self.open:
            self.resumed.clear()
            return True
        return False

    def succeeded(self) -> bool:
        """Reset the count; True when this success closed an open breaker."""
        self.failures = 0
        if not self.open:
            return False
        self.prober = None
        self.resumed.set()
        return True
