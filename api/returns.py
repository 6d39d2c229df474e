"""Returns, exchanges and appeasements over HTTP, after an order is delivered.

A return is asked of the order (`request_return`, like any intervention) and then lives as
its own child workflow (`return-{return_id}`): the warehouse reports the parcel with
`POST /returns/{return_id}/events`, an operator decides one that needs review with
`POST /returns/{return_id}/decision`. Refusals are 409s carrying the workflow's reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ClientDep, OperatorPrincipal, ShopPrincipal, StoreDep, WarehousePrincipal
from api.interventions import REFUSED, actor_of, intervene, run_update
from api.orders import visible_order
from domain.interventions import AppeasementRequest, ReturnRequest
from domain.returns import Appeasement, Return, ReturnDecisionRequest, ReturnReceipt
from oms.config.auth import Principal
from store.catalog import items_by_sku
from store.db import Store
from workflows.order import order_workflow_id
from workflows.returns import order_id_of, return_workflow_id

router = APIRouter(tags=["returns"])

NO_RETURN = {404: {"description": "no such return"}}


class ReturnsPublic(BaseModel):
    data: list[Return]
    count: int


async def check_replacements(store: Store, request: ReturnRequest) -> None:
    """An exchange must name a SKU the catalog has and that ships: a 422 naming the line."""
    wanted = {line.replacement_sku for line in request.lines if line.replacement_sku}
    if not wanted:
        return
    catalog = await items_by_sku(store, wanted)
    errors = []
    for index, line in enumerate(request.lines):
        sku = line.replacement_sku
        if sku is None:
            continue
        item = catalog.get(sku)
        if item is None:
            message = "unknown SKU; see GET /catalog"
        elif item.kind != "physical":
            message = f"an exchange ships goods; {sku} is {item.kind}"
        else:
            continue
        errors.append(
            {
                "type": "value_error",
                "loc": ("body", "lines", index, "replacement_sku"),
                "msg": message,
                "input": sku,
            }
        )
    if errors:
        raise RequestValidationError(errors)


@router.post(
    "/orders/{order_id}/returns",
    status_code=status.HTTP_201_CREATED,
    response_model=Return,
    responses=REFUSED,
    summary="Return delivered units, for a refund or (with replacement_sku) an exchange",
)
async def request_return(
    order_id: str,
    body: ReturnRequest,
    principal: ShopPrincipal,
    client: ClientDep,
    store: StoreDep,
) -> dict[str, Any]:
    await visible_order(store, order_id, principal)
    await check_replacements(store, body)
    return await intervene(client, store, principal, order_id, "request_return", body)


@router.get("/orders/{order_id}/returns", response_model=ReturnsPublic)
async def list_returns(
    order_id: str, principal: ShopPrincipal, client: ClientDep, store: StoreDep
) -> ReturnsPublic:
    await visible_order(store, order_id, principal)
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        view = await handle.query("view", result_type=dict)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}") from error
        raise
    returns = [Return.model_validate(ret) for ret in view.get("returns", [])]
    return ReturnsPublic(data=returns, count=len(returns))


@router.post(
    "/orders/{order_id}/appeasements",
    status_code=status.HTTP_201_CREATED,
    response_model=Appeasement,
    responses=REFUSED,
    summary="Refund an amount as goodwill, without a return",
)
async def appease(
    order_id: str,
    body: AppeasementRequest,
    principal: ShopPrincipal,
    client: ClientDep,
    store: StoreDep,
) -> dict[str, Any]:
    return await intervene(client, store, principal, order_id, "appease", body)


async def visible_return(store: Store, return_id: str, principal: Principal) -> None:
    """A customer sees only the returns of her own orders."""
    if principal.role != "customer":
        return
    try:
        await visible_order(store, order_id_of(return_id), principal)
    except HTTPException as error:
        if error.status_code == status.HTTP_404_NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no return {return_id}") from error
        raise


async def return_view(client, return_id: str) -> dict[str, Any]:  # noqa: ANN001
    handle = client.get_workflow_handle(return_workflow_id(return_id))
    try:
        return await handle.query("view", result_type=dict)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no return {return_id}") from error
        raise


async def update_return(client, return_id: str, name: str, body: BaseModel) -> dict[str, Any]:  # noqa: ANN001
    handle = client.get_workflow_handle(return_workflow_id(return_id))

    async def ended(_: RPCError) -> HTTPException:
        # Either it never existed (the query is NOT_FOUND too: a 404) or it has finished.
        view = await return_view(client, return_id)
        return HTTPException(
            status.HTTP_409_CONFLICT, f"return {return_id} is closed ({view['status']})"
        )

    return await run_update(handle, name, body.model_dump(mode="json"), ended)


@router.get(
    "/returns/{return_id}", response_model=Return, responses=NO_RETURN, summary="One return"
)
async def get_return(
    return_id: str, principal: ShopPrincipal, client: ClientDep, store: StoreDep
) -> dict[str, Any]:
    await visible_return(store, return_id, principal)
    return await return_view(client, return_id)


@router.post(
    "/returns/{return_id}/events",
    response_model=Return,
    responses=REFUSED | NO_RETURN,
    summary="The warehouse received the returned parcel",
)
async def receive_return(
    return_id: str, receipt: ReturnReceipt, _: WarehousePrincipal, client: ClientDep
) -> dict[str, Any]:
    return await update_return(client, return_id, "receive", receipt)


@router.post(
    "/returns/{return_id}/decision",
    response_model=Return,
    responses=REFUSED | NO_RETURN,
    summary="Approve or reject a return waiting in NEEDS_REVIEW",
)
async def decide_return(
    return_id: str, body: ReturnDecisionRequest, principal: OperatorPrincipal, client: ClientDep
) -> dict[str, Any]:
    decision = body.model_copy(update={"actor": actor_of(principal)})
    return await update_return(client, return_id, "decide", decision)
