"""Shared test infrastructure: one real Kafka-protocol broker per session, SMTP, topic watching."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.common.embedded_broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The embedded Tansu broker, started once for the whole test session."""
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    b = EmbeddedBroker(log_path=log)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    """Put structlog and the stdlib root logger back as they were (for tests that configure
    logging in-process: a logger left writing to a test's captured stdout breaks later tests)."""
    import logging

    import structlog

    root = logging.getLogger()
    config, handlers, level = structlog.get_config(), list(root.handlers), root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers  # the handler configure_logging added writes to this test's stream
    root.setLevel(level)


HandoverCheck = Callable[[str | None], subprocess.CompletedProcess[str]]


@pytest.fixture
def handover_check(tmp_path: Path) -> HandoverCheck:
    """`handover check` in a subprocess, as a user runs it: on a config text (None: the built-in
    demo), giving its exit code, stdout and stderr. A spawned process: the test is `integration`."""

    def run(config_text: str | None) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "services.cli", "check"]
        if config_text is not None:
            config = tmp_path / "handover.toml"
            config.write_text(config_text)
            args += ["--config", str(config)]
        return subprocess.run(args, capture_output=True, text=True)

    return run


async def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll observable state until `predicate()` is truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


@dataclass
class TopicWatcher:
    """Reads every new record of some topics (no consumer group: assigned, from the end)."""

    bootstrap: str
    topics: list[str]
    records: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    consumer: AIOKafkaConsumer | None = None
    task: asyncio.Task[None] | None = None
    started_ms: int = 0

    async def start(self) -> None:
        """Assign all partitions at their current end and collect from there.

        The test broker reports a log's end wrongly when its last batch holds several records
        (BROKER_NOTES 2), so the seek can land inside older records: those produced before the
        watcher started are skipped by their timestamp as well (one machine, one clock)."""
        self.started_ms = int(time.time() * 1000) - 1
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10,
            auto_offset_reset="latest",
        )
        await self.consumer.start()
        tps = []
        for topic in self.topics:
            parts = self.consumer.partitions_for_topic(topic)
            if parts is None:
                await self.consumer._client.force_metadata_update()
                parts = self.consumer.partitions_for_topic(topic) or set()
            tps += [TopicPartition(topic, p) for p in parts]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self.consumer is not None
        while True:
            batch = await self.consumer.getmany(timeout_ms=50)
            for recs in batch.values():
                self.records.extend(r for r in recs if r.timestamp >= self.started_ms)

    def values(self) -> list[bytes]:
        """The values seen so far."""
        return [r.value or b"" for r in self.records]

    async def stop(self) -> None:
        """Stop reading."""
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.consumer:
            await self.consumer.stop()


@dataclass
class Inbox:
    """Messages an aiosmtpd server received."""

    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd hook: keep the message."""
        import email
        import email.policy

        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope, msg))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, int, Inbox]]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    from aiosmtpd.controller import Controller

    from services.common.embedded_broker import free_port

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    yield "127.0.0.1", port, inbox
    controller.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A per-test data directory."""
    return tmp_path


# What makes a test `integration` (see pyproject's markers): a fixture that brings up something
# outside this process. Tests that start such a thing themselves (their own broker, a `handover`
# subprocess, PostgreSQL) carry the marker by hand.
INTEGRATION_FIXTURES = frozenset({"broker", "processes", "handover_check"})

# The ledger's backends for tests that run on both: PostgreSQL is a server, so its half is integration.
LEDGER_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so the markers added here count
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests on the broker or in a browser `integration`; skip browser tests where Debian
    chromium is missing, saying so plainly (CI installs it)."""
    skip = None
    if not os.path.exists("/usr/bin/chromium") and not os.environ.get("CI"):
        skip = pytest.mark.skip(reason="/usr/bin/chromium missing: `make test` installs it")
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())) or "browser" in item.keywords:
            item.add_marker(pytest.mark.integration)
        if skip is not None and "browser" in item.keywords:
            item.add_marker(skip)


async def _unused() -> AsyncIterator[None]:  # pragma: no cover - keeps typing imports honest
    yield
