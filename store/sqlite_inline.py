"""SQLite for the store's writers, driven on the event loop instead of a thread.

The connection has aiosqlite's interface, which SQLAlchemy's `sqlite+aiosqlite` dialect
drives, but runs every call at once: a write transaction never leaves the task that runs it
and holds SQLite's write lock only for SQLite's own work (WAL, `synchronous=NORMAL`). The
writer's busy timeout is 0 and `store.db.Store` waits for another process's lock with
`asyncio.sleep`; readers keep aiosqlite. See docs/decisions/0004-sqlite-on-the-event-loop.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """An aiosqlite-shaped connection over a plain `sqlite3.Connection`, in autocommit
    mode (`isolation_level=None`): transactions are begun by the engine's `begin` event."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = connection

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy's adapter commits and rolls back only while this is set, as with aiosqlite.
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live.isolation_level

    @property
    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live.cursor())

    async def commit(self) -> None:
        self._live.commit()

    async def rollback(self) -> None:
        self._live.rollback()

    async def create_function(self, name: str, arity: int, func: Callable, **kw: Any) -> None:
        self._live.create_function(name, arity, func, **kw)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def inline_connector(database: str) -> Callable[[], Any]:
    """The `async_creator` of an engine whose connections run on the event loop."""

    async def connect() -> InlineConnection:
        # Created, used and closed on the loop's thread; the pool may still drop one from
        # another (garbage collection), hence check_same_thread=False.
        return InlineConnection(
            sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        )

    return connect
