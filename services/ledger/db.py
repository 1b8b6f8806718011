"""Two SQL backends behind one small interface: SQLite (embedded default) and PostgreSQL (asyncpg).

Statements are written once, in PostgreSQL's `$1` placeholder style; the SQLite backend maps
them to `?1`. Both speak `INSERT ... ON CONFLICT` and `RETURNING`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

Row = tuple[Any, ...]


class Database(Protocol):
    """What the ledger needs from a database."""

    dialect: str

    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows, in one transaction."""
        ...

    async def execute_together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements in order, in one transaction."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Rows of a query."""
        ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or None."""
        ...

    async def lookup(self, sql: str, *args: Any) -> list[Row]:
        """Rows of a short SELECT by key (an index probe, never a scan): on the hot path."""
        ...

    async def script(self, statements: Sequence[str]) -> None:
        """Run DDL statements in order (schema creation)."""
        ...

    async def close(self) -> None:
        """Close connections."""
        ...


_PLACEHOLDER = re.compile(r"\$(\d+)")


class SqliteDatabase:
    """sqlite3 on one dedicated thread (the module is synchronous; one writer keeps it simple).

    Single statements (`execute`, `fetch`, `fetchrow`) are group-committed: the ones issued
    while the thread is busy wait in a queue and then run together in one transaction, one
    thread hop for all of them. Each caller still gets its answer only after that COMMIT, so
    "the ledger has it" means what it meant with one statement per hop.
    """

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sqlite")
        self._read_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sqlite-read")
        self._reader: sqlite3.Connection | None = None
        self._prober: sqlite3.Connection | None = None  # used on the event loop's thread only
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._queue: list[tuple[str, str, tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the caller hears of it, also across a power cut.
            # The intake journal answers a vendor's webhook only after its commit, and the
            # embedded broker keeps nothing, so NORMAL (which may lose the last commits when the
            # machine loses power) would lose answered events. Group commit shares the fsync.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn
        return self._conn

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise sqlite3.ProgrammingError("the ledger database is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @staticmethod
    @functools.lru_cache(maxsize=512)  # the ledger's statements are a fixed set (IN lists vary a little)
    def _sql(sql: str) -> str:
        return _PLACEHOLDER.sub(r"?\1", sql)

    def _enqueue(self, mode: str, sql: str, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """Queue one statement for the next group commit (starting the flusher if idle)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((mode, self._sql(sql), args, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return fut

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await self._run(self._run_batch, [(m, q, a) for m, q, a, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller below
                results = [exc] * len(batch)
            for (_, _, _, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue  # the caller gave up waiting; the statement ran regardless
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    def _run_batch(self, batch: list[tuple[str, str, tuple[Any, ...]]]) -> list[Any]:
        conn = self._connect()

        def one(mode: str, sql: str, args: tuple[Any, ...]) -> Any:
            if mode == "together":  # statements that stand or fall together: (sql, args) pairs
                for statement, values in args:
                    conn.execute(statement, values).fetchall()
                return None
            cursor = conn.execute(sql, args)
            # Always step to the end: a half-read RETURNING statement would keep its write open.
            rows = cursor.fetchall()
            return (rows[0] if rows else None) if mode == "one" else rows if mode == "all" else None

        def alone(item: tuple[str, str, tuple[Any, ...]]) -> Any:
            """One item in a transaction of its own (a single statement commits by itself)."""
            if item[0] != "together":
                return one(*item)
            with _transaction(conn):
                return one(*item)

        if len(batch) == 1:
            try:
                return [alone(batch[0])]
            except Exception as exc:  # noqa: BLE001 - the caller's future raises it
                return [exc]
        # IMMEDIATE: take the write lock up front, so another process cannot make the upgrade fail.
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [one(*item) for item in batch]
        except Exception:  # noqa: BLE001 - one bad statement: undo, then run each on its own
            _rollback(conn)
            out: list[Any] = []
            for item in batch:
                try:
                    out.append(alone(item))
                except Exception as exc:  # noqa: BLE001 - the caller's future raises it
                    out.append(exc)
            return out
        try:
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)  # a failed COMMIT (disk full, I/O error) must not leave it open
            raise
        return results

    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement (committed before this returns; batched with concurrent ones)."""
        await self._enqueue("exec", sql, args)

    async def execute_together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements in order, in one transaction: one item of the next group commit (should
        another item of that batch fail, this one reruns in a transaction of its own)."""
        await self._enqueue("together", "", tuple((self._sql(sql), tuple(args)) for sql, args in statements))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows in one transaction."""
        data = [tuple(r) for r in rows]

        def work() -> None:
            conn = self._connect()
            with _transaction(conn, "BEGIN"):
                conn.executemany(self._sql(sql), data)

        await self._run(work)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query (or of a statement with RETURNING).

        A plain SELECT (the owner's pages, the gauges, dedupe lookups) runs on a second,
        read-only connection and thread: WAL lets it read committed data while the writer
        works, so a report scanning the whole history never holds up a delivery.
        """
        if self._path != ":memory:" and sql.lstrip()[:6].upper() == "SELECT":
            return await self._read(self._sql(sql), args)
        return await self._enqueue("all", sql, args)  # type: ignore[no-any-return]

    async def lookup(self, sql: str, *args: Any) -> list[Row]:
        """A key lookup, run right here on the event loop's thread.

        An index probe takes microseconds, and in WAL mode a reader never waits for a writer, so
        this is cheaper and faster than a hop to a thread and back (which under load costs more
        than the query, and waits for the loop twice)."""
        if self._path == ":memory:":
            return await self.fetch(sql, *args)
        if self._closed:
            raise sqlite3.ProgrammingError("the ledger database is closed")
        try:
            if self._prober is None:
                self._prober = self._read_only(busy_timeout_ms=0)  # never sleep on the loop
            return self._prober.execute(self._sql(sql), args).fetchall()
        except sqlite3.OperationalError:
            # Busy (a WAL recovery, a checkpoint's last word): wait for it on the read thread.
            return await self._read(self._sql(sql), args)

    def _read_only(self, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
        # Read-only: the writer (which runs the schema first) has made the file and WAL.
        conn = sqlite3.connect(Path(self._path).resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        return conn

    async def _read(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        if self._closed:
            raise sqlite3.ProgrammingError("the ledger database is closed")

        def work() -> list[Row]:
            if self._reader is None:
                self._reader = self._read_only()
            return self._reader.execute(sql, args).fetchall()

        return await asyncio.get_running_loop().run_in_executor(self._read_executor, work)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """The first row, or None."""
        return await self._enqueue("one", sql, args)  # type: ignore[no-any-return]

    async def script(self, statements: Sequence[str]) -> None:
        """DDL in order, in one transaction (a migration is applied whole or not at all)."""

        def work() -> None:
            conn = self._connect()
            with _transaction(conn):
                for statement in statements:
                    conn.execute(statement)

        await self._run(work)

    async def close(self) -> None:
        """Finish queued statements, close the connection and stop the thread (once)."""
        if self._closed:
            return
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._closed = True
        if self._prober is not None:
            self._prober.close()
            self._prober = None

        def work() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        def close_reader() -> None:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

        await asyncio.get_running_loop().run_in_executor(self._read_executor, close_reader)
        await asyncio.get_running_loop().run_in_executor(self._executor, work)
        self._read_executor.shutdown(wait=True)
        self._executor.shutdown(wait=True)


def _rollback(conn: sqlite3.Connection) -> None:
    """End an open transaction without its changes (nothing to do when there is none)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """One transaction: committed at the end, rolled back on any error (a failed COMMIT too)."""
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


class PostgresDatabase:
    """asyncpg pool; `?schema=NAME` in the URL puts Handover's tables in their own schema."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.schema = query.pop("schema", [""])[0]
        self._dsn = parts._replace(query="&".join(f"{k}={v[0]}" for k, v in query.items())).geturl()
        self._pool: Any = None

    async def connect(self) -> None:
        """Open the pool (and create the schema when one is named)."""
        import asyncpg

        settings = {"search_path": self.schema} if self.schema else {}
        if self.schema:
            conn = await asyncpg.connect(self._dsn)
            try:
                # IF NOT EXISTS is not atomic: two processes starting together can both try.
                await conn.execute("SELECT pg_advisory_lock(7305553)")
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(7305553)")
            finally:
                await conn.close()
        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=10, server_settings=settings)

    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement."""
        await self._pool.execute(sql, *args)

    async def execute_together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements in order, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            for sql, args in statements:
                await conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(sql, [tuple(r) for r in rows])

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query."""
        return [tuple(r) for r in await self._pool.fetch(sql, *args)]

    async def lookup(self, sql: str, *args: Any) -> list[Row]:
        """A key lookup (the same as fetch here)."""
        return await self.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """The first row, or None."""
        row = await self._pool.fetchrow(sql, *args)
        return tuple(row) if row is not None else None

    async def script(self, statements: Sequence[str]) -> None:
        """DDL in order, serialised across processes with an advisory lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7305553)")  # several processes start at once
            for statement in statements:
                await conn.execute(statement)

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()


async def connect(url: str) -> Database:
    """Open the database a ledger URL names: sqlite:///path or postgresql://..."""
    if url.startswith("sqlite:"):
        # sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:///:memory:
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.removeprefix("sqlite:")
        return SqliteDatabase(path or ":memory:")
    if url.startswith(("postgresql:", "postgres:")):
        db = PostgresDatabase(url)
        await db.connect()
        return db
    raise ValueError(f"unsupported ledger url {url!r}: use sqlite:///path or postgresql://...")
