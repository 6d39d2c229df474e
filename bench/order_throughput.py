"""The orders' throughput: N standard orders POSTed by C concurrent clients and run to
COMPLETED (the stack's carrier delay 0, a 1 s return window), from the first POST to the last
close [orders_per_s, order_latency_p50_s], with the CPU each process spent per order and the
workflow cache's evictions; `--profile-worker` samples the worker with py-spy meanwhile. At
the end, the history of one completed order in figures [history_events_per_order,
upserts_per_order, order_history]: the commonest of a few, since signals that arrive
together share a workflow task. The relay's figures over the same run: `bench.relay_phase`."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory

from bench.gauges import (
    TROUBLE,
    WARMUP,
    CpuMeter,
    cache_evictions,
    close_times,
    orders_query,
    throughput,
    wait_for_count,
)
from bench.options import Options
from bench.relay_phase import RelayWatch
from bench.report import Progress, percentile
from bench.shape import event_counts, history_counts
from bench.shoppers import RETRIES, place_many
from bench.stack import BenchError, BenchStack


def start_profiler(
    stack: BenchStack, options: Options, progress: Progress
) -> subprocess.Popen | None:
    if options.profile_worker is None:
        return None
    here = Path(sys.executable).parent
    py_spy = shutil.which("py-spy", path=str(here)) or shutil.which("py-spy")
    if py_spy is None:
        raise BenchError("--profile-worker needs py-spy: .venv/bin/pip install '.[bench]'")
    options.profile_worker.parent.mkdir(parents=True, exist_ok=True)
    pid = stack.processes["worker"].pid
    progress.note(
        f"py-spy sampling the first order worker process (pid {pid}) into {options.profile_worker}"
    )
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(options.profile_seconds)),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(options.profile_worker),
            *{"threads": [], "gil": ["--gil"], "native": ["--native"]}[options.profile_mode],
        ],
        stdout=subprocess.DEVNULL,
        stderr=(stack.logs / "py-spy.log").open("ab"),
    )


def stop_profiler(profiler: subprocess.Popen | None, stack: BenchStack) -> None:
    if profiler is None:
        return
    if profiler.poll() is None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()


ORDER_CUSTOMER = "cus_bench_orders"
HISTORIES_READ = 5


async def typical_order_history(client: Client) -> WorkflowHistory:
    """Of the first few completed orders of the run, one whose event counts are the
    commonest among them."""
    query = orders_query(ORDER_CUSTOMER, "COMPLETED") + ' AND ExecutionStatus = "Completed"'
    histories: list[WorkflowHistory] = []
    async for execution in client.list_workflows(query, limit=HISTORIES_READ):
        histories.append(await client.get_workflow_handle(execution.id).fetch_history())
    if not histories:
        raise BenchError("no completed order to read the history of")
    signatures = [tuple(event_counts(history.events).items()) for history in histories]
    commonest = Counter(signatures).most_common(1)[0][0]
    return histories[signatures.index(commonest)]


def order_history_figures(history: WorkflowHistory) -> dict[str, Any]:
    counts = history_counts(history)
    return {
        "history_events_per_order": counts["events"],
        "upserts_per_order": counts["upserts"],
        "order_history": counts,
        "order_history_events": event_counts(history.events),
    }


async def orders_phase(
    stack: BenchStack, options: Options, progress: Progress, metrics_ports: list[int]
) -> dict[str, Any]:
    client = stack.client
    assert client is not None
    progress.start("orders")
    progress.update("warming up")
    await place_many(stack, "cus_bench_warmup", WARMUP, WARMUP)
    await wait_for_count(
        stack,
        orders_query("cus_bench_warmup", "COMPLETED"),
        WARMUP,
        progress,
        "warm-up completed",
        timeout=120,
        trouble=orders_query("cus_bench_warmup") + f" AND OrderStatus IN {TROUBLE}",
    )
    customer = ORDER_CUSTOMER
    relay = RelayWatch(stack)
    await relay.begin()  # once the warm-up's events are published
    profiler = start_profiler(stack, options, progress)
    retried = RETRIES["503"]
    evicted_before = await cache_evictions(metrics_ports)
    meter = CpuMeter(stack)
    try:
        started_at = time.time()
        await place_many(stack, customer, options.orders, options.concurrency, progress)
        query = orders_query(customer, "COMPLETED") + ' AND ExecutionStatus = "Completed"'
        await wait_for_count(
            stack,
            query,
            options.orders,
            progress,
            "completed",
            timeout=120 + 2 * options.orders,
            trouble=orders_query(customer) + f" AND OrderStatus IN {TROUBLE}",
        )
        cpu = meter.read()
        await relay.end()
    finally:
        stop_profiler(profiler, stack)
    retried = RETRIES["503"] - retried
    closed = await close_times(client, query)
    rate = throughput(options.orders, started_at, closed)
    latencies = [(close - start).total_seconds() for start, close in closed]
    relayed = await relay.figures()
    progress.done(f"{rate:.1f} orders/s, {relayed['relay_events_per_s']:.0f} events/s relayed")
    return relayed | {
        "orders_per_s": rate,
        "order_latency_p50_s": percentile(latencies, 50),
        "cpu_cores_orders": cpu,
        "cpu_ms_per_order": meter.ms_per(options.orders),
        "cpu_ms_per_order_carrier": meter.stand_in_ms_per("carrier", options.orders),
        "orders_503_retries": retried,
        # Orders the worker dropped from a full workflow cache while the run went on: each
        # replays its history on its next task. 0: the cache held every order.
        "orders_cache_evictions": await cache_evictions(metrics_ports) - evicted_before,
    }
