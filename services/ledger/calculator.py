"""The calculator's store on the ledger: measured weekly volumes and the owner's typed handovers."""

from __future__ import annotations

import time

import msgspec

from services.ledger.store import SqlLedger
from services.web.calculator import ActionVolume

WEEK_S = 7 * 86400
TYPED_KEY = "calculator.typed"


class LedgerCalculatorStore:
    """CalculatorStore over SqlLedger: successful, de-duplicated, non-test deliveries per week."""

    def __init__(self, ledger: SqlLedger, clock: object = time.time) -> None:
        self.ledger = ledger
        self.clock = clock

    async def action_volumes(self, weeks: int) -> list[ActionVolume]:
        """Per (flow, action, target): the last `weeks` complete weeks, oldest first."""
        now = self.clock()  # type: ignore[operator]
        # Complete weeks only: the window ends at the start of the current (partial) week,
        # counted back from now in whole 7-day periods.
        end = now - (now % WEEK_S)
        start = end - weeks * WEEK_S
        db = self.ledger.db
        rows = await db.fetch(
            "SELECT flow, action, target, delivered_at, attempts, test FROM deliveries WHERE status = 'delivered'"
        )
        dead = await self.ledger.deadletter_counts()
        stats: dict[tuple[str, str, str], dict[str, object]] = {}
        for flow, action, target, at, attempts, test in rows:
            s = stats.setdefault((flow, action, target), {"weeks": [0] * weeks, "first": None, "total": 0,
                                                          "redeliveries": 0, "tests": 0})
            if test:
                s["tests"] = int(s["tests"]) + 1  # type: ignore[call-overload]
                continue
            at = float(at)
            s["total"] = int(s["total"]) + 1  # type: ignore[call-overload]
            s["redeliveries"] = int(s["redeliveries"]) + max(0, int(attempts) - 1)  # type: ignore[call-overload]
            s["first"] = at if s["first"] is None else min(at, s["first"])  # type: ignore[type-var]
            if start <= at < end:
                s["weeks"][int((at - start) // WEEK_S)] += 1  # type: ignore[index]
        for key in dead:
            stats.setdefault(key, {"weeks": [0] * weeks, "first": None, "total": 0, "redeliveries": 0, "tests": 0})
        out = []
        for (flow, action, target), s in sorted(stats.items()):
            weekly: list[int] = s["weeks"]  # type: ignore[assignment]
            first = s["first"]
            if first is None:
                weekly = []
            else:
                # Weeks before the first delivery are left out, so a new flow is not averaged with zeros.
                first_week = max(0, int((float(first) - start) // WEEK_S))  # type: ignore[arg-type]
                weekly = weekly[first_week:] if first < end else []  # type: ignore[operator]
            out.append(ActionVolume(
                flow=flow, action=action, target=target, weekly_delivered=tuple(weekly),
                delivered_total=int(s["total"]), dead_letters=dead.get((flow, action, target), 0),  # type: ignore[call-overload]
                redeliveries=int(s["redeliveries"]), test_events=int(s["tests"]),  # type: ignore[call-overload]
            ))
        return out

    async def load_typed(self) -> dict[str, str] | None:
        """The saved typed scenario, or None."""
        raw = await self.ledger.get_value(TYPED_KEY)
        return msgspec.json.decode(raw, type=dict[str, str]) if raw is not None else None

    async def save_typed(self, data: dict[str, str]) -> None:
        """Replace the saved typed scenario."""
        await self.ledger.put_value(TYPED_KEY, msgspec.json.encode(data).decode())
