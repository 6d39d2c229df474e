"""The step registry: what each step named in a flow does.

A step runs against the order workflow's state and raises `StepFailed` for a business
failure; the interpreter decides what a failure means from the flow. How each step is
undone lives in `workflows.compensation`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from domain.flows import STEP_SPECS, FlowStep
    from workflows.steps import checks, delivery, inventory, payment, services
    from workflows.steps.failures import (
        ApprovalRequired,
        StepFailed,
        Unclassified,
        error_message,
        error_type,
    )

if TYPE_CHECKING:
    from workflows.run import OrderRun

Step = Callable[["OrderRun", FlowStep], Awaitable[None]]

STEPS: dict[str, Step] = {
    "validate_order": checks.validate_order,
    "check_fraud": checks.check_fraud,
    "manual_approval": checks.manual_approval,
    "reserve_inventory": inventory.reserve_inventory,
    "reserve_at_store": inventory.reserve_at_store,
    "authorize_payment": payment.authorize_payment,
    "await_release": payment.await_release,
    "capture_payment": payment.capture_payment,
    "fulfill_shipments": delivery.fulfill_shipments,
    "issue_licenses": delivery.issue_licenses,
    "notify_pickup_ready": delivery.notify_pickup_ready,
    "await_pickup": delivery.await_pickup,
}

# The pure registry in domain/ and these implementations must name the same steps.
assert set(STEPS) == set(STEP_SPECS), "step registry and STEP_SPECS disagree"


async def attempt(run: OrderRun, step: FlowStep) -> StepFailed | None:
    """Run a step or call step once through; its failure, or None when it is done. An error
    nobody classified (retries exhausted) comes back `Unclassified`, for a person to decide."""
    try:
        if step.kind == "call":
            await services.call_service(run, step)
        else:
            assert step.step is not None
            await STEPS[step.step](run, step)
    except StepFailed as failure:
        return failure
    except (ActivityError, ChildWorkflowError) as error:
        return Unclassified(f"{step.step_id}: {error_message(error)}")
    return None


__all__ = [
    "STEPS",
    "ApprovalRequired",
    "StepFailed",
    "Unclassified",
    "attempt",
    "error_message",
    "error_type",
]
