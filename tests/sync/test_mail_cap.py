"""The mail cannon, disarmed: a public form names the address its confirmation goes to, so a
flood of submissions for one victim sends that victim a few mails a day, not thousands. The
capped mails are not sent and show up as dead letters naming why (replayable by the owner)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Runtime
from services.sync.connectors._mail import RecipientCap
from tests.config import QUICK_REBALANCE, action, flow, make_settings
from tests.conftest import Inbox, wait_for


@pytest.fixture
async def hub(
    broker: EmbeddedBroker, tmp_path: Path, smtp_server: tuple[str, int, Inbox]
) -> AsyncIterator[Runtime]:
    """Handover with a public form whose confirmation goes out by SMTP and into a Maildir."""
    settings = make_settings(
        tmp_path, broker.bootstrap_servers, server={"trusted_proxies": ["127.0.0.1"]}, kafka=QUICK_REBALANCE,
        sources={"website": {"kind": "form"}},
        targets={
            "mail": {"kind": "smtp", "host": "127.0.0.1", "port": smtp_server[1], "max_mails_per_recipient_per_day": 3},
            "box": {"kind": "maildir"},
        },
        flows=[flow("Confirm", "contact.submitted", action("mail", "send_email"),
                    action("box", "send_email", name="copy"))],
    )
    runtime = Runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_a_flood_for_one_address_sends_it_three_mails_and_dead_letters_the_rest(
    hub: Runtime, smtp_server: tuple[str, int, Inbox], tmp_path: Path
) -> None:
    inbox = smtp_server[2]
    victim = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    bystander = f"someone-{uuid.uuid4().hex[:8]}@example.com"
    ids = []
    async with aiohttp.ClientSession() as http:
        # Each from a different address (behind the trusted proxy): no rate limit stops this.
        for i, email in enumerate([victim] * 6 + [bystander]):
            async with http.post(f"{hub.base_url}/hooks/website", data={"email": email, "message": f"spam {i}"},
                                 headers={"X-Forwarded-For": f"203.0.113.{i + 1}"}) as r:
                assert r.status == 202, await r.text()
                ids.append((await r.json())["event_ids"][0])
    ledger = hub.ledger
    assert ledger is not None

    async def settled() -> list:
        rows = [row for eid in ids for row in await ledger.deliveries_for(eid)]
        return rows if len(rows) == 14 and all(r.status in ("delivered", "deadlettered") for r in rows) else []

    rows = await wait_for(settled)
    for target in ("mail", "box"):
        mine = [r for r in rows if r.target == target]
        assert sum(r.status == "delivered" for r in mine) == 4  # 3 for the victim, 1 for the bystander
        capped = [r for r in mine if r.status == "deadlettered"]
        assert len(capped) == 3
        assert all(victim in r.last_error and "max_mails_per_recipient_per_day" in r.last_error for r in capped)
    sent_to = [env.rcpt_tos[0] for env, _ in inbox.messages if env.rcpt_tos[0] in (victim, bystander)]
    assert sorted(sent_to) == sorted([victim] * 3 + [bystander])
    # The broker is shared with other tests: count only this test's recipients.
    boxed = [f.read_bytes() for f in (tmp_path / "mail" / "box" / "new").iterdir()]
    assert sum(victim.encode() in m for m in boxed) == 3 and sum(bystander.encode() in m for m in boxed) == 1


def test_a_retry_of_the_same_mail_is_not_counted_twice_and_the_day_slides() -> None:
    now = [1000.0]
    cap = RecipientCap(2, clock=lambda: now[0])
    assert cap.admit(["A@example.com"], "k1") is None
    assert cap.admit(["a@example.com "], "k1") is None  # the same mail again (a retry)
    assert cap.admit(["a@example.com"], "k2") is None
    assert cap.admit(["a@example.com", "b@example.com"], "k3") == "a@example.com"
    assert cap.admit(["b@example.com"], "k4") is None  # nothing was counted for the refused mail
    now[0] += 86_401
    assert cap.admit(["a@example.com"], "k3") is None


def test_the_cap_remembers_a_bounded_number_of_recipients() -> None:
    cap = RecipientCap(1, max_recipients=50)
    for i in range(5000):
        cap.admit([f"r{i}@example.com"], f"k{i}")
    assert len(cap._sent) == 50
