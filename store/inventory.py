"""Stock reservations per warehouse, idempotent by reservation id. Stock never goes
negative: every decrement is a conditional UPDATE (`available >= n`) inside one
transaction, so two orders racing for the last unit cannot both win."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.shipments import AllocatedLine, Allocation
from store.db import Store
from store.tables import (
    CatalogItem,
    Reservation,
    ReservationRelease,
    Restock,
    StockLevel,
    Warehouse,
)


class OutOfStock(Exception):
    def __init__(self, shortages: dict[str, int]) -> None:
        self.shortages = shortages
        detail = ", ".join(f"{sku} short by {n}" for sku, n in sorted(shortages.items()))
        super().__init__(f"not enough stock: {detail}")


class UnknownStock(Exception):
    """A restock names a SKU or a location the catalog does not know."""


class _Raced(Exception):
    """Stock moved between planning and reserving; plan again."""


def plan_allocations(
    lines: list[AllocatedLine], stock: dict[tuple[str, str], int], warehouses: list[str]
) -> dict[str, list[AllocatedLine]]:
    """Fewest shipments first: one warehouse for everything if one can, else line by line
    from the warehouses in priority order, splitting a line only when no warehouse has it all."""
    # Sum per SKU: several lines of one SKU must fit together, not each on its own.
    wanted = _per_sku(lines)
    for warehouse in warehouses:
        if all(stock.get((sku, warehouse), 0) >= n for sku, n in wanted.items()):
            return {warehouse: list(lines)}
    plan: dict[str, list[AllocatedLine]] = {}
    left = dict(stock)
    shortages: dict[str, int] = {}
    for line in lines:
        whole = next((w for w in warehouses if left.get((line.sku, w), 0) >= line.quantity), None)
        takes = [(whole, line.quantity)] if whole else []
        if not whole:
            needed = line.quantity
            for warehouse in warehouses:
                take = min(needed, left.get((line.sku, warehouse), 0))
                if take:
                    takes.append((warehouse, take))
                    needed -= take
            if needed:
                shortages[line.sku] = shortages.get(line.sku, 0) + needed
                continue
        for warehouse, take in takes:
            left[(line.sku, warehouse)] -= take
            plan.setdefault(warehouse, []).append(
                AllocatedLine(line_id=line.line_id, sku=line.sku, quantity=take)
            )
    if shortages:
        raise OutOfStock(shortages)
    return plan


async def reserve(
    store: Store,
    order_id: str,
    reservation_id: str,
    lines: list[AllocatedLine],
    *,
    location_kind: str = "warehouse",
) -> list[Allocation]:
    """Reserve every line or nothing, from locations of `location_kind` only (warehouses
    ship; stores hold pickups). Asking again with the same id returns the same allocations
    without touching stock."""
    for _ in range(5):
        try:
            return await _reserve_once(
                store, order_id, reservation_id, lines, location_kind=location_kind
            )
        except (_Raced, IntegrityError):
            continue
    raise RuntimeError(f"reservation {reservation_id}: stock kept moving; try again")


async def _reserve_once(
    store: Store,
    order_id: str,
    reservation_id: str,
    lines: list[AllocatedLine],
    *,
    location_kind: str = "warehouse",
) -> list[Allocation]:
    skus = {line.sku for line in lines}
    # Core statements on a bare connection: a reservation is in every order's path, and the
    # ORM session's unit of work cost more than its statements (`make bench`).
    async with store.connection() as connection:
        # Read in the write transaction: on SQLite a read session of its own was a round of
        # thread hops through aiosqlite, for every reservation (`make bench`).
        existing = await _reserved(connection, reservation_id, lines)
        if existing is not None:
            return existing
        warehouses = list(
            (
                await connection.scalars(
                    select(Warehouse.code)
                    .where(Warehouse.kind == location_kind)
                    .order_by(Warehouse.priority)
                )
            ).all()
        )
        levels = await connection.execute(
            select(StockLevel.sku, StockLevel.warehouse, StockLevel.available).where(
                StockLevel.sku.in_(skus), StockLevel.warehouse.in_(warehouses)
            )
        )
        stock = {(sku, warehouse): available for sku, warehouse, available in levels}
        plan = plan_allocations(lines, stock, warehouses)
        now = datetime.now(UTC)
        rows = []
        for warehouse, items in plan.items():
            for item in items:
                taken = await connection.execute(
                    update(StockLevel)
                    .where(
                        StockLevel.sku == item.sku,
                        StockLevel.warehouse == warehouse,
                        StockLevel.available >= item.quantity,
                    )
                    .values(available=StockLevel.available - item.quantity)
                )
                if taken.rowcount != 1:
                    raise _Raced()
            rows += [
                {
                    "reservation_id": reservation_id,
                    "sku": sku,
                    "warehouse": warehouse,
                    "order_id": order_id,
                    "quantity": quantity,
                    "released": 0,
                    "created_at": now,
                }
                for sku, quantity in _per_sku(items).items()
            ]
        await connection.execute(insert(Reservation), rows)
    return [
        Allocation(reservation_id=reservation_id, warehouse=warehouse, lines=items)
        for warehouse, items in plan.items()
    ]


def _per_sku(items: list[AllocatedLine]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in items:
        totals[item.sku] = totals.get(item.sku, 0) + item.quantity
    return totals


async def _reserved(
    connection: AsyncConnection, reservation_id: str, lines: list[AllocatedLine]
) -> list[Allocation] | None:
    """The allocations an earlier call made under this id, or None."""
    rows = (
        await connection.execute(
            select(Reservation.sku, Reservation.warehouse, Reservation.quantity).where(
                Reservation.reservation_id == reservation_id
            )
        )
    ).all()
    if not rows:
        return None
    warehouses = list(
        (await connection.scalars(select(Warehouse.code).order_by(Warehouse.priority))).all()
    )
    # Planning the same lines over exactly the reserved quantities reproduces the first
    # plan's line-to-warehouse split; the rows alone only keep totals per SKU and warehouse.
    held = {(sku, warehouse): quantity for sku, warehouse, quantity in rows}
    plan = plan_allocations(lines, held, warehouses)
    return [
        Allocation(reservation_id=reservation_id, warehouse=warehouse, lines=items)
        for warehouse, items in plan.items()
    ]


async def release(store: Store, reservation_id: str, warehouse: str | None = None) -> int:
    """Give back every unit the reservation still holds (in one warehouse, or all).
    A repeated release finds nothing held and changes nothing. Returns units given back."""
    given = 0
    async with store.transaction() as session:
        query = select(Reservation).where(Reservation.reservation_id == reservation_id)
        if warehouse is not None:
            query = query.where(Reservation.warehouse == warehouse)
        for row in (await session.scalars(query)).all():
            given += await _give_back(session, row, row.quantity)
    return given


async def release_units(
    store: Store, release_id: str, reservation_id: str, warehouse: str, items: list[AllocatedLine]
) -> bool:
    """Give back some units of a reservation (a cancelled line). Keyed by `release_id`:
    a retry finds its release recorded and changes nothing. False when it was a retry."""
    async with store.transaction() as session:
        if await session.get(ReservationRelease, release_id) is not None:
            return False
        session.add(
            ReservationRelease(
                release_id=release_id,
                reservation_id=reservation_id,
                warehouse=warehouse,
                items={"lines": [item.model_dump() for item in items]},
                created_at=datetime.now(UTC),
            )
        )
        for sku, quantity in _per_sku(items).items():
            row = await session.get(Reservation, (reservation_id, sku, warehouse))
            if row is not None:
                await _give_back(session, row, quantity)
    return True


async def _give_back(session: AsyncSession, row: Reservation, quantity: int) -> int:
    """Return up to `quantity` units the reservation still holds to the shelf; capped, so a
    unit is never given back twice."""
    give_back = min(quantity, row.quantity - row.released)
    if give_back <= 0:
        return 0
    row.released += give_back
    await session.execute(
        update(StockLevel)
        .where(StockLevel.sku == row.sku, StockLevel.warehouse == row.warehouse)
        .values(available=StockLevel.available + give_back)
    )
    return give_back


async def restock(store: Store, restock_id: str, warehouse: str, lines: list[AllocatedLine]) -> int:
    """Put returned resellable units back on sale in `warehouse`; keyed by `restock_id`, so a
    retry adds nothing. Digital SKUs have no stock rows and are passed over. Units added."""
    wanted = {sku: n for sku, n in _per_sku(lines).items() if n > 0}
    async with store.transaction() as session:
        # The key first: of two concurrent retries one inserts, the other then finds it.
        recorded = await session.scalar(
            store.insert(Restock)
            .values(
                restock_id=restock_id,
                warehouse=warehouse,
                items={"lines": [line.model_dump() for line in lines]},
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
            .returning(Restock.restock_id)
        )
        if recorded is None:
            return 0
        kinds = dict(
            (
                await session.execute(
                    select(CatalogItem.sku, CatalogItem.kind).where(CatalogItem.sku.in_(wanted))
                )
            ).all()
        )
        # Raising rolls the recorded key back too, so a corrected retry can still run.
        if unknown := sorted(set(wanted) - set(kinds)):
            raise UnknownStock(f"restock {restock_id}: unknown SKUs {', '.join(unknown)}")
        if await session.get(Warehouse, warehouse) is None:
            raise UnknownStock(f"restock {restock_id}: unknown location {warehouse}")
        added = 0
        for sku, quantity in wanted.items():
            if kinds[sku] == "digital":
                continue
            upsert = store.insert(StockLevel).values(
                sku=sku, warehouse=warehouse, available=quantity
            )
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[StockLevel.sku, StockLevel.warehouse],
                    set_={"available": StockLevel.available + upsert.excluded.available},
                )
            )
            added += quantity
    return added


async def available(store: Store, sku: str) -> dict[str, int]:
    async with store.read() as session:
        rows = await session.scalars(select(StockLevel).where(StockLevel.sku == sku))
        return {row.warehouse: row.available for row in rows}
