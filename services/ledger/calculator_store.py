"""The calculator's store on the ledger: measured weekly volumes and the owner's typed handovers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from calculator.volumes import ActionVolume
from services.ledger.store import SqlLedger

WEEK_S = 7 * 86400
TYPED_KEY = "calculator.typed"


@dataclass
class _Tally:
    """What the ledger holds for one flow action."""

    n_weeks: int
    weeks: list[int] = field(init=False)
    first: float | None = None
    total: int = 0
    redeliveries: int = 0
    tests: int = 0

    def __post_init__(self) -> None:
        self.weeks = [0] * self.n_weeks


class LedgerCalculatorStore:
    """CalculatorStore over SqlLedger: successful, de-duplicated, non-test deliveries per week."""

    def __init__(self, ledger: SqlLedger, clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.clock = clock

    async def action_volumes(self, weeks: int) -> list[ActionVolume]:
        """Per (flow, action, target): the last `weeks` complete weeks, oldest first."""
        now = self.clock()
        # Complete weeks only: the window ends where the current (partial) week starts.
        end = now - (now % WEEK_S)
        start = end - weeks * WEEK_S
        rows = await self.ledger.db.fetch(
            "SELECT flow, action, target, delivered_at, attempts, test FROM deliveries WHERE status = 'delivered'"
        )
        dead = await self.ledger.deadletter_counts()
        tally: dict[tuple[str, str, str], _Tally] = {key: _Tally(weeks) for key in dead}
        for flow, action, target, at, attempts, test in rows:
            t = tally.setdefault((flow, action, target), _Tally(weeks))
            if test:
                t.tests += 1  # vendor test deliveries are reported, never counted as savings
                continue
            at = float(at)
            t.total += 1
            t.redeliveries += max(0, int(attempts) - 1)
            t.first = at if t.first is None else min(at, t.first)
            if start <= at < end:
                t.weeks[int((at - start) // WEEK_S)] += 1
        out = []
        for (flow, action, target), t in sorted(tally.items()):
            weekly: list[int] = []
            if t.first is not None and t.first < end:
                # Weeks before the first delivery are left out: a new flow is not averaged with zeros.
                weekly = t.weeks[max(0, int((t.first - start) // WEEK_S)):]
            out.append(ActionVolume(
                flow=flow, action=action, target=target, weekly_delivered=tuple(weekly),
                delivered_total=t.total, dead_letters=dead.get((flow, action, target), 0),
                redeliveries=t.redeliveries, test_events=t.tests,
            ))
        return out

    async def load_typed(self) -> dict[str, str] | None:
        """The saved typed scenario, or None."""
        raw = await self.ledger.get_value(TYPED_KEY)
        return msgspec.json.decode(raw, type=dict[str, str]) if raw is not None else None

    async def save_typed(self, data: dict[str, str]) -> None:
        """Replace the saved typed scenario."""
        await self.ledger.put_value(TYPED_KEY, msgspec.json.encode(data).decode())
