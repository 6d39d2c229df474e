"""Proof that `workflow.patched` guards are needed: histories recorded before a change
replay with the guard, and would not without it."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from workflows.legacy.shipment import ShipmentWorkflow
from workflows.order import OrderWorkflow
from workflows.patches import NOTICE_WITH_JOURNAL, NOTIFY_ON_COMPLETION, RETURN_WINDOW, Patch

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
# Recorded before orders sent a completion notification.
BEFORE_NOTIFY = "standard_completed__order-ord_cbab85f268ee2de2.json"
# Recorded before orders stayed open through a return window.
BEFORE_RETURN_WINDOW = "standard_completed__order-ord_fac7c8329cf0be85.json"
# Recorded while the completion notice was a local activity of its own.
BEFORE_NOTICE_WITH_JOURNAL = "standard_completed__order-ord_746f8b7cc4cf3fc2.json"


def load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(
        name.split("__", 1)[1].removesuffix(".json"), (HISTORIES / name).read_text()
    )


def replayer() -> Replayer:
    # Unsandboxed so that the test can make `workflow.patched` lie.
    return Replayer(
        workflows=[OrderWorkflow, ShipmentWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def replay_unguarded(patch: Patch, name: str) -> None:
    """Replay `name` as if the change behind `patch` had been made without its guard."""
    real = workflow.patched

    def unguarded(patch_id: str) -> bool:
        return True if patch_id == patch.id else real(patch_id)

    with mock.patch.object(workflow, "patched", unguarded):
        await replayer().replay_workflow(load(name))


async def test_history_from_before_the_patch_replays_with_it() -> None:
    await replayer().replay_workflow(load(BEFORE_NOTIFY))


async def test_the_same_history_fails_without_the_patch_guard() -> None:
    # What the code would do had the notification been added without `patched`.
    with pytest.raises(workflow.NondeterminismError):
        await replay_unguarded(NOTIFY_ON_COMPLETION, BEFORE_NOTIFY)


async def test_orders_from_before_the_return_window_need_its_guard() -> None:
    await replayer().replay_workflow(load(BEFORE_RETURN_WINDOW))
    with pytest.raises(workflow.NondeterminismError):
        await replay_unguarded(RETURN_WINDOW, BEFORE_RETURN_WINDOW)


async def test_orders_that_sent_their_notice_by_activity_need_the_journal_notice_guard() -> None:
    await replayer().replay_workflow(load(BEFORE_NOTICE_WITH_JOURNAL))
    # Unguarded, the journal's local activity meets the notice's marker in the history (they
    # are matched by sequence number) and the task fails on its result.
    failed = (workflow.NondeterminismError, RuntimeError)
    with pytest.raises(failed, match="decoding|[Nn]ondetermin"):
        await replay_unguarded(NOTICE_WITH_JOURNAL, BEFORE_NOTICE_WITH_JOURNAL)
