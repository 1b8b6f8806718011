"""/readyz tells a load balancer the truth: ready only while Kafka and the ledger answer."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Parts, Runtime
from tests.config import make_settings
from tests.conftest import wait_for

pytestmark = pytest.mark.integration  # its own broker, stopped mid-test


async def test_readyz_follows_the_broker(tmp_path: Path) -> None:
    kafka = EmbeddedBroker(log_path=tmp_path / "tansu.log")  # our own: this test stops it
    await kafka.astart()
    settings = make_settings(tmp_path, kafka.bootstrap_servers, sources={"website": {"kind": "form"}})
    runtime = Runtime(settings, Parts(gateway=True, web=False, sync=False, recorder=False))
    await runtime.start()
    try:
        async with aiohttp.ClientSession() as http:

            async def status() -> tuple[int, dict[str, object]]:
                async with http.get(f"{runtime.base_url}/readyz") as r:
                    return r.status, await r.json()

            assert await status() == (200, {"status": "ready"})
            await kafka.astop()

            async def unready() -> dict[str, object] | None:
                code, body = await status()
                return body if code == 503 else None

            body = await wait_for(unready, timeout=20)
            assert any("kafka" in p for p in body["problems"])  # type: ignore[union-attr]
            async with http.get(f"{runtime.base_url}/healthz") as r:
                assert r.status == 200  # alive, just not ready
    finally:
        await runtime.stop()
