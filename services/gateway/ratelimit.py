"""Token buckets per source and per client: bursts allowed, a sustained flood answered 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections import OrderedDict


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


class ClientBuckets:
    """One TokenBucket per client address, so a flooding client uses up only its own allowance.

    Memory is bounded: at most `max_clients` buckets, the least recently used forgotten first
    (a forgotten client starts again with a full bucket, which is what an idle one has anyway)."""

    def __init__(self, rate_per_minute: int, max_clients: int = 10_000) -> None:
        self.rate_per_minute = rate_per_minute
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token from this client's bucket; 0.0 when allowed, else seconds to wait."""
        if self.rate_per_minute <= 0:
            return 0.0
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = TokenBucket(self.rate_per_minute)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket.take()

    def __len__(self) -> int:
        return len(self._buckets)
