"""structlog set-up: console lines on a TTY, JSON lines otherwise; context vars merged first."""

from __future__ import annotations

import logging
import sys
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
