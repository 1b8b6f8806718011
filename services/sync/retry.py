"""When to try again: exponential backoff with full jitter, capped, a target's Retry-After a floor."""

from __future__ import annotations

import random

from services.common.config import SyncConfig


def backoff(attempt: int, cfg: SyncConfig, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, capped; a target's Retry-After is a floor."""
    ceiling = min(cfg.backoff_max_s, cfg.backoff_initial_s * 2 ** (attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, max(cfg.backoff_max_s, retry_after or 0))
