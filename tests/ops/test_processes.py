"""Handover as separate processes: two sync replicas share the work on one PostgreSQL ledger,
and a full flow's logs never carry secrets, signatures or payload values."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from services.common.embedded_broker import EmbeddedBroker, free_port
from services.runtime import Parts, Runtime
from tests.config import QUICK_REBALANCE, Table, action, config_toml, flow, make_settings
from tests.conftest import wait_for
from tests.gateway import signing
from tests.ops.conftest import FakeTarget, shopify_order

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Proc:
    """A Handover subprocess whose output goes to a file we can read while it runs."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    def lines(self) -> list[dict[str, object]]:
        """The JSON log lines so far (stdlib lines of libraries are skipped)."""
        out = []
        for line in self.log_path.read_text("utf-8", "replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def text(self) -> str:
        """Everything it printed."""
        return self.log_path.read_text("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM and wait (it drains and commits)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def spawn(args: list[str], config: Path, log_path: Path, env: dict[str, str] | None = None) -> Proc:
    """Start `python -m services.cli ARGS --config CONFIG` with output captured in a file."""
    out = log_path.open("wb")
    popen = subprocess.Popen(
        [sys.executable, "-m", "services.cli", *args, "--config", str(config)],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    out.close()
    return Proc(popen, log_path)


@pytest.fixture
async def counting_target() -> AsyncIterator[FakeTarget]:
    """A local JSON API counting each idempotency key it receives."""
    target = FakeTarget()
    await target.start()
    yield target
    await target.stop()


async def _gateway(broker: EmbeddedBroker, tmp: Path, sources: Mapping[str, Table]) -> Runtime:
    settings = make_settings(tmp, broker.bootstrap_servers, sources=sources)
    runtime = Runtime(settings, Parts(gateway=True, web=False, sync=False, recorder=False))
    await runtime.start()
    return runtime


def _latest_assignment(proc: Proc, group_target: str) -> set[str] | None:
    assigned = [
        ln for ln in proc.lines() if ln.get("event") == "partitions_assigned" and ln.get("target") == group_target
    ]
    return set(assigned[-1]["partitions"]) if assigned else None  # type: ignore[arg-type]


async def test_two_sync_processes_split_the_work_and_deliver_each_action_once(
    broker: EmbeddedBroker, counting_target: FakeTarget, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    target = f"scale_{tag}"
    config = tmp_path / "handover.toml"
    config.write_text(config_toml(
        tmp_path, broker.bootstrap_servers, server={"host": "127.0.0.1"}, kafka=QUICK_REBALANCE,
        ledger={"url": f"{PG}?schema=t_{tag}"}, logging={"format": "json"},
        sources={"website": {"kind": "form"}},
        targets={target: {"kind": "http", "base_url": counting_target.url, "url": "/contacts"}},
        flows=[flow("Scale-out", "contact.submitted", action(target, "send"),
                    when=f'contact.company == "Scale {tag}"')],
    ))
    procs = [
        spawn(["sync"], config, tmp_path / f"sync{i}.log", env={"HANDOVER_SERVER_PORT": str(free_port())})
        for i in range(2)
    ]
    # Every form comes from this test's one address: no per-client limit.
    gateway = await _gateway(broker, tmp_path, {"website": {"kind": "form", "client_rate_limit_per_minute": 0}})
    try:
        def split() -> bool:
            for p in procs:
                assert p.popen.poll() is None, p.text()
            a, b = (_latest_assignment(p, target) for p in procs)
            return bool(a and b and not (a & b))

        await wait_for(split, timeout=60)
        emails = [f"lead{i}.{tag}@example.com" for i in range(60)]
        async with aiohttp.ClientSession() as http:
            for email in emails:
                form = {"email": email, "name": "Lead", "company": f"Scale {tag}", "message": "hi"}
                async with http.post(f"{gateway.base_url}/hooks/website", data=form,
                                     headers={"Accept": "application/json"}) as r:
                    assert r.status == 202
        await wait_for(lambda: len(counting_target.keys) >= len(emails), timeout=60)
    finally:
        await gateway.stop()
        for p in procs:
            p.stop()
    assert len(counting_target.keys) == len(emails)
    assert set(counting_target.keys.values()) == {1}, "an action reached the target twice"
    per_process = [
        sum(1 for ln in p.lines() if ln.get("event") == "event_delivered" and ln.get("target") == target)
        for p in procs
    ]
    assert all(n > 0 for n in per_process), f"one replica did all the work: {per_process}"
    assert sum(per_process) == len(emails)


async def test_logs_carry_no_secrets_signatures_or_payload_values(
    broker: EmbeddedBroker, counting_target: FakeTarget, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    shop_secret = f"shpss_{uuid.uuid4().hex}"
    target_token = f"tgt_{uuid.uuid4().hex}"
    signing_key = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    admin_password = f"pw-{uuid.uuid4().hex}"
    api_token = f"api-{uuid.uuid4().hex}"
    port = free_port()
    config = tmp_path / "handover.toml"
    crm = f"crm_{tag}"
    config.write_text(config_toml(
        tmp_path, broker.bootstrap_servers, server={"host": "127.0.0.1", "port": port}, kafka=QUICK_REBALANCE,
        logging={"format": "json", "level": "debug"},
        web={"admin_password_env": "T_ADMIN_PW", "api_token_env": "T_API_TOKEN"},
        sources={f"shop_{tag}": {"kind": "shopify", "secret_env": "T_SHOP_SECRET"}, f"form_{tag}": {"kind": "form"}},
        targets={crm: {"kind": "http", "base_url": counting_target.url, "url": "/in", "secret_env": "T_SIGNING",
                       "headers": {"X-Api-Key": target_token}}},
        flows=[
            flow("Orders", "order.created", action(crm, "send"), when=f'order.customer.last_name == "{tag}"'),
            flow("Forms", "contact.submitted", action(crm, "send"), when=f'contact.company == "Log {tag}"'),
        ],
    ))
    env = {"T_ADMIN_PW": admin_password, "T_API_TOKEN": api_token, "T_SHOP_SECRET": shop_secret,
           "T_SIGNING": signing_key}
    proc = spawn(["run"], config, tmp_path / "run.log", env=env)
    base = f"http://127.0.0.1:{port}"
    note, message, street = f"payload-note-{tag}", f"payload-message-{tag}", f"Geheimstraat {tag}"
    sent_signatures = []
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async def ready() -> bool:
                assert proc.popen.poll() is None, proc.text()
                try:
                    async with http.get(f"{base}/healthz") as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for(ready, timeout=60)
            body = json.dumps({
                "id": 4242, "name": f"#L{tag}", "currency": "EUR", "total_price": "9.99", "note": note,
                "email": f"buyer.{tag}@example.com", "customer": {"id": 1, "first_name": "Kim", "last_name": tag},
                "billing_address": {"address1": street, "city": "Utrecht"},
            }).encode()
            signed = signing.shopify(shop_secret, body)
            sent_signatures.append(signed["X-Shopify-Hmac-Sha256"])
            headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                       "X-Shopify-Event-Id": uuid.uuid4().hex, **signed}
            async with http.post(f"{base}/hooks/shop_{tag}", data=body, headers=headers) as r:
                assert r.status == 202, await r.text()
            forged, fheaders = shopify_order(f"#F{tag}", "x@example.com", note=note)  # signed with another key
            sent_signatures.append(fheaders["X-Shopify-Hmac-Sha256"])
            async with http.post(f"{base}/hooks/shop_{tag}", data=forged, headers=fheaders) as r:
                assert r.status == 401
            form = {"email": f"form.{tag}@example.com", "name": "Sam", "company": f"Log {tag}", "message": message}
            async with http.post(f"{base}/hooks/form_{tag}", data=form, headers={"Accept": "application/json"}) as r:
                assert r.status == 202
            async with http.get(f"{base}/api/dead-letters", headers={"Authorization": f"Bearer {api_token}"}) as r:
                assert r.status == 200
            await wait_for(lambda: len(counting_target.keys) >= 2, timeout=60)
            signed = [b for b in counting_target.bodies if note.encode() in b or message.encode() in b]
            assert len(signed) == 2  # the payload reached the target...
    finally:
        proc.stop()
    output = proc.text()
    for secret in (shop_secret, target_token, signing_key, signing_key.removeprefix("whsec_"), admin_password,
                   api_token, *sent_signatures):
        assert secret not in output, "a secret or signature was logged"
    for value in (note, message, street, f"form.{tag}@example.com", f"buyer.{tag}@example.com"):
        assert value not in output, f"a payload value was logged: {value}"  # ...but never the logs
    lines = proc.lines()
    webhooks = [ln for ln in lines if str(ln.get("event", "")).startswith("webhook_")]
    delivered = [ln for ln in lines if ln.get("event") == "event_delivered" and ln.get("target") == crm]
    assert len(delivered) == 2
    for ln in delivered:
        assert {"event_id", "target", "outcome", "duration_s"} <= set(ln)
    outcomes = {ln.get("outcome") for ln in webhooks if ln.get("source") == f"shop_{tag}"}
    assert outcomes >= {"accepted", "invalid_signature"}
    for ln in webhooks:
        assert {"source", "outcome"} <= set(ln)
    accepted = [ln for ln in webhooks if ln.get("outcome") == "accepted"]
    assert accepted and all("event_ids" in ln and "duration_s" in ln for ln in accepted)
    [forged] = [ln for ln in webhooks if (ln.get("event"), ln.get("source")) == ("webhook_rejected", f"shop_{tag}")]
    assert (forged["status"], forged["reason"]) == (401, "invalid_signature") and forged["detail"]
