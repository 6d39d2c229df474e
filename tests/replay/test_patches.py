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
from workflows.patches import NOTIFY_ON_COMPLETION, RETURN_WINDOW

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
# Recorded before orders sent a completion notification.
BEFORE_NOTIFY = "standard_completed__order-ord_cbab85f268ee2de2.json"
# Recorded before orders stayed open through a return window.
BEFORE_RETURN_WINDOW = "standard_completed__order-ord_fac7c8329cf0be85.json"


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


async def test_history_from_before_the_patch_replays_with_it() -> None:
    await replayer().replay_workflow(load(BEFORE_NOTIFY))


async def test_the_same_history_fails_without_the_patch_guard() -> None:
    real = workflow.patched

    def unguarded(patch_id: str) -> bool:
        # What the code would do had the notification been added without `patched`.
        return True if patch_id == NOTIFY_ON_COMPLETION.id else real(patch_id)

    with (
        mock.patch.object(workflow, "patched", unguarded),
        pytest.raises(workflow.NondeterminismError),
    ):
        await replayer().replay_workflow(load(BEFORE_NOTIFY))


async def test_orders_from_before_the_return_window_need_its_guard() -> None:
    await replayer().replay_workflow(load(BEFORE_RETURN_WINDOW))
    real = workflow.patched

    def unguarded(patch_id: str) -> bool:
        return True if patch_id == RETURN_WINDOW.id else real(patch_id)

    with (
        mock.patch.object(workflow, "patched", unguarded),
        pytest.raises(workflow.NondeterminismError),
    ):
        await replayer().replay_workflow(load(BEFORE_RETURN_WINDOW))
