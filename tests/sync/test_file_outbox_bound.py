"""The file outbox remembers only its latest idempotency keys, not every key it ever wrote."""

from __future__ import annotations

import msgspec
import pytest

from services.sync.connectors import file as file_connector
from tests.sync.conftest import contact_event, make_request


async def test_the_outbox_keeps_a_bounded_memory_of_keys(connect, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_connector, "REMEMBERED_KEYS", 50)
    path = tmp_path / "crm.jsonl"
    connector = await connect({"kind": "file", "path": str(path)})
    requests = [make_request("file", "record", contact_event(event_id=f"ev-{i}")) for i in range(200)]
    for request in requests:
        await connector.deliver(request)
    assert len(connector._seen) == 50
    # A repeat of a recent action (a crash between the write and the ledger) is not written again.
    again = await connector.deliver(requests[-1])
    assert again.detail == "already in outbox"
    lines = path.read_bytes().splitlines()
    assert len(lines) == 200
    # Opening a long outbox again remembers the latest keys only.
    reopened = await connect({"kind": "file", "path": str(path)})
    assert list(reopened._seen) == [msgspec.json.decode(line)["idempotency_key"] for line in lines[-50:]]
