"""Health: the API, Temporal and the store, each checked for real."""

import asyncio

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from api.deps import ClientDep, StoreDep
from api.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(client: ClientDep, store: StoreDep, response: Response) -> Health:
    async def temporal() -> str:
        try:
            await asyncio.wait_for(client.service_client.check_health(), timeout=3)
            return "ok"
        except Exception as error:  # any failure is reported, not raised
            return f"unavailable: {type(error).__name__}"

    async def database() -> str:
        try:
            async with store.read() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=3)
            return "ok"
        except Exception as error:
            return f"unavailable: {type(error).__name__}"

    temporal_state, store_state = await asyncio.gather(temporal(), database())
    healthy = temporal_state == "ok" and store_state == "ok"
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if healthy else "degraded", api="ok", temporal=temporal_state, store=store_state
    )
