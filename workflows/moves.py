"""The flow's moves that end it or jump its cursor: completing, a review and its decision,
a backtrack, and a cancel of what is left. Each acts through `OrderRun`; a move that ends
the running step raises `FlowRedirect` for the interpreter to go on from the new position."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.events import SYSTEM, EventType
    from domain.flows import FlowStep
    from domain.holds import Review
    from domain.interventions import ReviewDecision
    from domain.notifications import Notification
    from domain.statuses import CancelReason, OrderStatus
    from workflows import activity_options, compensation, patches
    from workflows.outcomes import FlowRedirect
    from workflows.rules import interventions as rules
    from workflows.steps.failures import ApprovalRequired, StepFailed, Unclassified

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def complete(run: OrderRun) -> None:
    """The flow has run: give back an unused authorization, keep the return window, end."""
    payment = run.order.payment
    if (
        payment.authorization_id
        and not payment.voided
        and (payment.captured_minor < payment.authorized_minor)
    ):
        # Cancelled lines left part of the authorization unused: give it back.
        await compensation.execute(
            run,
            compensation.CompensationAction(
                step="fulfill_shipments",
                action="void_authorization",
                target=payment.authorization_id,
                description="release the unused authorization",
            ),
        )
    if workflow.patched(patches.RETURN_WINDOW.id):
        run.order.current_step = None
        await run.return_window()
    await finish_completed(run)


async def finish_completed(run: OrderRun) -> None:
    payment = run.order.payment
    notice = Notification(
        key=f"{run.order.order_id}:completed",
        order_id=run.order.order_id,
        customer_id=run.order.customer_id,
        kind="order_completed",
        message=f"Your order {run.order.order_id} is complete. Thank you!",
    )
    # Orders that started before these patches replay as they ran: without the notice, or
    # with a local activity of its own (docs/versioning.md).
    if workflow.patched(patches.NOTICE_WITH_JOURNAL.id):
        run.journal.notify(notice)  # queued with OrderCompleted, in its batch's transaction
    elif workflow.patched(patches.NOTIFY_ON_COMPLETION.id):
        await run.call(
            NotificationActivities.notify_customer,
            notice,
            summary="tell the customer the order is complete",
            local=True,
            **activity_options.NOTIFICATIONS,
        )
    run.order.current_step = None
    run.order.outcome = OrderStatus.COMPLETED
    run.record(
        EventType.ORDER_COMPLETED,
        captured_minor=payment.captured_minor,
        refunded_minor=payment.refunded_minor,
    )


def policy_for(step: FlowStep, failure: StepFailed) -> str:
    """What the flow does about a failed step: review, compensate, or fail the order."""
    policy = "review" if failure.needs_review else step.on_failure
    if failure.final and policy == "review":
        policy = "compensate"
    return policy


async def settle(run: OrderRun, step: FlowStep, failure: StepFailed) -> None:
    """A step failed: an unclassified error goes to a person, the rest to `fail_step`."""
    if isinstance(failure, Unclassified):
        await review(run, step, failure)
    else:
        await fail_step(run, step, failure)


async def fail_step(run: OrderRun, step: FlowStep, failure: StepFailed) -> None:
    """A step failed: its flow's policy decides (review, compensate, or fail the order)."""
    run.order.mark(step.step_id, "failed")
    if not isinstance(failure, ApprovalRequired):
        run.record(EventType.STEP_FAILED, step=step.step_id, reason=str(failure), kind=failure.kind)
    policy = policy_for(step, failure)
    if policy == "review":
        await review(run, step, failure)
    elif policy == "compensate":
        await finish_cancelled(run, failure.cancel_reason or CancelReason.OTHER, note=str(failure))
    else:
        await compensation.undo(run, _undo_all(run))
        run.state.completed.clear()
        run.order.failure = str(failure)
        run.order.outcome = OrderStatus.FAILED
        run.record(EventType.ORDER_FAILED, step=step.step_id, reason=str(failure))


def _undo_all(run: OrderRun) -> list[str]:
    """Every step with effects, newest first: the completed ones, then any under way (the
    step an order waits on, the steps parallel branches stopped at)."""
    undo = list(reversed(run.state.completed))
    for step_id in [run.current_step_id, *run.state.branch_steps]:
        if step_id is not None and step_id not in undo:
            undo.insert(0, step_id)
    return undo


