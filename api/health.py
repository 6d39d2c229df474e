"""Health: the API, Temporal, the store and (when one is configured) the event broker, each
checked for real."""

import asyncio
import contextlib

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text

from api.deps import ClientDep, SettingsDep, StoreDep
from api.models import Health
from oms import broker as event_broker

router = APIRouter(tags=["health"])
CHECK_S = 3


async def _broker(request: Request, url: str | None, options: dict[str, str]) -> str:
    """One connection per API process, opened on the first check and kept."""
    if url is None:
        return "not configured"
    state = request.app.state
    connection = getattr(state, "nats", None)
    try:
        if connection is None or connection.is_closed:
            connection = await asyncio.wait_for(
                event_broker.connect(url, name="oms-api", **options), timeout=CHECK_S
            )
            state.nats = connection
        await asyncio.wait_for(connection.jetstream().account_info(), timeout=CHECK_S)
        return "ok"
    except Exception as error:  # any failure is reported, not raised
        return f"unavailable: {type(error).__name__}"


async def close_broker(state: object) -> None:
    connection = getattr(state, "nats", None)
    if connection is not None and not connection.is_closed:
        with contextlib.suppress(Exception):
            await connection.close()


@router.get("/health", response_model=Health, response_model_exclude_none=True)
async def health(
    request: Request, client: ClientDep, store: StoreDep, settings: SettingsDep, response: Response
) -> Health:
    async def temporal() -> str:
        try:
            await asyncio.wait_for(client.service_client.check_health(), timeout=CHECK_S)
            return "ok"
        except Exception as error:  # any failure is reported, not raised
            return f"unavailable: {type(error).__name__}"

    async def database() -> str:
        try:
            async with store.read() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=CHECK_S)
            return "ok"
        except Exception as error:
            return f"unavailable: {type(error).__name__}"

    temporal_state, store_state, broker_state = await asyncio.gather(
        temporal(), database(), _broker(request, settings.nats_url, settings.nats_options)
    )
    healthy = temporal_state == store_state == "ok" and broker_state in ("ok", "not configured")
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if healthy else "degraded",
        api="ok",
        temporal=temporal_state,
        store=store_state,
        broker=broker_state,
    )
