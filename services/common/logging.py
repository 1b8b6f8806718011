"""structlog set-up: console lines on a TTY, JSON lines otherwise; context vars merged first."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog

from services.common.config import LoggingConfig

_task_fields: ContextVar[dict[str, Any] | None] = ContextVar("handover_task_fields", default=None)


def bind_task_context(**fields: Any) -> dict[str, Any]:
    """Fields for every log line of the current task (the record a sync task works on): one
    context variable set once, where structlog's bind_contextvars sets one per field. The dict
    comes back so that fields known later (the event id) can be added to it."""
    _task_fields.set(fields)
    return fields


def merge_task_context(logger: Any, method_name: str, event_dict: Any) -> Any:
    """structlog processor: add the task's fields (a line's own fields win)."""
    fields = _task_fields.get()
    if fields:
        for name, value in fields.items():
            event_dict.setdefault(name, value)
    return event_dict


def configure_logging(config: LoggingConfig, stream: object = None) -> None:
    """Configure structlog and the stdlib root logger once, at start-up."""
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
    # Libraries (aiokafka, aiohttp) log through stdlib: keep their warnings, drop their chatter.
    logging.basicConfig(level=max(level, logging.WARNING), stream=out, format="%(levelname)s %(name)s: %(message)s")  # type: ignore[arg-type]
