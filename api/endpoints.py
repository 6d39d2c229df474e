"""Endpoints: the shop's own services flow steps call, registered by operators. Answers
never hold a secret, only that one is set and its fingerprint."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import OperatorPrincipal, SettingsDep, StoreDep, invalid
from domain.endpoints import Endpoint, EndpointPublic, host_allowed, shown, url_host
from store import endpoints
from store.sealed import SecretBox

router = APIRouter(prefix="/endpoints", tags=["endpoints"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointPublic,
    responses={422: {"description": "a field refused, or a host not in OMS_CALL_ALLOWED_HOSTS"}},
)
async def register_endpoint(
    body: Endpoint, _: OperatorPrincipal, store: StoreDep, settings: SettingsDep
) -> EndpointPublic:
    """Register a service by name, or move the one of that name (URL, timeout, secret)."""
    allowed = settings.allowed_call_hosts
    if not host_allowed(body.url, allowed):
        raise invalid(
            ("body", "url"),
            f"url: host {url_host(body.url)!r} is not in OMS_CALL_ALLOWED_HOSTS "
            f"({', '.join(allowed) or 'empty'})",
            body.url[:80],
        )
    registered = await endpoints.register_endpoint(store, body, SecretBox.from_settings(settings))
    return registered.public()


@router.get("", response_model=list[EndpointPublic])
async def list_endpoints(
    _: OperatorPrincipal, store: StoreDep, settings: SettingsDep
) -> list[EndpointPublic]:
    """Every registered endpoint, by name."""
    return await endpoints.public_endpoints(store, SecretBox.from_settings(settings))


@router.get("/{name}", response_model=EndpointPublic)
async def get_endpoint(
    name: str, _: OperatorPrincipal, store: StoreDep, settings: SettingsDep
) -> EndpointPublic:
    found = await endpoints.public_endpoints(store, SecretBox.from_settings(settings), name)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no endpoint {shown(name, 40)!r}")
    return found[0]
