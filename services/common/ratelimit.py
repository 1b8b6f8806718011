"""Rate limits, each with an injectable clock (seconds, monotonic by default).

    TokenBucket      `rate_per_minute` a minute, bursts up to the same number (gateway intake)
    SlidingWindow    at most `limit` in any `window_s` seconds (a vendor's documented quota,
                     failed logins: `wait` asks without taking, `record` counts one regardless)
    PerClient        one limiter per client key, least recently used forgotten past `max_clients`
    Hold             held back until a moment someone named (a vendor said its window is used up)

Every limiter answers with the seconds to wait: 0.0 means go ahead.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

Clock = Callable[[], float]


class TokenBucket:
    """`rate_per_minute` tokens a minute, bursts up to the same number."""

    def __init__(self, rate_per_minute: int, clock: Clock = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(max(1, rate_per_minute))
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()

    def take(self) -> float:
        """Take a token; 0.0 when allowed, else the whole seconds (at least 1) until one is available."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        # Whole seconds: the wait becomes a Retry-After header, which takes integers.
        return max(1.0, math.ceil((1 - self.tokens) / self.rate))


class SlidingWindow:
    """At most `limit` takes in any `window_s` seconds."""

    def __init__(self, limit: int, window_s: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        # Only the newest `limit` matter: the wait runs until the oldest of them leaves the window.
        self._taken: deque[float] = deque(maxlen=limit)

    def wait(self) -> float:
        """The seconds until a slot frees (0.0: one is free now), taking none."""
        now = self.clock()
        while self._taken and self._taken[0] <= now - self.window_s:
            self._taken.popleft()
        if len(self._taken) < self.limit:
            return 0.0
        return self._taken[0] + self.window_s - now

    def record(self) -> None:
        """Count one use now, whether or not a slot was free (a failed login, say)."""
        self._taken.append(self.clock())

    def take(self) -> float:
        """Take a slot and return 0.0, or return the seconds until one frees (taking none)."""
        wait = self.wait()
        if not wait:
            self.record()
        return wait


class Limiter(Protocol):
    """Anything with `take() -> seconds to wait`."""

    def take(self) -> float:
        """0.0 when allowed, else the seconds to wait."""
        ...


L = TypeVar("L", bound=Limiter)


class PerClient(Generic[L]):
    """One limiter per client, so a flooding client uses up only its own allowance.

    Memory is bounded: at most `max_clients` limiters, the least recently used forgotten first
    (a forgotten client starts again with a fresh limiter, which is what an idle one has anyway)."""

    def __init__(self, make: Callable[[], L], max_clients: int = 10_000) -> None:
        self.make = make
        self.max_clients = max_clients
        self._limiters: OrderedDict[str, L] = OrderedDict()

    def get(self, client: str) -> L | None:
        """This client's limiter if it is remembered (None: it starts fresh), creating none."""
        return self._limiters.get(client)

    def for_client(self, client: str) -> L:
        """This client's limiter, a new one if it is not remembered; now the most recently used."""
        limiter = self._limiters.get(client)
        if limiter is None:
            limiter = self._limiters[client] = self.make()
            if len(self._limiters) > self.max_clients:
                self._limiters.popitem(last=False)
        else:
            self._limiters.move_to_end(client)
        return limiter

    def take(self, client: str) -> float:
        """Take from this client's limiter; 0.0 when allowed, else seconds to wait."""
        return self.for_client(client).take()

    def clear(self, client: str | None = None) -> None:
        """Forget one client's limiter (it starts fresh), or every client's."""
        if client is None:
            self._limiters.clear()
        else:
            self._limiters.pop(client, None)

    def __len__(self) -> int:
        return len(self._limiters)


class Hold:
    """Held back until a named moment: a vendor said its window is used up, so stop asking."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.until = 0.0

    def hold_for(self, seconds: float) -> None:
        """Hold back for `seconds` from now (a longer hold already in place stays)."""
        self.until = max(self.until, self.clock() + seconds)

    def take(self) -> float:
        """0.0 when not held, else the seconds the hold has left."""
        return max(0.0, self.until - self.clock())
