"""Everything that differs between SQLite and PostgreSQL, in one place.

SQLite: WAL journal with `synchronous=FULL` (a commit is on disk before the hub answers),
`BEGIN IMMEDIATE` (take the write lock up front instead of failing half-way through a
transaction), a busy timeout, and an exclusive lock file so that two hubs never share a
database file. PostgreSQL: the psycopg 3 driver and a session advisory lock with the same
purpose. The rest of the store is dialect-free SQLAlchemy Core.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool, StaticPool

from kindfleet.errors import PrerequisiteError, UsageError
from kindfleet.platform.store.checkpoints import WAL_SIZE_LIMIT

R = TypeVar("R")
# An arbitrary constant: the key of the advisory lock a hub holds on its PostgreSQL database.
_PG_LOCK_KEY = 0x6B66_6875_6231  # "kfhub1"
# Set in a connection's `info` when its transaction wrote: only such a commit proves that
# the store takes writes again (the writer reports its health by it).
WROTE = "kf_wrote"


class StoreUnavailable(PrerequisiteError):
    """The database cannot be reached or refused an operation; the hub answers 503."""


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(
            f"store URL {redact(url)!r} is not a database URL",
            hint="use sqlite:////abs/path/hub.db or postgresql+psycopg://user@host:port/db",
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise UsageError(
        f"store backend {backend!r} is not supported",
        hint="use sqlite:////abs/path/hub.db or postgresql+psycopg://user@host:port/db",
    )


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The database file, or None for an in-memory database."""
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


# Text in UTF8 whatever the database's encoding: a SQL_ASCII database (which keeps bytes
# as given) would otherwise hand the driver bytes, not text.
_PG_CONNECT = {"connect_timeout": 10, "client_encoding": "utf8"}


def make_engine(url: URL) -> Engine:
    if is_sqlite(url):
        return _sqlite_engine(url)
    return create_engine(url, poolclass=NullPool, connect_args=_PG_CONNECT)


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_path(url)
    if path is None:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        private_dir(path.parent)
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 10}
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "busy_timeout=10000",
            "temp_store=MEMORY",
            "cache_size=-16000",
            "wal_autocheckpoint=0",  # checkpoints run beside the writer (checkpoints.py)
            f"journal_size_limit={WAL_SIZE_LIMIT}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# What the writer's statements need of SQLite: ON CONFLICT DO NOTHING (3.24) and JSON
# (built in from 3.38, an option before), which the labels trigger reads.
SQLITE_NEEDED = (3, 24, 0)


def sqlite_problem(version: tuple[int, ...], has_json: bool) -> str | None:
    """Why this SQLite library cannot hold a hub's store, or None."""
    shown = ".".join(map(str, version))
    if tuple(version) < SQLITE_NEEDED:
        return f"the SQLite library Python uses is {shown}; the hub needs 3.24 or later"
    if not has_json:
        return f"the SQLite library Python uses ({shown}) was built without JSON"
    return None


def check_sqlite(conn: Connection) -> None:
    """Refuse a SQLite library too old for the store, saying what to do instead."""
    driver = conn.connection.driver_connection
    assert driver is not None
    version = conn.dialect.loaded_dbapi.sqlite_version_info
    try:
        driver.execute("SELECT count(*) FROM json_each('[1]')").fetchall()
        has_json = True
    except conn.dialect.loaded_dbapi.Error:
        has_json = False
    problem = sqlite_problem(version, has_json)
    if problem is not None:
        raise PrerequisiteError(
            problem,
            hint="run the hub with a Python whose SQLite is 3.38 or later (python -c "
            "'import sqlite3; print(sqlite3.sqlite_version)'), or give it a PostgreSQL "
            "store: --store postgresql+psycopg://USER@HOST/DB",
        )


def check_database(conn: Connection) -> None:
    """Refuse a database the store cannot rely on (in the transaction that checks the
    schema), saying what to do instead."""
    if conn.dialect.name == "sqlite":
        check_sqlite(conn)
    else:
        check_postgresql(conn)


# Databases that hold any text a client or a spoke sends (names, labels, messages): UTF8,
# or SQL_ASCII, which stores the bytes it is given unchecked.
PG_ENCODINGS = ("UTF8", "SQL_ASCII")


