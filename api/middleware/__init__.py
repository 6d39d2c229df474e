"""Everything around the routers: what a request passes before one (`request_guard`,
`json_body`, `card_numbers`), what is counted (`metrics`), what an error becomes (`errors`),
and the codec endpoint for the Web UI (`codec`: Temporal's protocol, with its own CORS and
key check, not a resource of the shop). `install` puts all of it on an app."""

from __future__ import annotations

from fastapi import FastAPI

from api.middleware import codec, errors, request_guard
from api.middleware.metrics import ApiMetrics, MetricsMiddleware
from oms.config.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """After the routers are included. Middleware added later runs first: the metrics time
    every request, the guard refuses before the codec's CORS or any route sees it."""
    errors.install(app)
    codec.install(app, settings)  # /codec/decode, /codec/encode for the Web UI
    request_guard.install(app, settings)  # body size and timeout, card numbers (422)
    app.state.metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
