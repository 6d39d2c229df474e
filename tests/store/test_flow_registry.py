"""The flow registry on both backends: seeded built-ins, versions assigned on registration,
concurrent registrations, refusals."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from store import flows
from store.db import Store
from store.flows import FlowInvalid

SOUND_STEPS: list[dict[str, Any]] = [
    {"step": "validate_order", "on_failure": "fail"},
    {"step": "reserve_inventory", "on_failure": "review"},
    {"step": "authorize_payment", "on_failure": "compensate"},
    {"step": "fulfill_shipments", "on_failure": "review"},
]


def new_type() -> str:
    # `any_store` is shared by the session: every test registers its own type.
    return f"t_{uuid.uuid4().hex[:8]}"


def draft(flow_type: str, **extra: Any) -> dict[str, Any]:
    return {"type": flow_type, "steps": SOUND_STEPS, **extra}


async def test_seeded_builtins_are_present(any_store: Store) -> None:
    # Seeding the catalog (the store fixture did) seeds the built-in flows with it.
    assert await flows.seed_flows(any_store) == 0
    builtins = flows.builtin_flows()
    assert {"standard", "prepaid"} <= {flow.type for flow in builtins}
    for builtin in builtins:
        stored = await flows.get(any_store, builtin.type, builtin.version)
        assert stored is not None, (builtin.type, builtin.version)
        assert stored.definition == builtin
        assert not stored.retired
    newest_standard = max(f.version for f in builtins if f.type == "standard")
    standard = await flows.latest(any_store, "standard")
    assert standard is not None and standard.version >= newest_standard
    assert {"standard", "prepaid"} <= set(await flows.types(any_store))


async def test_builtins_say_compensate_not_cancel() -> None:
    # The files themselves, not the parsed models: parsing already reads "cancel" as compensate.
    for path in flows.SEED.glob("*.json"):
        policies = {step.get("on_failure") for step in json.loads(path.read_text())["steps"]}
        assert "cancel" not in policies, path.name


async def test_register_assigns_the_next_version(any_store: Store) -> None:
    flow_type = new_type()
    first = await flows.register(any_store, draft(flow_type, description="first"))
    second = await flows.register(any_store, draft(flow_type, description="second"))
    assert (first.version, second.version) == (1, 2)
    latest = await flows.latest(any_store, flow_type)
    assert latest == second
    assert [v.definition.description for v in await flows.versions(any_store, flow_type)] == [
        "first",
        "second",
    ]
    assert await flows.resolve(any_store, flow_type, None) == second
    assert await flows.resolve(any_store, flow_type, 1) == first
    assert await flows.resolve(any_store, flow_type, 3) is None
    assert await flows.resolve(any_store, new_type(), None) is None


async def test_register_reads_the_cancel_alias_as_compensate(any_store: Store) -> None:
    steps = [dict(step) for step in SOUND_STEPS]
    steps[2]["on_failure"] = "cancel"
    flow = await flows.register(any_store, {"type": new_type(), "steps": steps})
    stored = await flows.get(any_store, flow.type, flow.version)
    assert stored is not None
    assert stored.definition.steps[2].on_failure == "compensate"


async def test_concurrent_registrations_get_distinct_consecutive_versions(
    any_store: Store,
) -> None:
    flow_type = new_type()
    registered = await asyncio.gather(
        *(flows.register(any_store, draft(flow_type, description=str(n))) for n in range(5))
    )
    assert sorted(flow.version for flow in registered) == [1, 2, 3, 4, 5]
    stored = await flows.versions(any_store, flow_type)
    assert [v.definition.version for v in stored] == [1, 2, 3, 4, 5]
    # Each registration stored its own definition under the version it was told.
    by_version = {v.definition.version: v.definition.description for v in stored}
    assert {flow.version: flow.description for flow in registered} == by_version


async def test_an_invalid_definition_is_refused_with_reasons(any_store: Store) -> None:
    flow_type = new_type()
    steps = [SOUND_STEPS[0], SOUND_STEPS[3], SOUND_STEPS[1], SOUND_STEPS[2], {"step": "beam_up"}]
    with pytest.raises(FlowInvalid) as refused:
        await flows.register(any_store, {"type": flow_type, "steps": steps})
    errors = refused.value.errors
    assert any(e.startswith("steps[1] (fulfill_shipments): ") for e in errors), errors
    assert any(e.startswith("steps[4] (beam_up): unknown step") for e in errors), errors
    assert await flows.versions(any_store, flow_type) == []


async def test_a_malformed_definition_is_refused_naming_the_field(any_store: Store) -> None:
    steps = [dict(step) for step in SOUND_STEPS]
    steps[1]["retry"] = {"max_attempts": 0}
    with pytest.raises(FlowInvalid) as refused:
        await flows.register(any_store, {"type": new_type(), "steps": steps})
    assert refused.value.errors[0].startswith("steps[1].retry.max_attempts: ")
    with pytest.raises(FlowInvalid) as refused:
        await flows.register(any_store, {"type": new_type(), "version": 4, "steps": SOUND_STEPS})
    assert refused.value.errors[0].startswith("version: ")
