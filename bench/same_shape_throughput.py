"""The same-shape floor's throughput: `bench.same_shape.SameShapeWorkflow`, scripted from a
completed order of the orders run (`bench.shape`), on a worker of its own with the order
worker's tuning; N workflows started by C submitters, from the first start to the last close
[same_shape_*]. Its signals come from a driver in the benchmark's process, which sends them
with the client when a step says they are due, as the carrier sends its events once a
shipment is booked; like the carrier, it is a stand-in and its CPU is not counted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from bench.gauges import WARMUP
from bench.naive_throughput import run_floor
from bench.options import Options
from bench.report import Progress
from bench.same_shape import SameShapeInput, SameShapeWorkflow, result_of, typed_attribute
from bench.shape import Shape, event_counts, history_counts, same_shape_input
from bench.stack import BenchError, BenchStack

SAME_SHAPE_QUEUE = "bench-same-shape"
SENDERS = 16  # signals in flight at once, as the simulated carrier's events


class SignalDriver:
    """Listens on a Unix datagram socket at `path` for `<workflow id> <k>` and sends that
    workflow its signals up to the k-th, in order, each of the name and size of the order's."""

    def __init__(self, client: Client, shape: Shape, path: str) -> None:
        self.client = client
        self.shape = shape
        self.path = path
        self.sent: dict[str, int] = {}
        self.failures: list[BaseException] = []
        self.lanes = asyncio.Semaphore(SENDERS)
        self.tasks: set[asyncio.Task[None]] = set()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    async def __aenter__(self) -> SignalDriver:
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)
        return self

    async def __aexit__(self, *_: object) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _read(self) -> None:
        while True:
            try:
                message = self.sock.recv(512).decode()
            except BlockingIOError:
                return
            workflow_id, _, due = message.rpartition(" ")
            self.due(workflow_id, int(due))

    def due(self, workflow_id: str, count: int) -> None:
        """Send `workflow_id` its signals up to the `count`-th (each once)."""
        first = self.sent.get(workflow_id, 0)
        if count <= first:
            return
        self.sent[workflow_id] = count
        task = asyncio.create_task(self._send(workflow_id, first, count))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, workflow_id: str, first: int, count: int) -> None:
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            async with self.lanes:
                for name, size in self.shape.signals[first:count]:
                    await handle.signal(name, result_of(size))
        except Exception as error:  # noqa: BLE001 - reported by the phase
            self.failures.append(error)


async def start_same_shape(
    client: Client,
    shape: Shape,
    made: SameShapeInput,
    driver: SignalDriver,
    workflow_id: str,
    task_queue: str,
) -> WorkflowHandle[Any, Any]:
    """Start one as the API starts an order: its search attributes and summary of the
    order's sizes; signals due before any step are sent at once."""
    handle = await client.start_workflow(
        SameShapeWorkflow.run,
        made,
        id=workflow_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(*typed_attribute(*each)) for each in shape.start_attributes]
        ),
        static_summary=result_of(shape.summary_bytes),
        static_details=result_of(shape.details_bytes),
    )
    if shape.signals_at_start:
        driver.due(workflow_id, shape.signals_at_start)
    return handle


async def same_shape_phase(
    stack: BenchStack,
    options: Options,
    progress: Progress,
    shape: Shape,
    order_events: dict[str, int],
    timer_s: float,
) -> dict[str, Any]:
    client = stack.client
    assert client is not None
    progress.start("same-shape floor")
    await stack.start_floor_workers("bench.same_shape", "same-shape-worker", SAME_SHAPE_QUEUE)
    path = str(stack.root / "same-shape.sock")
    made = same_shape_input(shape, path, timer_s, client.data_converter.payload_converter)
    async with SignalDriver(client, shape, path) as driver:

        async def start(workflow_id: str) -> WorkflowHandle[Any, Any]:
            return await start_same_shape(
                client, shape, made, driver, workflow_id, SAME_SHAPE_QUEUE
            )

        progress.update("warming up")
        warmups = [await start(f"same-shape-warmup-{i}") for i in range(WARMUP)]
        await asyncio.wait_for(asyncio.gather(*(h.result() for h in warmups)), 120)

        async def run_one(index: int) -> None:
            await start(f"same-shape-run-{index}")

        run = await run_floor(
            stack,
            progress,
            run_one,
            count=options.same_shape,
            concurrency=options.concurrency,
            workflow_type="SameShapeWorkflow",
            id_prefix="same-shape-run-",
            timeout=60 + 2 * options.same_shape,
        )
        if driver.failures:
            raise BenchError(f"the same-shape driver could not signal: {driver.failures[0]}")
    rate = run.rate
    history = await client.get_workflow_handle("same-shape-run-0").fetch_history()
    events = event_counts(history.events)
    differences = {
        kind: [order_events.get(kind, 0), events.get(kind, 0)]
        for kind in sorted(set(order_events) | set(events))
        if order_events.get(kind, 0) != events.get(kind, 0)
    }
    progress.done(
        f"{rate:.1f} workflows/s; history "
        + ("as the order's" if not differences else f"differs from the order's: {differences}")
    )
    stack.stop_workers("same-shape-worker")
    return {
        "same_shape_workflows_per_s": rate,
        "same_shape_latency_p50_s": run.latency_p50_s,
        "same_shape_script": shape.counts() | {"input_bytes": shape.input_bytes},
        "same_shape_history": history_counts(history),
        # Event types whose counts differ from the order's: [order, same-shape]. Empty: none.
        "same_shape_history_differences": differences,
        "cpu_cores_same_shape": run.cores,
        "cpu_ms_per_same_shape_workflow": run.ms_per,
    }
