"""Ledger migrations and the intake journal, on SQLite and on PostgreSQL (a fresh schema each)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from services.common.kafka import event_record
from services.ledger.db import Database, connect
from services.ledger.journal import IntakeJournal
from services.ledger.migrations import LATEST, LedgerTooNew, schema_version
from services.ledger.rows import RecordedEvent
from services.ledger.store import SqlLedger, open_ledger
from tests.conftest import LEDGER_BACKENDS
from tests.sync.conftest import contact_event

PG = "postgresql://postgres@127.0.0.1:5432/test"

# The ledger exactly as Handover made it before migrations existed (services/ledger/store.py
# SCHEMA at f78c647): users have these files, with their data, and must keep both.
SCHEMA_BEFORE_MIGRATIONS = [
    """CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL,
        subject TEXT NOT NULL, keys TEXT NOT NULL, summary TEXT NOT NULL, occurred_at DOUBLE PRECISION NOT NULL,
        received_at DOUBLE PRECISION, recorded_at DOUBLE PRECISION NOT NULL, test BOOLEAN NOT NULL,
        topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_recorded ON events (recorded_at)",
    "CREATE INDEX IF NOT EXISTS events_source ON events (source, recorded_at)",
    """CREATE TABLE IF NOT EXISTS expected_actions (event_id TEXT NOT NULL, flow TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (event_id, flow, action))""",
    """CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, event_id TEXT NOT NULL, target TEXT NOT NULL,
        flow TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        external_id TEXT NOT NULL DEFAULT '', first_attempt_at DOUBLE PRECISION, last_attempt_at DOUBLE PRECISION,
        next_attempt_at DOUBLE PRECISION, delivered_at DOUBLE PRECISION, last_error TEXT NOT NULL DEFAULT '',
        dlq_offset BIGINT, test BOOLEAN NOT NULL DEFAULT FALSE)""",
    "CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id)",
    "CREATE INDEX IF NOT EXISTS deliveries_target ON deliveries (target, status)",
    "CREATE INDEX IF NOT EXISTS deliveries_delivered ON deliveries (delivered_at)",
    """CREATE TABLE IF NOT EXISTS dead_letter_copies (key TEXT PRIMARY KEY, target TEXT NOT NULL,
        record_key BYTEA, value BYTEA NOT NULL, headers TEXT NOT NULL, written_at DOUBLE PRECISION NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS webhook_dedupe (event_id TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)",
    """CREATE TABLE IF NOT EXISTS idmap (target TEXT NOT NULL, key TEXT NOT NULL, external_id TEXT NOT NULL,
        PRIMARY KEY (target, key))""",
    """CREATE TABLE IF NOT EXISTS settings_store (name TEXT PRIMARY KEY, value TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL)""",
]


@pytest.fixture(params=LEDGER_BACKENDS)
async def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty ledger: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
        return
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG}?schema={schema}"
    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def _with_db(url: str, work: Callable[[Database], Awaitable[None]]) -> None:
    db = await connect(url)
    try:
        await work(db)
    finally:
        await db.close()


async def test_a_ledger_from_before_migrations_is_migrated_with_its_data_intact(ledger_url: str) -> None:
    async def old_ledger(db: Database) -> None:
        await db.script(SCHEMA_BEFORE_MIGRATIONS)
        await db.execute(
            "INSERT INTO deliveries (key, event_id, target, flow, action, status, external_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)", "ev-1:flow:send", "ev-1", "crm", "flow", "send", "delivered", "x-9",
        )
        await db.execute("INSERT INTO idmap (target, key, external_id) VALUES ($1, $2, $3)", "books", "c-1", "mb-5")
        await db.execute("INSERT INTO webhook_dedupe (event_id, expires_at) VALUES ($1, $2)", "d-1", time.time() + 60)

    await _with_db(ledger_url, old_ledger)
    ledger = await open_ledger(ledger_url)
    try:
        assert await schema_version(ledger.db) == LATEST
        row = await ledger.delivery("ev-1:flow:send")
        assert row is not None and (row.status, row.external_id) == ("delivered", "x-9")
        assert await ledger.idmap.idmap_get("books", "c-1") == "mb-5"
        assert await ledger.dedupe.seen("d-1")
        assert await IntakeJournal(ledger.db).count() == 0  # the new table is there, empty
    finally:
        await ledger.close()
    # Opening it again applies nothing twice.
    again = await open_ledger(ledger_url)
    try:
        assert await schema_version(again.db) == LATEST
        assert await again.idmap.idmap_get("books", "c-1") == "mb-5"
    finally:
        await again.close()


async def test_a_ledger_newer_than_the_code_refuses_to_start(ledger_url: str) -> None:
    ledger = await open_ledger(ledger_url)  # made at the latest version
    await ledger.db.execute(
        "INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)",
        LATEST + 1, "from the future", time.time(),
    )
    await ledger.close()
    with pytest.raises(LedgerTooNew, match=rf"schema version {LATEST + 1}.*knows versions up to {LATEST}"):
        await open_ledger(ledger_url)


async def _record(ledger: SqlLedger, event_id: str, expected: list[tuple[str, str, str]]) -> None:
    ev = contact_event(event_id=event_id)
    await ledger.events.record([RecordedEvent(ev, "handover.events.contact.submitted", 0, 1, expected)])


async def test_the_journal_re_drives_exactly_what_is_unfinished_and_prunes_only_the_finished(ledger_url: str) -> None:
    ledger = await open_ledger(ledger_url)
    journal = IntakeJournal(ledger.db)
    try:
        events = {name: contact_event(event_id=f"{name}-{uuid.uuid4().hex[:6]}") for name in
                  ("never_recorded", "retrying", "delivered", "deadlettered", "no_actions", "one_of_two")}
        for name, ev in events.items():
            await journal.accept([event_record(ev)], keep_s=0.0 if name != "delivered" else 3600,
                                 delivery_id=f"d-{name}")
        both = [("flow", "a", "crm"), ("flow", "b", "mail")]
        for name in ("retrying", "delivered", "deadlettered", "one_of_two"):
            await _record(ledger, events[name].id, both)
        await _record(ledger, events["no_actions"].id, [])
        statuses_of = {"retrying": ("delivered", "retrying"), "delivered": ("delivered", "delivered"),
                       "deadlettered": ("deadlettered", "delivered"), "one_of_two": ("delivered", None)}
        for name, statuses in statuses_of.items():
            ev = events[name]
            for (flow, action, target), status in zip(both, statuses, strict=True):
                if status is None:
                    continue
                key = f"{ev.id}:{flow}:{action}"
                await ledger.deliveries.begin(key, ev, target, flow, action, "key")
                if status == "delivered":
                    await ledger.deliveries.delivered(key, "x", 1)
                elif status == "retrying":
                    await ledger.deliveries.retrying(key, time.time() + 5)
                else:
                    await ledger.deliveries.deadlettered(key, "Permanent: no", 1, 3)
        again = await journal.unfinished(page=2)  # several pages
        assert {r.event_id for r in again} == {events[n].id for n in ("never_recorded", "retrying", "one_of_two")}
        record = next(r for r in again if r.event_id == events["retrying"].id)
        assert record == event_record(events["retrying"])  # byte for byte what was published
        # Finished and past their window: pruned; "delivered" is finished but inside its window.
        assert await journal.prune() == 2
        assert await journal.count() == 4
        assert await ledger.dedupe.seen("d-delivered") and not await ledger.dedupe.seen("d-no_actions")
    finally:
        await ledger.close()


async def test_a_recorder_killed_between_an_event_and_its_expected_actions_leaves_it_to_be_re_driven(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the one-box chaos run against the vendor fakes: a power cut between the recorder's
    # two writes left a form's event recorded with no expected actions; the journal took it for
    # finished, the new (empty) broker never got it again, and its actions never ran.
    ledger = await open_ledger(ledger_url)
    journal = IntakeJournal(ledger.db)
    try:
        ev = contact_event(event_id=f"cut-{uuid.uuid4().hex[:6]}")
        await journal.accept([event_record(ev)], keep_s=60)
        real = ledger.db.executemany
        writes = 0

        async def dies_after_one_write(sql: str, rows: object) -> None:
            nonlocal writes
            writes += 1
            if writes > 1:
                raise OSError("killed")  # the process is gone before its second write
            await real(sql, rows)  # type: ignore[arg-type]

        monkeypatch.setattr(ledger.db, "executemany", dies_after_one_write)
        with pytest.raises(OSError):
            await _record(ledger, ev.id, [("flow", "a", "crm")])
        monkeypatch.setattr(ledger.db, "executemany", real)
        assert [r.event_id for r in await journal.unfinished()] == [ev.id]
        await _record(ledger, ev.id, [("flow", "a", "crm")])  # recorded again from the re-drive
        assert [r.event_id for r in await journal.unfinished()] == [ev.id]  # its action is still open
    finally:
        await ledger.close()


async def test_a_resend_journals_nothing_new(ledger_url: str) -> None:
    ledger = await open_ledger(ledger_url)
    journal = IntakeJournal(ledger.db)
    try:
        ev = contact_event(event_id=f"ev-{uuid.uuid4().hex[:6]}")
        await journal.accept([event_record(ev)], 60, "d-1")
        await journal.accept([event_record(ev)], 60, "d-1")
        assert await journal.count() == 1
    finally:
        await ledger.close()


async def test_a_re_drive_pages_through_what_was_journaled_before_it_began(ledger_url: str) -> None:
    ledger = await open_ledger(ledger_url)
    journal = IntakeJournal(ledger.db)
    try:
        before = [contact_event(event_id=f"before-{i}-{uuid.uuid4().hex[:6]}") for i in range(3)]
        for ev in before:
            await journal.accept([event_record(ev)], keep_s=60)
        seen: list[list[str]] = []
        async for page in journal.unfinished_pages(page=2):
            seen.append([r.event_id for r in page])
            # Accepted while the re-drive runs: published to the new broker by the gateway itself.
            await journal.accept([event_record(contact_event(event_id=f"during-{uuid.uuid4().hex[:6]}"))], keep_s=60)
        assert [len(p) for p in seen] == [2, 1]
        assert sorted(i for p in seen for i in p) == sorted(ev.id for ev in before)
        assert len(await journal.unfinished()) == 5  # the next broker gets them all
    finally:
        await ledger.close()
