"""A sync record's log fields (topic, partition, offset, event id) reach every line logged while it
is handled: with Handover's own logging set-up and with structlog's defaults (an embedding program)."""

from __future__ import annotations

import contextvars
import io
import json
import logging

import structlog

from services.common import logging as hlog
from services.common.config import LoggingConfig


def handle_record(log: structlog.typing.FilteringBoundLogger) -> None:
    """What a sync task does: bind the record, learn the event id, log."""
    structlog.contextvars.bind_contextvars(topic="handover.events.order.created", partition=3, offset=41)
    structlog.contextvars.bind_contextvars(event_id="ev-1")
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


def test_in_json_mode_the_libraries_lines_are_json_too(restore_structlog: None) -> None:
    """aiokafka and aiohttp log through stdlib: their lines are JSON with level, logger and time,
    carry the task's fields, and a flood of them is still held back."""
    out = io.StringIO()
    hlog.configure_logging(LoggingConfig(level="info", format="json"), stream=out)

    def in_a_task() -> None:
        structlog.contextvars.bind_contextvars(target="crm")
        for _ in range(50):
            logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s", 1)
        logging.getLogger("aiohttp.access").info("chatter below warning is dropped")
        logging.getLogger("aiohttp.server").warning("Error handling request")

    contextvars.copy_context().run(in_a_task)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]  # every line is JSON
    assert [(line["logger"], line["event"], line["level"], line["target"]) for line in lines] == [
        ("aiokafka.conn", "Unable connect to node with id 1", "error", "crm"),
        ("aiohttp.server", "Error handling request", "warning", "crm"),
    ]
    assert all(line["timestamp"].endswith("Z") for line in lines)


def test_configuring_twice_leaves_one_handler(restore_structlog: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    hlog.configure_logging(LoggingConfig(level="info", format="json"), stream=first)
    hlog.configure_logging(LoggingConfig(level="info", format="json"), stream=second)
    logging.getLogger("aiokafka").warning("once")
    assert first.getvalue() == "" and second.getvalue().count("once") == 1


def test_a_library_repeating_itself_is_held_to_one_line_per_interval_with_a_count() -> None:
    now = [0.0]
    flood = hlog.FloodFilter(interval_s=10.0, clock=lambda: now[0])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(flood)
    kafka, ours = logging.getLogger("aiokafka.conn.flood-test"), logging.getLogger("handover.flood-test")
    for logger in (kafka, ours):
        logger.addHandler(handler)
        logger.propagate = False
    try:
        for i in range(320):  # 32 s of a client retrying a dead broker every 100 ms
            now[0] = i * 0.1
            kafka.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
        ours.error("broker_died")
        ours.error("broker_died")
    finally:
        for logger in (kafka, ours):
            logger.removeHandler(handler)
            logger.propagate = True
    lines = out.getvalue().splitlines()
    kafka_lines = [line for line in lines if "Unable connect" in line]
    assert len(kafka_lines) == 4  # at 0, 10, 20 and 30 s
    assert kafka_lines[0] == "Unable connect to node with id 1: Connect call failed"
    assert kafka_lines[1].endswith("(99 more like this in the last 10 s)")
    assert lines.count("broker_died") == 2  # Handover's own lines are never held back


def test_a_warning_every_request_repeats_is_held_to_one_line_per_interval_with_a_count(
    restore_structlog: None,
) -> None:
    out = io.StringIO()
    hlog.configure_logging(LoggingConfig(level="info", format="json"), stream=out)
    assert isinstance(structlog.get_config()["processors"][0], hlog.HeldRepeats)  # what runs does this
    now = [0.0]  # the same chain with a clock the test moves
    held = hlog.HeldRepeats(interval_s=10.0, clock=lambda: now[0])
    structlog.configure(processors=[held, *structlog.get_config()["processors"][1:]])
    log = structlog.get_logger("handover.gateway")
    for i in range(250):  # 25 s of webhooks answered 503 while the broker is replaced
        now[0] = i * 0.1
        log.warning("broker_unavailable", source="shop", error="embedded broker is being replaced")
        log.info("webhook_rejected", source="shop", status=503)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    unavailable = [line for line in lines if line["event"] == "broker_unavailable"]
    assert [line.get("repeats_held_back") for line in unavailable] == [None, 99, 99]  # at 0, 10, 20 s
    assert [line.get("held_back_over_s") for line in unavailable] == [None, 10, 10]
    assert sum(line["event"] == "webhook_rejected" for line in lines) == 250  # other lines all kept
