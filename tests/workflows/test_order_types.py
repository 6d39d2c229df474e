"""Each built-in order type end to end over the API."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from store import inventory, notifications
from store.tables import CatalogItem
from tests.helpers.orders import (
    add_released_item,
    events,
    intervene,
    journal_types,
    order_body,
    place,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack

TERMINAL = ("COMPLETED", "CANCELLED", "FAILED")


def typed(order_type: str, token: str = "tok_visa", lines=None) -> dict:  # noqa: ANN001
    return order_body(token, lines) | {"order_type": order_type}


async def test_digital_order_captures_at_once_and_issues_a_key_per_unit(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(
            http, typed("digital", lines=[{"sku": "EBOOK-TEMPORAL", "quantity": 2}])
        )
        assert placed["flow"]["type"] == "digital"
        done = await wait_for_status(http, placed["order_id"], *TERMINAL)
        types = await journal_types(http, placed["order_id"])
    assert done["status"] == "COMPLETED", done
    assert done["shipments"] == []
    assert len(done["licenses"]) == 2 and len({lic["key"] for lic in done["licenses"]}) == 2
    assert done["lines"][0]["buckets"]["delivered"] == 2
    ledger = await stack.gateway.ledger(placed["order_id"])
    assert [(op.kind, op.amount_minor) for op in ledger if op.kind == "capture"] == [
        ("capture", 2 * 2900)
    ]
    assert "LicensesIssued" in types and "ShipmentCreated" not in types


async def test_warranty_add_on_runs_the_digital_steps_for_its_line_only(stack: Stack) -> None:
    lines = [{"sku": "TSHIRT-BLK-M", "quantity": 1}, {"sku": "WARRANTY-2Y", "quantity": 1}]
    async with stack.http() as http:
        placed = await place(http, typed("standard", lines=lines))
        done = await wait_for_status(http, placed["order_id"], *TERMINAL)
    assert done["status"] == "COMPLETED", done
    assert [lic["line_id"] for lic in done["licenses"]] == ["ln_2"]
    assert len(done["shipments"]) == 1
    assert [item["line_id"] for item in done["shipments"][0]["lines"]] == ["ln_1"]
    ledger = await stack.gateway.ledger(placed["order_id"])
    assert sorted(op.amount_minor for op in ledger if op.kind == "capture") == [1500, 1900]


async def test_digital_flow_refuses_physical_goods(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, typed("digital", lines=[{"sku": "MUG-CERAMIC", "quantity": 1}]))
        done = await wait_for_status(http, placed["order_id"], *TERMINAL)
    assert done["status"] == "FAILED"
    assert "cannot be delivered by the digital flow" in done["failure"]


async def test_high_value_order_waits_for_approval_before_money_moves(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(
            http, typed("high_value", lines=[{"sku": "HEADPHONES-BT", "quantity": 3}])
        )
        order_id = placed["order_id"]
        view = await wait_until(http, order_id, lambda v: v["status"] == "NEEDS_REVIEW")
        assert view["review"]["kind"] == "approval"
        assert view["review"]["step"] == "manual_approval"
        ledger = await stack.gateway.ledger(order_id)
        assert [op.kind for op in ledger] == ["authorize"]  # nothing captured before approval
        await intervene(http, order_id, "review", {"decision": "approve", "note": "checked ID"})
        done = await wait_for_status(http, order_id, *TERMINAL)
        types = await journal_types(http, order_id)
    assert done["status"] == "COMPLETED"
    assert "StepFailed" not in types  # an approval is not a failure


async def test_pickup_order_is_captured_when_collected(stack: Stack) -> None:
    before = await inventory.available(stack.store, "TSHIRT-BLK-M")
    async with stack.http() as http:
        placed = await place(http, typed("pickup", lines=[{"sku": "TSHIRT-BLK-M", "quantity": 2}]))
        order_id = placed["order_id"]
        view = await wait_until(http, order_id, lambda v: v["current_step"] == "await_pickup")
        assert view["status"] == "FULFILLING" and view["totals"]["captured_minor"] == 0
        held = await inventory.available(stack.store, "TSHIRT-BLK-M")
        assert held["NYC-SOHO"] == before["NYC-SOHO"] - 2 and held["EWR"] == before["EWR"]
        sent = await notifications.for_order(stack.store, order_id)
        assert [n.kind for n in sent] == ["ready_for_pickup"]
        await intervene(http, order_id, "pickup", {"picked_up_by": "Alice, ID checked"})
        await intervene(http, order_id, "pickup", {}, expect=409)
        done = await wait_for_status(http, order_id, *TERMINAL)
    assert done["status"] == "COMPLETED"
    assert done["picked_up_by"] == "Alice, ID checked"
    assert done["totals"]["captured_minor"] == 2 * 1900
    assert done["lines"][0]["buckets"]["delivered"] == 2
    sent = await notifications.for_order(stack.store, order_id)
    assert [n.kind for n in sent] == ["ready_for_pickup", "order_completed"]


async def test_pickup_not_collected_within_the_window_is_cancelled_and_restocked(
    temporal_env,
    tmp_path,  # noqa: ANN001
) -> None:
    from tests.helpers.stack import running_stack

    url = f"sqlite:///{tmp_path / 'oms.db'}"
    async with running_stack(temporal_env, url, pickup_window_s=2) as short:
        before = await inventory.available(short.store, "MUG-CERAMIC")
        async with short.http() as http:
            placed = await place(
                http, typed("pickup", lines=[{"sku": "MUG-CERAMIC", "quantity": 1}])
            )
            done = await wait_for_status(http, placed["order_id"], *TERMINAL, timeout=30)
        assert done["status"] == "CANCELLED"
        assert done["financial_status"] == "VOIDED"
        assert await inventory.available(short.store, "MUG-CERAMIC") == before


async def test_preorder_of_a_released_item_authorizes_then_ships(stack: Stack) -> None:
    sku = await add_released_item(stack.store)
    async with stack.http() as http:
        placed = await place(http, typed("preorder", lines=[{"sku": sku, "quantity": 1}]))
        done = await wait_for_status(http, placed["order_id"], *TERMINAL)
        journal = await events(http, placed["order_id"])
    assert done["status"] == "COMPLETED"
    types = [e["type"] for e in journal]
    assert (
        types.index("PaymentAuthorized")
        < types.index("ReleaseDateReached")
        < types.index("InventoryReserved")
    )


async def test_catalog_knows_the_preorder_release_date(stack: Stack) -> None:
    async with stack.store.read() as session:
        item = await session.scalar(select(CatalogItem).where(CatalogItem.sku == "CONSOLE-NEXT"))
    assert item is not None and item.release_date > datetime.now(UTC).date()
