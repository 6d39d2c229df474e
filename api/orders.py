"""Orders: place one (idempotently), read its view, read its journal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from temporalio.service import RPCError, RPCStatusCode

from api import ordering
from api.deps import ClientDep, SettingsDep, ShopPrincipal, StoreDep
from api.middleware import metrics
from api.models import OrderCreate, OrderEventsPublic
from api.ordering import new_order_id as new_order_id
from domain.view import OrderView
from oms.config.auth import Principal
from store import journal, order_list
from store import orders as order_records
from workflows.order import OrderWorkflow, order_workflow_id

router = APIRouter(prefix="/orders", tags=["orders"])

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="the same key with the same body returns the same order",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderView,
    responses={
        200: {"description": "the order this idempotency key already made"},
        409: {"description": "the idempotency key was used for a different request"},
    },
)
async def place_order(
    body: OrderCreate,
    idempotency_key: IdempotencyKey,
    principal: ShopPrincipal,
    response: Response,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> OrderView:
    if principal.role == "customer" and body.customer_id != principal.customer_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "customers place orders for themselves")
    placement = await ordering.place_order(
        store,
        client,
        settings,
        body,
        owner=f"{principal.role}:{principal.customer_id or ''}",
        key=idempotency_key,
    )
    if placement.created:
        metrics.order_placed()
    else:
        response.status_code = status.HTTP_200_OK
    return await placement.view()


async def visible_order(store, order_id: str, principal: Principal):  # noqa: ANN001, ANN201
    record = await order_records.get(store, order_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    if principal.role == "customer" and record.customer_id != principal.customer_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"order {order_id} belongs to someone else")
    return record


@router.get(
    "/{order_id}",
    response_model=OrderView,
    responses={
        200: {
            "description": "the order; `X-Read-Model` says whether from the projection "
            "(with `X-Journal-Seq`, the last event it reflects) or from the live workflow",
        }
    },
)
async def get_order(
    order_id: str,
    principal: ShopPrincipal,
    store: StoreDep,
    client: ClientDep,
    response: Response,
    consistent: Annotated[
        bool,
        Query(description="read the live workflow state (a query) instead of the projection"),
    ] = False,
) -> OrderView:
    await visible_order(store, order_id, principal)
    projected = None if consistent else await order_list.view(store, order_id)
    if projected is not None:
        view, seq = projected
        response.headers["X-Read-Model"] = "projection"
        response.headers["X-Journal-Seq"] = str(seq)
        return view
    # Asked for, or the order is so new that its first journal batch is not written yet.
    response.headers["X-Read-Model"] = "live"
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        return await handle.query(OrderWorkflow.view)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}") from error
        raise


@router.get("/{order_id}/events", response_model=OrderEventsPublic)
async def get_order_events(
    order_id: str, principal: ShopPrincipal, store: StoreDep
) -> OrderEventsPublic:
    await visible_order(store, order_id, principal)
    events = await journal.read(store, order_id)
    return OrderEventsPublic(data=events, count=len(events))
