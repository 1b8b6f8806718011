"""Handover's own map from a business key to a target's record id (the connectors' `IdMap`)."""

from __future__ import annotations

from services.ledger.db import Database


class SqlIdMap:
    """The `idmap` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def idmap_get(self, target: str, key: str) -> str | None:
        """A target's id for one of Handover's keys."""
        row = await self.db.fetchrow("SELECT external_id FROM idmap WHERE target = $1 AND key = $2", target, key)
        return row[0] if row else None

    async def idmap_put(self, target: str, key: str, external_id: str) -> None:
        """Remember a target's id for one of Handover's keys."""
        await self.db.execute(
            "INSERT INTO idmap (target, key, external_id) VALUES ($1, $2, $3) "
            "ON CONFLICT (target, key) DO UPDATE SET external_id = excluded.external_id",
            target, key, external_id,
        )
