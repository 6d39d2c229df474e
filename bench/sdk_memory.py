"""What a cached workflow costs a worker in the Temporal SDK alone, apart from any order:
`python -m bench.sdk_memory [--workflows 300] [--activities 0 5 20] [--input-bytes 10 8000]`.

Each variant is a workflow that runs N local activities with inputs of K bytes and then
waits, like an open order waiting for its carrier; a fresh worker process per variant starts
`--workflows` of them and reports RSS and Python's share (`tracemalloc`) per workflow. See
docs/performance.md#memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow

# Local activities run in the worker's process: counting them says when every workflow of a
# round has run its steps and waits.
STEPS_RUN = 0


@activity.defn(name="sdk_memory_step")
async def step(payload: str) -> str:
    global STEPS_RUN
    STEPS_RUN += 1
    return "ok"


@workflow.defn(name="SdkMemoryWorkflow")
class WaitingWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, activities: int, input_bytes: int) -> None:
        for _ in range(activities):
            await workflow.execute_local_activity(
                step, "x" * input_bytes, start_to_close_timeout=timedelta(seconds=30)
            )
        await workflow.wait_condition(lambda: self.released)


async def measure(
    address: str, activities: int, input_bytes: int, workflows: int, python: bool
) -> float:
    """One variant, in this process: KB of RSS per workflow or, with `python`, KB of what
    Python's allocator holds (tracemalloc's own bookkeeping would inflate the RSS)."""
    from temporalio.client import Client, WorkflowHandle
    from temporalio.worker import Worker

    from bench.stack import rss_kb
    from workers.sandbox import workflow_runner

    client = await Client.connect(address)
    queue = f"sdk-memory-{uuid.uuid4().hex[:8]}"
    started: list[WorkflowHandle] = []

    async def start_and_settle(count: int) -> None:
        lanes = asyncio.Semaphore(32)
        expected = STEPS_RUN + count * activities

        async def one() -> None:
            async with lanes:
                handle = await client.start_workflow(
                    WaitingWorkflow.run,
                    args=[activities, input_bytes],
                    id=f"{queue}-{uuid.uuid4().hex}",
                    task_queue=queue,
                )
                started.append(handle)

        await asyncio.gather(*(one() for _ in range(count)))
        while STEPS_RUN < expected:
            await asyncio.sleep(0.2)
        # The last workflow tasks complete after their last local activity.
        await asyncio.sleep(2 + count / 200)

    async with Worker(
        client,
        task_queue=queue,
        workflows=[WaitingWorkflow],
        activities=[step],
        workflow_runner=workflow_runner(),
    ):
        await start_and_settle(10)  # warm-up: code loaded, caches filled
        gc.collect()
        if python:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0] / 1024 if python else rss_kb(os.getpid())
        await start_and_settle(workflows)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] / 1024 if python else rss_kb(os.getpid())
        await asyncio.gather(*(handle.terminate() for handle in started))
    return round((after - before) / workflows, 1)


async def measure_all(options: argparse.Namespace) -> list[dict]:
    """Every variant, each in a worker process of its own (a variant run after another would
    reuse memory the first one freed), against one dev server."""
    from temporalio.testing import WorkflowEnvironment

    from oms.supervisor import temporal_binary

    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary())
    address = env.client.service_client.config.target_host
    results = []
    try:
        for activities in options.activities:
            for input_bytes in options.input_bytes if activities else [0]:
                variant = [address, str(activities), str(input_bytes), str(options.workflows)]
                rss, python = [
                    await asyncio.to_thread(_measure_in_a_process, variant, what)
                    for what in ("rss", "python")
                ]
                results.append(
                    {
                        "activities": activities,
                        "input_bytes": input_bytes,
                        "workflows": options.workflows,
                        "kb_per_workflow": rss,
                        "python_kb_per_workflow": python,
                    }
                )
                print(_row(results[-1]), file=sys.stderr, flush=True)
    finally:
        await env.shutdown()
    return results


def _measure_in_a_process(variant: list[str], what: str) -> float:
    ran = subprocess.run(
        [sys.executable, "-m", "bench.sdk_memory", "--one", *variant, what],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(ran.stdout.strip().splitlines()[-1])


def _row(result: dict) -> str:
    return (
        f"{result['activities']:>3} local activities of {result['input_bytes']:>6} bytes: "
        f"{result['kb_per_workflow']:6.1f} KB per workflow "
        f"({result['python_kb_per_workflow']:.1f} KB of it Python's)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_memory", description=__doc__)
    parser.add_argument("--workflows", type=int, default=300, help="per variant")
    parser.add_argument("--activities", type=int, nargs="+", default=[0, 5, 20])
    parser.add_argument("--input-bytes", type=int, nargs="+", default=[10, 8000])
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    # One variant in this process: ADDRESS N K WORKFLOWS rss|python (what measure_all runs).
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.one:
        address, activities, input_bytes, workflows, what = options.one
        kb = asyncio.run(
            measure(address, int(activities), int(input_bytes), int(workflows), what == "python")
        )
        print(kb, flush=True)
        # Leave without finalizing the interpreter: the SDK's runtime threads can still call
        # into Python then, and CPython aborts (PyGILState_Release) after the figure is out.
        os._exit(0)
    results = asyncio.run(measure_all(options))
    if options.output:
        options.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    # The importable module's definitions, not this `__main__` copy (see bench/naive.py).
    from bench import sdk_memory

    sys.exit(sdk_memory.main())
