"""A sync-only Handover for tests that need their own settings (one HTTP target, one flow)."""

from __future__ import annotations

from pathlib import Path

from services.assembly import parse_settings
from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Parts, Runtime
from services.sync.runner import TargetWorker
from tests.sync.target import TargetServer


async def start_sync(
    broker: EmbeddedBroker, data_dir: Path, name: str, target: TargetServer, condition: str = "",
    sync: str = "",
) -> tuple[Runtime, TargetWorker]:
    """A started sync-only Handover with one HTTP target `name` and one flow `f` (optionally
    with an `if` condition) sending every contact.submitted to it; `sync`: lines of its [sync] table."""
    settings = parse_settings(
        f'data_dir = "{data_dir}"\n[server]\nport = 0\n[ledger]\nurl = "sqlite:///{data_dir}/l.db"\n'
        f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\nidempotence = false\n'
        f'session_timeout_ms = 6000\nheartbeat_interval_ms = 1000\n[sync]\n{sync}\n'
        f'[targets.{name}]\nkind = "http"\nurl = "{target.url}/{name}"\n'
        f'[[flows]]\nname = "f"\non = "contact.submitted"\n'
        + (f'if = "{condition}"\n' if condition else "")
        + f'[[flows.actions]]\ntarget = "{name}"\naction = "send"\n',
        env={},
    )
    runtime = Runtime(settings, Parts(gateway=False, web=False, sync=True, recorder=False))
    await runtime.start()
    assert runtime.sync is not None
    [worker] = runtime.sync.workers
    return runtime, worker
