"""structlog set-up: console lines on a TTY, JSON lines otherwise; context vars merged first."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import structlog

from services.common.config import LoggingConfig

_task_fields: ContextVar[dict[str, Any] | None] = ContextVar("handover_task_fields", default=None)


_merging = False  # configure_logging installed merge_task_context


def bind_task_context(**fields: Any) -> None:
    """Fields for every log line of the current task (the record a sync task works on): one
    context variable set once, where structlog's bind_contextvars sets one per field. Where
    structlog was set up by someone else (an embedding program, tests), its own context
    variables carry them."""
    if _merging:
        _task_fields.set(fields)
    else:
        structlog.contextvars.bind_contextvars(**fields)


def add_task_context(**fields: Any) -> None:
    """More fields for the current task's log lines (known later, such as the event id)."""
    current = _task_fields.get() if _merging else None
    if current is not None:
        current.update(fields)
    else:
        structlog.contextvars.bind_contextvars(**fields)


def merge_task_context(logger: Any, method_name: str, event_dict: Any) -> Any:
    """structlog processor: add the task's fields (a line's own fields win)."""
    fields = _task_fields.get()
    if fields:
        for name, value in fields.items():
            event_dict.setdefault(name, value)
    return event_dict


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


def configure_logging(config: LoggingConfig, stream: object = None) -> None:
    """Configure structlog and the stdlib root logger once, at start-up."""
    global _merging
    out = stream or sys.stderr
    level = logging.getLevelNamesMapping().get(config.level.upper(), logging.INFO)
    use_json = config.format == "json" or (config.format == "auto" and not out.isatty())  # type: ignore[attr-defined]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            merge_task_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    _merging = True
    # Libraries (aiokafka, aiohttp) log through stdlib: keep their warnings, drop their chatter.
    logging.basicConfig(level=max(level, logging.WARNING), stream=out, format="%(levelname)s %(name)s: %(message)s")  # type: ignore[arg-type]
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, FloodFilter) for f in handler.filters):
            handler.addFilter(FloodFilter())
