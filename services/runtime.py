"""Start and stop Handover's parts in one process: broker (embedded), gateway, web, sync.

`handover run` starts all of them; `handover gateway|sync|web` start one against an external
Kafka. The tests start the same Runtime, so what they exercise is what users run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import structlog
from aiohttp import web

from services.common.appkeys import LEDGER, METRICS, PUBLISHER, SETTINGS
from services.common.broker import BrokerError, EmbeddedBroker, publish_address, running_broker, withdraw_address
from services.common.config import Settings
from services.common.kafka import Publisher, all_topics, ensure_topics
from services.common.metrics import Metrics
from services.gateway.app import publisher_ctx, setup_gateway
from services.gateway.dedupe import BatchingDedupe, DedupeStore
from services.ledger.calculator import LedgerCalculatorStore
from services.ledger.store import SqlLedger, open_ledger
from services.notify import setup_notify
from services.sync.deadletters import restore_dead_letters
from services.sync.recorder import Recorder
from services.sync.runner import SyncService
from services.web.api import setup_api
from services.web.app import READY_CHECKS, setup_ops, setup_web
from services.web.calculator import CALCULATOR_STORE
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
    # The gateway's delivery memory; None: the ledger's table (shared by every replica).
    dedupe: DedupeStore | None = None

    async def start(self) -> None:
        """Start every part; on failure, stop what already started."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        if not self.settings.kafka.bootstrap_servers:
            other = running_broker(self.settings.data_dir)
            if other is not None:  # two would share one ledger and outbox with different brokers
                raise BrokerError(
                    f"another `handover run` is using data_dir {self.settings.data_dir} (its broker answers at "
                    f"{other}); stop it first, or give this one a data_dir of its own"
                )
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
        if self.broker is not None:
            await self._embedded_broker_up()
        starting = []
        if self.parts.recorder:
            self.recorder = Recorder(self.settings, self.ledger, self.metrics)
            starting.append(self.recorder.start())
        if self.parts.sync:
            self.sync = SyncService(self.settings, self.metrics, self.parts.targets, ledger=self.ledger)
            starting.append(self.sync.start())
        await asyncio.gather(*starting)  # consumer groups join concurrently

    async def _embedded_broker_up(self) -> None:
        """A new embedded broker holds nothing: write the dead letters the ledger kept again (a
        failure leaves the copies for the next start), then tell `handover replay` where it is."""
        assert self.broker is not None and self.ledger is not None
        try:
            restored = await restore_dead_letters(self.settings.kafka, self.ledger, self.settings.targets)
        except Exception as exc:  # noqa: BLE001 - start anyway; the copies stay in the ledger
            log.warning("dead_letters_restore_failed", error=repr(exc))
        else:
            if restored:
                log.info("dead_letters_restored", count=restored)
        publish_address(self.settings.data_dir, self.broker.bootstrap_servers)

    def make_app(self) -> web.Application:
        """The HTTP app with the parts this process serves."""
        app = web.Application()
        app[SETTINGS] = self.settings
        app[METRICS] = self.metrics
        assert self.ledger is not None
        app[READY_CHECKS] = [self.ledger.ready, self._sync_ready]
        app[LEDGER] = self.ledger
        if self.parts.gateway:
            app[PUBLISHER] = Publisher(self.settings.kafka)
            app[READY_CHECKS].append(app[PUBLISHER].ready)
            app.cleanup_ctx.append(publisher_ctx)
            # Default: the ledger's table, shared by every gateway replica on the same database.
            setup_gateway(app, dedupe=self.dedupe or BatchingDedupe(self.ledger))
        setup_ops(app)
        if self.parts.web:
            app[CALCULATOR_STORE] = LedgerCalculatorStore(self.ledger)
            setup_web(app)
            setup_api(app)
            setup_ops_pages(app)
            setup_notify(app)  # the owner's messages, when [notify] target is set
        return app

    async def _sync_ready(self) -> str | None:
        if self.sync is None:
            return None
        waiting = [w.target for w in self.sync.workers if not w.assigned.is_set()]
        return f"sync: waiting for partitions of {', '.join(waiting)}" if waiting else None

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
            withdraw_address(self.settings.data_dir, self.broker.bootstrap_servers)
            await self.broker.astop()
            self.broker = None
