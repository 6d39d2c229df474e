"""Stock reservations on both backends: allocation, idempotency, release and races."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from domain.shipments import AllocatedLine, Allocation
from store import inventory
from store.db import Store
from store.inventory import OutOfStock, plan_allocations
from store.tables import Reservation
from tests.store.conftest import MakeSku


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def line(line_id: str, sku: str, quantity: int) -> AllocatedLine:
    return AllocatedLine(line_id=line_id, sku=sku, quantity=quantity)


def by_warehouse(allocations: list[Allocation]) -> dict[str, list[tuple[str, str, int]]]:
    return {
        a.warehouse: [(item.line_id, item.sku, item.quantity) for item in a.lines]
        for a in allocations
    }


async def reservation_rows(store: Store, reservation_id: str) -> list[Reservation]:
    async with store.read() as session:
        rows = await session.scalars(
            select(Reservation).where(Reservation.reservation_id == reservation_id)
        )
        return list(rows)


# -- plan_allocations (pure) ------------------------------------------------------------------


def test_plan_prefers_one_warehouse_in_priority_order() -> None:
    lines = [line("l1", "A", 2), line("l2", "B", 1)]
    stock = {("A", "EWR"): 2, ("B", "EWR"): 1, ("A", "LAX"): 9, ("B", "LAX"): 9}
    assert plan_allocations(lines, stock, ["EWR", "LAX"]) == {"EWR": lines}
    # The priority list decides, not the size of the stock.
    assert plan_allocations(lines, stock, ["LAX", "EWR"]) == {"LAX": lines}


def test_plan_keeps_lines_whole_and_splits_only_what_no_warehouse_holds() -> None:
    lines = [line("l1", "A", 1), line("l2", "B", 3)]
    stock = {("A", "EWR"): 5, ("B", "EWR"): 2, ("B", "LAX"): 1}
    assert plan_allocations(lines, stock, ["EWR", "LAX"]) == {
        "EWR": [line("l1", "A", 1), line("l2", "B", 2)],
        "LAX": [line("l2", "B", 1)],
    }


def test_plan_counts_lines_of_the_same_sku_together() -> None:
    # Two lines of one SKU: EWR holds each line but not both.
    lines = [line("l1", "A", 2), line("l2", "A", 1)]
    stock = {("A", "EWR"): 2, ("A", "LAX"): 1}
    plan = plan_allocations(lines, stock, ["EWR", "LAX"])
    assert plan == {"EWR": [line("l1", "A", 2)], "LAX": [line("l2", "A", 1)]}


def test_plan_reports_every_shortage_and_leaves_stock_untouched() -> None:
    lines = [line("l1", "A", 4), line("l2", "B", 1), line("l3", "C", 1)]
    stock = {("A", "EWR"): 1, ("A", "LAX"): 2, ("C", "LAX"): 1}
    before = dict(stock)
    with pytest.raises(OutOfStock) as raised:
        plan_allocations(lines, stock, ["EWR", "LAX"])
    assert raised.value.shortages == {"A": 1, "B": 1}
    assert stock == before


# -- reserve / release ------------------------------------------------------------------------


async def test_reserve_takes_everything_from_one_warehouse_when_it_can(
    any_store: Store, make_sku: MakeSku
) -> None:
    a = await make_sku({"EWR": 5, "LAX": 5})
    b = await make_sku({"EWR": 1, "LAX": 5})
    rid = uid("res")
    allocations = await inventory.reserve(
        any_store, uid("ord"), rid, [line("l1", a, 3), line("l2", b, 1)]
    )
    assert allocations == [
        Allocation(reservation_id=rid, warehouse="EWR", lines=[line("l1", a, 3), line("l2", b, 1)])
    ]
    assert await inventory.available(any_store, a) == {"EWR": 2, "LAX": 5}
    assert await inventory.available(any_store, b) == {"EWR": 0, "LAX": 5}


async def test_reserve_splits_across_warehouses_for_seeded_mug_and_lamp(any_store: Store) -> None:
    # MUG-CERAMIC is stocked only in EWR, LAMP-DESK only in LAX.
    rid = uid("res")
    lines = [line("l1", "MUG-CERAMIC", 1), line("l2", "LAMP-DESK", 2)]
    allocations = await inventory.reserve(any_store, uid("ord"), rid, lines)
    try:
        assert by_warehouse(allocations) == {
            "EWR": [("l1", "MUG-CERAMIC", 1)],
            "LAX": [("l2", "LAMP-DESK", 2)],
        }
        rows = await reservation_rows(any_store, rid)
        assert sorted((r.sku, r.warehouse, r.quantity) for r in rows) == [
            ("LAMP-DESK", "LAX", 2),
            ("MUG-CERAMIC", "EWR", 1),
        ]
    finally:
        assert await inventory.release(any_store, rid) == 3


async def test_reserve_split_takes_stock_from_both_warehouses(
    any_store: Store, make_sku: MakeSku
) -> None:
    mug = await make_sku({"EWR": 4})
    lamp = await make_sku({"LAX": 4})
    allocations = await inventory.reserve(
        any_store, uid("ord"), uid("res"), [line("l1", mug, 1), line("l2", lamp, 2)]
    )
    assert len(allocations) == 2
    assert by_warehouse(allocations) == {"EWR": [("l1", mug, 1)], "LAX": [("l2", lamp, 2)]}
    assert await inventory.available(any_store, mug) == {"EWR": 3}
    assert await inventory.available(any_store, lamp) == {"LAX": 2}


async def test_a_line_bigger_than_any_warehouse_splits(any_store: Store, make_sku: MakeSku) -> None:
    # Shaped like POSTER-LTD: EWR 2, LAX 1.
    poster = await make_sku({"EWR": 2, "LAX": 1})
    allocations = await inventory.reserve(
        any_store, uid("ord"), uid("res"), [line("l1", poster, 3)]
    )
    assert by_warehouse(allocations) == {"EWR": [("l1", poster, 2)], "LAX": [("l1", poster, 1)]}
    assert await inventory.available(any_store, poster) == {"EWR": 0, "LAX": 0}


async def test_reserving_again_with_the_same_id_takes_stock_once(
    any_store: Store, make_sku: MakeSku
) -> None:
    poster = await make_sku({"EWR": 2, "LAX": 5})
    other = await make_sku({"EWR": 5, "LAX": 5})
    order_id, rid = uid("ord"), uid("res")
    lines = [line("l1", poster, 3), line("l2", other, 1)]
    first = await inventory.reserve(any_store, order_id, rid, lines)
    after_first = (
        await inventory.available(any_store, poster),
        await inventory.available(any_store, other),
    )
    second = await inventory.reserve(any_store, order_id, rid, lines)
    assert second == first
    assert (
        await inventory.available(any_store, poster),
        await inventory.available(any_store, other),
    ) == after_first
    assert after_first == ({"EWR": 2, "LAX": 2}, {"EWR": 5, "LAX": 4})


async def test_replayed_split_reservation_rebuilds_the_same_lines(
    any_store: Store, make_sku: MakeSku
) -> None:
    # Two lines of one SKU end up in different warehouses; a retry must report the
    # same line-to-warehouse split, since each allocation becomes a shipment.
    sku = await make_sku({"EWR": 1, "LAX": 3})
    order_id, rid = uid("ord"), uid("res")
    lines = [line("l1", sku, 3), line("l2", sku, 1)]
    first = await inventory.reserve(any_store, order_id, rid, lines)
    assert by_warehouse(first) == {"LAX": [("l1", sku, 3)], "EWR": [("l2", sku, 1)]}
    assert await inventory.reserve(any_store, order_id, rid, lines) == first


async def test_concurrent_reserves_with_the_same_id_take_stock_once(
    any_store: Store, make_sku: MakeSku
) -> None:
    sku = await make_sku({"EWR": 10})
    order_id, rid = uid("ord"), uid("res")
    results = await asyncio.gather(
        *(inventory.reserve(any_store, order_id, rid, [line("l1", sku, 2)]) for _ in range(5))
    )
    assert all(result == results[0] for result in results)
    assert await inventory.available(any_store, sku) == {"EWR": 8}


async def test_out_of_stock_names_the_sku_and_changes_nothing(
    any_store: Store, make_sku: MakeSku
) -> None:
    plenty = await make_sku({"EWR": 5, "LAX": 5})
    scarce = await make_sku({"EWR": 1, "LAX": 1})
    rid = uid("res")
    with pytest.raises(OutOfStock) as raised:
        await inventory.reserve(
            any_store, uid("ord"), rid, [line("l1", plenty, 2), line("l2", scarce, 3)]
        )
    assert raised.value.shortages == {scarce: 1}
    assert scarce in str(raised.value)
    # All or nothing: the line that could be served took nothing either.
    assert await inventory.available(any_store, plenty) == {"EWR": 5, "LAX": 5}
    assert await inventory.available(any_store, scarce) == {"EWR": 1, "LAX": 1}
    assert await reservation_rows(any_store, rid) == []


async def test_release_gives_back_exactly_what_was_reserved_once(
    any_store: Store, make_sku: MakeSku
) -> None:
    poster = await make_sku({"EWR": 2, "LAX": 1})
    bystander = await make_sku({"EWR": 3, "LAX": 3})
    rid = uid("res")
    await inventory.reserve(any_store, uid("ord"), rid, [line("l1", poster, 3)])
    assert await inventory.available(any_store, poster) == {"EWR": 0, "LAX": 0}

    assert await inventory.release(any_store, rid) == 3
    assert await inventory.available(any_store, poster) == {"EWR": 2, "LAX": 1}

    assert await inventory.release(any_store, rid) == 0
    assert await inventory.available(any_store, poster) == {"EWR": 2, "LAX": 1}
    assert await inventory.available(any_store, bystander) == {"EWR": 3, "LAX": 3}
    assert all(r.released == r.quantity for r in await reservation_rows(any_store, rid))


async def test_release_of_one_warehouse_leaves_the_other_held(
    any_store: Store, make_sku: MakeSku
) -> None:
    poster = await make_sku({"EWR": 2, "LAX": 1})
    rid = uid("res")
    await inventory.reserve(any_store, uid("ord"), rid, [line("l1", poster, 3)])

    assert await inventory.release(any_store, rid, "LAX") == 1
    assert await inventory.available(any_store, poster) == {"EWR": 0, "LAX": 1}
    assert await inventory.release(any_store, rid, "LAX") == 0

    assert await inventory.release(any_store, rid) == 2
    assert await inventory.available(any_store, poster) == {"EWR": 2, "LAX": 1}


async def test_release_of_an_unknown_reservation_changes_nothing(
    any_store: Store, make_sku: MakeSku
) -> None:
    sku = await make_sku({"EWR": 1})
    assert await inventory.release(any_store, uid("res")) == 0
    assert await inventory.available(any_store, sku) == {"EWR": 1}


async def test_concurrent_reserves_never_oversell(any_store: Store, make_sku: MakeSku) -> None:
    sku = await make_sku({"EWR": 3, "LAX": 2})
    order_id = uid("ord")
    rids = [uid("res") for _ in range(20)]
    results = await asyncio.gather(
        *(inventory.reserve(any_store, order_id, rid, [line("l1", sku, 1)]) for rid in rids),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 5, results
    assert len(lost) == 15
    assert all(isinstance(e, OutOfStock) and e.shortages == {sku: 1} for e in lost), lost
    assert await inventory.available(any_store, sku) == {"EWR": 0, "LAX": 0}

    # Every unit that left the shelf is accounted for by exactly one reservation.
    held = [row for rid in rids for row in await reservation_rows(any_store, rid)]
    assert sorted((r.warehouse, r.quantity) for r in held) == [("EWR", 1)] * 3 + [("LAX", 1)] * 2
    assert sum(item.quantity for alloc in won for a in alloc for item in a.lines) == 5
