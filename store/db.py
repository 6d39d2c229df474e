"""Engines and sessions: one async engine per process (PostgreSQL through psycopg 3, or a
SQLite file) and `Store`, the process's handle for write transactions and reads.

On SQLite, writers of one process queue on a lock and run on the event loop
(`store.sqlite_inline`), and readers get an engine of their own. See
docs/decisions/0004-sqlite-on-the-event-loop.md.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Executable, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store.sqlite_inline import inline_connector

# How long a writer waits for another process to release SQLite's write lock.
LOCK_WAIT_S = 10.0

# A write transaction as it is handed out: an ORM session or a bare connection.
Tx = TypeVar("Tx", AsyncSession, AsyncConnection)


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    elif parsed.drivername in (
        "postgresql",
        "postgres",
        "postgresql+psycopg2",
        "postgresql+asyncpg",
    ):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def utc(at: datetime) -> datetime:
    """SQLite drops the offset without converting, so times are written in UTC and a naive
    value (SQLite's, or a caller's) is taken as UTC."""
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _tune_sqlite(dbapi_connection, _record) -> None:  # noqa: ANN001
    # WAL lets the API read while the worker writes; busy_timeout makes a connection wait
    # its turn instead of failing with "database is locked" (the writer's is then set to 0,
    # see `_never_wait`). The driver's own transaction
    # handling is switched off so that `_begin_immediate` decides how a transaction starts.
    if dbapi_connection.isolation_level is not None:
        dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _never_wait(dbapi_connection, _record) -> None:  # noqa: ANN001
    # The writer runs on the event loop (store.sqlite_inline): waiting for the lock in SQLite
    # would stop the loop, so `Store._once_locked` waits for it instead.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def _begin_immediate(connection) -> None:  # noqa: ANN001
    # A deferred SQLite transaction that reads and then writes fails at once with
    # SQLITE_BUSY when another process wrote in between; taking the write lock up
    # front makes writers wait their turn (busy_timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection) -> None:  # noqa: ANN001
    connection.exec_driver_sql("BEGIN")


def tune(engine_sync, *, writer: bool = True) -> None:  # noqa: ANN001
    if engine_sync.dialect.name == "sqlite":
        event.listen(engine_sync, "connect", _tune_sqlite)
        event.listen(engine_sync, "begin", _begin_immediate if writer else _begin_deferred)


def create_engine(url: str, *, writer: bool = True) -> AsyncEngine:
    if is_sqlite(url) and writer:
        database = make_url(url).database or ""
        engine = create_async_engine(async_url(url), async_creator=inline_connector(database))
        tune(engine.sync_engine, writer=True)
        event.listen(engine.sync_engine, "connect", _never_wait)
        return engine
    if is_sqlite(url):
        engine = create_async_engine(async_url(url))
    else:
        engine = create_async_engine(
            async_url(url), pool_size=10, max_overflow=20, pool_pre_ping=True
        )
    tune(engine.sync_engine, writer=writer)
    return engine


class Store:
    """The process's database handle: an engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite readers get their own engine so that reads never queue behind writers.
        self.reader = create_engine(url, writer=False) if is_sqlite(url) else self.engine
        self.reader_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if is_sqlite(url) else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table):  # noqa: ANN001, ANN201
        """An INSERT that knows `ON CONFLICT` on both backends."""
        return self.insert_for(self.dialect, table)

    @staticmethod
    def insert_for(dialect: str, table):  # noqa: ANN001, ANN205
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

    @staticmethod
    @functools.cache
    def insert_once(dialect: str, table: Table) -> Executable:
        """`INSERT … ON CONFLICT DO NOTHING RETURNING` the primary key, built and compiled
        once per table, its row passed as parameters: a row comes back only when this call
        wrote it (PostgreSQL reports no row count for such an insert)."""
        insert = Store.insert_for(dialect, table).on_conflict_do_nothing()
        return insert.returning(*table.primary_key.columns)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on error.

        SQLite has one writer at a time. Writers of this process queue here, in order, rather
        than in SQLite's busy handler, which polls with sleeps of up to 100 ms and so turns a
        queue of a few dozen writers into seconds of latency (`make bench`). Write
        transactions never nest, so the lock cannot deadlock. The transaction then runs on
        the event loop (`store.sqlite_inline`), once this process has SQLite's write lock.
        """
        if self._write_lock is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._locked(self._begin_session) as session:
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on a bare connection, for statements without the ORM: the
        journal's appends, several per order, skip the session's unit of work and identity
        map, a good part of the worker's time in SQLAlchemy (`make bench`). The same lock and
        commit rules as `transaction`."""
        if self._write_lock is None:
            async with self.engine.begin() as connection:
                yield connection
            return
        async with self._locked(self._begin_connection) as connection:
            yield connection

    @asynccontextmanager
    async def _locked(self, begin: Callable[[], Awaitable[Tx]]) -> AsyncIterator[Tx]:
        """SQLite: this process's turn, then SQLite's write lock, then the caller's work,
        committed on success and rolled back on error."""
        assert self._write_lock is not None
        async with self._write_lock:
            transaction = await self._once_locked(begin)
            try:
                yield transaction
                await transaction.commit()
            except BaseException:
                await transaction.rollback()
                raise
            finally:
                await transaction.close()

    async def _begin_session(self) -> AsyncSession:
        session = self.sessions()
        try:
            await session.connection()  # begins: BEGIN IMMEDIATE
        except BaseException:
            await session.close()
            raise
        return session

    async def _begin_connection(self) -> AsyncConnection:
        connection = await self.engine.connect()
        try:
            await connection.begin()  # BEGIN IMMEDIATE
        except BaseException:
            await connection.close()
            raise
        return connection

    async def _once_locked(self, begin: Callable[[], Awaitable[Tx]]) -> Tx:
        """A transaction begun by `begin` once it holds SQLite's write lock (`BEGIN
        IMMEDIATE`), waited for here while another process (the API, the worker) writes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_WAIT_S
        delay = 0.0005
        while True:
            try:
                return await begin()
            except OperationalError as error:
                busy = getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
                if not busy or loop.time() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.01)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.reader_sessions() as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()


@asynccontextmanager
async def reading(source: Store | AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session to read with: the caller's, when it passes the one of its transaction, or a
    read session of the store's. `POST /orders` prices an order inside the transaction that
    claims its idempotency key: one transaction instead of two read sessions and a write,
    each read session a round of thread hops through aiosqlite on SQLite."""
    if isinstance(source, AsyncSession):
        yield source
        return
    async with source.read() as session:
        yield session
