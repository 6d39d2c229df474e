"""Fragments through /flows: registered like order types, listed with their kind, included by
order types, expanded when an order starts (so a later fragment version changes no order
placed before it), and refused when they would break an order type that includes them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers.orders import (
    events,
    intervene,
    order_body,
    place,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack

PAYMENT = [
    {"step": "check_fraud", "on_failure": "compensate"},
    {"step": "authorize_payment", "on_failure": "compensate"},
]


def new_type(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def including(flow_type: str, fragment: str, **include: Any) -> dict[str, Any]:
    return {
        "type": flow_type,
        "steps": [
            {"step": "validate_order", "on_failure": "fail"},
            {"step": "reserve_inventory", "on_failure": "review"},
            {"id": "pay", "flow": fragment, **include},
            {"step": "fulfill_shipments", "on_failure": "review"},
        ],
    }


async def register(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post("/flows", json=body)


async def order_flow(stack: Stack, http: httpx.AsyncClient, order_type: str) -> dict[str, Any]:
    """Place an order and read the flow snapshot in its workflow input."""
    placed = await http.post(
        "/orders",
        json=order_body() | {"order_type": order_type},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    handle = stack.client.get_workflow_handle(f"order-{placed.json()['order_id']}")
    history = await handle.fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    (order_input,) = await stack.client.data_converter.decode(list(payloads))
    return order_input["flow"]


async def test_an_order_keeps_the_fragment_version_it_started_with(stack: Stack) -> None:
    fragment, order_type = new_type("pay"), new_type("t")
    async with stack.http() as http:
        first = await register(http, {"type": fragment, "kind": "fragment", "steps": PAYMENT})
        assert first.status_code == 201, first.text
        assert (first.json()["version"], first.json()["kind"]) == (1, "fragment")
        created = await register(http, including(order_type, fragment))
        assert created.status_code == 201, created.text
        # The registry keeps the include as written: its latest version is read at start.
        assert created.json()["steps"][2] == {
            "id": "pay",
            "flow": fragment,
            "on_failure": "fail",
            "backtrackable": True,
            "outputs": {},
        }
        before = await order_flow(stack, http, order_type)

        approval = {"step": "manual_approval", "on_failure": "review"}
        second = await register(
            http, {"type": fragment, "kind": "fragment", "steps": [*PAYMENT, approval]}
        )
        assert second.status_code == 201, second.text
        assert second.json()["version"] == 2
        after = await order_flow(stack, http, order_type)
        listed = (await http.get("/flows")).json()["data"]

    def ids(flow: dict[str, Any]) -> list[str]:
        return [step["id"] or step["step"] for step in flow["steps"]]

    assert ids(before) == [
        "validate_order",
        "reserve_inventory",
        "pay.check_fraud",
        "pay.authorize_payment",
        "fulfill_shipments",
    ]
    assert ids(after) == [*ids(before)[:4], "pay.manual_approval", "fulfill_shipments"]
    assert before["fragments"] == {"pay": {"type": fragment, "version": 1}}
    assert after["fragments"] == {"pay": {"type": fragment, "version": 2}}
    assert [step["fragment"] for step in after["steps"]] == [None, None, "pay", "pay", "pay", None]
    kinds = {flow["type"]: flow["kind"] for flow in listed}
    assert (kinds[fragment], kinds[order_type], kinds["standard"]) == ("fragment", "order", "order")


async def test_a_fragment_takes_no_orders_and_names_are_one_kind(stack: Stack) -> None:
    fragment = new_type("pay")
    async with stack.http() as http:
        created = await register(http, {"type": fragment, "kind": "fragment", "steps": PAYMENT})
        assert created.status_code == 201, created.text
        placed = await http.post(
            "/orders",
            json=order_body() | {"order_type": fragment},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        as_order = await register(http, {"type": fragment, "steps": PAYMENT})
        as_fragment = await register(
            http, {"type": "standard", "kind": "fragment", "steps": PAYMENT}
        )
        includes_order = await register(http, including(new_type("t"), "standard"))
        unknown = await http.post(
            "/orders",
            json=order_body() | {"order_type": "teleport"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert placed.status_code == 422, placed.text
    assert ["body", "order_type"] in [error["loc"] for error in placed.json()["detail"]]
    assert as_order.status_code == 422, as_order.text
    assert as_order.json()["detail"] == [
        f"type: {fragment} is a fragment; an order type needs a name of its own"
    ]
    assert as_fragment.status_code == 422, as_fragment.text
    assert as_fragment.json()["detail"][0].startswith("type: standard is an order type")
    known = unknown.json()["detail"][0]["msg"]
    assert "standard" in known and fragment not in known  # the order types only
    assert includes_order.json()["detail"] == [
        "steps[2] (pay): standard is an order type, not a fragment"
    ]


async def test_registration_refuses_cycles_and_what_the_expansion_breaks(stack: Stack) -> None:
    a, b, order_type = new_type("a"), new_type("b"), new_type("t")
    async with stack.http() as http:
        assert (await register(http, {"type": a, "kind": "fragment", "steps": PAYMENT})).is_success
        to_a = {"type": b, "kind": "fragment", "steps": [{"id": "back", "flow": a}]}
        assert (await register(http, to_a)).is_success
        cycle = await register(
            http, {"type": a, "kind": "fragment", "steps": [{"id": "to_b", "flow": b}]}
        )
        unknown = await register(http, including(new_type("t"), new_type("none")))
        assert (await register(http, including(order_type, a))).is_success
        # Without authorize_payment, the order type including `a` could not ship paid goods.
        breaking = await register(
            http, {"type": a, "kind": "fragment", "steps": [{"step": "check_fraud"}]}
        )
        pinned_type = new_type("t")
        assert (await register(http, including(pinned_type, a, version=1))).is_success
        diagram = await http.get(f"/flows/{pinned_type}/1/diagram")
    assert cycle.status_code == 422, cycle.text
    assert cycle.json()["detail"] == [
        f"steps[0].steps[0] (to_b.back): fragment cycle: {a} -> {b} -> {a}"
    ]
    assert unknown.status_code == 422 and "unknown fragment" in unknown.json()["detail"][0]
    assert breaking.status_code == 422, breaking.text
    assert (
        f"{order_type} v1: steps[3] (fulfill_shipments): fulfill_shipments needs "
        "authorize_payment earlier in the flow"
    ) in breaking.json()["detail"]
    assert diagram.status_code == 200, diagram.text
    assert f"pay<br/>include {a} v1" in diagram.json()["mermaid"]


async def test_call_steps_name_registered_endpoints(stack: Stack) -> None:
    name = f"check-{uuid.uuid4().hex[:8]}"
    flow_type = new_type("t")
    body = including(flow_type, "unused")
    body["steps"][2:3] = [
        {"id": "address_check", "call": name, "outputs": {"po_box": "bool"}},
        {"step": "authorize_payment", "on_failure": "compensate"},
    ]
    async with stack.http() as http:
        unknown = await register(http, body)
        endpoint = await http.post(
            "/endpoints",
            json={"name": name, "url": "http://127.0.0.1:9/check", "secret": "s" * 16},
        )
        assert endpoint.status_code == 201, endpoint.text
        known = await register(http, body)
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["detail"][0].startswith(
        f"steps[2] (address_check): unknown endpoint '{name}'; known: ["
    )
    assert known.status_code == 201, known.text
    assert known.json()["steps"][2]["call"] == name


async def test_orders_waiting_on_version_1_finish_on_it_while_new_orders_take_version_2(
    stack: Stack,
) -> None:
    """An order in review inside fragment v1 while v2 (which adds a manual approval) is
    registered: approved, it goes on without the approval; an order placed after waits for
    one, at the namespaced step."""
    fragment, order_type = new_type("pay"), new_type("t")
    approval = {"step": "manual_approval", "on_failure": "review"}
    async with stack.http() as http:
        assert (
            await register(http, {"type": fragment, "kind": "fragment", "steps": PAYMENT})
        ).status_code == 201
        assert (await register(http, including(order_type, fragment))).status_code == 201
        waiting = (await place(http, order_body("tok_risk_elevated") | {"order_type": order_type}))[
            "order_id"
        ]
        view = await wait_for_status(http, waiting, "NEEDS_REVIEW")
        assert view["review"]["step"] == "pay.check_fraud"

        v2 = await register(
            http, {"type": fragment, "kind": "fragment", "steps": [*PAYMENT, approval]}
        )
        assert v2.status_code == 201, v2.text
        newer = (await place(http, order_body() | {"order_type": order_type}))["order_id"]
        view = await wait_for_status(http, newer, "NEEDS_REVIEW")
        assert (view["review"]["step"], view["review"]["kind"]) == (
            "pay.manual_approval",
            "approval",
        )

        await intervene(http, waiting, "review", {"decision": "approve", "note": "known buyer"})
        view = await wait_until(http, waiting, lambda v: v["status"] in ("DELIVERED", "COMPLETED"))
        assert "pay.manual_approval" not in view["progress"]
        assert view["progress"]["pay.authorize_payment"] == "done"
        steps = {e["data"].get("step") for e in await events(http, waiting)}
        assert "pay.check_fraud" in steps and "pay.manual_approval" not in steps
