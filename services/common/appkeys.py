"""Typed keys for the state every aiohttp app of Handover carries (the ledger's: services.ledger.appkeys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from services.common.config import Settings
from services.common.metrics import Metrics

if TYPE_CHECKING:
    from services.common.kafka import Publisher

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
PUBLISHER: web.AppKey[Publisher] = web.AppKey("publisher")
