"""What the ledger measured for one connected handover: the calculator's input from services.ledger."""

from __future__ import annotations

import msgspec


class ActionVolume(msgspec.Struct, frozen=True):
    """What the ledger saw for one flow action (one connected handover).

    `weekly_delivered`: complete calendar weeks, oldest first, at most the `weeks` asked for,
    each the number of successful, de-duplicated deliveries (test events excluded). Weeks before
    the action's first delivery are left out (so a new flow is not averaged with zeros); weeks
    after it with nothing delivered are 0. `delivered_total` and `dead_letters` count everything
    the ledger holds for the action (not only the window): they feed "already saved".
    Redeliveries, duplicates and test events are reported only so the page can say they were
    not counted.
    """

    flow: str  # FlowConfig.name
    action: str  # ActionConfig.key (its `name`, else its `action`)
    target: str  # ActionConfig.target
    weekly_delivered: tuple[int, ...] = ()
    delivered_total: int = 0
    dead_letters: int = 0
    redeliveries: int = 0
    duplicates: int = 0
    test_events: int = 0
