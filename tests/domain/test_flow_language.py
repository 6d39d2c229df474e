"""The flow language past plain steps: call steps, parallel blocks, facts in conditions; each
refusal names the entry by its path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.flows import STEP_SPECS, Condition, FlowDefinition, FlowStep, validate_flow

VALIDATE = {"step": "validate_order", "on_failure": "fail"}
RESERVE = {"step": "reserve_inventory", "on_failure": "review"}
AUTHORIZE = {"step": "authorize_payment", "on_failure": "compensate"}
SHIP = {"step": "fulfill_shipments", "on_failure": "review"}
FRAUD = {"step": "check_fraud", "on_failure": "compensate"}
ADDRESS_CHECK = {
    "id": "address_check",
    "call": "address-check",
    "compensation": "address-release",
    "outputs": {"risk_score": "int", "po_box": "bool"},
    "on_failure": "review",
}


def flow(steps: list[dict[str, Any]], kind: str = "order") -> FlowDefinition:
    return FlowDefinition.model_validate(
        {"type": "custom", "version": 1, "kind": kind, "steps": steps}
    )


def block(*branches: list[dict[str, Any]], block_id: str = "checks") -> dict[str, Any]:
    return {"id": block_id, "parallel": list(branches)}


def test_a_flow_with_a_parallel_block_and_a_call_step_passes() -> None:
    definition = flow([VALIDATE, block([FRAUD], [ADDRESS_CHECK], [RESERVE]), AUTHORIZE, SHIP])
    assert validate_flow(definition) == []
    assert [step.step_id for step in definition.walk()] == [
        "validate_order",
        "check_fraud",
        "address_check",
        "reserve_inventory",
        "authorize_payment",
        "fulfill_shipments",
    ]
    assert definition.index_of("address_check") == definition.index_of("checks") == 1
    assert definition.index_of("fulfill_shipments") == 3
    assert definition.find("address_check").kind == "call"
    assert definition.find("checks").kind == "parallel"
    assert len(definition.find("checks").branches) == 3
    with pytest.raises(KeyError):
        definition.find("teleport")


def test_a_call_step_has_a_spec_of_its_own() -> None:
    step = FlowStep.model_validate(ADDRESS_CHECK)
    assert (step.kind, step.step_id, step.step) == ("call", "address_check", None)
    spec = step.spec
    assert (spec.name, spec.stage, spec.compensation) == ("call", "processing", "address-release")
    assert (spec.skippable, spec.moves_money, spec.description) == (
        False,
        False,
        "call address-check",
    )
    assert step.is_skippable is False
    assert step.outputs == {"risk_score": "int", "po_box": "bool"}
    assert FlowStep.model_validate({"id": "ping", "call": "ping"}).outputs == {}


def test_authorizing_steps_move_money() -> None:
    assert STEP_SPECS["authorize_payment"].authorizes
    assert STEP_SPECS["await_release"].authorizes
    assert STEP_SPECS["capture_payment"].moves_money
    assert not STEP_SPECS["reserve_inventory"].moves_money


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"step": "check_fraud", "call": "x", "id": "a"}, "exactly one of step, call"),
        ({"id": "a"}, "exactly one of step, call"),
        ({"call": "address-check"}, "needs an id"),
        ({"parallel": [[FRAUD], [RESERVE]]}, "needs an id"),
        ({"flow": "fraud_and_payment"}, "needs an id"),
        ({"id": "c", "call": "Bad_Name"}, "string_pattern_mismatch"),
        ({"id": "c", "call": "x", "outputs": {"Bad": "int"}}, "string_pattern_mismatch"),
        ({"id": "c", "call": "x", "outputs": {"a": "float"}}, "literal_error"),
        ({"step": "check_fraud", "outputs": {"a": "int"}}, "belong to call entries"),
        ({"step": "check_fraud", "version": 2}, "belongs to flow"),
        ({"id": "p", "parallel": [[FRAUD]]}, "at least 2 branches"),
        ({"id": "p", "parallel": [[FRAUD], []]}, "every branch"),
        (
            {"id": "p", "parallel": [[FRAUD], [RESERVE]], "on_failure": "review"},
            "takes no when",
        ),
        ({"id": "pay", "flow": "fraud", "retry": {}}, "takes no when"),
    ],
)
def test_a_malformed_entry_is_refused(entry: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as refused:
        FlowStep.model_validate(entry)
    assert expected in str(refused.value) or expected in {e["type"] for e in refused.value.errors()}


def test_two_branches_that_move_money_are_refused() -> None:
    capture = {"step": "capture_payment", "on_failure": "review"}
    release = {"step": "await_release"}
    definition = flow([VALIDATE, RESERVE, AUTHORIZE, block([capture], [release]), SHIP])
    assert validate_flow(definition) == [
        "steps[3] (checks): branches 0 (capture_payment) and 1 (await_release) both move money; "
        "money moves in one branch at most, or before or after the block"
    ]


def test_a_prerequisite_only_in_a_sibling_branch_is_refused() -> None:
    definition = flow([VALIDATE, block([RESERVE], [AUTHORIZE, SHIP])])
    assert validate_flow(definition) == [
        "steps[1].parallel[1][1] (fulfill_shipments): fulfill_shipments needs reserve_inventory "
        "earlier in the flow; a sibling branch does not count"
    ]


def test_prerequisites_before_the_block_or_earlier_in_the_branch_count() -> None:
    definition = flow([RESERVE, block([FRAUD], [AUTHORIZE, SHIP])])
    assert validate_flow(definition) == []
    # After the join, every branch's steps count.
    assert validate_flow(flow([block([RESERVE], [AUTHORIZE]), SHIP])) == []


def test_a_duplicate_id_inside_a_block_is_refused_with_its_path() -> None:
    twin = {**ADDRESS_CHECK, "id": "check_fraud"}
    definition = flow([FRAUD, block([VALIDATE], [twin]), RESERVE, AUTHORIZE, SHIP])
    assert validate_flow(definition) == [
        "steps[1].parallel[1][0] (check_fraud): duplicate step id 'check_fraud'"
    ]
    same_block_id = flow([block([FRAUD], [RESERVE], block_id="validate_order"), VALIDATE])
    assert "steps[1] (validate_order): duplicate step id 'validate_order'" in validate_flow(
        same_block_id
    )


def test_an_unknown_step_in_a_branch_is_refused_with_its_path() -> None:
    definition = flow([VALIDATE, block([FRAUD], [{"step": "teleport"}]), RESERVE, AUTHORIZE, SHIP])
    errors = validate_flow(definition)
    assert len(errors) == 1
    assert errors[0].startswith("steps[1].parallel[1][0] (teleport): unknown step 'teleport'")


def test_blocks_nest_four_deep_and_no_deeper() -> None:
    def nested(depth: int) -> dict[str, Any]:
        inner: list[dict[str, Any]] = [{"step": "check_fraud", "id": f"fraud_{depth}"}]
        for level in range(depth, 0, -1):
            other = {"step": "validate_order", "id": f"validate_{level}"}
            inner = [block(inner, [other], block_id=f"block_{level}")]
        return inner[0]

    assert validate_flow(flow([nested(4), RESERVE, AUTHORIZE, SHIP])) == []
    errors = validate_flow(flow([nested(5), RESERVE, AUTHORIZE, SHIP]))
    assert errors == [
        "steps[0].parallel[0][0].parallel[0][0].parallel[0][0].parallel[0][0] (block_5): "
        "parallel blocks nest at most 4 deep"
    ]


def test_a_fact_used_before_any_step_produces_it_is_refused() -> None:
    approval = {
        "step": "manual_approval",
        "when": {"field": "facts.risk_score", "op": "gt", "value": 70},
    }
    assert validate_flow(flow([VALIDATE, ADDRESS_CHECK, approval, RESERVE, AUTHORIZE, SHIP])) == []
    before = validate_flow(flow([VALIDATE, approval, ADDRESS_CHECK, RESERVE, AUTHORIZE, SHIP]))
    assert before == [
        "steps[1] (manual_approval): condition uses facts.risk_score before any step produces it"
    ]
    sibling = validate_flow(
        flow([VALIDATE, block([ADDRESS_CHECK], [approval]), RESERVE, AUTHORIZE, SHIP])
    )
    assert sibling == [
        "steps[1].parallel[1][0] (manual_approval): condition uses facts.risk_score before any "
        "step produces it; a sibling branch does not count"
    ]
    in_branch = flow(
        [VALIDATE, block([ADDRESS_CHECK, approval], [FRAUD]), RESERVE, AUTHORIZE, SHIP]
    )
    assert validate_flow(in_branch) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "facts.risk_score", "op": "gt", "value": "high"}, "needs an integer value"),
        ({"field": "facts.po_box", "op": "gt", "value": True}, "op 'gt' orders numbers"),
        ({"field": "facts.po_box", "op": "eq", "value": 1}, "needs a boolean value"),
        ({"field": "facts.po_box", "op": "in", "value": [True, "no"]}, "'in' needs booleans"),
    ],
)
def test_a_fact_condition_is_checked_against_the_declared_type(
    condition: dict[str, Any], expected: str
) -> None:
    approval = {"step": "manual_approval", "when": condition}
    errors = validate_flow(flow([ADDRESS_CHECK, approval, RESERVE, AUTHORIZE, SHIP]))
    assert len(errors) == 1, errors
    assert errors[0].startswith("steps[1] (manual_approval): condition "), errors
    assert expected in errors[0]


def test_a_missing_fact_does_not_hold() -> None:
    condition = Condition.model_validate({"field": "facts.po_box", "op": "eq", "value": False})
    assert condition.holds({"facts.po_box": False})
    assert not condition.holds({})
    with pytest.raises(ValidationError):
        Condition.model_validate({"field": "facts.Bad", "op": "eq", "value": 1})
    with pytest.raises(ValidationError):
        Condition.model_validate({"field": "weather", "op": "eq", "value": 1})


def test_unknown_endpoints_and_hosts_not_allowed_are_refused() -> None:
    definition = flow([VALIDATE, block([FRAUD], [ADDRESS_CHECK]), RESERVE, AUTHORIZE, SHIP])
    assert validate_flow(definition) == []  # no endpoints given: not checked
    known = {"address-check": "https://addresses.example.com/check", "ping": "http://127.0.0.1/"}
    assert validate_flow(definition, known) == [
        "steps[1].parallel[1][0] (address_check): unknown endpoint 'address-release'; "
        "known: ['address-check', 'ping']"
    ]
    known["address-release"] = "http://127.0.0.1:9000/release"
    assert validate_flow(definition, known, lambda host: host == "127.0.0.1") == [
        "steps[1].parallel[1][0] (address_check): endpoint 'address-check' host "
        "'addresses.example.com' is not in OMS_CALL_ALLOWED_HOSTS"
    ]
    assert validate_flow(definition, known, lambda host: True) == []


def test_a_fragment_need_not_deliver_but_keeps_every_other_rule() -> None:
    assert validate_flow(flow([FRAUD, AUTHORIZE], kind="fragment")) == []
    assert validate_flow(flow([FRAUD, AUTHORIZE])) == [
        "flow: no step delivers the goods; add one of "
        "['await_pickup', 'fulfill_shipments', 'issue_licenses']"
    ]
    assert validate_flow(flow([{"step": "capture_payment"}], kind="fragment")) == [
        "steps[0] (capture_payment): capture_payment needs authorize_payment earlier in the flow"
    ]


def test_new_optional_fields_stay_out_of_lean_dumps() -> None:
    plain = flow([VALIDATE, RESERVE, AUTHORIZE, SHIP])
    dumped = plain.model_dump(mode="json", exclude_none=True)
    assert set(dumped["steps"][0]) == {"step", "on_failure", "backtrackable", "outputs"}
    assert FlowDefinition.model_validate(dumped) == plain
