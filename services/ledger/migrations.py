"""The ledger's schema as numbered migrations, applied in order at start on SQLite and PostgreSQL.

A ledger records the versions applied in `schema_version`. A ledger made before migrations
existed has the tables of version 1 and no `schema_version`: version 1 is written with
`IF NOT EXISTS` throughout, so applying it to such a ledger changes nothing but the record.
Every migration must be safe to run twice (two processes starting on one PostgreSQL ledger may
both find it pending); a ledger newer than this code refuses to start.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.errors import HandoverError
from services.ledger.db import Database


class LedgerTooNew(HandoverError):
    """The ledger was migrated by a newer Handover than this one."""


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema."""

    version: int
    description: str
    statements: Sequence[str]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events, expected actions, deliveries, dead-letter copies, dedupe, id map, settings", [
        """CREATE TABLE IF NOT EXISTS events (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            source TEXT NOT NULL,
            subject TEXT NOT NULL,
            keys TEXT NOT NULL,
            summary TEXT NOT NULL,
            occurred_at DOUBLE PRECISION NOT NULL,
            received_at DOUBLE PRECISION,
            recorded_at DOUBLE PRECISION NOT NULL,
            test BOOLEAN NOT NULL,
            topic TEXT NOT NULL,
            kafka_partition INTEGER NOT NULL,
            kafka_offset BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS events_recorded ON events (recorded_at)",
        "CREATE INDEX IF NOT EXISTS events_source ON events (source, recorded_at)",
        """CREATE TABLE IF NOT EXISTS expected_actions (
            event_id TEXT NOT NULL,
            flow TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            PRIMARY KEY (event_id, flow, action)
        )""",
        """CREATE TABLE IF NOT EXISTS deliveries (
            key TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            target TEXT NOT NULL,
            flow TEXT NOT NULL,
            action TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            external_id TEXT NOT NULL DEFAULT '',
            first_attempt_at DOUBLE PRECISION,
            last_attempt_at DOUBLE PRECISION,
            next_attempt_at DOUBLE PRECISION,
            delivered_at DOUBLE PRECISION,
            last_error TEXT NOT NULL DEFAULT '',
            dlq_offset BIGINT,
            test BOOLEAN NOT NULL DEFAULT FALSE
        )""",
        "CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id)",
        "CREATE INDEX IF NOT EXISTS deliveries_target ON deliveries (target, status)",
        "CREATE INDEX IF NOT EXISTS deliveries_delivered ON deliveries (delivered_at)",
        # A copy of each action's dead letter, so it outlives the embedded broker, which keeps
        # nothing across a restart (services.sync.deadletters.restore_dead_letters).
        """CREATE TABLE IF NOT EXISTS dead_letter_copies (
            key TEXT PRIMARY KEY,
            target TEXT NOT NULL,
            record_key BYTEA,
            value BYTEA NOT NULL,
            headers TEXT NOT NULL,
            written_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS webhook_dedupe (
            event_id TEXT PRIMARY KEY,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS idmap (
            target TEXT NOT NULL,
            key TEXT NOT NULL,
            external_id TEXT NOT NULL,
            PRIMARY KEY (target, key)
        )""",
        """CREATE TABLE IF NOT EXISTS settings_store (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    ]),
    Migration(2, "the intake journal: every accepted event, kept until its actions are finished", [
        # The record as published (topic, key, value, headers): what a re-drive publishes again
        # into a broker that lost it. `keep_until`: not pruned before the source's dedupe window.
        """CREATE TABLE IF NOT EXISTS intake_journal (
            event_id TEXT PRIMARY KEY,
            topic TEXT NOT NULL,
            record_key BYTEA,
            value BYTEA NOT NULL,
            headers TEXT NOT NULL,
            journaled_at DOUBLE PRECISION NOT NULL,
            keep_until DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS intake_journal_at ON intake_journal (journaled_at)",
        "CREATE INDEX IF NOT EXISTS intake_journal_keep ON intake_journal (keep_until)",
        "CREATE INDEX IF NOT EXISTS webhook_dedupe_expires ON webhook_dedupe (expires_at)",
    ]),
    Migration(3, "what each action sent and what the target answered (the audit trail)", [
        """CREATE TABLE IF NOT EXISTS sent_actions (
            key TEXT PRIMARY KEY,
            fields TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            recorded_at DOUBLE PRECISION NOT NULL
        )""",
    ]),
)

LATEST = MIGRATIONS[-1].version

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
)"""


async def schema_version(db: Database) -> int:
    """The highest migration applied to this ledger (0: none recorded)."""
    row = await db.fetchrow("SELECT MAX(version) FROM schema_version")
    return int(row[0]) if row and row[0] is not None else 0


async def migrate(db: Database, where: str = "the ledger") -> int:
    """Apply the pending migrations in order; the version the ledger is at afterwards."""
    await db.script([VERSION_TABLE])
    current = await schema_version(db)
    if current > LATEST:
        raise LedgerTooNew(
            f"{where} has schema version {current}, and this Handover knows versions up to {LATEST}: "
            "it was opened by a newer Handover. Run that version (or newer), or restore a backup made "
            "before the upgrade."
        )
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        # The statements and their record in one transaction: a crash leaves it pending, not half done.
        await db.script([
            *migration.statements,
            _record(db, migration),
        ])
        current = migration.version
    return current


def _record(db: Database, migration: Migration) -> str:
    # Literal values (DDL scripts take no parameters); ON CONFLICT: another process got there first.
    description = migration.description.replace("'", "''")
    return (
        f"INSERT INTO schema_version (version, description, applied_at) VALUES "
        f"({migration.version}, '{description}', {time.time()!r}) ON CONFLICT (version) DO NOTHING"
    )
