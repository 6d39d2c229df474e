"""The README's "Where an order stands" diagram is `domain.diagrams.render` of the order type
below, marked where one of its orders stands: a fix to the drawing shows up here."""

from __future__ import annotations

import re
from pathlib import Path

from domain.diagrams import render
from domain.flows import FlowDefinition, expand, validate_flow

README = Path(__file__).parents[2] / "README.md"

PAY = FlowDefinition.model_validate(
    {
        "type": "fraud_and_payment",
        "version": 1,
        "kind": "fragment",
        "steps": [
            {"step": "check_fraud", "on_failure": "compensate"},
            {"step": "authorize_payment", "on_failure": "compensate"},
        ],
    }
)
GIFT = FlowDefinition.model_validate(
    {
        "type": "gift",
        "version": 1,
        "steps": [
            {"step": "validate_order"},
            {
                "id": "prepare",
                "parallel": [
                    [{"step": "reserve_inventory", "on_failure": "review"}],
                    [{"id": "gift_wrap", "call": "gift-wrap", "compensation": "gift-wrap-cancel"}],
                ],
            },
            {"id": "pay", "flow": "fraud_and_payment"},
            {"step": "fulfill_shipments", "on_failure": "review"},
        ],
    }
)
# An order waiting for a decision on its fraud check.
MARKS = {
    "validate_order": "done",
    "reserve_inventory": "done",
    "gift_wrap": "done",
    "pay.check_fraud": "waiting",
}


def drawn() -> str:
    flow = expand(GIFT, lambda flow_type, version: PAY)
    assert validate_flow(flow) == []
    return render(flow, MARKS)


def test_the_readme_shows_the_rendered_diagram() -> None:
    blocks = re.findall(r"```mermaid\n(.*?)```", README.read_text(), re.DOTALL)
    assert drawn() in blocks, f"README.md needs this block:\n```mermaid\n{drawn()}```"
