"""The aiohttp app key the ledger is shared under (apart from services.common.appkeys, which
sits below the ledger and may not import it)."""

from __future__ import annotations

from aiohttp import web

from services.ledger.store import SqlLedger

LEDGER = web.AppKey("ledger", SqlLedger)
