"""Delivery policy without a broker: retries and backoff, the breaker, permanent vs transient
failures, the lookup protocol's reconcile paths, and what the ledger keeps of each.

`Delivery` takes a `Lane` (what a consumed record or a replay lends it) and a `Ledger`: here a
lane that records what it was asked to do and the real ledger (SQLite and PostgreSQL). The target is a
scripted connector (our own interface, not a vendor's): it answers each call as the test says.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from schemas import AnyEvent
from services.assembly import parse_settings
from services.common.metrics import Metrics
from services.flows.compile import CompiledAction, CompiledFlow, idempotency_key
from services.flows.context import event_context
from services.ledger.deliveries import Deliveries
from services.ledger.store import SqlLedger
from services.sync.breaker import Breaker
from services.sync.connectors.base import ActionRequest, ConnectorContext, Delivered, Repeat
from services.sync.connectors.file import FileConnector
from services.sync.deadletters import DeadLetter
from services.sync.delivery import Delivery, FoundDeadLetter, Outcome
from services.sync.errors import Ambiguous, DeliveryError, Permanent, Transient
from tests.sync.conftest import contact_event
from tests.sync.test_ledger import ledger  # noqa: F401 - the real ledger, on SQLite and on PostgreSQL

CONFIG = """
data_dir = "{data_dir}"
[sync]
max_attempts = {max_attempts}
delivery_timeout_s = {timeout}
backoff_initial_s = 0.5
backoff_max_s = 4
breaker_threshold = {threshold}
breaker_probe_s = 7
permanent_attempts = {permanent_attempts}
[targets.crm]
kind = "file"
[[flows]]
name = "f"
on = "contact.submitted"
[[flows.actions]]
target = "crm"
action = "send"
{fields}
"""



class Hang:
    """An answer that never comes."""


HANG = Hang()
Answer = Delivered | Exception | Hang | None  # None: a lookup that finds nothing; an Exception is raised


async def answer(scripted: Answer) -> Delivered | None:
    """Give, raise or withhold one scripted answer."""
    if isinstance(scripted, Hang):
        await asyncio.Event().wait()
    if isinstance(scripted, Exception):
        raise scripted
    return scripted


class ScriptedConnector(FileConnector):
    """Answers each call with the next scripted answer; counts creates and lookups."""

    def __init__(self, ctx: ConnectorContext, spec: Any, repeat: Repeat, creates: list[Answer],
                 lookups: list[Answer] | None = None) -> None:
        super().__init__(spec, ctx)
        self.repeat = repeat
        self.creates, self.lookups = list(creates), list(lookups or [])
        self.calls: list[str] = []

    def repeat_of(self, action: str) -> Repeat:
        """How this target prevents repeats, as the test says."""
        return self.repeat

    async def deliver(self, request: ActionRequest) -> Delivered:
        """The next scripted answer to a create."""
        self.calls.append("create")
        delivered = await answer(self.creates.pop(0))
        assert delivered is not None
        return delivered

    async def reconcile(self, request: ActionRequest) -> Delivered | None:
        """The next scripted answer to a lookup."""
        self.calls.append("lookup")
        return await answer(self.lookups.pop(0))


class RecordingLane:
    """A lane that waits no time and remembers every wait, breaker change and dead letter."""

    def __init__(self, breaker: Breaker, live: bool = True, found: FoundDeadLetter | None = None) -> None:
        self.breaker = breaker
        self.live = live
        self.found = found
        self.waits: list[tuple[float, bool]] = []  # (seconds, breaker open while waiting)
        self.in_slot = 0
        self.deadletters: list[tuple[DeliveryError, int]] = []

    async def slot(self) -> None:
        """A call slot (never more than one taken at a time here)."""
        assert self.in_slot == 0
        self.in_slot += 1

    def release(self) -> None:
        """The slot back."""
        self.in_slot -= 1

    async def wait(self, seconds: float) -> None:
        """Noted, not slept: the policy's decision is what is tested."""
        self.waits.append((seconds, self.breaker.open))

    def failed(self) -> bool:
        """The breaker counts the failure."""
        self.breaker.failed()
        return self.breaker.open

    def succeeded(self) -> None:
        """The breaker resets."""
        self.breaker.succeeded()

    async def deadletter(self, event: AnyEvent, flow: CompiledFlow, action: CompiledAction,
                         error: DeliveryError, attempts: int, first: float) -> None:
        """Noted."""
        self.deadletters.append((error, attempts))

    async def find_dead_letter(self, key: str) -> FoundDeadLetter | None:
        """The dead letter a previous owner wrote, as the test says."""
        return self.found


