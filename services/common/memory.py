"""Garbage-collector settings for Handover's long-running processes (`run`, `gateway`, `sync`)."""

from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 50_000  # allocations between young-generation collections (Python: 700)


def tune_gc() -> tuple[int, int, int]:
    """Once start-up is done: freeze what it made (modules, config, compiled flows, connections)
    so that a full collection walks only what the running service allocates since, and collect
    the young generation every 50,000 allocations instead of every 700. Returns the thresholds
    before, for `untune_gc`.

    The hot paths (a webhook, a delivery) allocate many short-lived objects and hardly any
    reference cycles, which reference counting frees at once. With Python's defaults, full
    collections over the whole heap stalled a sync worker for 30-40 ms a few times per 10,000
    events, and the young collections cost several % of its CPU (docs/benchmarks.md, sync)."""
    before = gc.get_threshold()
    gc.collect()  # what is garbage now is not frozen
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, before[1], before[2])
    return before


def untune_gc(before: tuple[int, int, int]) -> None:
    """Undo `tune_gc` (benchmarks that measure something else next in the same process)."""
    gc.unfreeze()
    gc.set_threshold(*before)
