"""Running the model for a built scenario on the calculator's bounded worker threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from calculator import (
    HandoverKey,
    Observation,
    ScenarioResult,
    already_saved,
    compute,
)
from calculator import defaults as model_defaults
from calculator.model import Savings
from calculator.volumes import ActionVolume
from services.web.calculator.scenario import Built, Connected
from services.web.calculator.store import CALCULATOR_STORE

WINDOW_WEEKS = model_defaults.DEFAULT_WINDOW_WEEKS


@dataclass
class Outcome:
    """A computed scenario with what the page and the API show next to it."""

    built: Built
    result: ScenarioResult
    savings: dict[HandoverKey, Savings]
    volumes: dict[HandoverKey, ActionVolume]
    connections: list[Connected]  # every flow action a typed row may link to


class CalculatorBusy(Exception):
    """Raised when the calculator already has as many computations waiting as it queues."""


class CalculatorGate:
    """Runs the model on its own worker threads with a small queue in front of them.

    `/` and `/api/calculator` are public and answer on the webhook port: without a bound, a
    burst of big scenarios would hold the process's threads and CPU while webhooks wait. The
    model's heavy lifting is numpy (which releases the GIL); at most `workers` computations run
    at once, at most `queue` more wait, and any beyond that are answered 503 at once.
    """

    def __init__(self, workers: int = 1, queue: int = 4) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self.waiting = 0  # running or queued
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., ScenarioResult], *args: Any, **kwargs: Any) -> ScenarioResult:
        """Run fn on the calculator's threads; CalculatorBusy if the queue is full."""
        if self.waiting >= self.capacity:
            raise CalculatorBusy
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.workers, thread_name_prefix="calculator"
            )
        self.waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.waiting -= 1

    def close(self) -> None:
        """Stop the worker threads (after the computations in hand)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


CALCULATOR_GATE = web.AppKey("calculator_gate", CalculatorGate)
BUSY_RETRY_AFTER_S = 2


async def run_model(app: web.Application, built: Built) -> Outcome:
    """Fetch measured volumes, compute (on the calculator's gate, see CalculatorGate), savings."""
    volumes: dict[HandoverKey, ActionVolume] = {}
    if built.connected:
        found = await app[CALCULATOR_STORE].action_volumes(WINDOW_WEEKS)
        by_action = {(c.flow, c.action, c.target): key for key, c in built.connected.items()}
        for v in found:
            key = by_action.get((v.flow, v.action, v.target))
            if key is not None:
                volumes[key] = v
    # Every connected handover gets an observation, an empty one if the ledger has nothing for
    # it yet: that is how the model tells "connected, not measured yet" from "done by hand".
    observations = {
        key: Observation(
            weekly_delivered=v.weekly_delivered,
            dead_letters=v.dead_letters,
            redeliveries=v.redeliveries,
            duplicates=v.duplicates,
            test_events=v.test_events,
        )
        if (v := volumes.get(key)) is not None
        else Observation()
        for key in built.connected
    }
    result = await app[CALCULATOR_GATE].run(
        compute, built.scenario, observations, window_weeks=WINDOW_WEEKS
    )
    handovers = {h.key: h for h in built.scenario.handovers}
    # "Already saved" counts every delivery the ledger holds, not just the median window, so
    # the total goes in as one block of deliveries; dead letters are the ones still open (a
    # replayed and delivered one is a delivery in the ledger).
    savings = {
        key: already_saved(
            handovers[key],
            Observation(
                weekly_delivered=(v.delivered_total,),
                dead_letters=v.dead_letters,
                redeliveries=v.redeliveries,
                duplicates=v.duplicates,
                test_events=v.test_events,
            ),
            built.scenario.settings,
        )
        for key, v in volumes.items()
    }
    return Outcome(built, result, savings, volumes, list(built.connected.values()))
