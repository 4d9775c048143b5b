"""Opening and closing the store: engine, one-hub lock, schema, the group-commit writer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.repeats import first_line
from kindfleet.platform.store import engine as dialect
from kindfleet.platform.store import migrate
from kindfleet.platform.store.checkpoints import Checkpointer
from kindfleet.platform.store.engine import StoreUnavailable
from kindfleet.platform.store.identity import FileIdentity
from kindfleet.platform.store.readers import Readers
from kindfleet.platform.store.schema import SCHEMA_VERSION, meta, metadata
from kindfleet.platform.store.writer import GroupObserver, HealthObserver, Writer

R = TypeVar("R")


_RESTORE = "stop the hub and restore the store it started with"


class Database:
    """The store of one hub. `writer` runs every query; nothing else touches the engine."""

    def __init__(
        self,
        url: str,
        *,
        on_group: GroupObserver | None = None,
        on_health: HealthObserver | None = None,
        lock_wait_seconds: float = 10.0,
        read_threads: int = 2,
    ) -> None:
        self.url = dialect.parse_url(url)
        self._lock_wait = lock_wait_seconds
        self.display_url = dialect.redact(url)
        self.sqlite = dialect.is_sqlite(self.url)
        self._engine = dialect.make_engine(self.url)
        self._lock = dialect.HubLock(self.url)
        self.store_id = ""  # known once open: the id spokes remember this store by
        self.replaced: str | None = None  # why, once the store is found not to be its own
        self.identity = FileIdentity(dialect.sqlite_path(self.url) if self.sqlite else None)
        self._read_engine = dialect.make_read_engine(self.url)
        self._checkpointer = (
            Checkpointer(self._engine) if self.sqlite and self._read_engine is not None else None
        )
        self.writer = Writer(
            self._engine,
            on_connect=self._prepare,
            on_group=on_group,
            on_health=on_health,
            before_commit=self.identity.check,
            between_groups=self._checkpointer.finish if self._checkpointer is not None else None,
        )
        self._readers = (
            Readers(self._read_engine, read_threads) if self._read_engine is not None else None
        )

    async def read(self, fn: Callable[[Connection], R]) -> R:
        """Run `fn` in a read-only snapshot, off the writer (on the writer only where a
        separate connection cannot see the data: an in-memory SQLite database). A store
        replaced under the hub answers no read either: an acknowledged workload read from
        the new, empty one was a 404 (found from outside)."""
        if self.replaced is not None:
            raise StoreUnavailable(self.replaced, hint=_RESTORE)
        self.identity.check()
        if self._readers is None:
            return await self.writer.run(fn)
        return await self._readers.run(fn)

    def _prepare(self, conn: Connection) -> None:
        """Run on every (re)connection of the writer: lock, then schema."""
        self._lock.acquire_session(conn, self._lock_wait)
        found = ensure_schema(conn)
        if self.store_id and found != self.store_id:
            self.replaced = (
                f"the store was replaced while the hub ran (store {self.store_id}, now {found}): "
                "it acknowledges nothing more"
            )
            raise StoreUnavailable(self.replaced, hint=_RESTORE)
        self.store_id = found

    async def open(self) -> None:
        """Lock, connect, create the schema; on failure leave nothing running or held."""
        try:
            self._lock.acquire_file(self._lock_wait)
            self.writer.start()
            await self.writer.run(lambda conn: None)  # connect, lock, create the schema
            self.identity.remember()
            dialect.private_files(self.url)
            if self._checkpointer is not None:
                self._checkpointer.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._readers is not None:
            self._readers.close()
        self.writer.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._engine.dispose()
        if self._read_engine is not None:
            self._read_engine.dispose()
        self._lock.release()

    async def ping(self) -> None:
        """Commit a write: a store that answers reads but cannot commit is not up."""
        await self.writer.run(_probe_write)


def _probe_write(conn: Connection) -> None:
    conn.execute(meta.delete().where(meta.c.key == "probe"))
    conn.execute(meta.insert(), {"key": "probe", "value": "ok"})


def ensure_schema(conn: Connection) -> str:
    """Create or migrate the schema; the store's id (made with the store, never changed)."""
    try:
        with conn.begin():
            dialect.check_database(conn)
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema")).scalar()
            if found is None:  # the tables were made just now
                migrate.triggers(conn)
                conn.execute(meta.insert(), {"key": "schema", "value": SCHEMA_VERSION})
            elif found in migrate.STEPS:
                migrate.upgrade(conn, found)
                conn.execute(
                    meta.update().where(meta.c.key == "schema").values(value=SCHEMA_VERSION)
                )
                found = SCHEMA_VERSION
            store_id = conn.execute(select(meta.c.value).where(meta.c.key == "store_id")).scalar()
            if store_id is None and found in (None, SCHEMA_VERSION):
                store_id = uuid.uuid4().hex
                conn.execute(meta.insert(), {"key": "store_id", "value": store_id})
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"cannot prepare the store: {first_line(exc)}") from exc
    if found not in (None, SCHEMA_VERSION):
        raise PrerequisiteError(
            f"the store holds schema version {found}; this hub understands {SCHEMA_VERSION}",
            hint="point the hub at a new store, or run the hub version that wrote this one",
        )
    return str(store_id)


def open_database(
    url: str, *, on_group: GroupObserver | None = None, lock_wait_seconds: float = 10.0
) -> Database:
    return Database(url, on_group=on_group, lock_wait_seconds=lock_wait_seconds)
