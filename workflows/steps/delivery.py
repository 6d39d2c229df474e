"""Steps that hand goods over: shipments, license keys, pickup at a store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.licenses import IssueLicensesRequest, LicenseActivities
    from activities.notifications import NotificationActivities
    from domain.events import EventType
    from domain.flows import FlowStep
    from domain.notifications import Notification
    from domain.shipments import AllocatedLine
    from domain.statuses import CancelReason
    from workflows import activity_options
    from workflows.steps import payment
    from workflows.steps.failures import StepFailed

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def fulfill_shipments(run: OrderRun, step: FlowStep) -> None:
    """One child shipment per allocation; done when every shipment is delivered or cancelled.
    Waiting here is a safe point: interventions are applied while the carrier works."""
    order = run.order
    authorization_id = order.payment.authorization_id
    if authorization_id is None or order.payment.voided:
        raise StepFailed("no authorization to capture against")
    for allocation in order.allocations:
        if run.order.shipment_for(allocation) is not None or not any(
            i.quantity for i in allocation.lines
        ):
            continue  # shipped already in an earlier epoch, or nothing left to send
        await run.shipments.start_shipment(
            allocation,
            authorization_id=authorization_id,
            capture_key_prefix=f"{run.key(step)}:capture",
            # Shipments capture their lines on dispatch unless the flow captured the order
            # up front; digital add-ons captured on their own do not count.
            capture_on_dispatch=order.payment.captured_minor - order.payment.refunded_minor
            < order.total_minor,
        )
    run.set_details("awaiting carrier")
    await run.wait(run.shipments.shipments_settled)
    if failures := run.shipments.shipment_failures():
        raise StepFailed("; ".join(failures))


async def issue_licenses(run: OrderRun, step: FlowStep) -> None:
    """Digital lines: capture what they cost (unless already captured), then issue one
    license key per unit. Physical lines of the same order are left to the other steps."""
    order = run.order
    digital = [line for line in order.lines if line.kind == "digital" and line.buckets.pending]
    if not digital:
        return
    amount = sum(line.unit_price_minor * line.buckets.pending for line in digital)
    uncaptured = order.total_minor - order.payment.captured_minor
    if uncaptured > 0:
        await payment.capture(
            run, step, f"{run.key(step)}:capture", min(amount, uncaptured), local=True
        )
    issued = await run.call(
        LicenseActivities.issue_licenses,
        IssueLicensesRequest(
            order_id=order.order_id,
            lines=[
                AllocatedLine(line_id=line.line_id, sku=line.sku, quantity=line.buckets.pending)
                for line in digital
            ],
        ),
        summary=f"issue {sum(line.buckets.pending for line in digital)} license keys",
        local=True,
        **run.activity_options(step, activity_options.LICENSES),
    )
    order.licenses.extend(issued)
    for line in digital:
        line.move("pending", "delivered", line.buckets.pending)
    run.record(
        EventType.LICENSES_ISSUED,
        lines={line.line_id: line.buckets.delivered for line in digital},
        keys=[f"{license.key[:4]}…" for license in issued],  # the journal keeps no secrets
    )


async def notify_pickup_ready(run: OrderRun, step: FlowStep) -> None:
    order = run.order
    stores = sorted({allocation.warehouse for allocation in order.allocations})
    await run.call(
        NotificationActivities.notify_customer,
        Notification(
            key=run.key(step),
            order_id=order.order_id,
            customer_id=order.customer_id,
            kind="ready_for_pickup",
            message=f"Your order {order.order_id} is ready for pickup at {', '.join(stores)}.",
        ),
        summary="tell the customer the order is ready for pickup",
        local=True,
        **run.activity_options(step, activity_options.NOTIFICATIONS),
    )
    run.record(EventType.PICKUP_READY, stores=stores)


async def await_pickup(run: OrderRun, step: FlowStep) -> None:
    """Wait for the customer at the store. On pickup the order is captured and delivered;
    after the window it is cancelled, restocked and voided."""
    order = run.order
    window = run.pickup_window
    run.set_details(f"awaiting pickup (window {window})")
    if not await run.wait(lambda: order.picked_up_by is not None, window.total_seconds()):
        await run.finish_cancelled(
            CancelReason.CUSTOMER, note=f"not picked up within {window}; restocked"
        )
    due = order.total_minor - order.payment.captured_minor
    if due > 0:
        await payment.capture(run, step, f"{run.key(step)}:capture", due)
    for line in order.lines:
        if line.kind == "physical":
            line.move("reserved", "delivered", line.buckets.reserved)
    run.record(EventType.PICKED_UP, picked_up_by=order.picked_up_by)
