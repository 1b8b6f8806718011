"""Start and stop Handover's parts in one process: broker (embedded), gateway, web, sync.

`handover run` starts all of them; `handover gateway|sync|web` start one against an external
Kafka. The tests start the same Runtime, so what they exercise is what users run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import structlog
from aiohttp import web

from services.common.appkeys import LEDGER, METRICS, PUBLISHER, SETTINGS
from services.common.broker import EmbeddedBroker
from services.common.config import Settings
from services.common.kafka import Publisher, all_topics, ensure_topics
from services.common.metrics import Metrics
from services.gateway.app import publisher_ctx, setup_gateway
from services.ledger.store import SqlLedger, open_ledger
from services.sync.recorder import Recorder
from services.sync.runner import SyncService
from services.web.api import setup_api
from services.web.app import READY_CHECKS, setup_ops, setup_web
from services.web.ops import setup_ops_pages

log = structlog.get_logger("handover")


@dataclass
class Parts:
    """Which services this process runs."""

    gateway: bool = True
    web: bool = True
    sync: bool = True
    recorder: bool = True
    targets: Sequence[str] | None = None  # sync only these targets (None: all)


@dataclass
class Runtime:
    """Handover's services in one process, started and stopped together."""

    settings: Settings
    parts: Parts = field(default_factory=Parts)
    metrics: Metrics = field(default_factory=Metrics)
    broker: EmbeddedBroker | None = None
    runner: web.AppRunner | None = None
    sync: SyncService | None = None
    recorder: Recorder | None = None
    ledger: SqlLedger | None = None
    port: int | None = None

    async def start(self) -> None:
        """Start every part; on failure, stop what already started."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        if not self.settings.kafka.bootstrap_servers:
            self.broker = EmbeddedBroker()
            await self.broker.astart()
            kafka = msgspec.structs.replace(
                self.settings.kafka, bootstrap_servers=self.broker.bootstrap_servers, idempotence=False
            )
            self.settings = msgspec.structs.replace(self.settings, kafka=kafka)
        self.metrics.init_labels(self.settings)
        await ensure_topics(self.settings.kafka, all_topics(self.settings))
        self.ledger = await open_ledger(self.settings.ledger.url)
        # Every process serves HTTP: at least /healthz, /readyz and /metrics.
        self.runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.server.host, self.settings.server.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if self.parts.recorder:
            self.recorder = Recorder(self.settings, self.ledger, self.metrics)
            await self.recorder.start()
        if self.parts.sync:
            self.sync = SyncService(self.settings, self.metrics, self.parts.targets, ledger=self.ledger)
            await self.sync.start()

    def make_app(self) -> web.Application:
        """The HTTP app with the parts this process serves."""
        app = web.Application()
        app[SETTINGS] = self.settings
        app[METRICS] = self.metrics
        app[READY_CHECKS] = []
        assert self.ledger is not None
        app[LEDGER] = self.ledger
        if self.parts.gateway:
            app[PUBLISHER] = Publisher(self.settings.kafka)
            app.cleanup_ctx.append(publisher_ctx)
            setup_gateway(app, dedupe=self.ledger)
        setup_ops(app)
        if self.parts.web:
            setup_web(app)
            setup_api(app)
            setup_ops_pages(app)
        return app

    @property
    def base_url(self) -> str:
        """The URL the HTTP server answers on."""
        return f"http://{self.settings.server.host}:{self.port}"

    async def stop(self) -> None:
        """Stop in reverse order: intake first, then sync (draining), then the broker."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.sync is not None:
            await self.sync.stop()
            self.sync = None
        if self.recorder is not None:
            await self.recorder.stop()
            self.recorder = None
        if self.ledger is not None:
            await self.ledger.close()
            self.ledger = None
        if self.broker is not None:
            await self.broker.astop()
            self.broker = None
