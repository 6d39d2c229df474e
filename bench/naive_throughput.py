"""The naive floor's throughput: `bench.naive.NaiveFloorWorkflow` (one regular activity per
step of the latest `standard` flow) on a worker of its own with the order worker's tuning, N
workflows started by C concurrent submitters, from the first start to the last close
[naive_*]. Then, on the same worker, the highest rate one client's bare `start_workflow` of a
workflow with no step sustains, open loop (`bench.open_loop`; its work is done once the
workflow is closed) [start_workflow_max_per_s]."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.gauges import WARMUP, CpuMeter, close_times, throughput, wait_for_count
from bench.naive import NaiveFloorWorkflow
from bench.open_loop import ramp
from bench.options import Options
from bench.report import Progress, percentile
from bench.stack import BenchStack

NAIVE_QUEUE = "bench-naive"
START_RAMP_FROM = 50.0  # workflows/s
START_RAMP_MAX = 20_000  # workflows started at most


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


@dataclass
class FloorRun:
    rate: float  # workflows/s, from the first start to the last close
    latency_p50_s: float | None
    cores: dict[str, float]  # cores each process kept busy
    ms_per: dict[str, float]  # CPU ms per workflow, by process


async def run_floor(
    stack: BenchStack,
    progress: Progress,
    start: Callable[[int], Awaitable[Any]],
    *,
    count: int,
    concurrency: int,
    workflow_type: str,
    id_prefix: str,
    timeout: float,
) -> FloorRun:
    """`start(0..count-1)` by `concurrency` submitters (`start(i)` starts `{id_prefix}{i}`),
    then every one waited for until completed: the floor's rate, latency and CPU."""
    client = stack.client
    assert client is not None
    submitted = 0

    def on_start() -> None:
        nonlocal submitted
        submitted += 1
        progress.update(f"started {submitted}/{count}")

    meter = CpuMeter(stack)
    started_at = time.time()
    await run_concurrently(count, concurrency, start, on_start)
    query = f'WorkflowType = "{workflow_type}" AND WorkflowId STARTS_WITH "{id_prefix}"'
    completed = query + ' AND ExecutionStatus = "Completed"'
    await wait_for_count(stack, completed, count, progress, "completed", timeout=timeout)
    cores = meter.read()
    closed = await close_times(client, query)
    latencies = [(close - start).total_seconds() for start, close in closed]
    return FloorRun(
        rate=throughput(count, started_at, closed),
        latency_p50_s=percentile(latencies, 50),
        cores=cores,
        ms_per=meter.ms_per(count),
    )


async def start_workflow_rate(
    stack: BenchStack, options: Options, progress: Progress
) -> dict[str, Any]:
    client = stack.client
    assert client is not None

    started = 0
    done = 'WorkflowId STARTS_WITH "start-rate-" AND ExecutionStatus = "Completed"'

    async def start(index: int) -> None:
        nonlocal started
        await client.start_workflow(
            NaiveFloorWorkflow.run, 0, id=f"start-rate-{index}", task_queue=NAIVE_QUEUE
        )
        started += 1

    async def backlog() -> int:
        return started - (await client.count_workflows(done)).count

    found = await ramp(
        start,
        START_RAMP_FROM,
        options.ramp_seconds,
        min(2.0, options.ramp_seconds / 4),
        START_RAMP_MAX,
        progress,
        "start_workflow, open loop",
        backlog,
    )
    return {"start_workflow_max_per_s": found["max_per_s"], "start_workflow_ramp": found}


async def naive_phase(
    stack: BenchStack, options: Options, steps: int, progress: Progress
) -> dict[str, Any]:
    client = stack.client
    assert client is not None
    progress.start("naive floor")
    await stack.start_floor_workers("bench.naive", "naive-worker", NAIVE_QUEUE)
    progress.update("warming up")
    await asyncio.gather(
        *(
            client.execute_workflow(
                NaiveFloorWorkflow.run, steps, id=f"naive-warmup-{i}", task_queue=NAIVE_QUEUE
            )
            for i in range(WARMUP)
        )
    )

    async def start(index: int) -> None:
        await client.start_workflow(
            NaiveFloorWorkflow.run, steps, id=f"naive-run-{index}", task_queue=NAIVE_QUEUE
        )

    run = await run_floor(
        stack,
        progress,
        start,
        count=options.naive,
        concurrency=options.concurrency,
        workflow_type="NaiveFloorWorkflow",
        id_prefix="naive-run-",
        timeout=60 + options.naive,
    )
    rate, per_workflow = run.rate, run.ms_per
    starts = await start_workflow_rate(stack, options, progress)
    most = starts["start_workflow_max_per_s"] or 0
    progress.done(f"{rate:.1f} workflows/s; start_workflow up to {most:.0f}/s")
    stack.stop_workers("naive-worker")
    return starts | {
        "naive_workflows_per_s": rate,
        "floor_workflows_per_s": rate,  # its former name
        "naive_steps": steps,
        "naive_latency_p50_s": run.latency_p50_s,
        "cpu_cores_naive": run.cores,
        "cpu_ms_per_naive_workflow": per_workflow,
        "cpu_ms_per_floor_workflow": per_workflow,  # its former name
    }
