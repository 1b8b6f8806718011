"""A token bucket per source: bursts allowed, a sustained flood answered 429 with Retry-After."""

from __future__ import annotations

import math
import time


class TokenBucket:
    """`rate_per_minute` tokens a minute, bursts up to the same number."""

    def __init__(self, rate_per_minute: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(max(1, rate_per_minute))
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token; 0.0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return max(1.0, math.ceil((1 - self.tokens) / self.rate))
