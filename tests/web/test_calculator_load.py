"""The public calculator's work is bounded: a full queue answers 503 at once, not later."""

from __future__ import annotations

import asyncio
import threading

from aiohttp.test_utils import TestClient, TestServer

from services.web.calculator.compute import CALCULATOR_GATE, CalculatorGate
from tests.web.conftest import handover, make_app


async def test_a_full_calculator_queue_answers_503_with_retry_after_and_recovers():
    app = make_app()
    app[CALCULATOR_GATE] = CalculatorGate(workers=1, queue=1)
    release = threading.Event()
    async with TestClient(TestServer(app)) as client:
        gate = app[CALCULATOR_GATE]
        # Two long computations hold the one worker and the one place in the queue.
        held = [asyncio.ensure_future(gate.run(release.wait)) for _ in range(2)]
        await asyncio.sleep(0)  # let both enter the gate (no waiting on time: one loop turn)
        assert gate.waiting == 2
        try:
            r = await client.post("/api/calculator", json={"handovers": [handover()]})
            assert r.status == 503
            assert r.headers["Retry-After"] == "2"
            body = await r.json()
            assert "try again in a few seconds" in body["errors"][0]["localized"]
            page = await client.get("/", params={"share": "x"})  # a bad link needs no model
            assert page.status == 422
            csv = await client.get("/calculator.csv")
            assert csv.status in (422, 503)
        finally:
            release.set()
            await asyncio.gather(*held)
        assert gate.waiting == 0
        r = await client.post("/api/calculator", json={"handovers": [handover()]})
        assert r.status == 200


async def test_two_hundred_rows_are_accepted_and_two_hundred_and_one_refused(client):
    rows = [handover(source=f"Shop {i}") for i in range(200)]
    r = await client.post("/api/calculator", json={"handovers": rows})
    assert r.status == 200
    body = await r.json()
    assert len(body["handovers"]) == 200
    assert body["samples"] == 1000  # bounded per request: 200,000 simulated handover-weeks
    r = await client.post("/api/calculator", json={"handovers": [*rows, handover(source="one more")]})
    assert r.status == 422
    assert "at most 200 handovers" in (await r.text())
