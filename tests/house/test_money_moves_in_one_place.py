"""Money moves through one module: only `workflows/effects.py` calls the payment activities
that authorize, capture, refund or void, so each movement's request and idempotency key
are built in one place."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MONEY = {"authorize_payment", "capture_payment", "refund_payment", "void_payment"}


def money_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in MONEY
        and getattr(node.value, "id", "") == "PaymentActivities"
    ]


def test_only_the_effects_module_moves_money() -> None:
    found = [
        call
        for path in sorted((ROOT / "workflows").rglob("*.py"))
        if path.name != "effects.py"
        for call in money_calls(path)
    ]
    assert found == []


def test_the_effects_module_moves_all_four_kinds() -> None:
    kinds = {call.rsplit(" ", 1)[1] for call in money_calls(ROOT / "workflows" / "effects.py")}
    assert kinds == MONEY
