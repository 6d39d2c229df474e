"""Dependencies shared by the routes: the settings, the store, the Temporal client, the caller.

Each is a coroutine function although none awaits anything: FastAPI runs a plain function
dependency in a worker thread, and those hand-offs were a fifth of the API's CPU per order
(docs/performance.md, "The API's share of an order")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from oms.config.auth import Principal
from oms.config.settings import Settings
from store.db import Store

bearer = HTTPBearer(auto_error=False, description="an API key from OMS_API_KEYS")


def invalid(loc: tuple[Any, ...], message: str, value: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the field like pydantic does: ("body", "lines")."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": value}]
    )


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_client(request: Request) -> Client:
    return request.app.state.temporal


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    principal = request.app.state.principals.get(credentials.credentials) if credentials else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_role(*roles: str):  # noqa: ANN201
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {', '.join(roles)}"
            )
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
ClientDep = Annotated[Client, Depends(get_client)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
ShopPrincipal = Annotated[Principal, Depends(require_role("operator", "customer"))]
CarrierPrincipal = Annotated[Principal, Depends(require_role("carrier", "operator"))]
OperatorPrincipal = Annotated[Principal, Depends(require_role("operator"))]
WarehousePrincipal = Annotated[Principal, Depends(require_role("warehouse", "carrier", "operator"))]
