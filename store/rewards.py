"""The loyalty ledger: points per order line, pending until the order's return window
closes, then granted. Every entry is written once per key, so a retried award is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import Table, func, select, update

from domain.rewards import CustomerRewards, RewardEntry
from store.db import Store, utc
from store.tables import RewardEntryRecord

EntryKind = Literal["awarded", "clawed_back"]
ENTRIES = cast(Table, RewardEntryRecord.__table__)

ENTRIES_SHOWN = 500


async def add_entry(
    store: Store,
    *,
    key: str,
    customer_id: str,
    order_id: str,
    line_id: str | None,
    kind: EntryKind,
    points: int,
) -> int:
    """Write a pending entry once per key; a claw-back's points are given positive and stored
    negative. Returns the entry's stored points (negative for a claw-back), the first
    entry's when the key was written before."""
    if kind not in ("awarded", "clawed_back"):
        raise ValueError(f"reward entry {key}: kind {kind!r}")
    if points < 0:
        raise ValueError(f"reward entry {key}: points are given positive, got {points}")
    signed = -points if kind == "clawed_back" else points
    row = {
        "key": key,
        "customer_id": customer_id,
        "order_id": order_id,
        "line_id": line_id,
        "kind": kind,
        "points": signed,
        "status": "pending",
        "created_at": datetime.now(UTC),
    }
    async with store.connection() as connection:
        written = await connection.execute(Store.insert_once(store.dialect, ENTRIES), row)
        if written.first() is not None:
            return signed
        stored = await connection.scalar(
            select(RewardEntryRecord.points).where(RewardEntryRecord.key == key)
        )
    return stored or 0  # the row is there: written before


async def grant(store: Store, order_id: str) -> int:
    """Grant every pending entry of the order. Returns the net points this call granted:
    0 when called again, since only pending rows change."""
    async with store.connection() as connection:
        granted = await connection.scalars(
            update(RewardEntryRecord)
            .where(RewardEntryRecord.order_id == order_id, RewardEntryRecord.status == "pending")
            .values(status="granted", granted_at=datetime.now(UTC))
            .returning(RewardEntryRecord.points)
        )
        return sum(granted.all())


async def customer_rewards(store: Store, customer_id: str) -> CustomerRewards:
    """The customer's balance (granted) and what is still pending, with the newest entries."""
    async with store.read() as session:
        totals = dict(
            (
                await session.execute(
                    select(RewardEntryRecord.status, func.sum(RewardEntryRecord.points))
                    .where(RewardEntryRecord.customer_id == customer_id)
                    .group_by(RewardEntryRecord.status)
                )
            ).all()
        )
        rows = await session.scalars(
            select(RewardEntryRecord)
            .where(RewardEntryRecord.customer_id == customer_id)
            .order_by(RewardEntryRecord.created_at.desc(), RewardEntryRecord.key.desc())
            .limit(ENTRIES_SHOWN)
        )
        entries = [_entry(row) for row in rows]
    return CustomerRewards(
        customer_id=customer_id,
        granted_points=int(totals.get("granted") or 0),
        pending_points=int(totals.get("pending") or 0),
        entries=entries,
    )


async def order_points(store: Store, order_id: str) -> dict[str, int]:
    """Net points of one order by status: {"pending": n, "granted": n}."""
    async with store.read() as session:
        totals = dict(
            (
                await session.execute(
                    select(RewardEntryRecord.status, func.sum(RewardEntryRecord.points))
                    .where(RewardEntryRecord.order_id == order_id)
                    .group_by(RewardEntryRecord.status)
                )
            ).all()
        )
    return {status: int(totals.get(status) or 0) for status in ("pending", "granted")}


def _entry(row: RewardEntryRecord) -> RewardEntry:
    return RewardEntry(
        key=row.key,
        order_id=row.order_id,
        line_id=row.line_id,
        kind=row.kind,  # type: ignore[arg-type]  # the column holds only these two
        points=row.points,
        status=row.status,  # type: ignore[arg-type]
        created_at=utc(row.created_at),
        granted_at=utc(row.granted_at) if row.granted_at else None,
    )
