"""The open orders: the order worker restarted with an hour's carrier delay, so each order
waits for its shipment's dispatch. M orders POSTed by K concurrent clients [post_p50_ms,
post_p99_ms], the workers' RSS before and after [worker_kb_per_open_order] and their cache,
Q queries of the first order placed [query_*]; then, open loop (`bench.open_loop`), the
highest POST rate the stack sustains [post_max_per_s] and what a shopper waits at half of it
[post_p50_ms_at_half_max, post_p99_ms_at_half_max]."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.gauges import (
    WARMUP,
    CpuMeter,
    cache_evictions,
    cached_workflows,
    settled_rss,
    wait_for_booked,
)
from bench.open_loop import at_rate, ramp
from bench.options import Options
from bench.report import Progress, percentile
from bench.shoppers import RETRIES, api_client, order_body, place_many, post_once
from bench.stack import BenchError, BenchStack
from oms.processes import free_port

OPEN_CARRIER_DELAY_S = 3600.0
OPEN_LOOP_CONNECTIONS = 64


async def post_rates(
    stack: BenchStack, options: Options, progress: Progress, start_rate: float, units: int
) -> dict[str, Any]:
    """The open loop's POSTs: the ramp to the highest sustained rate (an order's work is done
    once its shipment is booked), then half of it for `--steady-seconds` once the ramp's
    orders are all booked; together at most `units` orders (the seeded stock)."""
    booked_before = await asyncio.to_thread(stack.booked_shipments)
    accepted = 0

    async with api_client(stack, OPEN_LOOP_CONNECTIONS) as http:  # one pool of connections

        async def ramp_post(n: int) -> None:
            nonlocal accepted
            await post_once(http, order_body("cus_bench_ramp", n))
            accepted += 1

        async def backlog() -> int:
            booked = await asyncio.to_thread(stack.booked_shipments) - booked_before
            return accepted - booked

        found = await ramp(
            ramp_post,
            start_rate,
            options.ramp_seconds,
            min(2.0, options.ramp_seconds / 4),
            units // 2,
            progress,
            "POST /orders, open loop",
            backlog,
        )
        await wait_for_booked(stack, booked_before + accepted, progress, timeout=120)
        best = found["max_per_s"]
        # Nothing sustained: half the lowest rate tried, so that the latency is still shown.
        tried = min((step["rate"] for step in found["steps"]), default=start_rate)
        half = (best if best is not None else tried) / 2
        seconds = min(options.steady_seconds, (units // 2) / half)
        progress.update(f"POST /orders at {half:.1f}/s for {seconds:.0f} s, open loop")
        step, _ = await at_rate(
            lambda n: post_once(http, order_body("cus_bench_steady", n)), half, seconds
        )
    return {
        "post_max_per_s": best,
        "post_ramp": found,
        "post_rate_at_half_max_per_s": half,
        "post_p50_ms_at_half_max": step.p50_ms,
        "post_p99_ms_at_half_max": step.p99_ms,
        "post_requests_at_half_max": step.sent,
        "post_errors_at_half_max": step.errors,
    }


async def open_orders_phase(
    stack: BenchStack, options: Options, progress: Progress, start_rate: float, units: int
) -> dict[str, Any]:
    from workflows.order import OrderWorkflow, order_workflow_id

    client = stack.client
    assert client is not None
    progress.start("open orders")
    progress.update(f"restarting the worker with OMS_CARRIER_DELAY_S={OPEN_CARRIER_DELAY_S:g}")
    stack.stop_workers("worker")
    metrics_ports = [free_port() for _ in range(stack.worker_processes)]
    workers = await stack.start_order_workers(
        lambda index: {
            "OMS_CARRIER_DELAY_S": f"{OPEN_CARRIER_DELAY_S:g}",
            "OMS_WORKER_METRICS_PORT": str(metrics_ports[index]),
        }
    )
    pids = [worker.pid for worker in workers]
    # Warm-up orders (open too) load the workflow code into every new worker process before
    # the baseline reading; they are not counted in the per-order figure.
    warmup = WARMUP * len(workers)
    await place_many(stack, "cus_bench_open_warmup", warmup, warmup)
    await wait_for_booked(stack, warmup, progress, timeout=120)
    before = await settled_rss(pids, stack)
    cached_before = await cached_workflows(metrics_ports) or 0
    evicted_before = await cache_evictions(metrics_ports)
    retried = RETRIES["503"]
    meter = CpuMeter(stack)
    placed = await place_many(
        stack, "cus_bench_open", options.open_orders, options.clients, progress
    )
    cpu = meter.read()
    await wait_for_booked(
        stack, warmup + options.open_orders, progress, timeout=120 + options.open_orders
    )
    progress.update("letting the worker settle")
    after = await settled_rss(pids, stack)
    cached = await cached_workflows(metrics_ports)
    evicted = await cache_evictions(metrics_ports) - evicted_before
    latencies_ms = [took * 1000 for took, _ in placed]

    # Queries on the first order placed: the one most likely to have left the cache.
    order_id = placed[0][1]
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    direct: list[float] = []
    for i in range(options.queries):
        begun = time.perf_counter()
        await handle.query(OrderWorkflow.view)
        direct.append((time.perf_counter() - begun) * 1000)
        progress.update(f"query {i + 1}/{options.queries}")
    through_api: list[float] = []
    async with api_client(stack, 1) as http:
        for _ in range(options.queries):
            begun = time.perf_counter()
            response = await http.get(f"/orders/{order_id}")
            through_api.append((time.perf_counter() - begun) * 1000)
            if response.status_code != 200:
                raise BenchError(f"GET /orders/{order_id} answered {response.status_code}")
    rates = await post_rates(stack, options, progress, start_rate, units)
    per_order = (after - before) / options.open_orders
    p99 = percentile(latencies_ms, 99)
    progress.done(
        f"{per_order:.1f} KB per open order, POST p99 {p99:.1f} ms ({options.clients} clients), "
        f"max {rates['post_max_per_s'] or 0:.1f}/s open loop"
    )
    return rates | {
        "post_p50_ms": percentile(latencies_ms, 50),
        "post_p99_ms": percentile(latencies_ms, 99),
        "post_requests": len(latencies_ms),
        "post_503_retries": RETRIES["503"] - retried,
        "cpu_cores_open_orders_submission": cpu,
        # What each POST cost while the clients placed the open orders (the worker running
        # them to the carrier's hand-over meanwhile): a closed loop of C clients waits at
        # least C times the busiest process's share.
        "cpu_ms_per_post": meter.ms_per(options.open_orders),
        "worker_rss_before_kb": before,
        "worker_rss_after_kb": after,
        "worker_kb_per_open_order": per_order,
        "worker_cached_workflows": int(cached) if cached is not None else None,
        "open_orders_cache_evictions": evicted,
        "worker_kb_per_cached_workflow": (
            (after - before) / (cached - cached_before)
            if cached is not None and cached > cached_before
            else None
        ),
        "query_first_ms": direct[0],
        "query_p50_ms": percentile(direct, 50),
        "query_api_p50_ms": percentile(through_api, 50),
    }
