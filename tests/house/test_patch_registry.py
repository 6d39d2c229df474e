"""Every patch the workflows take is in `workflows/patches.py`, and every one there is taken;
each names recorded histories from before and after it, and the suite holds both."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

from workflows import patches

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "histories"


def patches_taken() -> dict[str, list[str]]:
    """Registry names passed to `workflow.patched(patches.NAME.id)`, with where; any other
    argument is listed under "unregistered"."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "workflows").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "patched"):
                continue
            arg = node.args[0]
            name = "unregistered"
            if (
                isinstance(arg, ast.Attribute)
                and arg.attr == "id"
                and isinstance(arg.value, ast.Attribute)
                and getattr(arg.value.value, "id", "") == "patches"
            ):
                name = arg.value.attr
            found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def markers_by_scenario() -> dict[str, set[str]]:
    """For each recorded scenario's order histories, the patch ids their markers carry (one
    set per history file)."""
    seen: dict[str, set[str]] = {}
    for path in HISTORIES.glob("*__order-*.json"):
        ids: set[str] = set()
        for event in json.loads(path.read_text())["events"]:
            marker = event.get("markerRecordedEventAttributes")
            if marker and marker.get("markerName") == "core_patch":
                for payloads in marker["details"].values():
                    data = json.loads(base64.b64decode(payloads["payloads"][0]["data"]))
                    ids.add(data["id"] if isinstance(data, dict) else data)
        seen[path.name] = ids
    return seen


def test_every_patch_taken_is_registered_and_every_registered_one_is_taken() -> None:
    taken = patches_taken()
    assert "unregistered" not in taken, taken.get("unregistered")
    registered = {
        name for name in dir(patches) if isinstance(getattr(patches, name), patches.Patch)
    }
    assert set(taken) == registered
    assert {p.id for p in patches.PATCHES} == {getattr(patches, n).id for n in registered}


def test_each_patch_is_guarded_by_histories_from_before_and_after_it() -> None:
    markers = markers_by_scenario()
    for patch in patches.PATCHES:
        for scenario in patch.guarded_by:
            files = {name: ids for name, ids in markers.items() if name.startswith(scenario)}
            assert files, f"{patch.id}: no recorded history for {scenario}"
            with_it = [name for name, ids in files.items() if patch.id in ids]
            without = [name for name, ids in files.items() if patch.id not in ids]
            assert with_it and without, f"{patch.id} / {scenario}: {with_it=} {without=}"
