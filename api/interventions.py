"""Interventions over HTTP: each route runs the order workflow's update of the same name.

A refused intervention is a 409 carrying the workflow validator's reason. Customers may
cancel their own orders; every other intervention needs an operator key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ClientDep, ShopPrincipal, StoreDep
from api.orders import visible_order
from domain.interventions import (
    AddressCorrection,
    BacktrackPlan,
    BacktrackRequest,
    CancelRequest,
    HoldRequest,
    InterventionRequest,
    ReleaseRequest,
    ReviewRequest,
    SkipRequest,
)
from domain.orders import OrderView
from oms.settings import Principal
from workflows.order import order_workflow_id

router = APIRouter(prefix="/orders", tags=["interventions"])

REFUSED = {409: {"description": "refused now, with the reason (e.g. lines already shipped)"}}


def actor_of(principal: Principal) -> str:
    return f"customer:{principal.customer_id}" if principal.customer_id else principal.role


async def intervene(
    client,
    store,
    principal: Principal,
    order_id: str,
    name: str,
    request: InterventionRequest,  # noqa: ANN001
) -> dict[str, Any]:
    if name != "cancel" and not principal.is_operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{name} needs an operator key")
    await visible_order(store, order_id, principal)
    body = request.model_copy(update={"actor": actor_of(principal)}).model_dump(mode="json")
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        return await handle.execute_update(name, body, result_type=dict)
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
        raise HTTPException(status.HTTP_409_CONFLICT, message) from error
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            ended = await handle.query("view", result_type=dict)
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"order {order_id} has ended {ended['status']}; it can no longer change",
            ) from error
        raise


@router.post("/{order_id}/cancel", response_model=OrderView, responses=REFUSED)
async def cancel_order(
    order_id: str, body: CancelRequest, principal: ShopPrincipal, client: ClientDep, store: StoreDep
) -> dict[str, Any]:
    """Cancel the whole order, or some units of some lines, until those units ship."""
    return await intervene(client, store, principal, order_id, "cancel", body)


@router.post("/{order_id}/hold", response_model=OrderView, responses=REFUSED)
async def hold_order(
    order_id: str, body: HoldRequest, principal: ShopPrincipal, client: ClientDep, store: StoreDep
) -> dict[str, Any]:
    """Stop the order at its next step boundary until every hold is released."""
    return await intervene(client, store, principal, order_id, "hold", body)


@router.post("/{order_id}/release", response_model=OrderView, responses=REFUSED)
async def release_order(
    order_id: str,
    body: ReleaseRequest,
    principal: ShopPrincipal,
    client: ClientDep,
    store: StoreDep,
) -> dict[str, Any]:
    """Release one hold (by reason) or all of them."""
    return await intervene(client, store, principal, order_id, "release", body)


@router.post("/{order_id}/backtrack", response_model=OrderView | BacktrackPlan, responses=REFUSED)
async def backtrack_order(
    order_id: str,
    body: BacktrackRequest,
    principal: ShopPrincipal,
    client: ClientDep,
    store: StoreDep,
) -> dict[str, Any]:
    """Move the order back to an earlier step; with `dry_run` answer the compensation plan."""
    return await intervene(client, store, principal, order_id, "backtrack", body)


@router.post("/{order_id}/skip", response_model=OrderView, responses=REFUSED)
async def skip_step(
    order_id: str, body: SkipRequest, principal: ShopPrincipal, client: ClientDep, store: StoreDep
) -> dict[str, Any]:
    """Move past a step the flow marks skippable."""
    return await intervene(client, store, principal, order_id, "skip", body)


@router.post("/{order_id}/review", response_model=OrderView, responses=REFUSED)
async def decide_review(
    order_id: str,
    body: ReviewRequest,
    principal: ShopPrincipal,
    client: ClientDep,
    store: StoreDep,
) -> dict[str, Any]:
    """Decide an order in NEEDS_REVIEW: approve, retry, skip or cancel."""
    return await intervene(client, store, principal, order_id, "review", body)


@router.post("/{order_id}/address", response_model=OrderView, responses=REFUSED)
async def correct_address(
    order_id: str,
    body: AddressCorrection,
    principal: ShopPrincipal,
    client: ClientDep,
    store: StoreDep,
) -> dict[str, Any]:
    """Correct the shipping address of an order held for INCORRECT_ADDRESS."""
    return await intervene(client, store, principal, order_id, "correct_address", body)
