"""GET /orders/{id}/diagram: the flow the order started with, each step marked where it
stands; read from the journal's `OrderPlaced`, else from the workflow's first history event."""

from __future__ import annotations

import re

from api.order_diagram import placed_flow, started_flow
from tests.helpers.keys import OTHER_CUSTOMER_KEY
from tests.helpers.orders import events, order_body, place, wait_for_status
from tests.helpers.stack import Stack

NODE = re.compile(r'^\s+(\w+)\["([^<"]+)<br/>', re.MULTILINE)
CLASS = re.compile(r"^\s+class (\w+) (\w+)$", re.MULTILINE)


def marks(mermaid: str) -> dict[str, str]:
    """Step id -> the class its node is drawn in."""
    step_of = dict(NODE.findall(mermaid))
    return {step_of[node]: mark for node, mark in CLASS.findall(mermaid) if node in step_of}


async def test_completed_order_has_every_step_done(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")
        response = await http.get(f"/orders/{order_id}/diagram")
        journal = await events(http, order_id)

    assert response.status_code == 200, response.text
    mermaid = response.json()["mermaid"]
    assert mermaid.startswith("flowchart TD\n")
    assert "standard v2: order placed" in mermaid
    steps = [step["step"] for step in journal[0]["data"]["flow"]["steps"]]
    assert marks(mermaid) == dict.fromkeys(steps, "done")
    assert "classDef done " in mermaid


async def test_order_in_review_waits_on_check_fraud(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http, order_body("tok_risk_elevated")))["order_id"]
        await wait_for_status(http, order_id, "NEEDS_REVIEW")
        response = await http.get(f"/orders/{order_id}/diagram")

    assert response.status_code == 200, response.text
    drawn = marks(response.json()["mermaid"])
    assert drawn["check_fraud"] == "waiting"
    assert drawn["validate_order"] == "done"
    assert "fulfill_shipments" not in drawn


async def test_the_journal_and_the_history_hold_the_same_flow(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")

    recorded = await placed_flow(stack.store, order_id)
    assert recorded is not None and recorded.ref.version == 2
    assert await started_flow(stack.client, order_id) == recorded


async def test_unknown_or_anothers_order(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        missing = await http.get("/orders/ord_0000000000000000/diagram")
    async with stack.http(OTHER_CUSTOMER_KEY) as other:
        foreign = await other.get(f"/orders/{order_id}/diagram")

    assert missing.status_code == 404
    assert missing.json()["detail"] == "no order ord_0000000000000000"
    assert foreign.status_code == 403
