"""The SQL ledger: one database (SQLite or PostgreSQL) and its repositories, one per caller.

`deliveries` is the sync runner's, `dedupe` the gateway's, `idmap` the connectors', `events` the
recorder's; the owner's pages read through the ledger itself (`Reports`, `KeyValues`).
"""

from __future__ import annotations

import asyncio
import re

from services.ledger.db import Database, connect
from services.ledger.dedupe import WebhookDedupe
from services.ledger.deliveries import Deliveries
from services.ledger.events import EventLog
from services.ledger.idmap import SqlIdMap
from services.ledger.kv import KeyValues
from services.ledger.migrations import migrate
from services.ledger.reports import Reports


class SqlLedger(Reports, KeyValues):
    """The ledger's database with its repositories; the web pages read through it directly."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.deliveries = Deliveries(db)
        self.dedupe = WebhookDedupe(db)
        self.idmap = SqlIdMap(db)
        self.events = EventLog(db)

    @classmethod
    async def open(cls, url: str) -> SqlLedger:
        """Connect and apply the schema migrations this ledger has not had yet."""
        db = await connect(url)
        try:
            await migrate(db, f"the ledger at {_printable(url)}")
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()

    async def ready(self) -> str | None:
        """None when the database answers within 2 s, else why not."""
        try:
            async with asyncio.timeout(2):
                await self.db.fetchrow("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means: not ready, and says which
            return f"ledger: {type(exc).__name__}: {exc}"
        return None


def _printable(url: str) -> str:
    """A ledger URL without its password, for messages."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


async def open_ledger(url: str) -> SqlLedger:
    """Open the ledger a URL names (sqlite:///path or postgresql://...)."""
    return await SqlLedger.open(url)
