"""The naive floor: the least a workflow with as many activity steps as the `standard` flow
costs. `NaiveFloorWorkflow` calls one trivial regular activity (`execute_activity`, not local)
per step and returns, on a worker of its own (its own task queue, the same server) with the
order worker's tuning (`workers.main.worker_tuning`). With no steps it is the trivial workflow
the `start_workflow` rate is measured with.

    python -m bench.naive TASK_QUEUE     # a worker for it; OMS_* settings as for the worker
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity, workflow

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from oms.config.settings import Settings

# The floor runs in the order worker's sandbox (`workers.sandbox.workflow_runner`), which passes
# modules through; the module still imports nothing of the project's at the top.


@activity.defn(name="naive_step")
async def naive_step(step: int) -> int:
    return step


@workflow.defn(name="NaiveFloorWorkflow")
class NaiveFloorWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        for step in range(steps):
            await workflow.execute_activity(
                naive_step, step, start_to_close_timeout=timedelta(seconds=30)
            )
        return steps


def standard_flow_steps() -> tuple[int, int]:
    """(steps, version) of the latest built-in `standard` flow, as the registry seeds it."""
    from store.flows import builtin_flows

    latest = max(
        (flow for flow in builtin_flows() if flow.type == "standard"), key=lambda f: f.version
    )
    return len(latest.steps), latest.version


def build_naive_worker(client: Client, settings: Settings, task_queue: str) -> Worker:
    from temporalio.worker import Worker

    from workers import payload_passes
    from workers.main import worker_tuning
    from workers.sandbox import workflow_runner

    payload_passes.install()  # as the order worker does
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[NaiveFloorWorkflow],
        activities=[naive_step],
        workflow_runner=workflow_runner(),
        **worker_tuning(settings),
    )


async def serve(
    settings: Settings,
    task_queue: str,
    build: Callable[[Client, Settings, str], Worker] | None = None,
) -> None:
    """A floor's worker until SIGINT or SIGTERM (the naive one unless `build` says)."""
    from oms.config.temporal import connect

    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with (build or build_naive_worker)(client, settings, task_queue):
        await stop.wait()


def main(
    argv: list[str] | None = None,
    module: str = "bench.naive",
    build: Callable[[Client, Settings, str], Worker] | None = None,
) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {module} TASK_QUEUE", file=sys.stderr)
        return 2
    from oms.config.settings import Settings

    asyncio.run(serve(Settings(), args[0], build))
    return 0


if __name__ == "__main__":
    # Run the importable module's definitions, not this `__main__` copy: the sandbox passes
    # modules through by name, and `__main__` is not one it can import.
    from bench import naive

    sys.exit(naive.main())
