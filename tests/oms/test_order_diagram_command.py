"""`oms orders show ID --diagram`: the order's flow as Mermaid text, as the API draws it."""

from __future__ import annotations

from tests.helpers.orders import place, wait_for_status
from tests.helpers.stack import Stack
from tests.oms.conftest import Oms


async def test_diagram_prints_the_mermaid_text_and_json_the_raw_answer(
    stack: Stack, oms: Oms
) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")
        api = (await http.get(f"/orders/{order_id}/diagram")).json()

    drawn = await oms(stack.base_url, "orders", "show", order_id, "--diagram")
    assert drawn.code == 0, drawn.err
    assert drawn.out == api["mermaid"]
    assert drawn.out.startswith("flowchart TD\n") and "class s0 done" in drawn.out

    raw = await oms(stack.base_url, "orders", "show", order_id, "--diagram", "--json")
    assert raw.code == 0, raw.err
    assert raw.json() == api

    missing = await oms(stack.base_url, "orders", "show", "ord_0000000000000000", "--diagram")
    assert missing.code == 1
    assert missing.err == "oms: 404 no order ord_0000000000000000\n"
