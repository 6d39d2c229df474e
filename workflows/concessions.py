"""Returns and appeasements of a delivered order: what is allowed, and what they do.

Called by the order workflow (see `workflows.after_delivery`): `check_*` run in update
validators and again when the command is applied; the rest runs at the order's safe points.
A return's own stages run in its `ReturnWorkflow`; what they mean for the order (buckets,
money, points, exchanges) is applied here from the return's progress reports.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities, CatalogPrice
    from domain.events import SYSTEM, EventType
    from domain.interventions import ReturnRequest
    from domain.returns import (
        RETURN_ENDS,
        RETURN_PROGRESS,
        Return,
        ReturnLine,
        ReturnProgress,
        ReturnStatus,
    )
    from domain.shipments import ShipmentStatus
    from workflows import activity_options
    from workflows.outcomes import InterventionRefused
    from workflows.returns import ReturnInput, ReturnWorkflow, return_workflow_id
    from workflows.rewards import reward_line
    from workflows.steps.failures import error_message

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def request_return(run: OrderRun, request: ReturnRequest, actor: str) -> dict[str, Any]:
    order = run.order
    prices = await _price_replacements(run, request)
    number = run.state.counters.get("return", 0) + 1
    run.state.counters["return"] = number
    lines = []
    for item in request.lines:
        line = order.line(item.line_id)
        price = prices.get(item.replacement_sku) if item.replacement_sku else None
        lines.append(
            ReturnLine(
                line_id=line.line_id,
                sku=line.sku,
                quantity=item.quantity,
                unit_price_minor=line.unit_price_minor,
                warehouse=warehouse_of(run, line.line_id),
                replacement_sku=item.replacement_sku,
                replacement_name=price.name if price else None,
                replacement_unit_price_minor=price.unit_price_minor if price else None,
            )
        )
    # Set aside what this return may refund, so an appeasement or another return cannot
    # spend it first: its goods' value, and what a cheaper replacement gives back.
    owed = sum(
        line.quantity
        * (
            line.unit_price_minor
            if line.replacement_unit_price_minor is None
            else max(line.unit_price_minor - line.replacement_unit_price_minor, 0)
        )
        for line in lines
    )
    ret = Return(
        return_id=f"{order.order_id}-{number}",
        lines=lines,
        reason=request.reason,
        requested_by=actor,
        requested_at=workflow.now(),
        refund_limit_minor=max(min(owed, order.refundable_minor), 0),
    )
    order.returns.append(ret)
    run.record(
        EventType.RETURN_REQUESTED,
        actor=actor,
        reason=request.reason,
        return_id=ret.return_id,
        lines=[line.model_dump(mode="json") for line in lines],
        value_minor=ret.value_minor,
    )
    handle = await workflow.start_child_workflow(
        ReturnWorkflow.run,
        ReturnInput(
            order_id=order.order_id,
            order_workflow_id=workflow.info().workflow_id,
            customer_id=order.customer_id,
            ret=ret,
            address=order.shipping_address,
            authorization_id=order.payment.authorization_id,
            auto_approve_below_minor=run.terms.return_auto_approve_below_minor,
            receipt_window_s=run.terms.return_receipt_window_s,
        ),
        id=return_workflow_id(ret.return_id),
        static_summary=f"{ret.return_id} · {sum(line.quantity for line in lines)} units · "
        f"{request.reason[:60]}",
    )
    run.return_tasks[ret.return_id] = asyncio.create_task(_follow(run, ret, handle))
    return ret.model_dump(mode="json")


async def _follow(run: OrderRun, ret: Return, handle: Any) -> None:
    """A return that fails for good (a refund the gateway refuses) must not keep the
    order open forever: it ends FAILED and the journal says why."""
    try:
        final = await handle
    except ChildWorkflowError as error:
        failed = ret.model_copy(update={"status": ReturnStatus.FAILED})
        run.state.return_inbox.append(ReturnProgress(ret=failed, note=error_message(error)))
        return
    run.state.return_inbox.append(ReturnProgress(ret=final))


async def _price_replacements(run: OrderRun, request: ReturnRequest) -> dict[str, CatalogPrice]:
    skus = sorted({item.replacement_sku for item in request.lines if item.replacement_sku})
    if not skus:
        return {}
    found = await run.call(
        CatalogActivities.price_items,
        skus,
        summary=f"price {', '.join(skus)}",
        **activity_options.CATALOG,
    )
    prices = {price.sku: price for price in found}
    for index, item in enumerate(request.lines):
        sku = item.replacement_sku
        if sku is None:
            continue
        price = prices.get(sku)
        if price is None:
            raise InterventionRefused(f"lines.{index}.replacement_sku: unknown SKU {sku}")
        if price.kind != "physical" or price.currency != run.order.currency:
            raise InterventionRefused(
                f"lines.{index}.replacement_sku: {sku} cannot replace a "
                f"{run.order.currency} physical item"
            )
    return prices


def warehouse_of(run: OrderRun, line_id: str) -> str:
    """Returned units go back where they came from: the first shipment that carried them."""
    for shipment in run.order.shipments:
        if shipment.status == ShipmentStatus.DELIVERED and any(
            item.line_id == line_id for item in shipment.lines
        ):
            return shipment.warehouse
    for allocation in run.order.allocations:  # picked up at a store
        if any(item.line_id == line_id for item in allocation.lines):
            return allocation.warehouse
    return run.order.allocations[0].warehouse if run.order.allocations else "EWR"


async def apply_return_progress(run: OrderRun, progress: ReturnProgress) -> None:
    order = run.order
    reported = progress.ret
    try:
        ret = order.return_(reported.return_id)
    except KeyError:
        run.record(EventType.SIGNAL_REJECTED, signal="return_progressed", reason="unknown return")
        return
    if not _moves_forward(ret.status, reported.status):
        return
    before = ret.status
    for field in (
        "status",
        "tracking_number",
        "label_url",
        "decided_by",
        "decision_note",
        "received",
        "restocked",
        "refunded_minor",
        "refund_id",
    ):
        setattr(ret, field, getattr(reported, field))
    return_id = ret.return_id
    status = reported.status
    if status == ReturnStatus.NEEDS_REVIEW:
        run.record(
            EventType.RETURN_REVIEW_REQUESTED,
            return_id=return_id,
            value_minor=ret.value_minor,
            reason=f"worth {ret.value_minor}, above the automatic approval limit",
        )
        return
    if status == ReturnStatus.REJECTED:
        run.record(
            EventType.RETURN_REJECTED,
            actor=ret.decided_by or SYSTEM,
            reason=ret.decision_note,
            return_id=return_id,
        )
        return
    if status == ReturnStatus.EXPIRED:
        run.record(EventType.RETURN_EXPIRED, reason=progress.note, return_id=return_id)
        return
    if status == ReturnStatus.FAILED:
        run.record(EventType.RETURN_FAILED, reason=progress.note, return_id=return_id)
        return
    if _passed(before, status, ReturnStatus.AWAITING_RECEIPT):
        run.record(
            EventType.RETURN_APPROVED,
            actor=ret.decided_by or SYSTEM,
            reason=ret.decision_note,
            return_id=return_id,
        )
        run.record(
            EventType.RETURN_LABEL_ISSUED,
            return_id=return_id,
            tracking_number=ret.tracking_number,
            label_url=ret.label_url,
        )
    if _passed(before, status, ReturnStatus.RECEIVED):
        for line_id, quantity in ret.received_units().items():
            order.line(line_id).move("delivered", "returned", quantity)
        run.record(
            EventType.RETURN_RECEIVED,
            reason=progress.note,
            return_id=return_id,
            lines=[item.model_dump(mode="json") for item in ret.received],
        )
    if status == ReturnStatus.COMPLETED:
        await _complete_return(run, ret)


async def _complete_return(run: OrderRun, ret: Return) -> None:
    order = run.order
    if ret.restocked:
        run.record(EventType.RETURN_RESTOCKED, return_id=ret.return_id, lines=ret.restocked)
    if ret.refunded_minor:
        order.payment.refunded_minor += ret.refunded_minor
        run.record(
            EventType.REFUND_ISSUED,
            return_id=ret.return_id,
            amount_minor=ret.refunded_minor,
            refund_id=ret.refund_id,
            reason="returned goods",
        )
    for line_id, quantity in ret.received_units().items():
        line = order.line(line_id)
        if ret.line(line_id).replacement_sku is None:
            if ret.refunded_minor:
                line.buckets.refunded = min(
                    line.buckets.refunded + quantity,
                    line.buckets.cancelled + line.buckets.returned,
                )
        else:
            run.state.exchanges_due.append((ret.return_id, line_id, quantity))
        await run.tell_rewards(
            "claw_back",
            reward_line(line, quantity, f"{ret.return_id}:{line_id}:claw_back"),
        )
    run.record(
        EventType.RETURN_COMPLETED,
        return_id=ret.return_id,
        refunded_minor=ret.refunded_minor,
        restocked=sum(ret.restocked.values()),
    )


def _moves_forward(current: ReturnStatus, reported: ReturnStatus) -> bool:
    if current in RETURN_ENDS:
        return False
    if reported in RETURN_ENDS:
        return True
    return RETURN_PROGRESS.index(reported) > RETURN_PROGRESS.index(current)


def _passed(before: ReturnStatus, after: ReturnStatus, stage: ReturnStatus) -> bool:
    """Did this report carry the return past `stage` (it may skip stages in one report)?"""
    order = {status: index for index, status in enumerate(RETURN_PROGRESS)}
    end = order.get(after, len(RETURN_PROGRESS))
    return order[before] < order[stage] <= end
