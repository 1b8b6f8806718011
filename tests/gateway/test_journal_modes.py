"""`kafka.journal`: on by itself with the embedded broker, off with a real cluster, on when asked."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from services.common.embedded_broker import EmbeddedBroker
from services.ledger.journal import IntakeJournal
from services.runtime import Parts, Runtime
from tests.config import make_settings


@pytest.mark.parametrize(("mode", "journaled"), [("auto", 0), ("on", 1), ("off", 0)])
async def test_with_an_external_cluster_the_journal_is_off_unless_asked(
    tmp_path: Path, broker: EmbeddedBroker, mode: str, journaled: int
) -> None:
    settings = make_settings(tmp_path, broker.bootstrap_servers, kafka={"journal": mode},
                             ledger={"url": f"sqlite:///{tmp_path}/l.db"}, sources={"website": {"kind": "form"}})
    runtime = Runtime(settings, Parts(gateway=True, web=False, sync=False, recorder=False))
    await runtime.start()
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{runtime.base_url}/hooks/website", json={"email": "j@example.com"}
        ) as r:
            assert r.status == 202
        assert runtime.ledger is not None
        assert await IntakeJournal(runtime.ledger.db).count() == journaled
    finally:
        await runtime.stop()


@pytest.mark.integration  # starts the embedded broker
async def test_the_embedded_broker_turns_the_journal_on(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, ledger={"url": f"sqlite:///{tmp_path}/l.db"}, sources={"website": {"kind": "form"}}
    )
    runtime = Runtime(settings, Parts(gateway=True, web=False, sync=False, recorder=False))
    await runtime.start()
    try:
        assert runtime.broker is not None and runtime.journal is not None
        async with aiohttp.ClientSession() as http, http.post(
            f"{runtime.base_url}/hooks/website", json={"email": "j@example.com"}
        ) as r:
            assert r.status == 202
        assert await runtime.journal.count() == 1
    finally:
        await runtime.stop()
