"""structlog set-up: console lines on a TTY, JSON lines otherwise, the libraries' stdlib logging
(aiokafka, aiohttp) rendered by the same processors, so JSON mode is all JSON.

Per-task fields (the record a sync task works on) are structlog's own context variables
(`structlog.contextvars.bind_contextvars` / `bound_contextvars`), merged into every line first.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

import structlog
from structlog.typing import EventDict

from services.common.config import LoggingConfig


class FloodFilter(logging.Filter):
    """Lets one record per (logger, message template) through every `interval_s`, for the
    libraries that repeat themselves in a tight loop (aiokafka retries a dead broker every
    100 ms per client); the next one let through says how many were held back."""

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka", "kafka"), interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.interval_s = interval_s
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # -> (let through at, held back since)

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat within the interval; the first after it carries the count."""
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.interval_s:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.msg = f"{record.msg} ({last[1]} more like this in the last {now - last[0]:.0f} s)"
        if len(self._seen) > 1000:  # message templates are few; ids in them are not: stay bounded
            self._seen.clear()
        self._seen[key] = (now, 0)
        return True


# Handover's own warnings that every request repeats while a shared part is down (one per 503'd
# webhook: tens of thousands while the embedded broker is replaced under load). The 503s are
# still counted per request in handover_webhooks_total.
REPEATING_EVENTS = frozenset({"broker_unavailable", "dedupe_store_unavailable"})


class HeldRepeats:
    """A structlog processor: one line per `interval_s` for each event in `events`; the next one
    let through carries `repeats_held_back`, how many were dropped since the last, and
    `held_back_over_s`, the seconds since that last line (a count can wait for the next outage)."""

    def __init__(self, events: frozenset[str] = REPEATING_EVENTS, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.events = events
        self.interval_s = interval_s
        self.clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # event -> (let through at, held back since)

    def __call__(self, logger: object, method: str, event_dict: EventDict) -> EventDict:
        event = event_dict.get("event")
        if event not in self.events:
            return event_dict
        now = self.clock()
        last = self._seen.get(event)
        if last is not None and now - last[0] < self.interval_s:
            self._seen[event] = (last[0], last[1] + 1)
            raise structlog.DropEvent
        if last is not None and last[1]:
            event_dict["repeats_held_back"] = last[1]
            event_dict["held_back_over_s"] = round(now - last[0])
        self._seen[event] = (now, 0)
        return event_dict


class _HandoverHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler configure_logging installs (found again and replaced on a second call)."""


def configure_logging(config: LoggingConfig, stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger once, at start-up."""
    out = stream or sys.stderr
    level = logging.getLevelNamesMapping().get(config.level.upper(), logging.INFO)
    use_json = config.format == "json" or (config.format == "auto" and not out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    exc: structlog.typing.Processor = (
        structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer()
    )
    # Handover's own lines go straight to the stream (no stdlib round trip on the hot path).
    structlog.configure(
        processors=[HeldRepeats(), *shared, exc, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiokafka, aiohttp) log through stdlib: rendered like ours, their warnings kept,
    # their chatter dropped, their floods held to one line per interval.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, exc, renderer],
    )
    handler = _HandoverHandler(out)
    handler.setFormatter(formatter)
    handler.addFilter(FloodFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HandoverHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
