"""A sync-only Handover for tests that need their own settings (one HTTP target, one flow)."""

from __future__ import annotations

from pathlib import Path

from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Parts, Runtime
from services.sync.runner import TargetWorker
from tests.config import QUICK_REBALANCE, Table, action, flow, make_settings
from tests.sync.target import TargetServer


async def start_sync(
    broker: EmbeddedBroker, data_dir: Path, name: str, target: TargetServer, condition: str = "",
    sync: Table | None = None,
) -> tuple[Runtime, TargetWorker]:
    """A started sync-only Handover with one HTTP target `name` and one flow `f` (optionally
    with an `if` condition) sending every contact.submitted to it; `sync`: its [sync] table."""
    settings = make_settings(
        data_dir, broker.bootstrap_servers, kafka=QUICK_REBALANCE, sync=sync,
        targets={name: {"kind": "http", "url": f"{target.url}/{name}"}},
        flows=[flow("f", "contact.submitted", action(name, "send"), when=condition)],
    )
    runtime = Runtime(settings, Parts(gateway=False, web=False, sync=True, recorder=False))
    await runtime.start()
    assert runtime.sync is not None
    [worker] = runtime.sync.workers
    return runtime, worker
