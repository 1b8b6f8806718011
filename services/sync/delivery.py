"""Delivery of one action of one event, exactly once: ledger states, render, call, outcome.

No Kafka here: a `Lane` lends what the caller has. The live worker's lane is a record on a
partition (call slots, the breaker, waits that a stop cuts short, the dead-letter topic); a
replay's lane has none of these and reports what it could not do. The outcome protocol of a
"lookup" create (services.sync.connectors.base.Repeat) lives here: the attempt is marked in
flight before its call, and an attempt in doubt is looked up at the target before anything is
sent again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from schemas import AnyEvent
from services.common.config import SyncConfig
from services.common.metrics import Metrics
from services.flows.compile import CompiledAction, CompiledFlow, idempotency_key
from services.ledger.base import Ledger
from services.sync.connectors.base import ActionRequest, Connector, Delivered
from services.sync.errors import Ambiguous, DeliveryError, Permanent, Transient
from services.sync.retry import backoff


@dataclass(frozen=True)
class Outcome:
    """What became of one action: delivered, already_delivered, deadlettered or failed."""

    status: str
    detail: str = ""


class Abandoned(Exception):
    """The worker is stopping: leave this record unfinished (uncommitted) for the next owner."""


class FoundDeadLetter(Protocol):
    """A dead letter a previous owner wrote (services.sync.deadletters.find_dead_letter)."""

    @property
    def error(self) -> str:
        """Its error class and message."""
        ...

    @property
    def offset(self) -> int:
        """Its offset in the dead-letter topic."""
        ...

    @property
    def headers(self) -> dict[str, str]:
        """Its headers (attempts, ...)."""
        ...


class Lane(Protocol):
    """What the caller lends one delivery: call pacing, waits, the breaker and dead letters."""

    @property
    def live(self) -> bool:
        """True for a consumed record (failures are dead-lettered); False for a replay."""
        ...

    async def slot(self) -> None:
        """Take one of the target's call slots; raise Abandoned when the call must not go out."""
        ...

    def release(self) -> None:
        """Give the call slot back."""
        ...

    async def wait(self, seconds: float) -> None:
        """A backoff wait; raise Abandoned when the worker stops meanwhile."""
        ...

    def failed(self) -> bool:
        """Count a transient failure of the target; True while the target is paused."""
        ...

    def succeeded(self) -> None:
        """The target answered: it is not failing."""
        ...

    async def deadletter(
        self, event: AnyEvent, flow: CompiledFlow, action: CompiledAction, error: DeliveryError,
        attempts: int, first: float,
    ) -> None:
        """Write the action's one dead letter (live lanes only)."""
        ...

    async def find_dead_letter(self, key: str) -> FoundDeadLetter | None:
        """The dead letter of this idempotency key, if a previous owner wrote it."""
        ...