def check_postgresql(conn: Connection) -> None:
    """Refuse a database whose encoding cannot hold all of Unicode: there a label or a
    spoke's message it cannot hold would fail its whole transaction, again and again."""
    encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
    if encoding not in PG_ENCODINGS:
        raise PrerequisiteError(
            f"the PostgreSQL database is in {encoding}, which cannot hold every label, name "
            "and message the hub is sent",
            hint="give the hub a database made with ENCODING 'UTF8' (CREATE DATABASE ... "
            "ENCODING 'UTF8' TEMPLATE template0)",
        )


def make_read_engine(url: URL) -> Engine | None:
    """An engine for read-only snapshots beside the writer; None when readers cannot have
    connections of their own (an in-memory SQLite database lives in one connection)."""
    if not is_sqlite(url):
        return create_engine(
            url,
            poolclass=NullPool,
            isolation_level="REPEATABLE READ",
            connect_args={
                **_PG_CONNECT,
                "options": "-c default_transaction_read_only=on -c statement_timeout=30000",
            },
        )
    if sqlite_path(url) is None:
        return None
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 10}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in ("query_only=ON", "busy_timeout=10000", "temp_store=MEMORY"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")  # deferred: a snapshot at the first read, no lock

    return engine


PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700


def private_dir(path: Path) -> None:
    """Create `path` for the owner only; tighten it if it is ours and not a shared directory
    (one with the sticky bit, like /tmp, is left alone)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    with contextlib.suppress(OSError):
        st = path.stat()
        ours = st.st_uid == os.geteuid() and not st.st_mode & stat.S_ISVTX
        if ours and stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(PRIVATE_DIR)


def private_files(url: URL) -> None:
    """The database file and its companions (-wal, -shm, the hub lock): owner only."""
    path = sqlite_path(url) if is_sqlite(url) else None
    if path is None:
        return
    for name in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", ".hub-lock"))):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(name.stat().st_mode) != PRIVATE_FILE:
                name.chmod(PRIVATE_FILE)


def multi_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str] = (),
    *,
    skip_on: str | None = None,
) -> list[Any]:
    """One `INSERT ... VALUES (...), (...)` for all rows, run by the driver itself.

    Not an executemany: SQLite's driver steps (and gives up the GIL) once per row of an
    executemany, and with the event loop busy in the other thread each hand-back of the
    GIL can stall; nor SQLAlchemy's multi-values insert, which is compiled anew for every
    batch; nor `exec_driver_sql`, whose execution context costs as much as the insert of
    a row. Every row must have the same keys, all of them columns of `table`. `skip_on`:
    a unique column; a row whose value there is stored already is skipped, not refused.
    """
    if not rows:
        return []
    sql, values = _multi_insert(conn, table, rows, returning, skip_on)
    return _driver(conn, sql, [values], fetch=bool(returning), write=True)


def multi_insert_rowids(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, skip_on: str
) -> range | None:
    """SQLite only: `multi_insert` of rows into a rowid table; the rowids they were given,
    in the order of `rows`, or None when a row was skipped (which one is not known).

    Without RETURNING, since SQLite's driver steps (and hands back the GIL) once per row it
    returns: a multi-row INSERT stores its rows in order, each with the next rowid, so the
    last row's is the connection's last rowid and the others precede it."""
    if not rows:
        return range(0)
    sql, values = _multi_insert(conn, table, rows, (), skip_on)
    count, last = _driver_count(conn, sql, values)
    return range(last - count + 1, last + 1) if count == len(rows) else None


def _multi_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
    skip_on: str | None,
) -> tuple[str, tuple[Any, ...]]:
    names = tuple(rows[0])
    preparer = conn.dialect.identifier_preparer
    sql = _insert_sql(
        preparer,
        param_mark(conn),
        table.name,
        names,
        len(rows),
        returning=tuple(returning),
        skip_on=skip_on,
    )
    pick = itemgetter(*names)  # a tuple per row, or the one value if one column
    values = chain.from_iterable(map(pick, rows)) if len(names) > 1 else map(pick, rows)
    return sql, tuple(values)


@functools.lru_cache(maxsize=1024)
def _insert_sql(
    preparer: Any,
    mark: str,
    table: str,
    names: tuple[str, ...],
    count: int,
    *,
    returning: tuple[str, ...],
    skip_on: str | None,
) -> str:
    """`multi_insert`'s statement, written once per shape (quoting a name costs SQLAlchemy
    more than inserting a row costs SQLite)."""
    quote = preparer.quote
    one = "(" + ",".join([mark] * len(names)) + ")"
    sql = f"INSERT INTO {quote(table)} ({','.join(quote(n) for n in names)}) VALUES " + ",".join(
        [one] * count
    )
    if skip_on is not None:
        sql += f" ON CONFLICT ({quote(skip_on)}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ",".join(quote(n) for n in returning)
    return sql


def param_mark(conn: Connection) -> str:
    """The driver's own placeholder: `?` for SQLite, `%s` for psycopg."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def driver_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
    """Rows as the driver gives them (plain tuples), in the transaction `conn` is in.

    For the hottest reads only: SQLAlchemy's result machinery costs more per row than the
    database does. The SQL must be written for both dialects, with `param_mark`. The
    driver's errors come out as SQLAlchemy's, as from any other query, so that the readers
    treat them alike (the connection dropped, 503)."""
    return _driver(conn, sql, [tuple(params)], fetch=True, write=False)


