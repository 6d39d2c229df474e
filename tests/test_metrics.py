"""Observability: the API's `/metrics`, the worker's SDK metrics and the JSON logs.

One stack of its own (a fresh store, so the journal-derived counts are exact) whose worker
connects with a runtime exporting Prometheus metrics on a free port."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from oms.config.logs import JsonFormatter, json_handler, order_id_from_workflow_id, request_scope
from oms.config.temporal import connect
from tests.helpers.orders import intervene, order_body, place, wait_for_status, wait_until
from tests.helpers.stack import Stack, free_port, running_stack
from workers.main import build_worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture(scope="module")
async def observed(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'oms.db'}"
    async with running_stack(
        temporal_env, url, worker=False, worker_metrics_port=free_port()
    ) as stack:
        client = await connect(stack.settings, worker=True)
        assert client.service_client.config.runtime is not None
        async with build_worker(client, stack.store, stack.settings, stack.gateway):
            yield stack


async def test_api_metrics_count_orders_interventions_and_outcomes(observed: Stack) -> None:
    metrics_url = f"{observed.base_url}/metrics"
    before = await scrape(metrics_url)
    async with observed.http() as http:
        key = uuid.uuid4().hex
        first = await http.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
        assert first.status_code == 201
        again = await http.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
        assert again.status_code == 200  # the idempotent repeat is not a new order
        second = await place(http)
        review = await place(http, order_body("tok_risk_elevated"))
        await wait_until(http, review["order_id"], lambda view: view["status"] == "NEEDS_REVIEW")
        waiting = await scrape(metrics_url)
        assert (
            value(waiting, "oms_review_queue_depth") == value(before, "oms_review_queue_depth") + 1
        )

        refused = await intervene(
            http,
            review["order_id"],
            "skip",
            {"step": "reserve_inventory", "reason": "x"},
            expect=409,
        )
        assert "not skippable" in refused["detail"]
        await intervene(
            http, review["order_id"], "review", {"decision": "cancel", "reason": "FRAUD"}
        )
        for order_id in (first.json()["order_id"], second["order_id"]):
            await wait_for_status(http, order_id, "COMPLETED", timeout=20)
        await wait_for_status(http, review["order_id"], "CANCELLED", timeout=20)
    after = await scrape(metrics_url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("oms_orders_placed_total") == 3
    assert moved("oms_interventions_total", kind="skip", outcome="refused") == 1
    assert moved("oms_interventions_total", kind="review", outcome="accepted") == 1
    assert moved("oms_interventions_total", kind="review", outcome="refused") == 0
    assert moved("oms_orders_completed_total") == 2
    assert moved("oms_orders_cancelled_total") == 1
    assert value(after, "oms_review_queue_depth") == value(before, "oms_review_queue_depth")

    # Latency is labelled by route template, never by the raw path.
    routes = {dict(labels).get("route") for name, labels in after if name.startswith("oms_http")}
    assert "/orders/{order_id}" in routes and "/orders" in routes
    assert not any(route and "ord_" in route for route in routes)
    created = value(
        after,
        "oms_http_request_duration_seconds_count",
        method="POST",
        route="/orders",
        status="201",
    )
    assert created >= 3


async def test_worker_exports_sdk_metrics(observed: Stack) -> None:
    async with observed.http() as http:
        placed = await place(http)
        await wait_for_status(http, placed["order_id"], "COMPLETED", timeout=20)
    port = observed.settings.worker_metrics_port
    samples = await scrape(f"http://127.0.0.1:{port}/metrics")
    names = {name for name, _ in samples}
    completed = sum(
        v
        for (name, labels), v in samples.items()
        if name == "temporal_workflow_completed_total"
        and ("workflow_type", "OrderWorkflow") in labels
    )
    assert completed >= 1, sorted(names)
    # The order's steps run as local activities.
    activity_runs = sum(
        v
        for (name, _), v in samples.items()
        if name == "temporal_local_activity_execution_latency_count"
    )
    assert activity_runs >= 1, sorted(names)


def test_json_log_inside_an_activity_carries_the_order_id() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.metrics.activity")
    logger.setLevel(logging.INFO)
    handler = json_handler(stream)
    logger.addHandler(handler)

    @activity.defn
    def work() -> None:
        logger.info("reserving %d units", 2, extra={"sku": "MUG"})

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="shipment-ord_0123abcd-2")
    try:
        env.run(work)
        with request_scope_of({"path_params": {"order_id": "ord_fromapi"}}):
            logger.info("queried")
        logger.info("outside")
    finally:
        logger.removeHandler(handler)
    inside, api, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["message"] == "reserving 2 units" and inside["level"] == "INFO"
    assert inside["order_id"] == "ord_0123abcd" and inside["sku"] == "MUG"
    assert api["order_id"] == "ord_fromapi"
    assert outside["order_id"] is None
    assert order_id_from_workflow_id("order-ord_1") == "ord_1"
    assert order_id_from_workflow_id("return-ord_1-3") == "ord_1"
    assert order_id_from_workflow_id("something-else") is None
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


class request_scope_of:  # noqa: N801
    def __init__(self, scope: dict) -> None:
        self.scope = scope

    def __enter__(self) -> None:
        self.token = request_scope.set(self.scope)

    def __exit__(self, *_: object) -> None:
        request_scope.reset(self.token)
