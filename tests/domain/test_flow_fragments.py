"""Fragments: `expand` inlines each include with its ids namespaced, refuses what cannot be
expanded with the include's path, and old definitions and order snapshots still validate."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from domain.flows import (
    MAX_DEPTH,
    ExpansionRefused,
    FlowDefinition,
    FlowDraft,
    FlowRef,
    expand,
    validate_flow,
)
from store.flows import builtin_flows

HISTORIES = Path(__file__).resolve().parents[1] / "histories"

PAYMENT = [
    {"step": "check_fraud", "on_failure": "compensate"},
    {"step": "authorize_payment", "on_failure": "compensate"},
]


def fragment(flow_type: str, steps: list[dict[str, Any]], version: int = 1) -> FlowDefinition:
    return FlowDefinition.model_validate(
        {"type": flow_type, "version": version, "kind": "fragment", "steps": steps}
    )


def order(steps: list[dict[str, Any]]) -> FlowDraft:
    return FlowDraft.model_validate({"type": "bulk", "steps": steps})


class Registry:
    def __init__(self, *flows: FlowDefinition) -> None:
        self.flows = {(flow.type, flow.version): flow for flow in flows}

    def __call__(self, flow_type: str, version: int | None) -> FlowDefinition | None:
        if version is None:
            versions = [v for t, v in self.flows if t == flow_type]
            version = max(versions, default=0)
        return self.flows.get((flow_type, version))


REGISTRY = Registry(
    fragment("fraud_and_payment", PAYMENT, version=1),
    fragment("fraud_and_payment", [*PAYMENT, {"step": "manual_approval"}], version=3),
)

AROUND = (
    [{"step": "validate_order"}, {"step": "reserve_inventory"}],
    [{"step": "fulfill_shipments", "on_failure": "review"}],
)


def with_include(include: dict[str, Any]) -> FlowDraft:
    return order([*AROUND[0], include, *AROUND[1]])


def test_an_include_is_inlined_with_namespaced_ids() -> None:
    expanded = expand(with_include({"id": "pay", "flow": "fraud_and_payment"}), REGISTRY)
    assert [(step.step_id, step.step, step.fragment) for step in expanded.steps] == [
        ("validate_order", "validate_order", None),
        ("reserve_inventory", "reserve_inventory", None),
        ("pay.check_fraud", "check_fraud", "pay"),
        ("pay.authorize_payment", "authorize_payment", "pay"),
        ("pay.manual_approval", "manual_approval", "pay"),
        ("fulfill_shipments", "fulfill_shipments", None),
    ]
    assert expanded.fragments == {"pay": FlowRef(type="fraud_and_payment", version=3)}
    assert expanded.includes == []
    # Prerequisites name step names, which namespacing leaves alone.
    assert validate_flow(expanded) == []
    assert expanded.find("pay.authorize_payment").spec.name == "authorize_payment"


def test_a_pinned_version_is_the_one_inlined() -> None:
    draft = with_include({"id": "pay", "flow": "fraud_and_payment", "version": 1})
    expanded = expand(draft, REGISTRY)
    assert expanded.fragments["pay"].version == 1
    assert "pay.manual_approval" not in {step.step_id for step in expanded.walk()}


def test_nested_includes_and_blocks_keep_their_paths() -> None:
    inner = fragment("address", [{"id": "address_check", "call": "address-check"}])
    outer = fragment(
        "checks",
        [
            {
                "id": "both",
                "parallel": [[{"id": "inner", "flow": "address"}], [{"step": "check_fraud"}]],
            },
            {"step": "authorize_payment"},
        ],
    )
    expanded = expand(with_include({"id": "pay", "flow": "checks"}), Registry(inner, outer))
    block = expanded.find("pay.both")
    assert (block.kind, block.fragment) == ("parallel", "pay")
    call = expanded.find("pay.inner.address_check")
    assert (call.fragment, call.call) == ("pay.inner", "address-check")
    assert expanded.fragments == {
        "pay": FlowRef(type="checks", version=1),
        "pay.inner": FlowRef(type="address", version=1),
    }
    assert expanded.index_of("pay.inner.address_check") == 2
    assert validate_flow(expanded) == []


def test_a_duplicate_id_after_expansion_names_the_draft_path() -> None:
    draft = with_include({"id": "pay", "flow": "fraud_and_payment", "version": 1})
    draft.steps.append(draft.steps[0].model_copy(update={"id": "pay.check_fraud"}))
    errors = validate_flow(expand(draft, REGISTRY))
    assert errors == ["steps[4] (pay.check_fraud): duplicate step id 'pay.check_fraud'"]
    # Inside the fragment, an entry is named by the include's path and its own.
    twice = order([*AROUND[0], {"id": "a", "flow": "fraud_and_payment"}, *AROUND[1]])
    broken = fragment("fraud_and_payment", [*PAYMENT, {"step": "teleport"}], version=4)
    errors = validate_flow(expand(twice, Registry(broken)))
    assert errors[0].startswith("steps[2].steps[2] (a.teleport): unknown step 'teleport'")


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ({"flow": "nothing_here"}, "steps[2] (pay): unknown fragment nothing_here"),
        (
            {"flow": "fraud_and_payment", "version": 2},
            "steps[2] (pay): unknown fragment fraud_and_payment v2",
        ),
        ({"flow": "standard"}, "steps[2] (pay): standard is an order type, not a fragment"),
    ],
)
def test_an_include_that_cannot_be_expanded_is_refused(
    include: dict[str, Any], expected: str
) -> None:
    standard = next(flow for flow in builtin_flows() if flow.type == "standard")
    with pytest.raises(ExpansionRefused) as refused:
        expand(with_include({"id": "pay", **include}), Registry(*REGISTRY.flows.values(), standard))
    assert refused.value.errors == [expected]


def test_a_fragment_cycle_is_refused() -> None:
    b = fragment("b", [{"id": "back", "flow": "a"}])
    draft = FlowDraft.model_validate(
        {"type": "a", "kind": "fragment", "steps": [{"id": "to_b", "flow": "b"}]}
    )
    with pytest.raises(ExpansionRefused) as refused:
        expand(draft, Registry(b))
    assert refused.value.errors == ["steps[0].steps[0] (to_b.back): fragment cycle: a -> b -> a"]


def test_fragments_nest_four_deep_and_no_deeper() -> None:
    levels = [fragment("f0", [{"step": "check_fraud"}])]
    for number in range(1, MAX_DEPTH + 1):
        levels.append(fragment(f"f{number}", [{"id": "in", "flow": f"f{number - 1}"}]))
    registry = Registry(*levels)
    deepest = expand(with_include({"id": "pay", "flow": f"f{MAX_DEPTH - 1}"}), registry)
    assert deepest.find("pay.in.in.in.check_fraud").fragment == "pay.in.in.in"
    with pytest.raises(ExpansionRefused) as refused:
        expand(with_include({"id": "pay", "flow": f"f{MAX_DEPTH}"}), registry)
    assert refused.value.errors == [
        "steps[2].steps[0].steps[0].steps[0].steps[0] (pay.in.in.in.in): "
        "fragments nest at most 4 deep"
    ]


def test_a_draft_may_not_set_fragment_itself() -> None:
    draft = order([{"step": "validate_order", "fragment": "pay"}])
    with pytest.raises(ExpansionRefused, match="fragment is set by expansion"):
        expand(draft, REGISTRY)


def test_an_unexpanded_include_does_not_validate() -> None:
    draft = with_include({"id": "pay", "flow": "fraud_and_payment"})
    assert "steps[2] (pay): fragment fraud_and_payment is not expanded" in validate_flow(draft)


def test_the_builtin_flows_are_unchanged_by_expansion() -> None:
    for flow in builtin_flows():
        assert flow.kind == "order" and flow.fragments == {}
        assert expand(flow, REGISTRY) == flow
        assert validate_flow(flow) == []


def recorded_flows() -> list[tuple[str, dict[str, Any]]]:
    """The flow snapshot in each recorded order's workflow input."""
    found = []
    for path in sorted(HISTORIES.glob("*__order-*.json")):
        started = json.loads(path.read_text())["events"][0]
        for payload in started["workflowExecutionStartedEventAttributes"]["input"]["payloads"]:
            if base64.b64decode(payload["metadata"]["encoding"]) != b"json/plain":
                continue
            data = json.loads(base64.b64decode(payload["data"]))
            if isinstance(data, dict) and "flow" in data:
                found.append((path.name, data["flow"]))
    return found


def test_recorded_order_snapshots_validate_to_the_same_meaning() -> None:
    recorded = recorded_flows()
    assert recorded, "no recorded order inputs found"
    new_fields = {"call", "compensation", "outputs", "parallel", "flow", "version", "fragment"}
    for name, snapshot in recorded:
        flow = FlowDefinition.model_validate(snapshot)
        assert validate_flow(flow) == [], name
        if "fragments" in snapshot:
            continue  # recorded by the language that wrote them: nothing older to compare with
        assert (flow.kind, flow.fragments) == ("order", {}), name
        dumped = flow.model_dump(mode="json", exclude={"kind", "fragments"})
        for step in dumped["steps"]:
            assert step.pop("outputs") == {}
            assert all(step.pop(field) is None for field in new_fields - {"outputs"}), name
        assert dumped == snapshot, name
