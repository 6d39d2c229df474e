"""The floor's throughput: `bench.floor.FloorWorkflow` (one regular activity per step of the
latest `standard` flow) on a worker of its own with the order worker's tuning, N workflows
started by C concurrent submitters, from the first start to the last close [floor_*]."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.floor import FloorWorkflow
from bench.gauges import WARMUP, CpuMeter, close_times, throughput, wait_for_count
from bench.options import Options
from bench.report import Progress, percentile
from bench.stack import BenchStack

FLOOR_QUEUE = "bench-floor"


async def run_concurrently(
    count: int, workers: int, job: Callable[[int], Awaitable[None]], on_done: Callable[[], None]
) -> None:
    """`job(0..count-1)` by `workers` concurrent loops taking the next index."""
    indices = iter(range(count))

    async def loop() -> None:
        for index in indices:
            await job(index)
            on_done()

    await asyncio.gather(*(loop() for _ in range(min(workers, count))))


async def floor_phase(
    stack: BenchStack, options: Options, steps: int, progress: Progress
) -> dict[str, Any]:
    client = stack.client
    assert client is not None
    progress.start("floor")
    await stack.start_floor_workers(FLOOR_QUEUE)
    progress.update("warming up")
    await asyncio.gather(
        *(
            client.execute_workflow(
                FloorWorkflow.run, steps, id=f"floor-warmup-{i}", task_queue=FLOOR_QUEUE
            )
            for i in range(WARMUP)
        )
    )
    submitted = 0

    async def start(index: int) -> None:
        await client.start_workflow(
            FloorWorkflow.run, steps, id=f"floor-run-{index}", task_queue=FLOOR_QUEUE
        )

    def on_start() -> None:
        nonlocal submitted
        submitted += 1
        progress.update(f"started {submitted}/{options.floor}")

    meter = CpuMeter(stack)
    started_at = time.time()
    await run_concurrently(options.floor, options.concurrency, start, on_start)
    query = 'WorkflowType = "FloorWorkflow" AND WorkflowId STARTS_WITH "floor-run-"'
    await wait_for_count(
        stack,
        query + ' AND ExecutionStatus = "Completed"',
        options.floor,
        progress,
        "completed",
        timeout=60 + options.floor,
    )
    cpu = meter.read()
    closed = await close_times(client, query)
    rate = throughput(options.floor, started_at, closed)
    latencies = [(close - start).total_seconds() for start, close in closed]
    progress.done(f"{rate:.1f} workflows/s")
    stack.stop_workers("floor-worker")
    return {
        "floor_workflows_per_s": rate,
        "floor_steps": steps,
        "floor_latency_p50_s": percentile(latencies, 50),
        "cpu_cores_floor": cpu,
        "cpu_ms_per_floor_workflow": meter.ms_per(options.floor),
    }
