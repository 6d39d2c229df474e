"""The FastAPI application: the routers (`api/<resource>.py`), the middleware around them
(`api/middleware/`), and one Temporal client and one store per process, from the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import (
    catalog,
    endpoints,
    flows,
    health,
    interventions,
    metrics,
    middleware,
    order_diagram,
    order_list,
    orders,
    returns,
    reviews,
    rewards,
    shipments,
    stats,
)
from api.health import close_broker
from oms.config.logs import configure_logging
from oms.config.settings import Settings, get_settings
from oms.config.temporal import connect
from store.catalog import seed_catalog
from store.db import Store
from store.migrate import upgrade

ROUTERS = (
    order_list,
    orders,
    order_diagram,
    interventions,
    returns,
    rewards,
    reviews,
    catalog,
    flows,
    endpoints,
    shipments,
    stats,
    health,
    metrics,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.log_format == "json":
        configure_logging("json")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings.resolved_database_url)
        store = Store(settings.resolved_database_url)
        await seed_catalog(store)
        app.state.settings = settings
        app.state.store = store
        app.state.temporal = await connect(settings)
        app.state.principals = dict(settings.principals)
        try:
            yield
        finally:
            await close_broker(app.state)
            await store.close()

    app = FastAPI(
        title="Temporal OMS",
        description="Order management where every order is a durable Temporal workflow.",
        version="0.1.0",
        lifespan=lifespan,
    )
    for module in ROUTERS:
        app.include_router(module.router)
    middleware.install(app, settings)
    return app
