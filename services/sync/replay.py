"""Dead letters: read them back from `handover.deadletter.<target>` and deliver them again.

A replay goes through the same delivery code as the live worker (services.sync.delivery), with
the same idempotency key, so replaying twice (or replaying something that meanwhile succeeded)
has one effect; a "lookup" create is looked up at its target before it is made again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgspec

from schemas import AnyEvent, decode_event
from services.common.config import Settings
from services.common.metrics import Metrics
from services.flows.compile import CompiledAction, CompiledFlow
from services.flows.context import event_context
from services.ledger.store import SqlLedger
from services.sync.connectors import connector_kinds
from services.sync.connectors.base import Connector, ConnectorContext
from services.sync.deadletters import DeadLetter, read_dead_letters
from services.sync.delivery import Delivery, FoundDeadLetter, Outcome
from services.sync.errors import DeliveryError

Targeted = tuple[Delivery, Sequence[tuple[CompiledFlow, tuple[CompiledAction, ...]]]]


class ReplayLane:
    """A replay's lane (services.sync.delivery.Lane): one call at a time, no breaker; what
    fails is reported to whoever replays, never dead-lettered again."""

    live = False

    async def slot(self) -> None:
        """Replays go one at a time: no slot to take."""

    def release(self) -> None:
        """Nothing to give back."""

    async def wait(self, seconds: float) -> None:
        """A backoff wait."""
        await asyncio.sleep(seconds)

    def failed(self) -> bool:
        """A replay never pauses the target."""
        return False

    def succeeded(self) -> None:
        """Nothing to reset."""

    async def deadletter(
        self, event: AnyEvent, flow: CompiledFlow, action: CompiledAction, error: DeliveryError,
        attempts: int, first: float,
    ) -> None:
        """Never called: a replay reports instead."""
        raise AssertionError("a replay does not dead-letter")

    async def find_dead_letter(self, key: str) -> FoundDeadLetter | None:
        """Never called: a replay starts from the dead letter itself."""
        return None


class UnknownDeadLetter(LookupError):
    """No dead letter has that id."""


@dataclass
class Replayer:
    """Lists and replays dead letters of the configured targets."""

    settings: Settings
    ledger: SqlLedger
    metrics: Metrics = field(default_factory=Metrics)
    _http: aiohttp.ClientSession | None = None
    _targets: dict[str, Targeted] = field(default_factory=dict)
    _connectors: list[Connector] = field(default_factory=list)

    async def read(self, target: str | None = None) -> list[DeadLetter]:
        """Every dead letter (of one target, or all), oldest first, with its replay status."""
        targets = [target] if target else list(self.settings.targets)
        out = await read_dead_letters(self.settings.kafka, targets)
        result = []
        for dl in out:
            key = dl.headers.get("idempotency-key", "")
            row = await self.ledger.delivery(key) if key else None
            status = "replayed" if row is not None and row.status == "delivered" else "dead"
            result.append(DeadLetter(dl.target, dl.partition, dl.offset, dl.value, dl.headers, dl.timestamp, status))
        return result

    async def get(self, dead_letter_id: str) -> DeadLetter:
        """One dead letter by id (target:partition:offset)."""
        target = dead_letter_id.rsplit(":", 2)[0]
        if target not in self.settings.targets:
            raise UnknownDeadLetter(dead_letter_id)
        for dl in await self.read(target):
            if dl.id == dead_letter_id:
                return dl
        raise UnknownDeadLetter(dead_letter_id)

    async def _target(self, target: str) -> Targeted:
        """The target's delivery and its flows' actions for it (made once)."""
        if target not in self._targets:
            if self._http is None:
                self._http = aiohttp.ClientSession()
            spec = self.settings.targets[target]
            ctx = ConnectorContext(
                http=self._http, data_dir=Path(self.settings.data_dir),
                timeout_s=self.settings.sync.delivery_timeout_s, idmap=self.ledger.idmap,
            )
            connector = connector_kinds()[spec.kind](spec, ctx)
            await connector.start()
            self._connectors.append(connector)
            delivery = Delivery(target, connector, self.ledger.deliveries, self.settings.sync, self.metrics)
            flows = [
                (flow, tuple(a for a in flow.actions if a.target == target))
                for flow in self.settings.compiled_flows  # compiled once, by services.assembly
            ]
            self._targets[target] = (delivery, flows)
        return self._targets[target]

    async def replay(self, dl: DeadLetter) -> Outcome:
        """Deliver a dead letter's action again, with its original idempotency key."""
        try:
            event = decode_event(dl.value)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return Outcome("failed", f"the record is not a valid event and cannot be replayed: {exc}")
        delivery, flows = await self._target(dl.target)
        flow_name, action_key = dl.headers.get("flow", ""), dl.headers.get("action", "")
        for flow, actions in flows:
            if flow.name != flow_name:
                continue
            for action in actions:
                if action.key == action_key:
                    outcome = await delivery.deliver(event, event_context(event), flow, action, ReplayLane())
                    if outcome.status in ("delivered", "already_delivered"):
                        # delivered: its kept dead-letter copy is not needed now
                        await self.ledger.deliveries.forget_copy(dl.headers.get("idempotency-key", ""))
                    return outcome
        return Outcome("failed", f"flow {flow_name!r} has no action {action_key!r} for {dl.target} any more")

    async def replay_all(
        self,
        target: str,
        event_id: str | None = None,
        since: dt.datetime | None = None,
        progress: Callable[[int, int, DeadLetter, Outcome], None] | None = None,
    ) -> list[tuple[DeadLetter, Outcome]]:
        """Replay every matching dead letter of a target that is not delivered yet."""
        todo = [
            dl for dl in await self.read(target)
            if dl.status == "dead"
            and (event_id is None or dl.event_id == event_id)
            and (since is None or dl.when >= since)
        ]
        results = []
        for i, dl in enumerate(todo, 1):
            outcome = await self.replay(dl)
            results.append((dl, outcome))
            if progress:
                progress(i, len(todo), dl, outcome)
        return results

    async def close(self) -> None:
        """Close the connectors and the HTTP session."""
        for connector in self._connectors:
            await connector.close()
        if self._http is not None:
            await self._http.close()