async def finish_cancelled(
    run: OrderRun, reason: CancelReason, *, actor: str = SYSTEM, note: str | None = None
) -> None:
    """Undo what the order did, cancel what is left of it, and end the flow."""
    await compensation.undo(run, _undo_all(run))
    run.state.completed.clear()
    for line in run.order.lines:
        line.move("pending", "cancelled", line.buckets.pending)
    run.order.cancel_reason = reason
    run.order.cancel_note = note  # state only, no command: replays unchanged
    run.order.review = None
    run.order.outcome = OrderStatus.CANCELLED
    run.record(EventType.ORDER_CANCELLED, actor=actor, reason=note, cancel_reason=reason.value)
    raise FlowRedirect()


async def review(run: OrderRun, step: FlowStep, failure: StepFailed) -> None:
    """Wait for a human: escalate after the SLA, cancel after a second one."""
    # Parallel branches take turns: the order waits on one review at a time.
    await run.wait(lambda: run.order.review is None)
    run.order.review = Review(
        step=step.step_id,
        reason=str(failure),
        kind=failure.kind,  # type: ignore[arg-type]
        since=workflow.now(),
        cancel_reason=failure.cancel_reason,
    )
    run.record(
        EventType.REVIEW_REQUESTED, reason=str(failure), step=step.step_id, kind=failure.kind
    )
    run.journal.details = f"needs review: {failure}"
    run.order.mark(step.step_id, "waiting")
    while run.order.review is not None:
        review = run.order.review
        deadline = review.since + run.review_sla * (2 if review.escalated else 1)
        remaining = max((deadline - workflow.now()).total_seconds(), 0.001)
        if await run.wait(lambda: run.order.review is None, timeout=remaining):
            break
        if not review.escalated:
            review.escalated = True
            run.record(
                EventType.REVIEW_ESCALATED,
                reason=f"no decision within {run.review_sla}",
                step=review.step,
            )
        else:
            await finish_cancelled(
                run,
                review.cancel_reason or CancelReason.OTHER,
                note=f"no review decision within {run.review_sla * 2}; cancelled",
            )


async def decide_review(run: OrderRun, request: Any, *, actor: str) -> None:
    review = run.order.review
    assert review is not None
    run.order.review = None
    run.record(
        EventType.REVIEW_DECIDED,
        actor=actor,
        reason=request.note,
        decision=request.decision.value,
        step=review.step,
    )
    index = run.flow.index_of(review.step)
    # A step in a parallel block goes on in its branch, which reads the decision.
    in_branch = run.flow.steps[index].step_id != review.step
    if in_branch and request.decision != ReviewDecision.CANCEL:
        run.state.decisions[review.step] = request.decision
    if request.decision == ReviewDecision.APPROVE:
        run.order.mark(review.step, "done")
        run.state.completed.append(review.step)
        if not in_branch:
            run.state.cursor = index + 1
    elif request.decision == ReviewDecision.RETRY:
        run.state.epochs[review.step] = run.state.epochs.get(review.step, 1) + 1
        if not in_branch:
            run.state.cursor = index
    elif request.decision == ReviewDecision.SKIP:
        run.record(EventType.STEP_SKIPPED, actor=actor, step=review.step, reason=request.note)
        run.order.mark(review.step, "skipped")
        if not in_branch:
            run.state.cursor = index + 1
    else:
        await finish_cancelled(
            run,
            request.reason or review.cancel_reason or CancelReason.OTHER,
            actor=actor,
            note=request.note,
        )


async def backtrack(run: OrderRun, to_step: str, *, actor: str, reason: str) -> None:
    plan = rules.backtrack_plan(run.situation(), to_step)
    for action in plan.actions:
        await compensation.execute(run, action)
    for step_id in plan.rerun_steps:
        run.state.epochs[step_id] = run.state.epochs.get(step_id, 1) + 1
        run.order.progress.pop(step_id, None)  # to run again
    target = run.flow.index_of(to_step)
    run.state.completed = [s for s in run.state.completed if run.flow.index_of(s) < target]
    run.state.cursor = target
    run.order.review = None
    run.record(
        EventType.BACKTRACKED_TO,
        actor=actor,
        reason=reason,
        step=to_step,
        plan=plan.model_dump(mode="json"),
    )
    raise FlowRedirect()
