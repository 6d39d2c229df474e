"""Exchanges: the replacement for a returned line ships as a new line of the same order.

Equal prices move no money; a dearer replacement is charged the difference on an
authorization of its own, a cheaper one refunds it. When the replacement is out of stock or
the difference is declined, the returned units are refunded instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReleaseRequest, ReserveRequest
    from domain.events import EventType
    from domain.lines import LineBuckets, OrderLine
    from domain.returns import Return, ReturnLine
    from domain.shipments import AllocatedLine
    from workflows import activity_options, effects
    from workflows.refunds import refund
    from workflows.rewards import reward_line
    from workflows.steps.failures import error_message

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def ship_exchange(run: OrderRun, return_id: str, line_id: str, quantity: int) -> None:
    """The replacement becomes a line of this order and ships as a shipment of its own.
    Equal prices move no money; a difference is charged or refunded. If the replacement
    is out of stock or the difference is declined, the returned units are refunded."""
    order = run.order
    ret = order.return_(return_id)
    returned = ret.line(line_id)
    assert returned.replacement_sku is not None
    assert returned.replacement_unit_price_minor is not None
    new_price = returned.replacement_unit_price_minor
    replacement = OrderLine(
        line_id=f"ln_{len(order.lines) + 1}",
        sku=returned.replacement_sku,
        name=returned.replacement_name or returned.replacement_sku,
        unit_price_minor=new_price,
        quantity=quantity,
        buckets=LineBuckets(pending=quantity),
        replaces=line_id,
    )
    order.lines.append(replacement)
    run.record(
        EventType.EXCHANGE_LINE_ADDED,
        return_id=return_id,
        line_id=replacement.line_id,
        replaces=line_id,
        sku=replacement.sku,
        quantity=quantity,
        unit_price_minor=new_price,
    )
    item = AllocatedLine(line_id=replacement.line_id, sku=replacement.sku, quantity=quantity)
    try:
        allocations = await run.call(
            InventoryActivities.reserve_inventory,
            ReserveRequest(
                order_id=order.order_id,
                reservation_id=f"{return_id}:exchange:{line_id}",
                lines=[item],
            ),
            summary=f"reserve {quantity}× {replacement.sku} for the exchange",
            **activity_options.INVENTORY,
        )
    except ActivityError as error:
        await _exchange_failed(run, ret, replacement, returned, error_message(error))
        return
    difference = (new_price - returned.unit_price_minor) * quantity
    authorization_id = order.payment.authorization_id
    if difference > 0:
        try:
            authorization_id = await _charge(run, f"{return_id}:exchange:{line_id}", difference)
        except ActivityError as error:
            for allocation in allocations:
                await run.call(
                    InventoryActivities.release_inventory,
                    ReleaseRequest(
                        reservation_id=allocation.reservation_id,
                        warehouse=allocation.warehouse,
                    ),
                    summary=f"release the exchange's {replacement.sku}",
                    **activity_options.INVENTORY,
                )
            await _exchange_failed(run, ret, replacement, returned, error_message(error))
            return
    elif difference < 0:
        await refund(
            run, f"{return_id}:exchange:{line_id}:refund", -difference, "cheaper replacement"
        )
    for allocation in allocations:
        order.allocations.append(allocation)
        replacement.move("pending", "reserved", sum(i.quantity for i in allocation.lines))
        assert authorization_id is not None
        await run.shipments.start_shipment(
            allocation,
            authorization_id=authorization_id,
            capture_key_prefix=f"{return_id}:exchange:capture",
            capture_on_dispatch=False,  # settled above: nothing more to charge
        )
    run.set_details(f"shipping the replacement for {return_id}")
    await run.wait(run.shipments.shipments_settled)
    if replacement.buckets.delivered:
        await run.tell_rewards(
            "award",
            reward_line(
                replacement,
                replacement.buckets.delivered,
                f"{order.order_id}:{replacement.line_id}:award",
            ),
        )


async def _exchange_failed(
    run: OrderRun, ret: Return, replacement: OrderLine, returned: ReturnLine, why: str
) -> None:
    replacement.move("pending", "cancelled", replacement.buckets.pending)
    run.record(
        EventType.EXCHANGE_FAILED, reason=why, return_id=ret.return_id, line_id=replacement.line_id
    )
    amount = returned.unit_price_minor * replacement.quantity
    refunded = await refund(
        run, f"{ret.return_id}:exchange:{returned.line_id}:refund", amount, "exchange failed"
    )
    if refunded:
        line = run.order.line(returned.line_id)
        line.buckets.refunded = min(
            line.buckets.refunded + replacement.quantity, line.buckets.returned
        )


async def _charge(run: OrderRun, key: str, amount: int) -> str:
    """Charge an exchange's price difference on the original card: its own authorization,
    captured at once."""
    order = run.order
    authorization = await effects.authorize(
        run.call,
        order_id=order.order_id,
        key=f"{key}:authorize",
        token=run.payment_token,
        amount_minor=amount,
        currency=order.currency,
        summary=f"authorize {amount} for an exchange",
    )
    captured = await effects.capture(
        run.call,
        order_id=order.order_id,
        key=f"{key}:capture",
        authorization_id=authorization.authorization_id,
        amount_minor=amount,
        summary=f"capture {amount} for an exchange",
    )
    order.payment.extra_authorizations.append(authorization.authorization_id)
    order.payment.captured_minor += captured.amount_minor
    run.record(
        EventType.PAYMENT_CAPTURED,
        amount_minor=captured.amount_minor,
        capture_id=captured.operation_id,
        authorization_id=authorization.authorization_id,
        reason="exchange price difference",
    )
    return authorization.authorization_id
