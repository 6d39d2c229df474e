"""Prometheus metrics of the API process (served by `api/metrics.py` on `GET /metrics`).

Each app has its own registry, so several apps in one process (the tests) never clash.
What the API itself sees is counted as it happens: request latency per route template
(`MetricsMiddleware`), orders placed, interventions accepted or refused (`order_placed`,
`intervention`, called by the routes). What happens inside workflows (orders completed or
cancelled) and the review queue are read from the store at scrape time (`StoreCollector`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import distinct, func, select

from domain.events import EventType
from oms.config.logs import request_scope
from store.db import Store
from store.projections import review_queue
from store.tables import OrderEvent

UNMATCHED = "unmatched"  # the route label of a request no route matched (404s)


class StoreCollector(Collector):
    """Values from the store, refreshed by the `/metrics` route just before it renders
    (collectors are synchronous; the store is not)."""

    def __init__(self) -> None:
        self.review_queue_depth = 0
        self.completed = 0
        self.cancelled = 0

    async def refresh(self, store: Store) -> None:
        async with store.read() as session:
            self.review_queue_depth = len(await review_queue(session))
            rows = await session.execute(
                select(OrderEvent.type, func.count(distinct(OrderEvent.order_id)))
                .where(OrderEvent.type.in_((EventType.ORDER_COMPLETED, EventType.ORDER_CANCELLED)))
                .group_by(OrderEvent.type)
            )
            counts: dict[str, int] = dict(rows.all())
        self.completed = counts.get(EventType.ORDER_COMPLETED, 0)
        self.cancelled = counts.get(EventType.ORDER_CANCELLED, 0)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "oms_review_queue_depth",
            "Orders waiting in NEEDS_REVIEW for an operator's decision",
            value=self.review_queue_depth,
        )
        yield CounterMetricFamily(
            "oms_orders_completed",
            "Orders that completed (OrderCompleted in the journal)",
            value=self.completed,
        )
        yield CounterMetricFamily(
            "oms_orders_cancelled",
            "Orders that were cancelled (OrderCancelled in the journal)",
            value=self.cancelled,
        )


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "oms_http_request_duration_seconds",
            "HTTP request latency by method, route template and status code",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.orders_placed = Counter(
            "oms_orders_placed",
            "Orders created by POST /orders (not idempotent repeats)",
            registry=self.registry,
        )
        self.interventions = Counter(
            "oms_interventions",
            "Interventions (workflow updates) by kind and outcome: accepted or refused",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self.store = StoreCollector()
        self.registry.register(self.store)

    async def render(self, store: Store, accept: str = "") -> tuple[bytes, str]:
        """The exposition in the format the scraper asks for (plain text 0.0.4 by default)."""
        await self.store.refresh(store)
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


# The metrics of the app handling the current request, so that helpers deep in a route
# (api/interventions.py `run_update`) count without being handed the app.
current_metrics: ContextVar[ApiMetrics | None] = ContextVar("oms_api_metrics", default=None)


def order_placed() -> None:
    metrics = current_metrics.get()
    if metrics is not None:
        metrics.orders_placed.inc()


def intervention(kind: str, outcome: str) -> None:
    """`outcome`: "accepted" or "refused"."""
    metrics = current_metrics.get()
    if metrics is not None:
        metrics.interventions.labels(kind=kind, outcome=outcome).inc()


class MetricsMiddleware:
    """Pure ASGI: times each HTTP request and labels it with the matched route's template
    (`/orders/{order_id}`), never the raw path. It also puts the request's scope in context
    for the logs' `order_id`."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status_code = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        metrics_token = current_metrics.set(self.metrics)
        scope_token = request_scope.set(scope)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self.metrics.requests.labels(
                method=scope["method"],
                route=getattr(route, "path", None) or UNMATCHED,
                status=str(status_code),
            ).observe(time.perf_counter() - start)
            request_scope.reset(scope_token)
            current_metrics.reset(metrics_token)
