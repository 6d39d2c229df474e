"""Call steps: a POST to a shop's own service, registered as an endpoint
(docs/order-types.md). The answer's declared outputs become facts of the order; a refusal
(4xx, an answer that breaks the contract) is the step's failure, for its flow's policy; a
service that is down is retried per the step's `retry`. The endpoint's URL and secret are
read by the activity when it calls, never kept in the order's history."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.endpoints import EndpointActivities
    from domain.endpoints import EndpointAnswer, EndpointCall
    from domain.events import EventType
    from domain.flows import FlowStep
    from workflows.rules.conditions import order_facts
    from workflows.steps.failures import StepFailed, business_message, error_type

if TYPE_CHECKING:
    from workflows.run import OrderRun

# A service that is down is retried with backoff; one that refuses is not (its error types).
CALLS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=75),  # the endpoint's own timeout is ≤ 60 s
    # The call heartbeats while it waits: a worker lost mid-call is noticed in seconds.
    "heartbeat_timeout": timedelta(seconds=5),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=5,
    ),
}
REFUSALS = frozenset(
    {
        "EndpointRefused",
        "EndpointOutputInvalid",
        "EndpointUnknown",
        "EndpointNotAllowed",
        "EndpointRedirected",
        "EndpointAnswerTooLarge",
    }
)


def service_call(run: OrderRun, step: FlowStep, *, endpoint: str, undo: bool) -> EndpointCall:
    """What the service receives: the order, the step and its epoch, facts and lines."""
    order = run.order
    return EndpointCall(
        order_id=order.order_id,
        step_id=step.step_id,
        epoch=run.state.epochs.get(step.step_id, 1),
        endpoint=endpoint,
        undo=undo,
        outputs={} if undo else dict(step.outputs),
        facts=order_facts(order),
        lines=[
            {"line_id": line.line_id, "sku": line.sku, "quantity": line.active_quantity}
            for line in order.lines
        ],
    )


async def _ask(
    run: OrderRun, step: FlowStep, endpoint: str, *, undo: bool, options: dict[str, Any]
) -> EndpointAnswer:
    answer: EndpointAnswer = await run.call(
        EndpointActivities.call_endpoint,
        service_call(run, step, endpoint=endpoint, undo=undo),
        summary=f"undo {step.step_id} with {endpoint}" if undo else f"call {endpoint}",
        **options,
    )
    return answer


async def call_service(run: OrderRun, step: FlowStep) -> None:
    assert step.call is not None
    try:
        answer = await _ask(
            run, step, step.call, undo=False, options=run.activity_options(step, CALLS)
        )
    except ActivityError as error:
        if error_type(error) in REFUSALS:
            raise StepFailed(business_message(error), kind="service_refused") from error
        raise
    run.order.facts.update(answer.outputs)
    run.record(
        EventType.SERVICE_CALLED,
        step=step.step_id,
        endpoint=step.call,
        status=answer.status,
        outputs=answer.outputs,
    )


async def undo_call(run: OrderRun, step: FlowStep) -> None:
    """Tell the service to undo what its call did, once per epoch (`…:undo` key)."""
    endpoint = step.compensation
    assert endpoint is not None
    try:
        answer = await _ask(run, step, endpoint, undo=True, options=CALLS)
    except ActivityError as error:
        # An undo the service refuses (or never takes) must not leave the order half undone:
        # the rest of the compensation goes on, and the journal says what to follow up.
        run.record(
            EventType.SERVICE_UNDO_FAILED,
            step=step.step_id,
            endpoint=endpoint,
            reason=business_message(error),
        )
        return
    run.record(
        EventType.SERVICE_CALL_UNDONE, step=step.step_id, endpoint=endpoint, status=answer.status
    )
