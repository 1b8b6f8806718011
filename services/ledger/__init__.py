"""The ledger: events, expected actions, deliveries, webhook dedupe and id maps, on SQLite or PostgreSQL."""

from services.ledger.base import Ledger, NullLedger, Prior
from services.ledger.store import SqlLedger, open_ledger

__all__ = ["Ledger", "NullLedger", "Prior", "SqlLedger", "open_ledger"]