class Setup:
    """One target's delivery over the real ledger, with a scripted connector."""

    def __init__(self, tmp: Path, ledger: SqlLedger, fields: str = "", **sync: float) -> None:  # noqa: F811
        options = {"max_attempts": 3, "threshold": 100, "permanent_attempts": 1, "timeout": 5, **sync}
        self.settings = parse_settings(CONFIG.format(data_dir=tmp, fields=fields, **options), env={})
        [self.flow] = self.settings.compiled_flows
        [self.action] = self.flow.actions
        self.ledger = ledger
        self.deliveries: Deliveries = ledger.deliveries
        self.breaker = Breaker(self.settings.sync.breaker_threshold)
        self.event = contact_event()
        self.key = idempotency_key(self.event, self.flow.name, self.action.key)

    def connector(self, creates: list[Answer], lookups: list[Answer] | None = None,
                  repeat: Repeat = "natural") -> ScriptedConnector:
        """A target answering as scripted."""
        ctx = ConnectorContext(http=None, data_dir=Path(self.settings.data_dir))
        return ScriptedConnector(ctx, self.settings.targets["crm"], repeat, creates, lookups)

    async def deliver(
        self, connector: ScriptedConnector, lane: RecordingLane, failing: Permanent | None = None
    ) -> Outcome:
        """Deliver the action once, as a worker (or a replay) does."""
        delivery = Delivery("crm", connector, self.deliveries, self.settings.sync, Metrics())
        return await delivery.deliver(self.event, event_context(self.event), self.flow, self.action, lane, failing)

    async def begin(self, repeat: Repeat = "natural") -> None:
        """Register the action in the ledger, as an earlier owner of the record did."""
        await self.deliveries.begin(self.key, self.event, "crm", self.flow.name, self.action.key, repeat)


async def test_transient_failures_are_retried_with_growing_jittered_backoff_until_delivered(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger, max_attempts=3)
    target = s.connector([Transient("503"), Transient("503"), Delivered("crm-7")])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("delivered", "crm-7")
    # Full jitter in the upper half of 0.5 s, then of 1 s (backoff_initial_s doubled).
    [(first, _), (second, _)] = lane.waits
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0
    row = await s.deliveries.delivery(s.key)
    assert row is not None and (row.status, row.attempts, row.external_id) == ("delivered", 3, "crm-7")
    assert lane.deadletters == [] and s.breaker.failures == 0


