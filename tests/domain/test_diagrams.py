"""Mermaid diagrams of flows: plain steps as before, parallel blocks as fork and join,
fragments as subgraphs, call steps by endpoint, includes not expanded, and marks."""

from __future__ import annotations

from typing import Any

import pytest

from domain.diagrams import MARKS, render
from domain.flows import FlowDefinition, expand

PAY = FlowDefinition.model_validate(
    {
        "type": "fraud_and_payment",
        "version": 3,
        "kind": "fragment",
        "steps": [{"step": "check_fraud"}, {"step": "authorize_payment"}],
    }
)


def flow(steps: list[dict[str, Any]]) -> FlowDefinition:
    return FlowDefinition.model_validate({"type": "bulk", "version": 2, "steps": steps})


STEPS: list[dict[str, Any]] = [
    {"step": "validate_order"},
    {
        "id": "checks",
        "parallel": [
            [{"step": "reserve_inventory", "on_failure": "review"}],
            [
                {
                    "id": "address_check",
                    "call": "address-check",
                    "compensation": "address-release",
                    "outputs": {"po_box": "bool"},
                },
                {
                    "step": "manual_approval",
                    "when": {"field": "facts.po_box", "op": "eq", "value": True},
                },
            ],
        ],
    },
    {"id": "pay", "flow": "fraud_and_payment"},
    {"step": "fulfill_shipments"},
]


def test_a_plain_flow_draws_as_before() -> None:
    diagram = render(flow([{"step": "validate_order"}, {"step": "reserve_inventory"}]))
    assert diagram == (
        "flowchart TD\n"
        '    start(["bulk v2: order placed"])\n'
        '    s0["validate_order<br/>on failure: fail<br/>skippable"]\n'
        '    s1["reserve_inventory<br/>on failure: fail"]\n'
        '    done(["completed"])\n'
        "    start --> s0\n"
        "    s0 --> s1\n"
        "    s1 --> done\n"
        '    u1[/"undo: release_inventory"/]\n'
        "    s1 -.-> u1\n"
        "    class u1 undo\n"
        "    classDef undo stroke-dasharray: 4 3\n"
    )


def test_a_parallel_block_is_a_fork_branch_chains_and_a_join() -> None:
    diagram = render(expand(flow(STEPS), lambda t, v: PAY))
    lines = diagram.splitlines()
    assert '    s1_fork{{"checks: in parallel"}}' in lines
    assert '    s1_join{{"checks: all done"}}' in lines
    for edge in (
        "s0 --> s1_fork",
        "s1_fork --> s1_0_0",
        "s1_0_0 --> s1_join",
        "s1_fork --> s1_1_0",
        's1_1_0 -->|"facts.po_box = true"| s1_1_1',
        's1_1_0 -.->|"otherwise"| s1_join',
        "s1_1_1 --> s1_join",
        "s1_join --> s2",
    ):
        assert f"    {edge}" in lines, (edge, diagram)
    # A call step shows its endpoint, its outputs and its undo.
    assert "address_check<br/>call: address-check<br/>outputs: po_box" in diagram
    assert '    u1_1_0[/"undo: address-release"/]' in lines


def test_a_fragment_is_a_subgraph_titled_with_its_version() -> None:
    lines = render(expand(flow(STEPS), lambda t, v: PAY)).splitlines()
    start = lines.index('    subgraph g_pay["pay: fraud_and_payment v3"]')
    end = lines.index("    end", start)
    inside = "\n".join(lines[start:end])
    assert "pay.check_fraud<br/>step: check_fraud" in inside
    assert "pay.authorize_payment<br/>step: authorize_payment" in inside
    assert "fulfill_shipments" not in inside


def test_an_include_not_expanded_is_one_node() -> None:
    diagram = render(flow(STEPS))
    assert '    s2[["pay<br/>include fraud_and_payment (latest)"]]' in diagram.splitlines()
    pinned = [*STEPS[:2], {"id": "pay", "flow": "fraud_and_payment", "version": 3}]
    assert "include fraud_and_payment v3" in render(flow(pinned))
    assert "subgraph" not in diagram


def test_marks_give_nodes_their_class() -> None:
    marks = {
        "validate_order": "done",
        "checks": "running",
        "address_check": "waiting",
        "pay.check_fraud": "skipped",
        "reserve_inventory": "compensated",
        "fulfill_shipments": "failed",
    }
    lines = render(expand(flow(STEPS), lambda t, v: PAY), marks).splitlines()
    for expected in (
        "class s0 done",
        "class s1_fork running",
        "class s1_join running",
        "class s1_1_0 waiting",
        "class s2 skipped",
        "class s1_0_0 compensated",
        "class s4 failed",
    ):
        assert f"    {expected}" in lines, expected
    assert [line.split()[1] for line in lines if line.startswith("    classDef ")] == [
        "undo",
        *MARKS,
    ]
    with pytest.raises(ValueError, match="unknown marks"):
        render(flow(STEPS), {"validate_order": "exploded"})


def test_labels_are_escaped() -> None:
    steps = [{"step": "check_fraud", "id": 'a"<b>#'}]
    diagram = render(flow(steps), {'a"<b>#': "done"})
    assert "a#quot;#lt;b#gt;#35;<br/>step: check_fraud" in diagram
