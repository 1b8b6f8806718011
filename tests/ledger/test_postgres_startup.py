"""Several processes opening one PostgreSQL ledger at once (sync replicas starting together)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.ledger.store import open_ledger

pytestmark = pytest.mark.integration  # PostgreSQL

DSN = "postgresql://postgres@127.0.0.1:5432/test"


async def test_many_ledgers_opening_one_new_schema_at_once_all_succeed() -> None:
    schema = f"t_{uuid.uuid4().hex[:8]}"
    ledgers = await asyncio.gather(*(open_ledger(f"{DSN}?schema={schema}") for _ in range(6)))
    try:
        await ledgers[0].dedupe.remember("evt-1", 60)
        assert all([await led.dedupe.seen("evt-1") for led in ledgers])  # one schema, shared
    finally:
        for led in ledgers:
            await led.close()
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()
