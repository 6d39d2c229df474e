"""The FastAPI application: one Temporal client and one store per process, from the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import (
    catalog,
    errors,
    flows,
    health,
    interventions,
    metrics,
    order_list,
    orders,
    returns,
    reviews,
    rewards,
    shipments,
    stats,
)
from api.codec import install as install_codec
from api.metrics import ApiMetrics, MetricsMiddleware
from api.request_guard import install as install_request_guard
from oms.logs import configure_logging
from oms.settings import Settings, get_settings
from store.catalog import seed_catalog
from store.db import Store
from store.migrate import upgrade
from workers.main import connect


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
            await store.close()

    app = FastAPI(
        title="Temporal OMS",
        description="Order management where every order is a durable Temporal workflow.",
        version="0.1.0",
        lifespan=lifespan,
    )
    for module in (
        order_list,
        orders,
        interventions,
        returns,
        rewards,
        reviews,
        catalog,
        flows,
        shipments,
        stats,
        health,
        metrics,
    ):
        app.include_router(module.router)
    errors.install(app)
    install_codec(app, settings)  # /codec/decode, /codec/encode for the Web UI
    install_request_guard(app, settings)  # body size and timeout, card numbers (422)
    app.state.metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
