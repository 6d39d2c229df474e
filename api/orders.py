"""Orders: place one (idempotently), read its view, read its journal."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlalchemy.exc import IntegrityError
from temporalio.client import WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ClientDep, SettingsDep, ShopPrincipal, StoreDep
from api.middleware import metrics
from api.models import OrderCreate, OrderEventsPublic
from api.placement import price_order
from domain.order_state import OrderInput, place
from domain.view import OrderView
from oms.config.auth import Principal
from store import journal, order_list
from store import orders as order_records
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow, order_summary, order_workflow_id

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


def new_order_id() -> str:
    """`ord_` and 16 hex digits with at least one letter among them. An all-digit draw
    (about 1 in 1,800) can pass for a card number, and the API refuses every request that
    carries one (`api.middleware.card_numbers`): the order's own carrier events among them. With a
    letter in it, no id and no id made from it (`ord_…-1`, a shipment) is one."""
    while True:
        token = secrets.token_hex(8)
        if not token.isdecimal():
            return "ord_" + token


def request_hash(body: OrderCreate) -> str:
    # Without a flow_version the body hashes as it did before the field existed, so a
    # request retried across that upgrade still finds its order.
    exclude = {"flow_version"} if body.flow_version is None else set()
    return hashlib.sha256(
        json.dumps(body.model_dump(mode="json", exclude=exclude), sort_keys=True).encode()
    ).hexdigest()


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
    order_id, fingerprint = new_order_id(), request_hash(body)

    async def price_and_claim() -> tuple[OrderInput, order_records.Claim]:
        # One transaction: the prices and the flow are read where the key is claimed.
        async with store.transaction() as session:
            priced = await price_order(
                session,
                order_id,
                body,
                settings.review_sla_s,
                settings.pickup_window_s,
                settings.concessions,
            )
            claimed = await order_records.claim_idempotency_key(
                session,
                owner=f"{principal.role}:{principal.customer_id or ''}",
                key=idempotency_key,
                request_hash=fingerprint,
                order_id=order_id,
                customer_id=body.customer_id,
                order_type=body.order_type,
            )
        return priced, claimed

    try:
        order_input, claim = await price_and_claim()
    except IntegrityError:
        # A concurrent request with the same key won (PostgreSQL): this finds its claim.
        order_input, claim = await price_and_claim()
    if claim.request_hash != fingerprint:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Idempotency-Key {idempotency_key!r} was used for a different request "
            f"(order {claim.order_id})",
        )
    order_input = order_input.model_copy(update={"order_id": claim.order_id})
    # Starting is idempotent too (USE_EXISTING): a retry after a crash between the claim
    # and the start still starts the order, and a duplicate never starts a second one.
    handle = await start_order(client, settings.task_queue, order_input)
    if claim.created:
        metrics.order_placed()
        return place(order_input).view()
    response.status_code = status.HTTP_200_OK
    return await handle.query(OrderWorkflow.view)


async def start_order(client, task_queue: str, order: OrderInput) -> WorkflowHandle:  # noqa: ANN001
    placed = place(order)
    return await client.start_workflow(
        OrderWorkflow.run,
        order,
        id=order_workflow_id(order.order_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.ORDER_STATUS, "RECEIVED"),
                SearchAttributePair(sa.ORDER_TYPE, order.order_type),
                SearchAttributePair(sa.CUSTOMER_ID, order.customer_id),
                SearchAttributePair(sa.ORDER_TOTAL, placed.total_minor),
                SearchAttributePair(sa.FLOW_VERSION, order.flow.version),
                SearchAttributePair(sa.NEEDS_REVIEW, False),
            ]
        ),
        static_summary=order_summary(placed),
        static_details=", ".join(f"{line.quantity}× {line.sku}" for line in order.lines),
    )


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
