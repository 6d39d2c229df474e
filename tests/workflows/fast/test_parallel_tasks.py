"""What a parallel block costs in workflow tasks: two cheap steps side by side take no more
of them than the same two steps one after the other. Both orders run the digital flow to
its end on the time-skipping server; their histories are counted whole."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.api.enums.v1 import EventType

from domain.flows import FlowDefinition
from domain.returns import ConcessionTerms
from tests.helpers.fast_orders import FastOrders
from tests.helpers.order_input import Item, order_input, seed_flow

EBOOK = Item("EBOOK-TEMPORAL", 2900, 1, "digital")
TERMS = ConcessionTerms(return_window_s=5)


def side_by_side(flow: FlowDefinition) -> FlowDefinition:
    """The flow with its first two steps (`validate_order`, `check_fraud`) in one block."""
    steps = flow.model_dump(mode="json", exclude_none=True)["steps"]
    block: dict[str, Any] = {"id": "checks", "parallel": [[steps[0]], [steps[1]]]}
    return FlowDefinition.model_validate(
        {"type": flow.type, "version": flow.version, "steps": [block, *steps[2:]]}
    )


async def workflow_tasks(fast: FastOrders, flow: FlowDefinition) -> tuple[int, list[str]]:
    """Run an order of the flow to its end: its completed workflow tasks and its journal."""
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    handle = await fast.start(order_input(order_id, flow, [EBOOK], concessions=TERMS))
    view = await handle.result()
    assert view.status == "COMPLETED", view.status
    history = await handle.fetch_history()
    done = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    journal = [e.type for e in fast.stubs.journal if e.order_id == order_id]
    return sum(1 for event in history.events if event.event_type == done), journal


async def test_two_steps_side_by_side_take_no_more_workflow_tasks_than_in_sequence(
    fast: FastOrders,
) -> None:
    sequence = seed_flow("digital")
    assert [s.step for s in sequence.steps[:2]] == ["validate_order", "check_fraud"]
    in_sequence, sequence_journal = await workflow_tasks(fast, sequence)
    in_parallel, parallel_journal = await workflow_tasks(fast, side_by_side(sequence))

    assert "BranchesJoined" in parallel_journal and "BranchesJoined" not in sequence_journal
    for journal in (sequence_journal, parallel_journal):
        assert journal.count("FraudChecked") == 1 and "OrderCompleted" in journal
    assert in_parallel <= in_sequence, (in_parallel, in_sequence)
