"""The journal's outbox: one record per journal event still to publish, written by
`store.journal.append` in the append's own transaction, read in id order and deleted by the
relay (oms/relay.py) once the broker has acknowledged each event. And the relay's lease:
one row that names the relay publishing, until when; the others wait for it to lapse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update

from domain.events import JournalEvent
from store.db import Store, utc
from store.tables import JournalOutbox, OrderEvent, RelayLease

LEASE = "journal"  # the lease's row: one relay publishes the journal at a time


@dataclass(frozen=True)
class Due:
    """A record due, with its event as the journal holds it."""

    id: int
    appended_at: datetime
    event: JournalEvent


@dataclass(frozen=True)
class Backlog:
    due: int
    oldest: datetime | None  # when the oldest record due was appended


async def due(store: Store, limit: int) -> list[Due]:
    """The first `limit` records, in id order (an order's records follow its `seq`)."""
    async with store.read() as session:
        rows = await session.execute(
            select(
                JournalOutbox.id,
                JournalOutbox.created_at,
                OrderEvent.order_id,
                OrderEvent.seq,
                OrderEvent.type,
                OrderEvent.at,
                OrderEvent.actor,
                OrderEvent.reason,
                OrderEvent.data,
            )
            .join(
                OrderEvent,
                and_(
                    OrderEvent.order_id == JournalOutbox.order_id,
                    OrderEvent.seq == JournalOutbox.seq,
                ),
            )
            .order_by(JournalOutbox.id)
            .limit(limit)
        )
        return [
            Due(
                id=row.id,
                appended_at=utc(row.created_at),
                event=JournalEvent(
                    order_id=row.order_id,
                    seq=row.seq,
                    type=row.type,
                    at=utc(row.at),
                    actor=row.actor,
                    reason=row.reason,
                    data=row.data,
                ),
            )
            for row in rows
        ]


async def done(store: Store, ids: Sequence[int]) -> None:
    """Delete the records of events the broker acknowledged, in one transaction."""
    if not ids:
        return
    async with store.connection() as connection:
        await connection.execute(delete(JournalOutbox).where(JournalOutbox.id.in_(list(ids))))


async def backlog(store: Store) -> Backlog:
    async with store.read() as session:
        count = await session.scalar(select(func.count()).select_from(JournalOutbox))
        oldest = await session.scalar(
            select(JournalOutbox.created_at).order_by(JournalOutbox.id).limit(1)
        )
    return Backlog(due=count or 0, oldest=None if oldest is None else utc(oldest))


async def take_lease(store: Store, holder: str, seconds: float) -> bool:
    """Take the lease, or renew it, for `seconds` from now: one atomic UPDATE that succeeds
    only when it has lapsed or `holder` holds it. False: another relay holds it."""
    now = datetime.now(UTC)
    until = now + timedelta(seconds=seconds)
    async with store.connection() as connection:
        taken = await connection.execute(
            update(RelayLease)
            .where(RelayLease.name == LEASE)
            .where(or_(RelayLease.expires_at < now, RelayLease.holder == holder))
            .values(holder=holder, expires_at=until)
        )
        if taken.rowcount:
            return True
        # No row yet (a fresh store), or another relay's: the first insert wins.
        inserted = await connection.execute(
            Store.insert_once(store.dialect, RelayLease.__table__),
            {"name": LEASE, "holder": holder, "expires_at": until},
        )
        return inserted.first() is not None


async def release_lease(store: Store, holder: str) -> None:
    """Let the lease lapse now, when `holder` holds it, so a standby takes over at once."""
    async with store.connection() as connection:
        await connection.execute(
            update(RelayLease)
            .where(RelayLease.name == LEASE, RelayLease.holder == holder)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def lease_holder(store: Store) -> str | None:
    """Who holds the lease now, if anyone."""
    async with store.read() as session:
        lease = await session.get(RelayLease, LEASE)
    if lease is None or utc(lease.expires_at) < datetime.now(UTC):
        return None
    return lease.holder
