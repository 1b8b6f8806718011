"""Shared pieces of the bench scripts: percentiles, medians, open-loop pacing, a lean HTTP/1.1 load client.

The load client speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies, one request in
flight per connection) to be cheap: aiohttp's client tops out around 3,300 req/s on this kind of
machine (shared/BROKER_NOTES.md), which would make the client, not the server, the bottleneck.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of already sorted values, nearest-rank; nan when empty."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (Linux /proc) has used so far; nan where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class CpuShares:
    """How much of a core each named process used between `start()` and `shares()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def shares(self) -> dict[str, float]:
        """Per name, CPU seconds per wall second since start() (1.0 = one core busy)."""
        wall = time.perf_counter() - self.t0
        return {name: (cpu_seconds(pid) - self.c0[name]) / wall for name, pid in self.pids.items()}


def median(values: Sequence[float]) -> float:
    """The median, nan when empty."""
    return statistics.median(values) if values else float("nan")


@dataclass
class LoadResult:
    """One measured run: counts, throughput and latency (milliseconds)."""

    mode: str
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    errors: int = 0
    target_rps: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def summarise(mode: str, seconds: float, latencies_s: list[float], statuses: Counter[int],
              errors: int, target_rps: float = 0.0) -> LoadResult:
    """Turn raw samples into a LoadResult."""
    lat = sorted(x * 1000 for x in latencies_s)
    non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    return LoadResult(
        mode=mode, seconds=round(seconds, 3), requests=len(lat),
        rps=round(len(lat) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(lat, 50), 3), p90_ms=round(percentile(lat, 90), 3),
        p99_ms=round(percentile(lat, 99), 3), max_ms=round(lat[-1], 3) if lat else float("nan"),
        statuses={str(k): v for k, v in sorted(statuses.items())}, non_2xx=non_2xx, errors=errors,
        target_rps=target_rps,
    )


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.need = -1  # bytes of the whole response once its head is parsed
        self.status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            self.status = int(head[9:12])
            length = 0
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else None])
            self.need = end + 4 + length
        if len(self.buf) >= self.need:
            del self.buf[: self.need]
            self.need = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(self.status)

    async def request(self, raw: bytes) -> int:
        """Send one full request; the answer's status."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def _connect(host: str, port: int) -> _Conn:
    _, conn = await asyncio.get_running_loop().create_connection(_Conn, host, port)
    return conn


async def closed_loop(host: str, port: int, make_request: Callable[[], bytes], concurrency: int,
                      duration_s: float, warmup_s: float = 1.0) -> LoadResult:
    """`concurrency` connections each sending the next request as soon as the last one answered.

    The first `warmup_s` seconds are sent but not counted.
    """
    conns = [await _connect(host, port) for _ in range(concurrency)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    clock = time.perf_counter
    start = clock()
    t_measure = start + warmup_s
    t_end = t_measure + duration_s

    async def worker(conn: _Conn) -> None:
        nonlocal errors
        while True:
            t0 = clock()
            if t0 >= t_end:
                return
            try:
                status = await conn.request(make_request())
            except ConnectionError:
                errors += 1
                conn = await _connect(host, port)
                continue
            if t0 >= t_measure:
                latencies.append(clock() - t0)
                statuses[status] += 1

    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = clock() - t_measure
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    return summarise("closed", elapsed, latencies, statuses, errors)


async def open_loop(host: str, port: int, make_request: Callable[[], bytes], rate: float,
                    duration_s: float, warmup_s: float = 1.0, preopen: int = 16, max_conns: int = 512) -> LoadResult:
    """Requests sent on a fixed schedule (`rate` per second), whatever the answers' pace.

    Latency counts from each request's *scheduled* send time, so queueing behind a slow answer
    is included (no coordinated omission). A request finding no idle connection opens a new one
    (up to `max_conns`), as independent senders would.
    """
    loop = asyncio.get_running_loop()
    idle = [await _connect(host, port) for _ in range(preopen)]
    total = len(idle)
    freed = asyncio.Condition()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    clock = time.perf_counter
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float, counted: bool) -> None:
        nonlocal total, errors
        if idle:
            conn = idle.pop()
        elif total < max_conns:
            total += 1
            conn = await _connect(host, port)
        else:
            async with freed:
                await freed.wait_for(lambda: bool(idle))
            conn = idle.pop()
        try:
            status = await conn.request(make_request())
        except ConnectionError:
            errors += 1
            total -= 1
            return
        if counted:
            latencies.append(clock() - scheduled)
            statuses[status] += 1
        if conn.closed:
            total -= 1
        else:
            idle.append(conn)
            if freed._waiters:  # type: ignore[attr-defined]
                async with freed:
                    freed.notify()

    interval = 1.0 / rate
    start = clock() + 0.01
    t_measure = start + warmup_s
    n_total = int((warmup_s + duration_s) * rate)
    for i in range(n_total):
        scheduled = start + i * interval
        delay = scheduled - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        t = loop.create_task(one(scheduled, scheduled >= t_measure))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    elapsed = (start + n_total * interval) - t_measure
    for c in idle:
        if c.transport is not None:
            c.transport.close()
    return summarise("open", elapsed, latencies, statuses, errors, target_rps=rate)