async def test_a_targets_retry_after_is_a_floor_for_the_next_attempt(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    lane = RecordingLane(s.breaker)
    await s.deliver(s.connector([Transient("429", retry_after=3.5, sent=False), Delivered("x")]), lane)
    assert [w for w, _ in lane.waits] == [pytest.approx(3.5, abs=0.5)] and lane.waits[0][0] >= 3.5


async def test_transient_failures_past_max_attempts_get_one_dead_letter(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger, max_attempts=3)
    target = s.connector([Transient("503")] * 3)
    lane = RecordingLane(s.breaker)
    outcome = await s.deliver(target, lane)
    assert outcome.status == "deadlettered" and target.calls == ["create"] * 3
    [(error, attempts)] = lane.deadletters
    assert isinstance(error, Transient) and attempts == 3
    assert len(lane.waits) == 2  # none after the last attempt
    row = await s.deliveries.delivery(s.key)
    assert row is not None and row.status == "failed" and row.last_error == "Transient: 503"


async def test_a_permanent_failure_is_dead_lettered_at_once(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    target = s.connector([Permanent("400 email is invalid")])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("deadlettered", "400 email is invalid")
    assert target.calls == ["create"] and lane.waits == []
    assert [(type(e), n) for e, n in lane.deadletters] == [(Permanent, 1)]
    assert s.breaker.failures == 0  # a refusal says nothing about the target's health


async def test_permanent_attempts_give_a_refusal_more_tries(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger, permanent_attempts=2)
    target = s.connector([Permanent("409"), Delivered("x")])
    lane = RecordingLane(s.breaker)
    assert (await s.deliver(target, lane)).status == "delivered"
    assert len(lane.waits) == 1 and lane.deadletters == []


async def test_the_breaker_opens_after_the_threshold_and_retries_past_max_attempts_at_the_probe_interval(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger, max_attempts=2, threshold=2)
    target = s.connector([Transient("503"), Transient("503"), Transient("503"), Delivered("back")])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("delivered", "back")
    # The first failure waits a backoff; once open, every wait is at least breaker_probe_s, and
    # a paused target is not given up on after max_attempts.
    assert [open_ for _, open_ in lane.waits] == [False, True, True]
    assert all(w >= 7 for w, _ in lane.waits[1:]) and lane.waits[0][0] < 7
    assert not s.breaker.open and lane.deadletters == []


async def test_a_replay_reports_a_failure_instead_of_dead_lettering_it_again(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    lane = RecordingLane(s.breaker, live=False)
    outcome = await s.deliver(s.connector([Permanent("422 still wrong")]), lane)
    assert outcome == Outcome("failed", "Permanent: 422 still wrong")
    assert lane.deadletters == []
    row = await s.deliveries.delivery(s.key)
    assert row is not None and row.status == "deadlettered"  # it stays where the owner sees it


async def test_a_delivered_action_is_never_sent_again(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    target = s.connector([Delivered("crm-1")])
    assert (await s.deliver(target, RecordingLane(s.breaker))).status == "delivered"
    assert await s.deliver(target, RecordingLane(s.breaker)) == Outcome("already_delivered", "crm-1")
    assert target.calls == ["create"]


async def test_an_interrupted_send_without_idempotency_is_dead_lettered_unsent(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    await s.begin("none")
    await s.deliveries.sending(s.key, 1)  # the process died before the answer came
    target = s.connector([], repeat="none")
    lane = RecordingLane(s.breaker)
    assert (await s.deliver(target, lane)).status == "deadlettered"
    assert target.calls == []
    assert "interrupted between sending and confirmation" in lane.deadletters[0][0].message


async def test_a_lookup_create_cut_off_after_sending_is_looked_up_and_not_sent_twice(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    target = s.connector([Transient("connection reset", sent=True)], lookups=[Delivered("inv-9")], repeat="lookup")
    assert await s.deliver(target, RecordingLane(s.breaker)) == Outcome("delivered", "inv-9")
    assert target.calls == ["create", "lookup"]


async def test_a_lookup_that_finds_nothing_creates_the_record_again(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    target = s.connector([Transient("502", sent=True), Delivered("inv-2")], lookups=[None], repeat="lookup")
    assert await s.deliver(target, RecordingLane(s.breaker)) == Outcome("delivered", "inv-2")
    assert target.calls == ["create", "lookup", "create"]


async def test_a_refused_request_that_never_left_is_retried_without_a_lookup(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    target = s.connector([Transient("429", sent=False), Delivered("inv-3")], repeat="lookup")
    assert (await s.deliver(target, RecordingLane(s.breaker))).status == "delivered"
    assert target.calls == ["create", "create"]


@pytest.mark.parametrize(("failure", "said"), [
    (Permanent("403 missing scope"), "403 missing scope"),  # the target refuses the lookup
    (KeyError("results"), "KeyError('results')"),  # the lookup itself breaks
], ids=["refused", "breaks"])
async def test_a_lookup_that_fails_is_dead_lettered_as_ambiguous(
    tmp_path: Path, ledger: SqlLedger, failure: Exception, said: str  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    target = s.connector([Transient("timeout", sent=True)], lookups=[failure], repeat="lookup")
    lane = RecordingLane(s.breaker)
    assert (await s.deliver(target, lane)).status == "deadlettered"
    [(error, _)] = lane.deadletters
    assert isinstance(error, Ambiguous) and f"the lookup failed: {said}" in error.message
    row = await s.deliveries.delivery(s.key)
    assert row is not None and row.status == "failed"  # not "sending": nothing is looked up again


async def test_a_lookup_create_in_doubt_stays_sending_while_the_lookup_cannot_answer(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger, max_attempts=3)
    target = s.connector([Transient("timeout", sent=True)], lookups=[Transient("503"), Transient("503")],
                         repeat="lookup")
    lane = RecordingLane(s.breaker)
    assert (await s.deliver(target, lane)).status == "deadlettered"
    assert target.calls == ["create", "lookup", "lookup"]
    [(error, attempts)] = lane.deadletters
    assert isinstance(error, Ambiguous) and attempts == 3


async def test_a_dead_lettered_action_is_skipped_when_redelivered_and_tried_again_by_a_replay(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    await s.begin()
    await s.deliveries.deadlettered(s.key, "Permanent: 400 email is invalid", 1, 17)
    target = s.connector([Delivered("crm-2")])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("deadlettered", "already dead-lettered")
    assert target.calls == [] and lane.deadletters == []  # it has its one dead letter already
    assert await s.deliver(target, RecordingLane(s.breaker, live=False)) == Outcome("delivered", "crm-2")


async def test_a_dead_letter_the_last_owner_was_writing_is_not_written_twice(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    await s.begin()
    await s.deliveries.deadlettering(s.key)  # the process died here, maybe after the write
    written = DeadLetter("crm", 0, 41, b"", {"error-class": "Permanent", "error-message": "400", "attempts": "3"}, 0.0)
    target = s.connector([])
    lane = RecordingLane(s.breaker, found=written)
    assert await s.deliver(target, lane) == Outcome("deadlettered", "already dead-lettered")
    assert target.calls == [] and lane.deadletters == []
    row = await s.deliveries.delivery(s.key)
    assert row is not None and (row.status, row.attempts, row.dlq_offset) == ("deadlettered", 3, 41)


async def test_a_dead_letter_the_last_owner_never_wrote_is_written_once_after_trying_again(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    await s.begin()
    await s.deliveries.deadlettering(s.key)
    target = s.connector([Permanent("400 email is invalid")])
    lane = RecordingLane(s.breaker, found=None)
    assert await s.deliver(target, lane) == Outcome("deadlettered", "400 email is invalid")
    assert target.calls == ["create"] and [(type(e), n) for e, n in lane.deadletters] == [(Permanent, 1)]


async def test_an_event_its_flow_fails_on_is_dead_lettered_live_and_reported_by_a_replay_unsent(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    failing = Permanent("flows[0].if: order.total is not a number")
    target = s.connector([])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane, failing) == Outcome("deadlettered", failing.message)
    assert lane.deadletters == [(failing, 1)]
    replay = RecordingLane(s.breaker, live=False)
    assert await s.deliver(target, replay, failing) == Outcome("failed", f"Permanent: {failing.message}")
    assert replay.deadletters == [] and target.calls == []


async def test_a_field_that_cannot_be_rendered_is_dead_lettered_at_once_unsent(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger, fields='fields = { note = "{{ contact.message * 100000000 }}" }')
    target = s.connector([])
    lane = RecordingLane(s.breaker)
    assert (await s.deliver(target, lane)).status == "deadlettered"
    [(error, attempts)] = lane.deadletters
    assert isinstance(error, Permanent) and "'note'" in error.message and attempts == 1
    assert target.calls == [] and lane.waits == [] and s.breaker.failures == 0


async def test_a_call_without_an_answer_within_the_delivery_timeout_is_a_transient_failure(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger, max_attempts=2, timeout=0.05)
    target = s.connector([HANG, HANG])
    lane = RecordingLane(s.breaker)
    assert (await s.deliver(target, lane)).status == "deadlettered"
    [(error, attempts)] = lane.deadletters
    assert isinstance(error, Transient) and error.message == "no answer within 0.05 s" and attempts == 2
    assert target.calls == ["create", "create"] and len(lane.waits) == 1 and s.breaker.failures == 2


async def test_a_connector_bug_is_dead_lettered_at_once(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger)
    target = s.connector([RuntimeError("boom")])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("deadlettered", "connector error: RuntimeError('boom')")
    assert target.calls == ["create"] and lane.waits == [] and s.breaker.failures == 0


async def test_a_lookup_create_breaking_after_it_may_have_gone_out_is_looked_up_not_sent_again(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    target = s.connector([RuntimeError("id map write failed")], lookups=[Delivered("inv-4")], repeat="lookup")
    assert await s.deliver(target, RecordingLane(s.breaker)) == Outcome("delivered", "inv-4")
    assert target.calls == ["create", "lookup"]


async def test_a_lookup_without_an_answer_in_time_is_asked_again(tmp_path: Path, ledger: SqlLedger) -> None:  # noqa: F811
    s = Setup(tmp_path, ledger, timeout=0.05)
    target = s.connector([Transient("reset", sent=True)], lookups=[HANG, Delivered("inv-5")], repeat="lookup")
    assert await s.deliver(target, RecordingLane(s.breaker)) == Outcome("delivered", "inv-5")
    assert target.calls == ["create", "lookup", "lookup"]


async def test_an_attempt_in_doubt_after_a_restart_waits_for_the_targets_search_before_the_lookup(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    await s.begin("lookup")
    await s.deliveries.sending(s.key, 1)  # the process died with the create in flight
    target = s.connector([], lookups=[Delivered("inv-6")], repeat="lookup")
    target.reconcile_after_s = 30.0
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("delivered", "inv-6")
    [(settle, _)] = lane.waits
    assert 29.0 < settle <= 30.0 and target.calls == ["lookup"]


class LedgerWatchingConnector(ScriptedConnector):
    """Notes the action's ledger status at each create."""

    deliveries: Deliveries
    statuses: list[str]

    async def deliver(self, request: ActionRequest) -> Delivered:
        """The ledger's status now, then the scripted answer."""
        row = await self.deliveries.delivery(request.idempotency_key)
        self.statuses.append(row.status if row else "")
        return await super().deliver(request)


async def test_a_send_without_idempotency_is_marked_in_flight_before_the_call(
    tmp_path: Path, ledger: SqlLedger  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    ctx = ConnectorContext(http=None, data_dir=tmp_path)
    target = LedgerWatchingConnector(ctx, s.settings.targets["crm"], "none", [Transient("503", sent=False),
                                                                              Delivered("m-1")])
    target.deliveries, target.statuses = s.deliveries, []
    assert await s.deliver(target, RecordingLane(s.breaker)) == Outcome("delivered", "m-1")
    assert target.statuses == ["sending", "sending"]  # a crash during either call leaves it ambiguous


async def test_a_delivered_action_the_ledger_cannot_note_yet_is_noted_later_not_sent_again(
    tmp_path: Path, ledger: SqlLedger, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    s = Setup(tmp_path, ledger)
    real = s.deliveries.delivered
    failures = [OSError("database is locked"), ConnectionError("server closed the connection")]

    async def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop(0)
        await real(*args)

    monkeypatch.setattr(s.deliveries, "delivered", flaky)
    target = s.connector([Delivered("crm-1"), Delivered("crm-2")])
    lane = RecordingLane(s.breaker)
    assert await s.deliver(target, lane) == Outcome("delivered", "crm-1")
    assert target.calls == ["create"]  # the target was called once, the note written on the third try
    assert len(lane.waits) == 2 and all(w > 0 for w, _ in lane.waits)
    row = await s.deliveries.delivery(s.key)
    assert row is not None and (row.status, row.external_id) == ("delivered", "crm-1")
