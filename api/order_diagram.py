"""An order's diagram: the flow it started with, each step marked where it stands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import ValidationError
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ClientDep, ShopPrincipal, StoreDep
from api.models import FlowDiagram
from api.orders import visible_order
from domain.diagrams import render
from domain.events import EventType
from domain.flows import FlowDefinition
from domain.view import StepMark
from store import journal, order_list
from store.db import Store
from workflows.order import OrderWorkflow, order_workflow_id

router = APIRouter(prefix="/orders", tags=["orders"])

# How long the live view may take before the stored one marks the diagram instead.
LIVE_VIEW_TIMEOUT = timedelta(seconds=5)


async def placed_flow(store: Store, order_id: str) -> FlowDefinition | None:
    """The flow the journal's `OrderPlaced` recorded; None before it is written (or for an
    order placed before the event carried its flow)."""
    placed = await journal.first(store, order_id)
    if placed is None or placed.type != EventType.ORDER_PLACED or "flow" not in placed.data:
        return None
    try:
        return FlowDefinition.model_validate(placed.data["flow"])
    except ValidationError:
        return None


async def started_flow(client: Client, order_id: str) -> FlowDefinition | None:
    """The flow in the workflow's input, from the first event of its history."""
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        async for event in handle.fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [order] = await client.data_converter.decode(payloads, [dict[str, Any]])
            return FlowDefinition.model_validate(order["flow"])
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    return None


async def progress(client: Client, store: Store, order_id: str) -> dict[str, StepMark]:
    """Where each step stands: from the live view, else the stored one."""
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        view = await handle.query(OrderWorkflow.view, rpc_timeout=LIVE_VIEW_TIMEOUT)
        return view.progress
    except (RPCError, WorkflowQueryFailedError):
        stored = await order_list.view(store, order_id)
        return stored[0].progress if stored is not None else {}


@router.get(
    "/{order_id}/diagram",
    response_model=FlowDiagram,
    responses={404: {"description": "no such order, or its flow is no longer known"}},
)
async def get_order_diagram(
    order_id: str, principal: ShopPrincipal, store: StoreDep, client: ClientDep
) -> FlowDiagram:
    """The flow the order started with (not the registry's latest) as a Mermaid `flowchart
    TD`, each step in the class of where it stands: done, running, waiting, skipped,
    compensated or failed."""
    await visible_order(store, order_id, principal)
    flow = await placed_flow(store, order_id) or await started_flow(client, order_id)
    if flow is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flow known for order {order_id}")
    return FlowDiagram(mermaid=render(flow, await progress(client, store, order_id)))
