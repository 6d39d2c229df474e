"""/flows: reading the registry, registering versions (operators only), diagrams, and orders
placed against a chosen version."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers.keys import CARRIER_KEY, CUSTOMER_KEY
from tests.helpers.orders import order_body
from tests.helpers.stack import Stack

SOUND_STEPS: list[dict[str, Any]] = [
    {"step": "validate_order", "on_failure": "fail"},
    {"step": "check_fraud", "on_failure": "compensate"},
    {"step": "reserve_inventory", "on_failure": "review"},
    {"step": "authorize_payment", "on_failure": "compensate"},
    {"step": "fulfill_shipments", "on_failure": "review"},
]


def new_type() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


async def test_list_shows_the_latest_version_of_every_type(stack: Stack) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.get("/flows")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    by_type = {flow["type"]: flow for flow in body["data"]}
    assert len(by_type) == len(body["data"])  # one entry per type
    assert {"standard", "prepaid"} <= set(by_type)
    assert by_type["standard"]["version"] >= 2
    assert by_type["standard"]["retired"] is False
    assert all(step["step"] for step in by_type["standard"]["steps"])


async def test_versions_of_a_type_and_one_version(stack: Stack) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        versions = await http.get("/flows/standard")
        one = await http.get("/flows/standard/1")
        unknown_type = await http.get("/flows/teleport")
        unknown_version = await http.get("/flows/standard/999")
    assert versions.status_code == 200, versions.text
    assert [v["version"] for v in versions.json()["data"]][:2] == [1, 2]
    assert one.status_code == 200, one.text
    definition = one.json()
    assert (definition["type"], definition["version"]) == ("standard", 1)
    assert [step["step"] for step in definition["steps"]] == [s["step"] for s in SOUND_STEPS]
    assert definition["steps"][1]["on_failure"] == "compensate"
    assert unknown_type.status_code == 404
    assert unknown_version.status_code == 404


async def test_reads_need_a_key(stack: Stack) -> None:
    async with stack.http(None) as http:
        assert (await http.get("/flows")).status_code == 401
    async with stack.http(CARRIER_KEY) as http:
        assert (await http.get("/flows/standard/1")).status_code == 200


async def test_operator_registers_the_next_version(stack: Stack) -> None:
    flow_type = new_type()
    async with stack.http() as http:
        first = await http.post("/flows", json={"type": flow_type, "steps": SOUND_STEPS})
        second = await http.post(
            "/flows",
            json={
                "type": flow_type,
                "description": "with a retry",
                "steps": [
                    *SOUND_STEPS[:2],
                    {
                        **SOUND_STEPS[2],
                        "retry": {
                            "max_attempts": 4,
                            "initial_interval_s": 1,
                            "maximum_interval_s": 8,
                        },
                    },
                    *SOUND_STEPS[3:],
                ],
            },
        )
        listed = await http.get(f"/flows/{flow_type}")
        fetched = await http.get(f"/flows/{flow_type}/2")
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert [v["version"] for v in listed.json()["data"]] == [1, 2]
    assert fetched.json() == second.json()
    assert fetched.json()["steps"][2]["retry"]["max_attempts"] == 4


async def test_customer_cannot_register(stack: Stack) -> None:
    flow_type = new_type()
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post("/flows", json={"type": flow_type, "steps": SOUND_STEPS})
        assert response.status_code == 403, response.text
        assert (await http.get(f"/flows/{flow_type}")).status_code == 404


async def test_unknown_step_is_422_naming_the_step(stack: Stack) -> None:
    flow_type = new_type()
    steps = [*SOUND_STEPS[:3], {"step": "teleport_goods"}, *SOUND_STEPS[3:]]
    async with stack.http() as http:
        response = await http.post("/flows", json={"type": flow_type, "steps": steps})
        assert (await http.get(f"/flows/{flow_type}")).status_code == 404
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(reason.startswith("steps[3] (teleport_goods): unknown step") for reason in detail), (
        detail
    )


async def test_unmet_prerequisite_is_422(stack: Stack) -> None:
    steps = [SOUND_STEPS[0], SOUND_STEPS[4], SOUND_STEPS[2], SOUND_STEPS[3]]
    async with stack.http() as http:
        response = await http.post("/flows", json={"type": new_type(), "steps": steps})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert (
        "steps[1] (fulfill_shipments): fulfill_shipments needs reserve_inventory earlier "
        "in the flow" in detail
    ), detail


async def test_a_bad_condition_is_422_and_a_version_in_the_body_is_refused(stack: Stack) -> None:
    steps = [dict(step) for step in SOUND_STEPS]
    steps[1]["when"] = {"field": "country", "op": "gt", "value": "US"}
    async with stack.http() as http:
        bad_condition = await http.post("/flows", json={"type": new_type(), "steps": steps})
        with_version = await http.post(
            "/flows", json={"type": new_type(), "version": 7, "steps": SOUND_STEPS}
        )
    assert bad_condition.status_code == 422, bad_condition.text
    assert bad_condition.json()["detail"][0].startswith("steps[1] (check_fraud): condition ")
    assert with_version.status_code == 422, with_version.text


async def test_diagram_names_every_step(stack: Stack) -> None:
    steps = [dict(step) for step in SOUND_STEPS]
    steps[1] |= {"id": "fraud_screen", "when": {"field": "total_minor", "op": "ge", "value": 5000}}
    async with stack.http() as http:
        created = await http.post("/flows", json={"type": new_type(), "steps": steps})
        assert created.status_code == 201, created.text
        flow = created.json()
        response = await http.get(f"/flows/{flow['type']}/{flow['version']}/diagram")
        missing = await http.get(f"/flows/{flow['type']}/99/diagram")
    assert response.status_code == 200, response.text
    diagram = response.json()["mermaid"]
    assert diagram.startswith("flowchart TD\n")
    for step_id in (
        "validate_order",
        "fraud_screen",
        "reserve_inventory",
        "authorize_payment",
        "fulfill_shipments",
    ):
        assert f'["{step_id}<br/>' in diagram, (step_id, diagram)
    assert "total_minor ≥ 5000" in diagram  # the condition labels the edge into its step
    assert "undo: release_inventory" in diagram and "-.->" in diagram
    assert missing.status_code == 404


async def test_order_with_an_unknown_flow_version_is_422(stack: Stack) -> None:
    body = order_body() | {"flow_version": 999}
    async with stack.http() as http:
        response = await http.post(
            "/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        unknown_type = await http.post(
            "/orders",
            json=order_body() | {"order_type": "teleport", "flow_version": 1},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert response.status_code == 422, response.text
    assert ["body", "flow_version"] in [error["loc"] for error in response.json()["detail"]]
    assert unknown_type.status_code == 422, unknown_type.text
    assert ["body", "order_type"] in [error["loc"] for error in unknown_type.json()["detail"]]


async def test_an_order_runs_the_version_it_asks_for(stack: Stack) -> None:
    async with stack.http() as http:
        latest = (await http.get("/flows/standard")).json()["data"][-1]["version"]
        pinned = await http.post(
            "/orders",
            json=order_body() | {"flow_version": 1},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        default = await http.post(
            "/orders", json=order_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert pinned.status_code == 201, pinned.text
    assert pinned.json()["flow"] == {"type": "standard", "version": 1}
    assert default.status_code == 201, default.text
    assert default.json()["flow"] == {"type": "standard", "version": latest}


async def test_a_registered_type_takes_orders(stack: Stack) -> None:
    flow_type = new_type()
    async with stack.http() as http:
        created = await http.post("/flows", json={"type": flow_type, "steps": SOUND_STEPS})
        assert created.status_code == 201, created.text
        placed = await http.post(
            "/orders",
            json=order_body() | {"order_type": flow_type},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert placed.status_code == 201, placed.text
    assert placed.json()["flow"] == {"type": flow_type, "version": 1}


async def test_catalog_shows_kinds_release_dates_and_pickup_stock(stack: Stack) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.get("/catalog")
    assert response.status_code == 200, response.text
    items = {item["sku"]: item for item in response.json()["data"]}
    assert items["EBOOK-TEMPORAL"]["kind"] == "digital"
    assert items["EBOOK-TEMPORAL"]["price"] == {"amount_minor": 2900, "currency": "USD"}
    assert items["WARRANTY-2Y"]["kind"] == "digital"
    assert items["WARRANTY-2Y"]["stock"] == items["WARRANTY-2Y"]["pickup_stock"] == {}
    assert items["CONSOLE-NEXT"]["kind"] == "physical"
    assert items["CONSOLE-NEXT"]["release_date"] == "2027-03-01"
    assert set(items["CONSOLE-NEXT"]["stock"]) == {"EWR", "LAX"}
    assert items["MUG-CERAMIC"]["kind"] == "physical"
    assert items["MUG-CERAMIC"]["release_date"] is None
    assert set(items["MUG-CERAMIC"]["pickup_stock"]) == {"NYC-SOHO"}
