"""`handover run` on its embedded broker: a restart starts an empty broker, and the ledger's
copies bring the dead letters back, to be seen and replayed."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError
from structlog.testing import capture_logs

import services.runtime as runtime_module
from schemas import decode_event
from services.assembly import parse_settings
from services.common.config import Settings
from services.common.embedded_broker import BrokerError, running_broker
from services.flows.compile import idempotency_key
from services.flows.context import event_context
from services.ledger.store import open_ledger
from services.runtime import Parts, Runtime
from services.sync.deadletters import read_dead_letters
from services.sync.replay import Replayer
from tests.config import QUICK_REBALANCE, action, config_toml, flow
from tests.sync.target import TargetServer
from tests.sync.test_deadletter_recovery import make_record

pytestmark = pytest.mark.integration  # `handover run` with its embedded broker

ROOT = Path(__file__).resolve().parents[2]
NAME = "erp"
DAY = 86_400.0
NOTHING_ELSE = Parts(gateway=False, web=False, sync=False, recorder=False)


def embedded_settings(data_dir: Path, target: TargetServer) -> Settings:
    """No bootstrap servers: the Runtime starts its own broker, as `handover run` does (the
    config is also written to data_dir/handover.toml, for the CLI)."""
    text = config_toml(
        data_dir, kafka=QUICK_REBALANCE,
        targets={NAME: {"kind": "http", "url": f"{target.url}/{NAME}"}, "crm": {"kind": "file"}},
        flows=[flow("f", "contact.submitted", action(NAME, "send"))],
    )
    (data_dir / "handover.toml").write_text(text)
    return parse_settings(text, env={})


async def cli_replay(data_dir: Path) -> tuple[int, str, str]:
    """`handover replay erp` with the same config, as an owner runs it in a second shell."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "replay", NAME, "--config", str(data_dir / "handover.toml"),
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_dead_letters_outlive_a_restart_of_the_embedded_broker_and_can_be_replayed(tmp_path: Path) -> None:
    target = TargetServer()
    await target.start()
    target.rule(NAME).fail, target.rule(NAME).fail_status = -1, 422
    try:
        first = Runtime(embedded_settings(tmp_path, target), Parts(gateway=False, web=False, sync=True, recorder=False))
        await first.start()
        try:
            assert first.broker is not None and first.sync is not None
            [worker] = first.sync.workers
            [(flow, [action])] = [(f, list(a)) for f, a in worker.flows]
            events = []
            for offset in (7, 8):
                event, record = make_record(offset)
                outcome = await worker.deliver(event, event_context(event), flow, action, record=record)
                assert outcome.status == "deadlettered"
                events.append(event)
            before = {dl.event_id: dl for dl in await read_dead_letters(first.settings.kafka, [NAME, "crm"])}
            assert set(before) == {e.id for e in events}
        finally:
            await first.stop()
        # The second one was being replayed when Handover stopped: not dead-lettered again yet.
        keys = [idempotency_key(e, "f", "send") for e in events]
        await set_status(first.settings.ledger.url, keys[1], "retrying")
        await age_copies(first.settings.ledger.url, DAY)  # they failed yesterday

        # Restarted: a new, empty broker. Both dead letters are there again, with their headers
        # and their time.
        second = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
        await second.start()
        try:
            assert second.settings.kafka.bootstrap_servers != first.settings.kafka.bootstrap_servers
            assert second.ledger is not None
            replayer = Replayer(second.settings, second.ledger)
            try:
                after = {dl.event_id: dl for dl in await replayer.read()}
                assert set(after) == set(before)
                for event in events:
                    was, now = before[event.id], after[event.id]
                    assert (now.target, now.value, now.headers, now.status) == (NAME, was.value, was.headers, "dead")
                    assert decode_event(now.value) == event
                    assert abs(now.timestamp - (was.timestamp - DAY)) < 1  # when it failed, not when restored
                # Fixed at the target: `handover replay` finds the running broker and delivers them,
                # with the original idempotency keys.
                target.rule(NAME).fail = 0
                code, out, err = await cli_replay(tmp_path)
                assert code == 0, (out, err)
                for event in events:
                    assert f"{after[event.id].id}\tevent {event.id}\tdelivered" in out, out
                assert [target.effects[(NAME, key)] for key in keys] == [1, 1]
                assert [dl.status for dl in await replayer.read()] == ["replayed", "replayed"]
                assert await second.ledger.deliveries.dead_letter_copies() == []  # delivered: no copy kept
                assert await second.ledger.db.fetch("SELECT key FROM dead_letter_copies") == []  # dropped
            finally:
                await replayer.close()
        finally:
            await second.stop()

        # Nothing running: replay says what to do instead of failing to connect.
        code, out, err = await cli_replay(tmp_path)
        assert code == 2 and "a running `handover run` with this config" in err, (out, err)

        # Delivered now: a third start does not bring them back.
        third = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
        await third.start()
        try:
            assert await read_dead_letters(third.settings.kafka, [NAME, "crm"]) == []
        finally:
            await third.stop()
    finally:
        await target.close()


async def age_copies(url: str, seconds: float) -> None:
    ledger = await open_ledger(url)
    try:
        await ledger.db.execute("UPDATE dead_letter_copies SET written_at = written_at - $1", seconds)
    finally:
        await ledger.close()


async def set_status(url: str, key: str, status: str) -> None:
    ledger = await open_ledger(url)
    try:
        await ledger.db.execute("UPDATE deliveries SET status = $2 WHERE key = $1", key, status)
    finally:
        await ledger.close()


async def test_a_second_handover_run_on_the_same_data_dir_refuses_and_leaves_the_first_alone(tmp_path: Path) -> None:
    target = TargetServer()
    await target.start()
    first = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
    await first.start()
    try:
        assert first.broker is not None
        assert running_broker(tmp_path) == first.broker.bootstrap_servers
        second = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
        with pytest.raises(BrokerError, match="another `handover run` is using data_dir"):
            await second.start()
        assert second.broker is None  # it never started one
        assert running_broker(tmp_path) == first.broker.bootstrap_servers  # replay still finds the first
    finally:
        await first.stop()
        await target.close()
    assert running_broker(tmp_path) is None


async def test_a_failing_restore_does_not_keep_handover_from_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> int:
        raise KafkaConnectionError("the broker went away")

    monkeypatch.setattr(runtime_module, "restore_dead_letters", broken)
    target = TargetServer()
    await target.start()
    runtime = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
    try:
        with capture_logs() as logs:
            await runtime.start()
        assert runtime.port is not None
        assert [entry["event"] for entry in logs if entry["event"].startswith("dead_letters")] == [
            "dead_letters_restore_failed"]
    finally:
        await runtime.stop()
        await target.close()
