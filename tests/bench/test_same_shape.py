"""The same-shape floor asks of Temporal what a `standard` order asks. Scripted from the newest
recorded `standard_completed` order history and driven as the benchmark drives it, its
history holds as many events of each type as that order's: commands, signals, timers and
workflow tasks alike, no difference allowed. Its start input and its local activities'
results are as large as the order's; the local activities' inputs are not in a history."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.same_shape import SameShapeWorkflow, same_shape_activity, same_shape_step
from bench.same_shape_throughput import SignalDriver, start_same_shape
from bench.shape import (
    LOCAL_ACTIVITY,
    event_counts,
    history_counts,
    load,
    same_shape_input,
    shape_of,
)
from workers.sandbox import workflow_runner

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench]


def newest_standard_history() -> WorkflowHistory:
    """The `standard_completed` order history recorded last (by its start)."""
    paths = sorted((ROOT / "tests" / "histories").glob("standard_completed__order-*.json"))
    histories = [load(path) for path in paths]
    return max(histories, key=lambda history: history.events[0].event_time.ToDatetime())


def local_results(history: WorkflowHistory) -> list[int]:
    return [
        sum(len(p.data) for p in event.marker_recorded_event_attributes.details["result"].payloads)
        for event in history.events
        if event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY
    ]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a Unix socket's path has room for about 100 bytes."""
    made = Path(tempfile.mkdtemp(prefix="shape-"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_the_script_counts_what_the_history_holds() -> None:
    recorded = newest_standard_history()
    counts, script = history_counts(recorded), shape_of(recorded).counts()
    assert script["local_activities"] == counts["local_activity_markers"] > 0
    assert script["patches"] == counts["patch_markers"]
    # Each patch marker brings its own TemporalChangeVersion upsert; the rest are scripted.
    assert script["upserts"] + counts["patch_markers"] == counts["upserts"]
    assert script["timers"] == counts["timers"] > 0
    assert script["signals"] == counts["signals"] > 0
    assert script["activities"] == counts["activities"]


async def test_same_shape_history_counts_each_event_type_as_the_orders(
    temporal_env: WorkflowEnvironment, short_dir: Path
) -> None:
    client = temporal_env.client
    recorded = newest_standard_history()
    shape = shape_of(recorded)
    queue = f"same-shape-{uuid.uuid4().hex[:8]}"
    path = str(short_dir / "driver.sock")
    made = same_shape_input(shape, path, 0.5, client.data_converter.payload_converter)
    async with (
        Worker(
            client,
            task_queue=queue,
            workflows=[SameShapeWorkflow],
            activities=[same_shape_step, same_shape_activity],
            workflow_runner=workflow_runner(),
        ),
        SignalDriver(client, shape, path) as driver,
    ):
        handle = await start_same_shape(
            client, shape, made, driver, f"same-shape-{uuid.uuid4().hex}", queue
        )
        await handle.result()
    assert not driver.failures
    ours = await handle.fetch_history()

    assert event_counts(ours.events) == event_counts(recorded.events)
    assert local_results(ours) == local_results(recorded)
    started = ours.events[0].workflow_execution_started_event_attributes
    assert sum(len(p.data) for p in started.input.payloads) == shape.input_bytes
    assert SameShapeWorkflow.__name__ == started.workflow_type.name
