"""Placing an order and applying a carrier event, once what asks for it has been read: what
`POST /orders` and the carrier webhook do, and what `oms intake` does with a message from the
broker. Refusals are the API's own errors (a 422's entries, a 404, a 409), so both ways in
give the same words; `refusal` turns one into a line of text."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from api.middleware.card_numbers import redact
from api.middleware.json_body import body_errors
from api.models import OrderCreate
from api.placement import price_order
from domain.order_state import OrderInput, place
from domain.shipments import parse_shipment_id
from domain.text import escaped
from domain.view import OrderView
from oms.config.settings import Settings
from store import orders as order_records
from store.db import Store
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow, order_summary, order_workflow_id
from workflows.shipment import CarrierEvent, CarrierReport

Body = TypeVar("Body", bound=BaseModel)
MAX_REASON = 1000


def new_order_id() -> str:
    """`ord_` and 16 hex digits with at least one letter among them. An all-digit draw
    (about 1 in 1,800) can pass for a card number, and the API refuses every request that
    carries one (`api.middleware.card_numbers`): the order's own carrier events among them.
    With a letter in it, no id and no id made from it (`ord_…-1`, a shipment) is one."""
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


def read_body(raw: bytes, model: type[Body]) -> Body:
    """`raw` read as the API reads a request body: first what the request guard refuses
    (`body_errors`: JSON it cannot handle safely, card numbers), then the model, each
    problem a 422 entry naming the field under `body`, as FastAPI names it."""
    if errors := body_errors(raw):
        raise RequestValidationError(errors)
    try:
        return model.model_validate(json.loads(raw))
    except ValidationError as error:
        raise RequestValidationError(
            [
                {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
                for e in error.errors(include_url=False)
            ]
        ) from error


@dataclass(frozen=True)
class Placement:
    order: OrderInput
    created: bool  # False: the key had made this order before
    handle: WorkflowHandle

    async def view(self) -> OrderView:
        """The order as placed, or, for a key used before, as its workflow sees it now."""
        if self.created:
            return place(self.order).view()
        return await self.handle.query(OrderWorkflow.view)


async def place_order(
    store: Store,
    client: Client,
    settings: Settings,
    body: OrderCreate,
    *,
    owner: str,
    key: str,
    key_name: str = "Idempotency-Key",
    shown_key: str | None = None,
) -> Placement:
    """Price `body`, claim (`owner`, `key`) for it in the same transaction and start its
    workflow; a key used before gives back its order. The same key with another body is a
    409 naming the key as the caller sent it (`key_name`, `shown_key`)."""
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
                settings.fraud,
            )
            claimed = await order_records.claim_idempotency_key(
                session,
                owner=owner,
                key=key,
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
            f"{key_name} {shown_key or key!r} was used for a different request "
            f"(order {claim.order_id})",
        )
    order_input = order_input.model_copy(update={"order_id": claim.order_id})
    # Starting is idempotent too (USE_EXISTING): a retry after a crash between the claim
    # and the start still starts the order, and a duplicate never starts a second one.
    handle = await start_order(client, settings.task_queue, order_input)
    return Placement(order_input, claim.created, handle)


async def start_order(client: Client, task_queue: str, order: OrderInput) -> WorkflowHandle:
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


async def apply_carrier_event(client: Client, shipment_id: str, event: CarrierEvent) -> None:
    """Signal `event` to the order that owns the shipment (its id names the order); a
    shipment no order has open is a 404."""
    named = parse_shipment_id(shipment_id)
    if named is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}")
    handle = client.get_workflow_handle(order_workflow_id(named[0]))
    try:
        await handle.signal("carrier_event", CarrierReport(shipment_id=shipment_id, event=event))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}"
            ) from error
        raise


def refusal(error: BaseException) -> str | None:
    """The answer the API gives for `error` as one line (`422 body.lines.0.sku: unknown
    SKU; ...`, `404 no open shipment ...`), card numbers masked; None when the error is no
    refusal of the input but a failure that may pass (Temporal or the store down)."""
    if isinstance(error, RequestValidationError):
        text = "422 " + "; ".join(_entry(entry) for entry in error.errors())
    elif isinstance(error, HTTPException) and 400 <= error.status_code < 500:
        text = f"{error.status_code} {error.detail}"
    else:
        return None
    text = redact(escaped(text))
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _entry(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(entry)
    where = ".".join(str(part) for part in entry.get("loc", ()))
    return f"{where}: {entry.get('msg', '')}" if where else str(entry.get("msg", ""))
