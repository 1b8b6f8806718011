"""The ledger's behaviour, the same tests on SQLite and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from services.ledger.base import KeptDeadLetter
from services.ledger.rows import RecordedEvent
from services.ledger.store import SqlLedger, open_ledger
from tests.conftest import LEDGER_BACKENDS
from tests.sync.conftest import contact_event, order_event

PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=LEDGER_BACKENDS)
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlLedger]:
    """A fresh ledger: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        led = await open_ledger(f"sqlite:///{tmp_path}/ledger.db")
        yield led
        await led.close()
        return
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    led = await open_ledger(f"{PG}?schema={schema}")
    try:
        yield led
    finally:
        await led.close()
        conn = await asyncpg.connect(PG)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()


def uid(prefix: str) -> str:
    """A unique event id."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_a_delivered_action_is_reported_delivered_when_it_begins_again(ledger: SqlLedger) -> None:
    ev = contact_event(event_id=uid("ev"))
    key = f"{ev.id}:flow:send"
    assert await ledger.deliveries.begin(key, ev, "crm", "flow", "send", "key") is None
    await ledger.deliveries.failed(key, "Transient: 503", 1)
    assert await ledger.deliveries.begin(key, ev, "crm", "flow", "send", "key") is None  # a failure is retried
    await ledger.deliveries.delivered(key, "ext-7", 2)
    assert await ledger.deliveries.begin(key, ev, "crm", "flow", "send", "key") == "delivered"
    row = await ledger.delivery(key)
    assert row is not None
    assert (row.status, row.attempts, row.external_id, row.last_error) == ("delivered", 2, "ext-7", "")
    assert row.delivered_at is not None and row.first_attempt_at is not None


async def test_an_unconfirmed_send_without_idempotency_is_ambiguous(ledger: SqlLedger) -> None:
    ev = contact_event(event_id=uid("ev"))
    key = f"{ev.id}:flow:mail"
    assert await ledger.deliveries.begin(key, ev, "mail", "flow", "mail", "none") is None
    await ledger.deliveries.sending(key, 1)
    # The process died here: SMTP may or may not have sent it.
    assert await ledger.deliveries.begin(key, ev, "mail", "flow", "mail", "none") == "ambiguous"
    # A target with idempotency keys just sends again.
    key2 = f"{ev.id}:flow:http"
    await ledger.deliveries.begin(key2, ev, "api", "flow", "http", "key")
    await ledger.deliveries.sending(key2, 1)
    assert await ledger.deliveries.begin(key2, ev, "api", "flow", "http", "key") is None


async def test_a_deadlettered_action_is_not_redelivered_by_the_live_worker(ledger: SqlLedger) -> None:
    ev = contact_event(event_id=uid("ev"))
    key = f"{ev.id}:flow:send"
    await ledger.deliveries.begin(key, ev, "crm", "flow", "send", "key")
    await ledger.deliveries.deadlettered(key, "Permanent: 400", 1, 17)
    assert await ledger.deliveries.begin(key, ev, "crm", "flow", "send", "key") == "deadlettered"
    row = await ledger.delivery(key)
    assert row is not None and (row.status, row.dlq_offset) == ("deadlettered", 17)
    await ledger.deliveries.deadlettered(key, "Permanent: 400 again", 2, -1)  # a failed replay keeps the offset
    row = await ledger.delivery(key)
    assert row is not None and row.dlq_offset == 17 and row.attempts == 2


async def test_a_dead_letter_copy_is_kept_exactly_while_its_action_stays_dead_lettered(ledger: SqlLedger) -> None:
    ev = contact_event(event_id=uid("ev"))
    key = f"{ev.id}:flow:send"
    await ledger.deliveries.begin(key, ev, "crm", "flow", "send", "key")  # a new row, written with the copy
    copy = KeptDeadLetter("crm", b'{"id": 1}\x00\xff', {"idempotency-key": key, "error-class": "Permanent"}, b"k\x00")
    await ledger.deliveries.deadlettering(key, copy)
    await ledger.deliveries.deadlettered(key, "Permanent: 400", 1, 3)
    [kept] = [c for c in await ledger.deliveries.dead_letter_copies() if c.key == key]
    assert kept == dataclasses.replace(copy, key=key, written_at=kept.written_at)
    assert abs(kept.written_at - time.time()) < 60
    await ledger.deliveries.delivered(key, "ext-1", 2)  # replayed: nothing left to bring back
    assert [c for c in await ledger.deliveries.dead_letter_copies() if c.headers["idempotency-key"] == key] == []


async def test_a_restored_dead_letter_never_undoes_a_delivery(ledger: SqlLedger) -> None:
    ev = contact_event(event_id=uid("ev"))
    replayed, stopped = f"{ev.id}:flow:a", f"{ev.id}:flow:b"
    for key in (replayed, stopped):
        await ledger.deliveries.begin(key, ev, "crm", "flow", key[-1], "key")
        await ledger.deliveries.deadlettering(key, KeptDeadLetter("crm", b"{}", {"idempotency-key": key}))
        await ledger.deliveries.deadlettered(key, "Permanent: 400", 3, 5)
    await ledger.deliveries.delivered(replayed, "ext-1", 4)  # another process replayed it meanwhile
    await ledger.deliveries.retrying(stopped, 0.0)  # a replay stopped half-way
    for key in (replayed, stopped):
        await ledger.deliveries.dead_letter_restored(key, 9)
    done, dead = await ledger.delivery(replayed), await ledger.delivery(stopped)
    assert done is not None and (done.status, done.dlq_offset, done.attempts) == ("delivered", 5, 4)
    assert dead is not None and (dead.status, dead.dlq_offset, dead.attempts, dead.last_error) == (
        "deadlettered", 9, 3, "Permanent: 400")
    await ledger.deliveries.forget_delivered_copies()
    assert {c.key for c in await ledger.deliveries.dead_letter_copies()} >= {stopped}
    assert replayed not in {c.key for c in await ledger.deliveries.dead_letter_copies()}


async def test_record_is_idempotent(ledger: SqlLedger) -> None:
    ev = contact_event(event_id=uid("ev"))
    rec = RecordedEvent(ev, "handover.events.contact.submitted", 1, 42, [("f", "a", "crm"), ("f", "b", "mail")])
    await ledger.events.record([rec])
    await ledger.events.record([rec, rec])
    rows = await ledger.db.fetch("SELECT COUNT(*) FROM events WHERE id = $1", ev.id)
    assert rows[0][0] == 1
    rows = await ledger.db.fetch("SELECT COUNT(*) FROM expected_actions WHERE event_id = $1", ev.id)
    assert rows[0][0] == 2
    row = await ledger.event(ev.id)
    assert row is not None and row.type == "contact.submitted" and row.test is False


async def test_dedupe_remembers_within_the_window_and_forgets_after(ledger: SqlLedger) -> None:
    a, b = uid("hook"), uid("hook")
    assert not await ledger.dedupe.seen(a)
    await ledger.dedupe.remember(a, 60)
    await ledger.dedupe.remember(b, 0.05)
    assert await ledger.dedupe.seen(a) and await ledger.dedupe.seen(b)
    await asyncio.sleep(0.1)  # the window itself is what is under test
    assert await ledger.dedupe.seen(a) and not await ledger.dedupe.seen(b)
    await ledger.dedupe.forget_expired()
    rows = await ledger.db.fetch("SELECT event_id FROM webhook_dedupe WHERE event_id IN ($1, $2)", a, b)
    assert [r[0] for r in rows] == [a]


async def test_dedupe_lookups_see_what_another_process_remembered_on_the_same_file(tmp_path: Path) -> None:
    # `handover gateway` and `handover sync` share one SQLite file; the gateway's lookups run on
    # their own read connection and must see every delivery remembered through another one.
    url = f"sqlite:///{tmp_path}/shared.db"
    first, second = await open_ledger(url), await open_ledger(url)
    try:
        a, b = uid("hook"), uid("hook")
        assert await second.dedupe.seen_many([a, b]) == set()
        await first.dedupe.remember_many([(a, 60)])
        assert await second.dedupe.seen_many([a, b]) == {a}
        await first.dedupe.remember_many([(b, 60)])
        assert await second.dedupe.seen_many([a, b]) == {a, b}
    finally:
        await first.close()
        await second.close()


async def test_idmap_stores_and_overwrites(ledger: SqlLedger) -> None:
    assert await ledger.idmap.idmap_get("pipedrive", "person:zoe@example.nl") is None
    await ledger.idmap.idmap_put("pipedrive", "person:zoe@example.nl", "17")
    await ledger.idmap.idmap_put("pipedrive", "person:zoe@example.nl", "18")
    await ledger.idmap.idmap_put("hubspot", "person:zoe@example.nl", "h1")
    assert await ledger.idmap.idmap_get("pipedrive", "person:zoe@example.nl") == "18"
    assert await ledger.idmap.idmap_get("hubspot", "person:zoe@example.nl") == "h1"


async def test_search_finds_by_order_number_email_and_name(ledger: SqlLedger) -> None:
    tag = uuid.uuid4().hex[:6]
    order = order_event(event_id=uid("ord"))
    order = msgspec.structs.replace(
        order, data=msgspec.structs.replace(order.data, order_number=f"#A{tag}")
    )
    contact = contact_event(event_id=uid("ct"), email=f"first_last.{tag}@example.nl")
    await ledger.events.record([
        RecordedEvent(order, "t", 0, 1, []), RecordedEvent(contact, "t", 0, 2, []),
    ])
    assert [e.id for e in await ledger.search(f"#A{tag}")] == [order.id]
    # An underscore in an address is a literal character, not a wildcard to drop.
    assert [e.id for e in await ledger.search(f"FIRST_LAST.{tag}@example.nl")] == [contact.id]
    assert [e.id for e in await ledger.search(f"first%last.{tag}")] == []
    found = {e.id for e in await ledger.search("Ålesund-Ørsted")}
    assert {order.id, contact.id} <= found


async def test_incomplete_lists_events_whose_action_is_not_delivered_in_time(ledger: SqlLedger) -> None:
    done, missing, fresh = (contact_event(event_id=uid(p)) for p in ("done", "missing", "fresh"))
    expected = [("f", "send", "crm")]
    await ledger.events.record([RecordedEvent(done, "t", 0, 1, expected), RecordedEvent(missing, "t", 0, 2, expected)])
    # Once delivered, an event is complete even if it later failed a redelivery attempt's bookkeeping.
    await ledger.deliveries.begin(f"{done.id}:f:send", done, "crm", "f", "send", "key")
    await ledger.deliveries.delivered(f"{done.id}:f:send", "x", 1)
    await ledger.deliveries.begin(f"{missing.id}:f:send", missing, "crm", "f", "send", "key")
    await ledger.deliveries.failed(f"{missing.id}:f:send", "Transient: 503", 3)
    await ledger.db.execute("UPDATE events SET recorded_at = $1 WHERE id IN ($2, $3)",
                            time.time() - 3600, done.id, missing.id)
    await ledger.events.record([RecordedEvent(fresh, "t", 0, 3, expected)])
    result = {ev.id: items for ev, items in await ledger.incomplete(older_than_s=600)}
    assert done.id not in result and fresh.id not in result
    [(flow, action, target, row)] = result[missing.id]
    assert (flow, action, target) == ("f", "send", "crm")
    assert row is not None and row.status == "failed" and row.attempts == 3
    counts = await ledger.incomplete_counts(older_than_s=600)
    assert counts.get("f", 0) >= 1


async def test_weekly_deliveries_count_each_key_once_and_exclude_test_events(ledger: SqlLedger) -> None:
    flow = f"weekly-{uuid.uuid4().hex[:6]}"
    since = time.time() - 60
    real = [contact_event(event_id=uid("w")) for _ in range(3)]
    test_ev = msgspec.structs.replace(contact_event(event_id=uid("wt")), test=True)
    for ev in [*real, test_ev]:
        key = f"{ev.id}:{flow}:send"
        for _ in range(2):  # redelivered: begin/delivered twice for the same key
            await ledger.deliveries.begin(key, ev, "crm", flow, "send", "key")
            await ledger.deliveries.delivered(key, "x", 1)
    rows = [r for r in await ledger.weekly_deliveries(since) if r[0] == flow]
    assert rows == [(flow, "send", "crm", 0, 3)]


async def test_concurrent_statements_each_get_their_own_answer_and_error(ledger: SqlLedger) -> None:
    # SQLite group-commits concurrent statements in one transaction: one bad statement must
    # fail alone, and every other caller must see its own result, committed.
    events = [contact_event(event_id=uid("cc")) for _ in range(30)]
    keys = [f"{e.id}:f:send" for e in events]
    pairs = list(zip(keys, events, strict=True))
    first = await asyncio.gather(*(ledger.deliveries.begin(k, e, "crm", "f", "send", "key") for k, e in pairs))
    assert first == [None] * 30
    results = await asyncio.gather(
        *(ledger.deliveries.delivered(k, f"x{i}", 1) for i, k in enumerate(keys[:15])),
        ledger.db.execute("INSERT INTO no_such_table VALUES ($1)", 1),
        *(ledger.deliveries.begin(k, e, "crm", "f", "send", "key") for k, e in pairs),
        return_exceptions=True,
    )
    assert [r for r in results[:15]] == [None] * 15
    assert isinstance(results[15], Exception)
    statuses = results[16:]
    assert statuses.count("delivered") <= 15 and set(statuses) <= {"delivered", None}
    rows = {r.key: r for r in await ledger.all_deliveries("crm") if r.key in keys}
    assert [rows[k].status for k in keys[:15]] == ["delivered"] * 15
    assert [rows[k].external_id for k in keys[:15]] == [f"x{i}" for i in range(15)]
    # Begun and not changed since: pending (SQLite writes the row with its first change).
    assert {rows[k].status for k in keys[15:] if k in rows} <= {"pending"}



async def test_statements_run_together_stand_or_fall_together(ledger: SqlLedger) -> None:
    # Also while other callers' statements share the group commit (SQLite), one of them failing.
    insert = "INSERT INTO settings_store (name, value, updated_at) VALUES ($1, $2, 0)"
    names = [uid("kv") for _ in range(3)]
    results = await asyncio.gather(
        ledger.db.execute_together([(insert, (names[0], "a")), (insert, (names[1], "b"))]),
        ledger.db.execute_together([(insert, (names[2], "c")), ("INSERT INTO no_such_table VALUES ($1)", (1,))]),
        ledger.db.execute("INSERT INTO no_such_table VALUES ($1)", 2),
        return_exceptions=True,
    )
    assert results[0] is None and isinstance(results[1], Exception) and isinstance(results[2], Exception)
    assert [await ledger.get_value(n) for n in names] == ["a", "b", None]

async def test_a_begun_action_is_written_with_its_first_status_change(ledger: SqlLedger) -> None:
    event = contact_event(event_id=uid("first"))
    key = f"{event.id}:f:send"
    assert await ledger.deliveries.begin(key, event, "crm", "f", "send", "key") is None
    await ledger.deliveries.failed(key, "Transient: 503", 1)
    [row] = [r for r in await ledger.all_deliveries("crm") if r.key == key]
    assert (row.event_id, row.target, row.flow, row.action, row.status, row.attempts) == (
        event.id, "crm", "f", "send", "failed", 1)
    assert await ledger.deliveries.begin(key, event, "crm", "f", "send", "key") is None  # failed: try again
    await ledger.deliveries.delivered(key, "crm-7", 2)
    assert await ledger.deliveries.begin(key, event, "crm", "f", "send", "key") == "delivered"
    [row] = [r for r in await ledger.all_deliveries("crm") if r.key == key]
    assert (row.status, row.external_id, row.attempts) == ("delivered", "crm-7", 2)


async def test_a_first_status_change_that_fails_to_commit_is_written_with_the_next(ledger: SqlLedger) -> None:
    # E.g. another process held SQLite's write lock too long: the change raises, and the next
    # one (the runner records the failure, or retries) must still find or make the row.
    event = contact_event(event_id=uid("lock"))
    key = f"{event.id}:f:send"
    assert await ledger.deliveries.begin(key, event, "mail", "f", "send", "none") is None
    calls = 0

    def locked_once(real):  # type: ignore[no-untyped-def]
        async def write(*args):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database is locked")
            await real(*args)
        return write

    # The first write fails, whichever way this database writes a status change.
    ledger.db.execute = locked_once(ledger.db.execute)  # type: ignore[method-assign]
    ledger.db.execute_together = locked_once(ledger.db.execute_together)  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await ledger.deliveries.sending(key, 1)
    await ledger.deliveries.failed(key, "Permanent: the ledger was busy", 1)
    [row] = [r for r in await ledger.all_deliveries("mail") if r.key == key]
    assert (row.event_id, row.flow, row.action, row.status) == (event.id, "f", "send", "failed")


async def test_begin_sees_this_process_s_own_queued_change(ledger: SqlLedger) -> None:
    # A replay in the same process as the live worker: its begin() must not read around the
    # worker's "delivered" that is queued and not committed yet.
    event = contact_event(event_id=uid("queued"))
    key = f"{event.id}:f:send"
    assert await ledger.deliveries.begin(key, event, "crm", "f", "send", "key") is None
    writing = asyncio.create_task(ledger.deliveries.delivered(key, "crm-1", 1))
    await asyncio.sleep(0)  # one loop turn: the task queues its statements and waits for the commit
    assert await ledger.deliveries.begin(key, event, "crm", "f", "send", "key") == "delivered"
    await writing
