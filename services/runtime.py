"""Start and stop Handover's parts in one process: broker (embedded), gateway, web, sync.

`handover run` starts all of them; `handover gateway|sync|web` start one against an external
Kafka. The tests start the same Runtime, so what they exercise is what users run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

import msgspec
import structlog
from aiohttp import web

from services.common import datadir
from services.common.appkeys import METRICS, PUBLISHER, SETTINGS
from services.common.config import Settings, listen_address
from services.common.connguard import GUARD, ConnectionGuard, GuardedSite, mark_request
from services.common.embedded_broker import (
    BrokerError,
    EmbeddedBroker,
    publish_address,
    running_broker,
    withdraw_address,
)
from services.common.kafka import Doorbell, Publisher, all_topics, ensure_topics
from services.common.metrics import Metrics
from services.gateway.app import drain_remembering, setup_gateway
from services.gateway.dedupe import BatchingDedupe, DedupeStore
from services.ledger.appkeys import LEDGER
from services.ledger.calculator_store import LedgerCalculatorStore
from services.ledger.journal import IntakeJournal
from services.ledger.store import SqlLedger, open_ledger
from services.notify import setup_notify
from services.sync.deadletters import restore_dead_letters
from services.sync.recorder import Recorder
from services.sync.runner import SyncService
from services.web.api import setup_api
from services.web.app import LIVE_CHECKS, READY_CHECKS, healthz, readyz, setup_ops, setup_web
from services.web.auth import SESSION_KEY, session_key, setup_auth
from services.web.calculator.store import CALCULATOR_STORE
from services.web.ops import setup_ops_pages

log = structlog.get_logger("handover")

SUPERVISE_EVERY_S = 0.5  # how soon a dead embedded broker is noticed
ROTATION_CHECK_EVERY_S = 5.0  # reading /proc costs nothing; a busy broker grows ~2 MB a second
QUIET_FOR_ROTATION_S = 10.0  # no webhook for this long: a good moment to rotate the broker
PRUNE_EVERY_S = 60.0
RESTART_ATTEMPTS = 8  # then the process is unhealthy (/healthz fails) and a supervisor restarts it
STOP_PART_TIMEOUT_S = 15.0  # each part's stop; SIGTERM ends within the drain timeout, broker up or not


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
    ops_runner: web.AppRunner | None = None  # the server.ops_listen listener, when configured
    ops_port: int | None = None
    # The gateway's delivery memory; None: the ledger's table (shared by every replica).
    dedupe: DedupeStore | None = None
    publisher: Publisher | None = None
    journal: IntakeJournal | None = None  # on: every accepted event is in the ledger before its 2xx
    fatal: str | None = None  # set when a part cannot recover: /healthz fails
    # The embedded broker's size right after a re-drive put a backlog into it (0: it came up
    # empty): what a rotation cannot free while those events stay unfinished.
    broker_floor: int = 0
    restart_attempts: int = RESTART_ATTEMPTS
    rotation_check_s: float = ROTATION_CHECK_EVERY_S
    started: bool = False  # every part is up (readiness waits for it)
    # One broker replacement at a time (the supervisor's after a crash, a rotation).
    broker_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    background: list[asyncio.Task[None]] = field(default_factory=list)

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
        datadir.protect(self.settings.data_dir)  # 0700 before the ledger and outboxes land in it
        await ensure_topics(self.settings.kafka, all_topics(self.settings))
        self.ledger = await open_ledger(self.settings.ledger.url)
        if self.journal_on:
            self.journal = IntakeJournal(self.ledger.db)
        # One process that publishes and consumes (handover run): its consumers doze on an idle
        # broker, and the publisher wakes them. Alone, a consumer cannot know: it keeps fetching.
        consumes = self.parts.sync or self.parts.recorder
        doorbell = Doorbell() if self.parts.gateway and consumes else None
        if self.parts.gateway or self.journal is not None:
            self.publisher = Publisher(self.settings.kafka, doorbell)
            await self.publisher.start()
        if self.broker is not None:
            await self._broker_came_up()
            self.metrics.broker_up.set(1)
        elif self.journal is not None and self.parts.gateway:
            await self._redrive()  # journal asked for on a real cluster: make sure it has everything
        # Every process serves HTTP: at least /healthz, /readyz and /metrics.
        server_cfg = self.settings.server
        if server_cfg.ops_listen:
            # /metrics and the owner's pages on their own (unpublished) address; they share the
            # session key, so one login serves both.
            key = session_key(self.settings.web.session_secret_env, *self._credentials())
            self.runner, self.port = await self._serve(self.make_app(session=key), server_cfg.host, server_cfg.port)
            ops_host, ops_port = listen_address(server_cfg.ops_listen) or ("127.0.0.1", 0)
            self.ops_runner, self.ops_port = await self._serve(self.make_ops_app(session=key), ops_host, ops_port)
        else:
            self.runner, self.port = await self._serve(self.make_app(), server_cfg.host, server_cfg.port)
        starting = []
        if self.parts.recorder:
            self.recorder = Recorder(self.settings, self.ledger.events, self.metrics, doorbell)
            starting.append(self.recorder.start())
        if self.parts.sync:
            self.sync = SyncService(self.settings, self.metrics, self.parts.targets, ledger=self.ledger.deliveries,
                                    idmap=self.ledger.idmap, doorbell=doorbell)
            starting.append(self.sync.start())
        await asyncio.gather(*starting)  # consumer groups join concurrently
        if self.broker is not None:
            self.background.append(asyncio.create_task(self._supervise_broker(), name="broker-supervisor"))
        if self.journal is not None:
            self.background.append(asyncio.create_task(self._prune_journal(), name="journal-pruner"))
        datadir.protect(self.settings.data_dir)  # and what the parts created (ledger, outboxes)
        self.started = True

    def _credentials(self) -> list[str]:
        return [s.reveal() if s is not None else "" for s in (self.settings.admin_password, self.settings.api_token)]

    async def _serve(self, app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
        """Serve `app` on host:port behind the connection guard; the runner and the bound port."""
        cfg = self.settings.server
        app[GUARD] = ConnectionGuard(cfg.read_timeout_s, cfg.max_connections_per_client, cfg.trusted_proxies)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = GuardedSite(runner, host, port, app[GUARD])
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def make_ops_app(self, session: bytes) -> web.Application:
        """The ops listener's app: /metrics, health, the owner's pages and the admin API."""
        app = self._base_app()
        setup_ops(app)
        if self.parts.web:
            app[SESSION_KEY] = session
            assert self.ledger is not None
            app[CALCULATOR_STORE] = LedgerCalculatorStore(self.ledger)
            setup_web(app)
            setup_api(app)
            setup_ops_pages(app)
        return app

    def _base_app(self) -> web.Application:
        app = web.Application(middlewares=[mark_request])  # outermost: it times the whole request
        app[SETTINGS] = self.settings
        app[METRICS] = self.metrics
        assert self.ledger is not None
        app[READY_CHECKS] = [self.ledger.ready, self._sync_ready]
        app[LIVE_CHECKS] = [self._alive]
        app[LEDGER] = self.ledger
        return app

    @property
    def journal_on(self) -> bool:
        """Whether accepted events are journaled: `kafka.journal`, where "auto" means with the
        embedded broker (memory only) and not with a real cluster."""
        mode = self.settings.kafka.journal
        return mode == "on" or (mode == "auto" and self.broker is not None)

    async def _broker_came_up(self) -> None:
        """A new embedded broker holds nothing: write the dead letters the ledger kept again (a
        failure leaves the copies for the next start), publish every unfinished journaled event
        again, then tell `handover replay` where it is."""
        assert self.broker is not None and self.ledger is not None
        try:
            restored = await restore_dead_letters(self.settings.kafka, self.ledger.deliveries, self.settings.targets)
        except Exception as exc:  # noqa: BLE001 - start anyway; the copies stay in the ledger
            log.warning("dead_letters_restore_failed", error=repr(exc))
        else:
            if restored:
                log.info("dead_letters_restored", count=restored)
        if self.journal is not None:
            redriven = await self._redrive()
            self.broker_floor = (self.broker.rss_bytes() or 0) if redriven else 0
        publish_address(self.settings.data_dir, self.broker.bootstrap_servers)

    async def _redrive(self) -> int:
        """Publish every journaled event that is not finished, under its own event id: the
        consumers skip whatever they had already done. How many were published."""
        assert self.journal is not None and self.publisher is not None
        count = 0
        async for records in self.journal.unfinished_pages(page=500):
            await self.publisher.publish_records(records)
            count += len(records)
        if count:
            self.metrics.journal_redriven.inc(count)
            log.info("journal_redriven", count=count)
        return count

    async def _supervise_broker(self) -> None:
        """Notice a dead embedded broker within a second and start a fresh one on the same
        address; now and then, replace one grown too large at a quiet moment."""
        assert self.broker is not None
        next_rotation_check = time.monotonic() + self.rotation_check_s
        while True:
            await asyncio.sleep(SUPERVISE_EVERY_S)
            if self.broker.exit_code() is not None:
                async with self.broker_lock:
                    code = self.broker.exit_code()  # a rotation may have replaced it meanwhile
                    if code is not None:
                        await self._recover("crash", f"embedded broker exited with code {code}")
                continue
            if time.monotonic() >= next_rotation_check:
                next_rotation_check = time.monotonic() + self.rotation_check_s
                if self.rotation_due():
                    await self.rotate_broker()

    def rotation_due(self) -> bool:
        """The broker holds more than `kafka.embedded_max_rss_mb` and no webhook came in for a
        while (or it holds a quarter more: then now, busy or not, since a broker that never gets a
        quiet moment would otherwise grow without bound). Only with the journal, which re-drives.
        Not until it has grown by half the limit past what the re-drive gave it when it came up:
        a backlog (a target down for days) would fill a new broker just the same, and rotating
        over and over would only turn webhooks away."""
        limit = self.settings.kafka.embedded_max_rss_mb * 1024 * 1024
        if self.broker is None or self.journal is None or not limit:
            return False
        rss = self.broker.rss_bytes()
        if rss is None or rss < limit or rss - self.broker_floor < limit // 2:
            return False
        quiet = self.publisher is None or time.monotonic() - self.publisher.last_publish >= QUIET_FOR_ROTATION_S
        return quiet or rss >= limit * 5 // 4

    async def rotate_broker(self) -> None:
        """Replace the embedded broker with a fresh, empty one (the journal re-drives what is
        unfinished): bounds its memory, which it never frees."""
        assert self.broker is not None
        async with self.broker_lock:
            rss = self.broker.rss_bytes()
            log.info("broker_rotating", rss_mb=round((rss or 0) / 1e6, 1))
            self._broker_unavailable("embedded broker is being replaced; retry shortly")
            await self.broker.astop()
            await self._recover("rotation", "rotation")

    def _broker_unavailable(self, reason: str | None) -> None:
        if self.publisher is not None:
            self.publisher.unavailable = reason
        self.metrics.broker_up.set(0 if reason else 1)

    async def _recover(self, why: str, detail: str) -> None:
        """Start the broker again on its address, then put back what it held: topics, dead
        letters, unfinished events. Until then the gateway answers 503 with Retry-After."""
        assert self.broker is not None
        self._broker_unavailable("embedded broker is restarting; retry shortly")
        if why == "crash":
            log.error("broker_died", detail=detail)
        self.metrics.broker_restarts.labels(why).inc()
        delay = 0.5
        for attempt in range(1, self.restart_attempts + 1):
            try:
                await self.broker.arestart()
                await ensure_topics(self.settings.kafka, all_topics(self.settings))
                self._broker_unavailable(None)  # the re-drive publishes through the gateway's publisher
                await self._broker_came_up()
            except Exception as exc:  # noqa: BLE001 - try again, then give up loudly
                self._broker_unavailable("embedded broker is restarting; retry shortly")
                log.warning("broker_restart_failed", attempt=attempt, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            log.info("broker_recovered", reason=why, attempt=attempt)
            return
        self.fatal = f"the embedded broker could not be started again after {self.restart_attempts} attempts"
        log.critical("broker_unrecoverable", detail=self.fatal)
        self._broker_unavailable(self.fatal)
        await asyncio.Event().wait()  # stay unhealthy until whoever supervises us restarts the process

    async def _prune_journal(self) -> None:
        """Drop finished journal rows past their dedupe window (and expired dedupe entries)."""
        assert self.journal is not None
        while True:
            try:
                while await self.journal.prune() >= 5000:
                    pass  # a large backlog: keep going
                self.metrics.journal_rows.set(await self.journal.count())
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("journal_prune_failed", error=repr(exc))
            await asyncio.sleep(PRUNE_EVERY_S)

    def make_app(self, session: bytes | None = None) -> web.Application:
        """The HTTP app with the parts this process serves (`session`: an ops listener serves
        /metrics and the owner's pages; this app keeps health, webhooks and the calculator)."""
        app = self._base_app()
        assert self.ledger is not None
        if self.parts.gateway:
            assert self.publisher is not None
            app[PUBLISHER] = self.publisher
            app[READY_CHECKS].append(self.publisher.ready)
            # Default: the ledger's table, shared by every gateway replica on the same database.
            setup_gateway(app, dedupe=self.dedupe or BatchingDedupe(self.ledger.dedupe), journal=self.journal)
            app.on_cleanup.append(drain_remembering)
        if session is not None:
            app.router.add_get("/healthz", healthz)
            app.router.add_get("/readyz", readyz)
            if self.parts.web:
                app[SESSION_KEY] = session
                app[CALCULATOR_STORE] = LedgerCalculatorStore(self.ledger)
                setup_web(app)
                setup_auth(app)  # the calculator's owner view
            return app
        setup_ops(app)
        if self.parts.web:
            app[CALCULATOR_STORE] = LedgerCalculatorStore(self.ledger)
            setup_web(app)
            setup_api(app)
            setup_ops_pages(app)
            setup_notify(app)  # the owner's messages, when [notify] target is set
        return app

    async def _alive(self) -> str | None:
        return self.fatal

    async def _sync_ready(self) -> str | None:
        if not self.started:  # the HTTP server answers before the consumers have joined
            return "starting: the consumers are joining their groups"
        if self.sync is None:
            return None
        waiting = [w.target for w in self.sync.workers if not w.assigned.is_set()]
        return f"sync: waiting for partitions of {', '.join(waiting)}" if waiting else None

    @property
    def base_url(self) -> str:
        """The URL the HTTP server answers on."""
        return f"http://{self.settings.server.host}:{self.port}"

    async def stop(self) -> None:
        """Stop in reverse order: intake first, then sync (draining), then the broker. Each part
        gets a bounded time, so a stop ends even with the broker gone."""
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        self.background.clear()
        if self.runner is not None:
            await _bounded(self.runner.cleanup(), STOP_PART_TIMEOUT_S, "http")
            self.runner = None
        if self.ops_runner is not None:
            await _bounded(self.ops_runner.cleanup(), STOP_PART_TIMEOUT_S, "ops http")
            self.ops_runner = None
        if self.sync is not None:
            await _bounded(self.sync.stop(), self.settings.sync.delivery_timeout_s + STOP_PART_TIMEOUT_S, "sync")
            self.sync = None
        if self.recorder is not None:
            await _bounded(self.recorder.stop(), STOP_PART_TIMEOUT_S, "recorder")
            self.recorder = None
        if self.publisher is not None:
            await _bounded(self.publisher.stop(), STOP_PART_TIMEOUT_S, "publisher")
            self.publisher = None
        if self.ledger is not None:
            await self.ledger.close()
            self.ledger = None
        if self.broker is not None:
            withdraw_address(self.settings.data_dir, self.broker.bootstrap_servers)
            await self.broker.astop()
            self.broker = None


async def _bounded(stopping: Awaitable[None], timeout_s: float, part: str) -> None:
    """Await one part's stop for at most `timeout_s`; past that, go on without it."""
    try:
        async with asyncio.timeout(timeout_s):
            await stopping
    except TimeoutError:
        log.warning("stop_timed_out", part=part, timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001 - stopping the rest matters more
        log.warning("stop_failed", part=part, error=repr(exc))
