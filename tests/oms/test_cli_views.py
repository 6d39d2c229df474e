"""What the operator commands show of an order, and when they stop following one: a wait ends
when the order is at rest (ended, or waiting on a person or the calendar); `orders show`
reads the order's workflow, or says it shows the stored view; money given back and
cancelled shipments read as what they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from oms.client import OmsClient
from oms.commands import orders
from tests.helpers.order_input import placed
from tests.helpers.orders import (
    intervene,
    order_body,
    place,
    shipments_booked,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack, running_stack
from tests.oms.conftest import Oms

TWO_SHIPMENTS = [{"sku": "MUG-CERAMIC", "quantity": 2}, {"sku": "LAMP-DESK", "quantity": 1}]


@pytest.fixture(scope="module")
async def window_stack(temporal_env, tmp_path_factory) -> AsyncIterator[Stack]:  # noqa: ANN001
    """Delivered orders stay DELIVERED for an hour, as they do for 30 days by default; the
    carrier takes a second per event, so a hold lands before delivery."""
    url = f"sqlite:///{tmp_path_factory.mktemp('window') / 'oms.db'}"
    async with running_stack(
        temporal_env, url, carrier_delay_s=1.0, return_window_s=3600
    ) as running:
        yield running


def all_delivered(view: dict[str, Any]) -> bool:
    return all(line["buckets"]["delivered"] == line["quantity"] for line in view["lines"])


async def test_release_wait_returns_when_the_order_rests_in_its_return_window(
    window_stack: Stack, oms: Oms
) -> None:
    url = window_stack.base_url
    async with window_stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_until(http, order_id, shipments_booked)
        held = await oms(url, "hold", order_id, "--reason", "OTHER")
        assert held.code == 0, held.err

        # Held: at rest until someone releases it, so a watch returns at once.
        watched = await oms(url, "orders", "watch", order_id, "--timeout", "20")
        assert watched.code == 0, watched.err
        assert watched.out.splitlines()[-1] == (
            f"{order_id}  at rest: ON_HOLD, waiting for a release of its holds (OTHER)"
        )

        # The carrier delivers meanwhile; the finished step is no longer named.
        view = await wait_until(http, order_id, all_delivered)
        assert (view["status"], view["current_step"]) == ("ON_HOLD", None)

    released = await oms(url, "release", order_id, "--wait", "--interval", "0.1", "--timeout", "20")
    assert released.code == 0, released.err
    lines = released.out.splitlines()
    assert lines[0] == f"release: {order_id}  DELIVERED"  # no step: the flow has finished
    assert lines[-1].startswith(
        f"{order_id}  at rest: DELIVERED, waiting for the return window to close on "
    )
    async with window_stack.http() as http:
        view = (await http.get(f"/orders/{order_id}", params={"consistent": "true"})).json()
    assert view["return_window_closes_at"][:19] in lines[-1]


async def test_a_voided_remainder_and_a_cancelled_shipment_read_as_such(
    slow_stack: Stack, oms: Oms
) -> None:
    async with slow_stack.http() as http:
        order_id = (await place(http, order_body(lines=TWO_SHIPMENTS)))["order_id"]
        booked = await wait_until(http, order_id, shipments_booked)
        lamp = next(s for s in booked["shipments"] if s["lines"][0]["line_id"] == "ln_2")
        assert lamp["tracking_number"]
        await intervene(
            http,
            order_id,
            "cancel",
            {"reason": "INVENTORY", "lines": [{"line_id": "ln_2", "quantity": 1}]},
        )
        done = await wait_for_status(http, order_id, "COMPLETED")

    # 63.00 authorized, the mugs' 24.00 captured, the lamp's 39.00 given back by a void.
    totals = done["totals"]
    assert (totals["authorized_minor"], totals["captured_minor"]) == (6300, 2400)
    assert totals["voided_minor"] == 3900
    cancelled = next(s for s in done["shipments"] if s["shipment_id"] == lamp["shipment_id"])
    assert cancelled["status"] == "CANCELLED"
    assert (cancelled["tracking_number"], cancelled["lines"]) == (None, [])
    assert done["current_step"] is None

    shown = await oms(slow_stack.base_url, "orders", "show", order_id)
    assert shown.code == 0, shown.err
    assert "payment      authorized 63.00, captured 24.00, voided 39.00, refunded 0.00" in shown.out
    row = next(line for line in shown.out.splitlines() if line.startswith(lamp["shipment_id"]))
    assert row.split()[2:] == ["CANCELLED", "-"]  # no tracking, no line of 0 units


async def test_a_declined_order_shows_why_and_that_nothing_was_charged(
    stack: Stack, oms: Oms
) -> None:
    async with stack.http() as http:
        order_id = (await place(http, order_body("tok_unknown_xyz")))["order_id"]
        await wait_for_status(http, order_id, "CANCELLED")
    shown = await oms(stack.base_url, "orders", "show", order_id)
    assert shown.code == 0, shown.err
    assert "financial    NOT_CHARGED" in shown.out
    assert "cancelled    PAYMENT_DECLINED: " in shown.out
    assert "unknown test token tok_unknown_xyz" in shown.out
    watched = await oms(stack.base_url, "orders", "watch", order_id)
    assert watched.out.splitlines()[-1] == f"{order_id}  ended: CANCELLED (PAYMENT_DECLINED)"


def stored_only(live: Exception | httpx.Response) -> httpx.MockTransport:
    """An API whose live reads fail as `live` does, and whose stored view answers."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("consistent") == "true":
            if isinstance(live, Exception):
                raise live
            return live
        view = placed().view().model_dump(mode="json") | {"status": "SHIPPED"}
        return httpx.Response(
            200, json=view, headers={"X-Read-Model": "projection", "X-Journal-Seq": "7"}
        )

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("live", "why"),
    [
        (
            httpx.Response(503, json={"detail": "Temporal is unavailable right now"}),
            "503 Temporal is unavailable right now",
        ),
        (httpx.ReadTimeout("slow"), "no answer within 10s"),
    ],
)
def test_show_labels_the_stored_view_when_the_workflow_does_not_answer(
    live: Exception | httpx.Response, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = OmsClient("http://oms.test", transport=stored_only(live))
    assert orders.show(client, SimpleNamespace(order_id="ord_1", json=False, diagram=False)) == 0
    out = capsys.readouterr().out
    assert (
        "view         stored (the read model, as of journal event 7); "
        f"the workflow did not answer: {why}"
    ) in out
    assert "status       SHIPPED" in out

    assert orders.show(client, SimpleNamespace(order_id="ord_1", json=True, diagram=False)) == 0
    printed = capsys.readouterr()
    assert '"status": "SHIPPED"' in printed.out
    assert printed.err.startswith("oms: showing the stored (the read model, as of journal event 7)")
