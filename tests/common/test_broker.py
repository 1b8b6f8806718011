"""The embedded broker belongs to the Handover process that started it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.integration  # a broker in a subprocess, SIGKILLed

ROOT = Path(__file__).resolve().parents[2]
STARTER = """
import asyncio, sys
from services.common.embedded_broker import EmbeddedBroker

async def main():
    broker = EmbeddedBroker()
    await broker.astart()  # as `handover run` does
    print("pid", broker.process.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_handover_killed_with_sigkill_takes_its_embedded_broker_with_it() -> None:
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTER, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert owner.stdout is not None
        while not (line := await owner.stdout.readline()).startswith(b"pid "):
            assert line, "the starter exited before its broker was up"
        broker_pid = int(line.split()[1])
        assert alive(broker_pid)
        owner.send_signal(signal.SIGKILL)  # no chance to stop the broker itself
        await owner.wait()
        await wait_for(lambda: not alive(broker_pid), timeout=10)
    finally:
        if owner.returncode is None:
            owner.kill()
            await owner.wait()
