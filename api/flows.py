"""Flows: the registered versions of each order type, their diagrams, and registering more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status

from api.deps import CurrentPrincipal, SettingsDep, StoreDep, require_role
from api.models import MAX_FLOW_VERSION, FlowDiagram, FlowsPublic, FlowVersionPublic
from domain.diagrams import render
from domain.endpoints import host_allowed
from domain.flows import FlowDefinition, FlowDraft
from oms.config.auth import Principal
from store import flows
from store.db import Store
from store.endpoints import endpoint_urls
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
    return FlowDiagram(mermaid=render(await found_version(store, flow_type, version)))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FlowDefinition,
    response_model_exclude_none=True,
    responses={422: {"description": "the definition cannot run; `detail` lists every reason"}},
)
async def register_flow(
    body: FlowDraft, _: OperatorPrincipal, store: StoreDep, settings: SettingsDep
) -> FlowDefinition:
    """Register the definition as its type's next version; new orders of the type run it.
    With `"kind": "fragment"` it is a fragment, which order types include by its type."""
    calls = any(step.kind == "call" for step in body.walk())
    try:
        return await flows.register(
            store,
            body,
            # Call steps must name registered endpoints on allowed hosts.
            endpoints=await endpoint_urls(store) if calls else None,
            host_allowed=allowed_host(settings.allowed_call_hosts),
        )
    except FlowInvalid as invalid:
        raise HTTPException(422, invalid.errors) from invalid


def allowed_host(allowed: list[str]) -> Callable[[str], bool]:
    def check(host: str) -> bool:
        return host_allowed(f"http://[{host}]/" if ":" in host else f"http://{host}/", allowed)

    return check
