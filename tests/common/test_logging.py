"""A sync record's log fields (topic, partition, offset, event id) reach every line logged while it
is handled: with Handover's own logging set-up and with structlog's defaults (an embedding program)."""

from __future__ import annotations

import contextvars
import io
import json

import structlog

from services.common import logging as hlog
from services.common.config import LoggingConfig


def handle_record(log: structlog.typing.FilteringBoundLogger) -> None:
    """What a sync task does: bind the record, learn the event id, log."""
    hlog.bind_task_context(topic="handover.events.order.created", partition=3, offset=41)
    hlog.add_task_context(event_id="ev-1")
    log.warning("delivery_retrying", attempts=2)


def test_with_handover_logging_every_line_carries_the_record(restore_structlog: None) -> None:
    out = io.StringIO()
    hlog.configure_logging(LoggingConfig(level="info", format="json"), stream=out)
    contextvars.copy_context().run(handle_record, structlog.get_logger("t"))
    contextvars.copy_context().run(structlog.get_logger("t").warning, "outside_a_record")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert {k: first[k] for k in ("topic", "partition", "offset", "event_id", "attempts")} == {
        "topic": "handover.events.order.created", "partition": 3, "offset": 41, "event_id": "ev-1", "attempts": 2}
    assert "event_id" not in second  # another task's fields stay with it


def test_with_structlog_defaults_the_fields_are_structlog_context_vars(restore_structlog: None) -> None:
    structlog.reset_defaults()
    hlog._merging = False

    def run() -> dict[str, object]:
        hlog.bind_task_context(topic="t", partition=0, offset=7)
        hlog.add_task_context(event_id="ev-2")
        return structlog.contextvars.get_contextvars()

    assert contextvars.copy_context().run(run) == {"topic": "t", "partition": 0, "offset": 7, "event_id": "ev-2"}
