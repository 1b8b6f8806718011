"""Where the calculator reads measured volumes and keeps the owner's typed handovers."""

from __future__ import annotations

from typing import Protocol

import msgspec
from aiohttp import web

from calculator.volumes import ActionVolume


class CalculatorStore(Protocol):
    """Where the calculator reads measured volumes and keeps the owner's typed handovers."""

    async def action_volumes(self, weeks: int) -> list[ActionVolume]:
        """Return one ActionVolume per (flow name, action key, target) delivered to so far.

        Only actions with at least one delivery, dead letter or event need a row; the weekly
        counts cover at most the last `weeks` complete weeks (see ActionVolume).
        """
        ...

    async def load_typed(self) -> dict[str, str] | None:
        """Return the saved typed scenario as flat form fields, or None if nothing is saved.

        The mapping is exactly what `save_typed` was given: names like "settings.country" or
        "handovers[0].volume.likely", values strings; `calculator.parse_scenario` reads it.
        """
        ...

    async def save_typed(self, data: dict[str, str]) -> None:
        """Replace the saved typed scenario with these flat form fields (str -> str)."""
        ...


class MemoryCalculatorStore:
    """A CalculatorStore in memory: for tests and for processes without a ledger database."""

    def __init__(
        self, volumes: list[ActionVolume] | None = None, typed: dict[str, str] | None = None
    ) -> None:
        self.volumes = list(volumes or [])
        self.typed = dict(typed) if typed is not None else None

    async def action_volumes(self, weeks: int) -> list[ActionVolume]:
        """Return the given volumes, each cut to its last `weeks` weeks."""
        return [
            msgspec.structs.replace(v, weekly_delivered=v.weekly_delivered[-weeks:])
            for v in self.volumes
        ]

    async def load_typed(self) -> dict[str, str] | None:
        """Return a copy of the saved typed fields, or None."""
        return dict(self.typed) if self.typed is not None else None

    async def save_typed(self, data: dict[str, str]) -> None:
        """Keep a copy of the typed fields."""
        self.typed = dict(data)


CALCULATOR_STORE = web.AppKey("calculator_store", CalculatorStore)
