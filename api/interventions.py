"""Interventions over HTTP: each route runs the order workflow's update of the same name.

A refused intervention is a 409 carrying the workflow validator's reason. Customers may
cancel their own orders (and return them, see api/returns.py); every other intervention
needs an operator key.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, status
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ClientDep, ShopPrincipal, StoreDep
from api.middleware import metrics
from api.orders import visible_order
from domain.interventions import (
    AddressCorrection,
    BacktrackPlan,
    BacktrackRequest,
    CancelRequest,
    HoldRequest,
    InterventionRequest,
    PickupRequest,
    ReleaseRequest,
    ReviewRequest,
    SkipRequest,
)
from domain.view import OrderView
from oms.config.auth import Principal
from workflows.order import order_workflow_id

router = APIRouter(prefix="/orders", tags=["interventions"])

REFUSED = {409: {"description": "refused now, with the reason (e.g. lines already shipped)"}}


# Interventions a customer may run on her own order; every other one needs an operator key.
CUSTOMER_INTERVENTIONS = frozenset({"cancel", "request_return"})


def actor_of(principal: Principal) -> str:
    return f"customer:{principal.customer_id}" if principal.customer_id else principal.role


async def run_update(
    handle: WorkflowHandle,
    name: str,
    body: dict[str, Any],
    ended: Callable[[RPCError], Awaitable[HTTPException]],
) -> dict[str, Any]:
    """Run one update: a validator's refusal is a 409 with its reason; a workflow that can no
    longer take updates is whatever `ended` makes of the server's error."""
    try:
        result = await handle.execute_update(name, body, result_type=dict)
    except WorkflowUpdateFailedError as error:
        metrics.intervention(name, "refused")
        cause = error.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
        raise HTTPException(status.HTTP_409_CONFLICT, message) from error
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            answer = await ended(error)
            if answer.status_code == status.HTTP_409_CONFLICT:
                metrics.intervention(name, "refused")
            raise answer from error
        raise
    metrics.intervention(name, "accepted")
    return result


async def intervene(
    client,  # noqa: ANN001
    store,  # noqa: ANN001
    principal: Principal,
    order_id: str,
    name: str,
    request: InterventionRequest,
) -> dict[str, Any]:
    if name not in CUSTOMER_INTERVENTIONS and not principal.is_operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{name} needs an operator key")
    await visible_order(store, order_id, principal)
    body = request.model_copy(update={"actor": actor_of(principal)}).model_dump(mode="json")
    handle = client.get_workflow_handle(order_workflow_id(order_id))

    async def ended(_: RPCError) -> HTTPException:
        view = await handle.query("view", result_type=dict)
        closed = view.get("return_window_closes_at")
        if name in ("request_return", "appease") and closed:
            return HTTPException(
                status.HTTP_409_CONFLICT,
                f"the return window of order {order_id} closed at {closed}; "
                f"it is {view['status']} and takes no more returns or appeasements",
            )
        return HTTPException(
            status.HTTP_409_CONFLICT,
            f"order {order_id} has ended {view['status']}; it can no longer change",
        )

    return await run_update(handle, name, body, ended)


def add_route(name: str, path: str, model: type[InterventionRequest], summary: str) -> None:
    answer = OrderView | BacktrackPlan if name == "backtrack" else OrderView

    async def route(
        order_id: str,
        body: model,
        principal: ShopPrincipal,
        client: ClientDep,
        store: StoreDep,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        return await intervene(client, store, principal, order_id, name, body)

    route.__name__ = f"{name}_order"
    router.add_api_route(
        f"/{{order_id}}/{path}",
        route,
        methods=["POST"],
        response_model=answer,
        responses=REFUSED,
        summary=summary,
    )


for _name, _path, _model, _summary in (
    ("cancel", "cancel", CancelRequest, "Cancel the order, or some units of some lines"),
    ("hold", "hold", HoldRequest, "Hold the order: its flow stops at its next wait"),
    ("release", "release", ReleaseRequest, "Release one hold (by reason) or all"),
    ("backtrack", "backtrack", BacktrackRequest, "Move back to an earlier step (or plan it)"),
    ("skip", "skip", SkipRequest, "Move past a skippable step"),
    ("review", "review", ReviewRequest, "Decide an order in NEEDS_REVIEW"),
    ("correct_address", "address", AddressCorrection, "Correct the address while held for it"),
    ("pickup", "pickup", PickupRequest, "The customer collected a pickup order at the store"),
):
    add_route(_name, _path, _model, _summary)
