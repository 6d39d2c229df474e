"""The same-shape floor: a workflow that makes the Temporal calls a `standard` order makes and
nothing else, from a script (`bench.shape` writes it from an order's history), in its order:

    P  patched (a dummy id)      U  upsert search attributes    L<n>[:<k>]  local activity,
    A<n>  regular activity       T  start a timer               F  wait for the oldest timer
    W<k>  wait for k signals     (<n> result bytes; :<k> tells the driver k signals are due)

    python -m bench.same_shape TASK_QUEUE     # a worker for it; OMS_* settings as for the worker
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity, workflow
from temporalio.common import RawValue, SearchAttributeKey, SearchAttributeUpdate

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from oms.config.settings import Settings

# Runs in the order worker's sandbox, as the naive floor does; nothing of the project's at the top.

KEYS: dict[str, Callable[[str], SearchAttributeKey[Any]]] = {
    "Keyword": SearchAttributeKey.for_keyword,
    "Text": SearchAttributeKey.for_text,
    "Int": SearchAttributeKey.for_int,
    "Double": SearchAttributeKey.for_float,
    "Bool": SearchAttributeKey.for_bool,
    "Datetime": SearchAttributeKey.for_datetime,
    "KeywordList": SearchAttributeKey.for_keyword_list,
}


def typed_attribute(name: str, kind: str, value: str) -> tuple[SearchAttributeKey, Any]:
    """A search attribute as the history shows it (its type, its value as JSON), typed."""
    decoded = json.loads(value)
    if kind == "Datetime":
        decoded = datetime.fromisoformat(decoded)
    return KEYS[kind](name), decoded


@dataclass
class SameShapeInput:
    script: str
    # What every upsert sets: [name, type, JSON value] of the order's first upsert; each
    # upsert's `upsert_changes` entry says which values differ from it.
    upsert_fields: list[list[str]] = field(default_factory=list)
    upsert_changes: list[dict[str, str]] = field(default_factory=list)
    timer_s: float = 1.0
    result_bytes: int = 0
    driver: str = ""  # the driver's socket: a `:<k>` step tells it there
    padding: str = ""  # brings the input to the order's size


@dataclass
class SameShapeStep:
    result_bytes: int
    tell: int = 0
    driver: str = ""


def result_of(size: int) -> str | None:
    """A result whose payload (a JSON string) is `size` bytes."""
    return "x" * (size - 2) if size >= 2 else None


@activity.defn(name="same_shape_step")
async def same_shape_step(step: SameShapeStep) -> str | None:
    """A local activity with a result of the size asked; `tell` says to the driver (as a
    shipment's booking says to the carrier) that the workflow will wait for `tell` signals."""
    if step.tell:
        import socket

        message = f"{activity.info().workflow_id} {step.tell}".encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(message, step.driver)
            except OSError:
                pass  # the driver is gone: the run is over
    return result_of(step.result_bytes)


@activity.defn(name="same_shape_activity")
async def same_shape_activity(result_bytes: int) -> str | None:
    return result_of(result_bytes)


@workflow.defn(name="SameShapeWorkflow")
class SameShapeWorkflow:
    def __init__(self) -> None:
        self.signals = 0

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        self.signals += 1

    async def signalled(self, count: int) -> None:
        await workflow.wait_condition(lambda: self.signals >= count)

    @workflow.run
    async def run(self, shape: SameShapeInput) -> str | None:
        timers: list[asyncio.Task[None]] = []
        patches = upserts = 0
        base = {name: (kind, value) for name, kind, value in shape.upsert_fields}
        for token in shape.script.split():
            kind, arg = token[0], token[1:]
            if kind == "P":
                patches += 1
                workflow.patched(f"same-shape-{patches}")
            elif kind == "U":
                changes = shape.upsert_changes[upserts]
                upserts += 1
                updates: list[SearchAttributeUpdate] = []
                for name, (type_, value) in base.items():
                    key, typed = typed_attribute(name, type_, changes.get(name, value))
                    updates.append(key.value_set(typed))
                workflow.upsert_search_attributes(updates)
            elif kind == "L":
                size, _, tell = arg.partition(":")
                await workflow.execute_local_activity(
                    same_shape_step,
                    SameShapeStep(int(size), int(tell or 0), shape.driver),
                    start_to_close_timeout=timedelta(seconds=30),
                )
            elif kind == "A":
                await workflow.execute_activity(
                    same_shape_activity, int(arg), start_to_close_timeout=timedelta(seconds=30)
                )
            elif kind == "T":
                timers.append(asyncio.create_task(workflow.sleep(shape.timer_s)))
            elif kind == "F":
                await timers.pop(0)
            elif kind == "W":
                await self.signalled(int(arg))
        return result_of(shape.result_bytes)


def build_same_shape_worker(client: Client, settings: Settings, task_queue: str) -> Worker:
    from temporalio.worker import Worker

    from workers import payload_passes
    from workers.main import worker_tuning
    from workers.sandbox import workflow_runner

    payload_passes.install()  # as the order worker does
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SameShapeWorkflow],
        activities=[same_shape_step, same_shape_activity],
        workflow_runner=workflow_runner(),
        **worker_tuning(settings),
    )


def main(argv: list[str] | None = None) -> int:
    from bench import naive

    return naive.main(argv, "bench.same_shape", build_same_shape_worker)


if __name__ == "__main__":
    # The importable module's definitions, not this `__main__` copy (see bench.naive).
    from bench import same_shape

    sys.exit(same_shape.main())