class Delivery:
    """Delivers one action at a time to one target through its connector and the ledger."""

    def __init__(
        self, target: str, connector: Connector, ledger: Ledger, cfg: SyncConfig, metrics: Metrics,
    ) -> None:
        self.target = target
        self.connector = connector
        self.ledger = ledger
        self.cfg = cfg
        self.metrics = metrics
        self.log = structlog.get_logger("handover.sync").bind(target=target)
        self._counters: dict[tuple[str, str], Any] = {}  # (action, outcome) -> its counter
        self._duration = metrics.delivery_duration.labels(target)
        self._lag = metrics.delivery_lag.labels(target)

    async def deliver(
        self,
        event: AnyEvent,
        ctx: dict[str, Any],
        flow: CompiledFlow,
        action: CompiledAction,
        lane: Lane,
        failing: Permanent | None = None,
    ) -> Outcome:
        """Deliver one action of one event, exactly once; on a live lane failures that cannot
        be retried go to the dead-letter topic, on a replay's they are reported.
        `failing`: the flow itself failed for this event (its condition): nothing is sent, the
        action gets its one dead letter."""
        key = idempotency_key(event, flow.name, action.key)
        name = action.config.action
        repeat = self.connector.repeat_of(name)
        prior = await self.ledger.begin(key, event, self.target, flow.name, action.key, repeat)
        if prior == "delivered":
            self.count(name, "skipped_duplicate")
            self.log.info("event_skipped_duplicate", flow=flow.name, action=action.key, outcome="skipped_duplicate")
            delivered = await self.ledger.delivery(key) if hasattr(self.ledger, "delivery") else None
            return Outcome("already_delivered", getattr(delivered, "external_id", ""))
        if prior == "deadlettered" and lane.live:
            # Redelivered after a crash or rebalance: it already has its one dead letter; only
            # an explicit replay tries it again.
            self.count(name, "skipped_duplicate")
            self.log.info("event_skipped_deadlettered", flow=flow.name, action=action.key)
            return Outcome("deadlettered", "already dead-lettered")
        if prior == "deadlettering" and lane.live:
            # The last owner died while writing the dead letter: write it only if it is not there.
            found = await lane.find_dead_letter(key)
            if found is not None:
                await self.ledger.deadlettered(key, found.error, int(found.headers.get("attempts", "1") or 1),
                                               found.offset)
                self.log.info("event_skipped_deadlettered", flow=flow.name, action=action.key, recovered=True)
                return Outcome("deadlettered", "already dead-lettered")
        if prior == "ambiguous" and lane.live and repeat != "lookup":
            self.metrics.ambiguous.labels(self.target).inc()
            exc = Permanent(
                "an earlier attempt was interrupted between sending and confirmation; "
                "it may have been delivered. Replay it if it did not arrive."
            )
            await lane.deadletter(event, flow, action, exc, 1, time.time())
            return Outcome("deadlettered", exc.message)
        if failing is not None:
            if not lane.live:
                return Outcome("failed", f"{type(failing).__name__}: {failing.message}")
            await lane.deadletter(event, flow, action, failing, 1, time.time())
            return Outcome("deadlettered", failing.message)
        # The outcome protocol of a "lookup" create: an attempt in doubt (in flight when its
        # process stopped, replayed from a dead letter, or cut off by a timeout, a dropped
        # connection or a 5xx) is looked up at the target before anything is sent again.
        in_doubt = repeat == "lookup" and (prior == "ambiguous" or not lane.live)
        doubt_since: float | None = None  # epoch time of the attempt in doubt, when known
        if in_doubt and prior == "ambiguous" and hasattr(self.ledger, "delivery"):
            row = await self.ledger.delivery(key)  # a restart soon after the attempt: let the index catch up
            doubt_since = getattr(row, "last_attempt_at", None)
        first = time.time()
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            error: DeliveryError | None = None
            result: Delivered | None = None
            looking_up = False  # the error (if any) is the lookup's, not the create's
            sent: dict[str, Any] | None = None  # what this attempt rendered, for the audit trail
            try:
                request = ActionRequest(
                    event=event, flow=flow.name, action=name, key=action.key, idempotency_key=key,
                    fields=action.render(ctx), options=action.config.options, attempt=attempt,
                )
                sent = request.fields
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a field that cannot be made for this event
                error = Permanent(f"mapping error: {exc!r}")
            else:
                if in_doubt and doubt_since is not None:
                    # The target's lookup may lag behind its creates (a search index): wait it out.
                    settle = self.connector.reconcile_after_s - (time.time() - doubt_since)
                    if settle > 0:
                        await lane.wait(settle)
                if repeat == "lookup" and not in_doubt:
                    # In flight from here: written before taking a call slot, so the ledger's
                    # latency holds none (a stop while waiting for one costs a lookup later).
                    await self.ledger.sending(key, attempt)
                await lane.slot()  # the call itself takes one of the target's slots
                try:
                    if in_doubt:
                        looking_up = True
                        result, error = await self._reconcile(request)
                        if result is None and error is None:
                            looking_up = False
                            in_doubt = False  # the target says it is not there: create it now
                    if result is None and error is None:
                        if repeat == "none":
                            # A ledger error propagates: the whole record is retried, never dead-lettered.
                            await self.ledger.sending(key, attempt)
                        started = time.perf_counter()
                        try:
                            result = await self._timed(self.connector.deliver(request))
                        except TimeoutError:
                            error = Transient(f"no answer within {self.cfg.delivery_timeout_s} s")
                        except DeliveryError as exc:
                            error = exc
                        except Exception as exc:  # noqa: BLE001 - a connector bug must not lose the event
                            if repeat == "lookup":  # e.g. the id map write after the create failed
                                error = Transient(f"connector error after sending: {exc!r}")
                            else:
                                error = Permanent(f"connector error: {exc!r}")
                        if repeat == "lookup" and isinstance(error, Transient) and error.sent:
                            in_doubt, doubt_since = True, time.time()
                finally:
                    lane.release()
            if error is None and result is not None:
                duration = time.perf_counter() - started
                await self._note_delivered(lane, key, result.external_id, attempt)
                await self._record_sent(key, sent, result.detail or result.external_id)
                lane.succeeded()
                self.count(name, "delivered")
                self._duration.observe(duration)
                lag = (dt.datetime.now(dt.UTC) - (event.received_at or event.time)).total_seconds()
                self._lag.observe(max(0.0, lag))
                self.log.info(
                    "event_delivered", flow=flow.name, action=action.key, outcome="delivered",
                    attempts=attempt, external_id=result.external_id, duration_s=round(duration, 6),
                    detail=result.detail,
                )
                return Outcome("delivered", result.external_id)
            assert error is not None
            self._duration.observe(time.perf_counter() - started)
            if looking_up and isinstance(error, Permanent) and not isinstance(error, Ambiguous):
                # The lookup itself was refused (a missing scope, a 4xx): nobody can tell.
                error = Ambiguous(self.connector.ambiguity(request, f"the lookup failed: {error.message}"))
            text = f"{type(error).__name__}: {error.message}"
            if in_doubt and not isinstance(error, Ambiguous):
                await self.ledger.in_doubt(key, text, attempt)  # stays "sending": looked up first
            else:
                await self.ledger.failed(key, text, attempt)
            await self._record_sent(key, sent, error.message)
            if isinstance(error, Transient):
                paused = lane.failed()
                if paused or attempt < self.cfg.max_attempts:
                    delay = backoff(attempt, self.cfg, error.retry_after)
                    if paused:
                        delay = max(delay, self.cfg.breaker_probe_s)
                    self.count(name, "retried")
                    self.log.info(
                        "delivery_retrying", flow=flow.name, action=action.key, attempts=attempt,
                        error=error.message, retry_in_s=round(delay, 3), paused=paused, in_doubt=in_doubt,
                    )
                    if not in_doubt:
                        await self.ledger.retrying(key, time.time() + delay)
                    await lane.wait(delay)
                    continue
                if in_doubt:
                    error = Ambiguous(self.connector.ambiguity(request, f"no answer after {attempt} attempts: "
                                                                       f"{error.message}"))
            elif attempt < self.cfg.permanent_attempts and not isinstance(error, Ambiguous):
                pause = backoff(attempt, self.cfg, None)
                await lane.wait(pause)
                continue
            if isinstance(error, Ambiguous):
                self.metrics.ambiguous.labels(self.target).inc()
            if not lane.live:
                self.log.warning("replay_failed", flow=flow.name, action=action.key, error=error.message[:500])
                await self.ledger.deadlettered(key, f"{type(error).__name__}: {error.message}", attempt, -1)
                return Outcome("failed", f"{type(error).__name__}: {error.message}")
            await lane.deadletter(event, flow, action, error, attempt, first)
            return Outcome("deadlettered", error.message)

    async def _record_sent(self, key: str, fields: dict[str, Any] | None, answer: str) -> None:
        """What the attempt sent and the target answered, for the owner's audit trail (the
        target's secret masked); best effort: the audit must never hold up a delivery."""
        if fields is None:
            return
        secret = self.connector.spec.secret
        try:
            await self.ledger.record_sent(key, fields, answer, [secret.reveal()] if secret is not None else [])
        except Exception as exc:  # noqa: BLE001 - a missing audit line is not worth a retry
            self.log.warning("sent_record_failed", error=repr(exc))

    async def _note_delivered(self, lane: Lane, key: str, external_id: str, attempt: int) -> None:
        """The target has the action; only the ledger's note of it is missing. Write the note
        until it is written (the ledger down, a fail-over), waiting with the usual backoff, and
        never call the target again meanwhile: a repeat is what the note exists to prevent. A stop
        while waiting leaves the action as it was before the call (looked up, or held back by the
        target's own memory of keys, after the restart)."""
        tries = 0
        while True:
            try:
                await self.ledger.delivered(key, external_id, attempt)
                return
            except Exception as exc:  # noqa: BLE001 - any ledger failure: the note is retried
                tries += 1
                self.log.warning("ledger_write_retry", action_key=key, tries=tries, error=repr(exc))
                await lane.wait(backoff(tries, self.cfg, None))

    async def _timed(self, call: Awaitable[Delivered | None]) -> Delivered | None:
        """Await a connector call within the delivery timeout (unless it times itself)."""
        if self.connector.times_itself:
            return await call
        async with asyncio.timeout(self.cfg.delivery_timeout_s):
            return await call

    async def _reconcile(self, request: ActionRequest) -> tuple[Delivered | None, DeliveryError | None]:
        """Ask the target whether an action in doubt took effect: (what it holds, None), (None,
        None) when it is certainly not there, or (None, the error) when it cannot say now."""
        try:
            found = await self._timed(self.connector.reconcile(request))
        except TimeoutError:
            return None, Transient(f"no answer to the lookup within {self.cfg.delivery_timeout_s} s")
        except DeliveryError as exc:
            return None, exc
        except Exception as exc:  # noqa: BLE001 - a lookup that breaks cannot tell either way
            return None, Ambiguous(self.connector.ambiguity(request, f"the lookup failed: {exc!r}"))
        if found is not None:
            self.log.info("delivery_reconciled", action=request.action, external_id=found.external_id)
        return found, None

    def count(self, action: str, outcome: str) -> None:
        """handover_deliveries_total{target, action, outcome} += 1."""
        counter = self._counters.get((action, outcome))
        if counter is None:
            counter = self._counters[(action, outcome)] = self.metrics.deliveries.labels(self.target, action, outcome)
        counter.inc()
