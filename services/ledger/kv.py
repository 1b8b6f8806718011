"""Small named values the owner stores (the calculator's typed-in handovers)."""

from __future__ import annotations

import time

from services.ledger.db import Database


class KeyValues:
    """The `settings_store` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_value(self, name: str) -> str | None:
        """A stored setting (the calculator's typed-in handovers)."""
        row = await self.db.fetchrow("SELECT value FROM settings_store WHERE name = $1", name)
        return row[0] if row else None

    async def put_value(self, name: str, value: str) -> None:
        """Store a setting."""
        await self.db.execute(
            "INSERT INTO settings_store (name, value, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            name, value, time.time(),
        )
