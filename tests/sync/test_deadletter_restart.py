"""`handover run` on its embedded broker: a restart starts an empty broker, and the ledger's
copies bring the dead letters back, to be seen and replayed."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from schemas import decode_event
from services.common.config import Settings, parse_settings
from services.runtime import Parts, Runtime
from services.sync.deadletters import read_dead_letters
from services.sync.flows import event_context, idempotency_key
from services.sync.replay import Replayer
from tests.sync.target import TargetServer
from tests.sync.test_deadletter_recovery import make_record

ROOT = Path(__file__).resolve().parents[2]
NAME = "erp"
NOTHING_ELSE = Parts(gateway=False, web=False, sync=False, recorder=False)


def embedded_settings(data_dir: Path, target: TargetServer) -> Settings:
    """No bootstrap servers: the Runtime starts its own broker, as `handover run` does (the
    config is also written to data_dir/handover.toml, for the CLI)."""
    text = (
        f'data_dir = "{data_dir}"\n[server]\nport = 0\n[ledger]\nurl = "sqlite:///{data_dir}/l.db"\n'
        f'[kafka]\nsession_timeout_ms = 6000\nheartbeat_interval_ms = 1000\n'
        f'[targets.{NAME}]\nkind = "http"\nurl = "{target.url}/{NAME}"\n'
        f'[targets.crm]\nkind = "file"\n'
        f'[[flows]]\nname = "f"\non = "contact.submitted"\n[[flows.actions]]\ntarget = "{NAME}"\naction = "send"\n'
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
            event, record = make_record(7)
            [(flow, [action])] = [(f, list(a)) for f, a in worker.flows]
            outcome = await worker.deliver(event, event_context(event), flow, action, record=record)
            assert outcome.status == "deadlettered"
            [before] = await read_dead_letters(first.settings.kafka, [NAME, "crm"])
        finally:
            await first.stop()

        # Restarted: a new, empty broker. The dead letter is there again, with its headers.
        second = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
        await second.start()
        try:
            assert second.settings.kafka.bootstrap_servers != first.settings.kafka.bootstrap_servers
            assert second.ledger is not None
            replayer = Replayer(second.settings, second.ledger)
            try:
                [after] = await replayer.read()
                assert (after.target, after.value, after.headers, after.status) == (
                    NAME, before.value, before.headers, "dead")
                assert decode_event(after.value) == event
                # Fixed at the target: `handover replay` finds the running broker and delivers it,
                # with the original idempotency key.
                target.rule(NAME).fail = 0
                code, out, err = await cli_replay(tmp_path)
                assert code == 0 and f"{after.id}\tevent {event.id}\tdelivered" in out, (out, err)
                key = idempotency_key(event, "f", "send")
                assert target.effects[(NAME, key)] == 1
                assert [dl.status for dl in await replayer.read()] == ["replayed"]
            finally:
                await replayer.close()
        finally:
            await second.stop()

        # Nothing running: replay says what to do instead of failing to connect.
        code, out, err = await cli_replay(tmp_path)
        assert code == 2 and "a running `handover run` with this config" in err, (out, err)

        # Delivered now: a third start does not bring it back.
        third = Runtime(embedded_settings(tmp_path, target), NOTHING_ELSE)
        await third.start()
        try:
            assert await read_dead_letters(third.settings.kafka, [NAME, "crm"]) == []
        finally:
            await third.stop()
    finally:
        await target.close()