def driver_many(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """An executemany by the driver itself, in the transaction `conn` is in: for the
    writer's hottest statement (saving changed workloads), where SQLAlchemy's per-row
    parameter processing cost more than the update."""
    if rows:
        _driver(conn, sql, rows, fetch=False, write=True)


def _driver(
    conn: Connection, sql: str, rows: Sequence[Sequence[Any]], *, fetch: bool, write: bool
) -> list[Any]:
    def run(cursor: Any) -> list[Any]:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
        return list(cursor.fetchall()) if fetch else []

    return _on_cursor(conn, sql, rows, run, write=write)


def _driver_count(conn: Connection, sql: str, values: Sequence[Any]) -> tuple[int, int]:
    """One write by the driver: the rows it changed and the last rowid it gave."""

    def run(cursor: Any) -> tuple[int, int]:
        cursor.execute(sql, values)
        return int(cursor.rowcount), int(cursor.lastrowid or 0)

    return _on_cursor(conn, sql, [values], run, write=True)


def _on_cursor(
    conn: Connection,
    sql: str,
    rows: Sequence[Sequence[Any]],
    run: Callable[[Any], R],
    *,
    write: bool,
) -> R:
    driver = conn.connection.driver_connection
    assert driver is not None
    base = conn.dialect.loaded_dbapi.Error
    try:
        cursor = driver.cursor()
        try:
            found = run(cursor)
        finally:
            cursor.close()
    except base as exc:
        raise DBAPIError.instance(sql, rows, exc, base) from exc
    if write:
        conn.info[WROTE] = True  # SQLAlchemy's own events never see the driver's statements
    return found


class HubLock:
    """One hub per database: an flock'd file next to SQLite, an advisory lock on PostgreSQL.

    The kernel drops the file lock and PostgreSQL the advisory lock when the process dies,
    so a hub killed with -9 never leaves a stale lock behind.
    """

    def __init__(self, url: URL) -> None:
        self._url = url
        self._file: IO[bytes] | None = None

    def acquire_file(self, wait_seconds: float = 10.0) -> None:
        path = sqlite_path(self._url) if is_sqlite(self._url) else None
        if path is None:
            return
        fd = os.open(f"{path}.hub-lock", os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        handle = os.fdopen(fd, "ab")  # held until release()
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise _busy(str(path)) from None
                time.sleep(0.1)
        self._file = handle

    def acquire_session(self, conn: Connection, wait_seconds: float = 10.0) -> None:
        """On PostgreSQL, bind the lock to the writer's session (released when it ends)."""
        if is_sqlite(self._url):
            return
        deadline = time.monotonic() + wait_seconds
        query = text("SELECT pg_try_advisory_lock(:key)")
        while not conn.execute(query, {"key": _PG_LOCK_KEY}).scalar():
            conn.rollback()
            if time.monotonic() >= deadline:
                raise _busy(redact(self._url.render_as_string(hide_password=False)))
            time.sleep(0.1)
        conn.commit()

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _busy(where: str) -> PrerequisiteError:
    return PrerequisiteError(
        f"another hub is already using the store {where}",
        hint="stop that hub first, or give this one its own --store",
    )
