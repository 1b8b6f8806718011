"""The server side of the public door: slow and greedy connections, a separate listener for
/metrics and the owner's pages, and a data directory only its owner can read."""

from __future__ import annotations

import asyncio
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Parts, Runtime
from tests.config import QUICK_REBALANCE, Table, action, flow, make_settings
from tests.conftest import wait_for


async def start(broker: EmbeddedBroker, data_dir: Path, server: Table | None = None,
                parts: Parts | None = None) -> Runtime:
    """A Runtime with a 1 s read timeout, 8 connections per address, a form to a file and a Maildir."""
    settings = make_settings(
        data_dir, broker.bootstrap_servers, kafka=QUICK_REBALANCE, web={"admin_password": "door-pw-1"},
        server={"read_timeout_s": 1.0, "max_connections_per_client": 8,
                "trusted_proxies": [],  # the test's loopback client is a client here, not a proxy
                **(server or {})},
        sources={"website": {"kind": "form", "client_rate_limit_per_minute": 0}},
        targets={"crm": {"kind": "file"}, "mail": {"kind": "maildir"}},
        flows=[flow("f", "contact.submitted", action("crm", "upsert_contact"), action("mail", "send_email"))],
    )
    runtime = Runtime(settings, parts or Parts(gateway=True, web=True, sync=False, recorder=False))
    await runtime.start()
    return runtime


@pytest.fixture
async def gateway(broker: EmbeddedBroker, tmp_path: Path) -> AsyncIterator[Runtime]:
    """Gateway and web, one listener, a 1 s read timeout, 8 connections per address."""
    runtime = await start(broker, tmp_path)
    yield runtime
    await runtime.stop()


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server closes the connection (EOF or reset) within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(1024):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_headers_that_never_finish_are_cut_off(gateway: Runtime) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST /hooks/website HTTP/1.1\r\nHost: x\r\n")  # ...and then nothing, or a trickle
    await writer.drain()
    assert await closed_by_server(reader, within=5.0)
    writer.close()
    # An idle connection that never sends a byte goes the same way.
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    assert await closed_by_server(reader, within=5.0)
    writer.close()


async def test_a_trickled_body_is_answered_408(gateway: Runtime) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST /hooks/website HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Accept: application/json\r\nContent-Length: 100\r\n\r\nemail=")
    await writer.drain()
    async with asyncio.timeout(10):
        status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 408"), status
    writer.close()
    assert gateway.metrics.registry.get_sample_value(
        "handover_webhooks_received_total", {"source": "website", "outcome": "request_timeout"}) == 1


async def test_one_address_holds_at_most_its_share_of_connections(gateway: Runtime) -> None:
    held = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(8)]
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    assert await closed_by_server(reader, within=0.5)  # refused at once, not after the timeout
    writer.close()
    for _, w in held:
        w.close()
        await w.wait_closed()

    async def answers() -> bool:
        async with aiohttp.ClientSession() as http, http.get(f"{gateway.base_url}/healthz") as r:
            return r.status == 200

    assert await wait_for(answers)  # the slots come back as the connections close


async def test_a_normal_client_is_unaffected(gateway: Runtime) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(20):  # keep-alive: one connection, many requests, each well within the timeout
            async with http.post(f"{gateway.base_url}/hooks/website", data={"email": "ok@example.com"},
                                 headers={"Accept": "application/json"}) as r:
                assert r.status == 202


async def test_metrics_and_the_owners_pages_answer_only_on_the_ops_listener(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    runtime = await start(broker, tmp_path, server={"ops_listen": "127.0.0.1:0"})
    try:
        assert runtime.ops_port and runtime.ops_port != runtime.port
        public, ops = runtime.base_url, f"http://127.0.0.1:{runtime.ops_port}"
        async with aiohttp.ClientSession() as http:
            for path in ("/metrics", "/status", "/dead-letters", "/api/dead-letters?target=crm"):
                async with http.get(public + path, allow_redirects=False) as r:
                    assert r.status in (401, 404), (path, r.status)
                    assert "handover_" not in await r.text()
            async with http.get(ops + "/metrics") as r:
                assert r.status == 200 and "handover_webhooks_received_total" in await r.text()
            async with http.get(ops + "/status", headers={"Accept": "text/html"}, allow_redirects=False) as r:
                assert r.status == 302 and r.headers["Location"].startswith("/login")
            for base in (public, ops):  # load balancers check health on either
                async with http.get(base + "/readyz") as r:
                    assert r.status in (200, 503)
            async with http.post(public + "/hooks/website", data={"email": "split@example.com"},
                                 headers={"Accept": "application/json"}) as r:
                assert r.status == 202
            async with http.get(public + "/") as r:
                assert r.status == 200  # the calculator stays public
    finally:
        await runtime.stop()


async def test_the_data_directory_and_its_files_are_the_owners_only(broker: EmbeddedBroker, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    (data_dir / "old-outbox.jsonl").write_text("{}\n")
    (data_dir / "old-outbox.jsonl").chmod(0o644)
    runtime = await start(broker, data_dir, parts=Parts())
    try:
        marker = f"perm-{uuid.uuid4().hex[:8]}@example.com"
        async with aiohttp.ClientSession() as http, http.post(
            f"{runtime.base_url}/hooks/website", data={"email": marker}, headers={"Accept": "application/json"}
        ) as r:
            assert r.status == 202
            [event_id] = (await r.json())["event_ids"]
        ledger = runtime.ledger
        assert ledger is not None

        async def delivered() -> bool:
            rows = await ledger.deliveries_for(event_id)
            return len(rows) == 2 and all(row.status == "delivered" for row in rows)

        await wait_for(delivered)
    finally:
        await runtime.stop()
    loose = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{path.relative_to(tmp_path)} {oct(mode)}")
    assert loose == []
    assert (data_dir / "handover.db").exists() and list((data_dir / "mail" / "mail" / "new").iterdir())
    assert (data_dir / "outbox" / "crm.jsonl").exists()
