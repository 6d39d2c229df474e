"""`EventType` lists exactly the journal events the workflows write.

The workflows' source is read, not run: every `record(...)` call names its event as a
literal, an `EventType` member, a choice between those (`a if x else b`), or an entry of a
dict of event names in the same module (`SHIPMENT_EVENTS[status]`). Any other way of naming
one fails here, so a new event cannot be written without being listed.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.events import EventType, JournalEvent

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
FORWARDERS = ("record", "record_change")


@dataclass(frozen=True)
class Written:
    name: str  # the event's name as the journal holds it
    where: str  # path:line of the `record` call


class Unreadable(Exception):
    """A `record` call names its event in a way this scan does not follow."""


def _dicts(tree: ast.Module) -> dict[str, ast.Dict]:
    """The module's dicts assigned to a name (at any depth), by that name."""
    found: dict[str, ast.Dict] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = node.value
    return found


def _names(node: ast.expr, dicts: dict[str, ast.Dict]) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "EventType"
    ):
        if node.attr not in EventType.__members__:
            raise Unreadable(f"EventType has no member {node.attr}")
        yield EventType[node.attr].value
    elif isinstance(node, ast.IfExp):
        yield from _names(node.body, dicts)
        yield from _names(node.orelse, dicts)
    elif (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in dicts
    ):
        for value in dicts[node.value.id].values:
            yield from _names(value, dicts)
    else:
        raise Unreadable(f"an event named by {ast.unparse(node)!r}")


def _event_argument(call: ast.Call) -> ast.expr | None:
    """The argument naming the event: the first positional one, or `type=`."""
    if call.args:
        return call.args[0]
    return next((kw.value for kw in call.keywords if kw.arg == "type"), None)


@functools.cache
def written_events() -> list[Written]:
    written: list[Written] = []
    for path in sorted(WORKFLOWS.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        dicts = _dicts(tree)
        # A `record` that hands its own `type` on (the workflow to its journal, an applied
        # change to the workflow) names no event; the `Recorded` a rule returns does.
        forwarding = {
            id(call)
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.name in FORWARDERS
            for call in ast.walk(function)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in forwarding:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called not in ("record", "Recorded") or (argument := _event_argument(node)) is None:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            try:
                written += [Written(name, where) for name in _names(argument, dicts)]
            except Unreadable as why:
                pytest.fail(f"{where}: {why}; name the event with an EventType member")
    return written


def test_the_scan_finds_the_workflows_events() -> None:
    names = {event.name for event in written_events()}
    assert {"OrderPlaced", "ShipmentDelivered", "PointsClawedBack"} <= names


def test_every_event_written_is_an_event_type() -> None:
    values = {member.value for member in EventType}
    missing = sorted(
        {f"{event.name} ({event.where})" for event in written_events() if event.name not in values}
    )
    assert not missing, f"add to EventType in domain/events.py: {', '.join(missing)}"


def test_every_event_type_is_written() -> None:
    written = {event.name for event in written_events()}
    unused = sorted(member.name for member in EventType if member.value not in written)
    assert not unused, f"EventType members no workflow writes any more: {', '.join(unused)}"


def test_event_types_are_their_journal_names() -> None:
    """A member is equal to, and serializes as, the string journals already hold."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    old = JournalEvent(order_id="ord_1", seq=1, type="OrderPlaced", at=at)
    new = JournalEvent(order_id="ord_1", seq=1, type=EventType.ORDER_PLACED, at=at)
    assert old.type == new.type == EventType.ORDER_PLACED
    assert new.model_dump_json() == old.model_dump_json()
    assert new.model_dump(mode="json") == old.model_dump(mode="json")
    assert len({member.value for member in EventType}) == len(EventType)
