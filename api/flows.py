"""Flows: the registered versions of each order type, their diagrams, and registering more."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status

from api.deps import CurrentPrincipal, StoreDep, require_role
from api.models import MAX_FLOW_VERSION, FlowDiagram, FlowsPublic, FlowVersionPublic
from domain.flows import STEP_SPECS, Condition, FlowDefinition, FlowDraft
from oms.config.auth import Principal
from store import flows
from store.db import Store
from store.flows import FlowInvalid, FlowVersion

router = APIRouter(prefix="/flows", tags=["flows"])

OperatorPrincipal = Annotated[Principal, Depends(require_role("operator"))]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_FLOW_VERSION)]


def public(version: FlowVersion) -> FlowVersionPublic:
    return FlowVersionPublic(
        **version.definition.model_dump(),
        created_at=version.created_at,
        retired=version.retired,
    )


def listing(found: list[FlowVersion]) -> FlowsPublic:
    return FlowsPublic(data=[public(version) for version in found], count=len(found))


@router.get("", response_model=FlowsPublic, response_model_exclude_none=True)
async def list_flows(_: CurrentPrincipal, store: StoreDep) -> FlowsPublic:
    """The latest version of every order type."""
    return listing(await flows.latest_of_each(store))


@router.get("/{flow_type}", response_model=FlowsPublic, response_model_exclude_none=True)
async def list_versions(flow_type: str, _: CurrentPrincipal, store: StoreDep) -> FlowsPublic:
    """Every version of one order type, oldest first."""
    found = await flows.versions(store, flow_type)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order type {flow_type}")
    return listing(found)


async def found_version(store: Store, flow_type: str, version: int) -> FlowDefinition:
    found = await flows.get(store, flow_type, version)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flow {flow_type} v{version}")
    return found.definition


@router.get(
    "/{flow_type}/{version}", response_model=FlowDefinition, response_model_exclude_none=True
)
async def get_flow(
    flow_type: str, version: VersionNumber, _: CurrentPrincipal, store: StoreDep
) -> FlowDefinition:
    return await found_version(store, flow_type, version)


@router.get("/{flow_type}/{version}/diagram", response_model=FlowDiagram)
async def get_diagram(
    flow_type: str, version: VersionNumber, _: CurrentPrincipal, store: StoreDep
) -> FlowDiagram:
    return FlowDiagram(mermaid=mermaid(await found_version(store, flow_type, version)))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FlowDefinition,
    response_model_exclude_none=True,
    responses={422: {"description": "the definition cannot run; `detail` lists every reason"}},
)
async def register_flow(body: FlowDraft, _: OperatorPrincipal, store: StoreDep) -> FlowDefinition:
    """Register the definition as its type's next version; new orders of the type run it."""
    try:
        return await flows.register(store, body)
    except FlowInvalid as invalid:
        raise HTTPException(422, invalid.errors) from invalid


OPS = {"eq": "=", "ne": "≠", "gt": "#gt;", "ge": "≥", "lt": "#lt;", "le": "≤", "in": "in"}


def _text(value: str) -> str:
    # Mermaid entity codes, so that quotes and angle brackets never end or open markup.
    return (
        value.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _condition(condition: Condition) -> str:
    return f"{condition.field} {OPS[condition.op]} {_text(json.dumps(condition.value))}"


def mermaid(flow: FlowDefinition) -> str:
    """A `flowchart TD`: one node per step (its id, its failure policy), conditions as edge
    labels with a dotted edge around the step when the condition does not hold, and each
    compensation as a dotted edge to what undoes the step."""
    lines = [
        "flowchart TD",
        f'    start(["{_text(flow.type)} v{flow.version}: order placed"])',
    ]
    for index, step in enumerate(flow.steps):
        label = [_text(step.step_id)]
        if step.step_id != step.step:
            label.append(f"step: {_text(step.step)}")
        label.append(f"on failure: {step.on_failure}")
        if step.is_skippable:
            label.append("skippable")
        if step.retry is not None:
            label.append(f"retry: {step.retry.max_attempts} attempts")
        if not step.backtrackable:
            label.append("no backtrack")
        lines.append(f'    s{index}["{"<br/>".join(label)}"]')
    lines.append('    done(["completed"])')
    targets = [f"s{index}" for index in range(len(flow.steps))] + ["done"]
    previous = "start"
    for index, step in enumerate(flow.steps):
        if step.when is None:
            lines.append(f"    {previous} --> s{index}")
        else:
            condition = _condition(step.when)
            lines.append(f'    {previous} -->|"{condition}"| s{index}')
            lines.append(f'    {previous} -.->|"otherwise"| {targets[index + 1]}')
        previous = f"s{index}"
    lines.append(f"    {previous} --> done")
    for index, step in enumerate(flow.steps):
        spec = STEP_SPECS.get(step.step)
        if spec is not None and spec.compensation:
            lines.append(f'    u{index}[/"undo: {_text(spec.compensation)}"/]')
            lines.append(f"    s{index} -.-> u{index}")
            lines.append(f"    class u{index} undo")
    lines.append("    classDef undo stroke-dasharray: 4 3")
    return "\n".join(lines) + "\n"
