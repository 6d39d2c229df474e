"""The order after delivery: the return window, returns, exchanges, appeasements, rewards.

Once its flow has run, an order stays open until its return window closes (a durable timer,
30 days by default), then completes. Meanwhile it takes return requests and appeasements as
interventions, follows each return (a `ReturnWorkflow` child) through its progress signals,
ships exchange replacements, and keeps its `RewardsWorkflow` informed. A month of that can
make a long history, so the order continues as new, carrying its state, at a quiet moment
once Temporal suggests it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities, CatalogPrice
    from activities.inventory import InventoryActivities, ReleaseRequest, ReserveRequest
    from activities.payments import AuthorizeRequest, CaptureRequest, PaymentActivities
    from domain.events import SYSTEM
    from domain.interventions import AppeasementRequest, ReturnRequest
    from domain.orders import (
        AllocatedLine,
        CarriedOrder,
        LineBuckets,
        Order,
        OrderLine,
        ShipmentStatus,
    )
    from domain.returns import (
        RETURN_ENDS,
        RETURN_PROGRESS,
        Appeasement,
        ConcessionTerms,
        Return,
        ReturnLine,
        ReturnStatus,
    )
    from workflows import activity_options
    from workflows.interventions import InterventionRefused
    from workflows.returns import ReturnInput, ReturnProgress, ReturnWorkflow, return_workflow_id
    from workflows.rewards import (
        RewardLine,
        RewardsInput,
        RewardsProgress,
        RewardsWorkflow,
        rewards_workflow_id,
    )
    from workflows.steps import error_message

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow


class AfterDelivery:
    """Mixed into `OrderWorkflow`."""

    if TYPE_CHECKING:
        order: Order
        terms: ConcessionTerms
        _return_inbox: list[ReturnProgress]
        _exchanges_due: list[tuple[str, str, int]]
        _return_tasks: dict[str, asyncio.Task[None]]
        _rewards_started: bool
        _rewards_granted: bool

    @property
    def _order_run(self) -> OrderWorkflow:
        return cast("OrderWorkflow", self)

    # -- messages from the children -------------------------------------------------------------

    @workflow.signal
    def return_progressed(self, progress: ReturnProgress) -> None:
        self._return_inbox.append(progress)

    @workflow.signal
    def rewards_progressed(self, progress: RewardsProgress) -> None:
        run = self._order_run
        if progress.kind == "granted":
            self._rewards_granted = True
            run.record("PointsGranted", points=progress.points)
        elif progress.kind == "awarded":
            run.record("PointsAwarded", points=progress.points, line_id=progress.line_id)
        else:
            run.record("PointsClawedBack", points=progress.points, line_id=progress.line_id)

    # -- the window -----------------------------------------------------------------------------

    def window_open(self) -> bool:
        closes = self.order.return_window_closes_at
        return closes is not None and workflow.now() < closes

    def _quiet(self) -> bool:
        run = self._order_run
        return (
            not self._return_inbox
            and not self._exchanges_due
            and not run._commands
            and run.shipments_settled()
            and all(ret.status in RETURN_ENDS for ret in self.order.returns)
        )

    def _continue_due(self) -> bool:
        info = workflow.info()
        limit = self.terms.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    async def return_window(self) -> None:
        """Keep the order open for returns until its window closes and every return and
        exchange it took has finished; then grant the rewards."""
        run = self._order_run
        order = self.order
        if order.return_window_closes_at is None:
            window = timedelta(seconds=self.terms.return_window_s)
            order.return_window_closes_at = workflow.now() + window
            run.record("ReturnWindowOpened", closes_at=order.return_window_closes_at.isoformat())
            await self._start_rewards()
        while True:
            await self._settle()
            if not self.window_open() and self._quiet():
                break
            if self._continue_due() and self._quiet():
                await self._continue_as_new()
                continue
            closes = order.return_window_closes_at
            assert closes is not None
            left = (closes - workflow.now()).total_seconds() if self.window_open() else None
            run.set_details(
                f"return window open until {closes:%Y-%m-%d %H:%M} UTC"
                if left is not None
                else "return window closed; finishing open returns"
            )
            await run.wait(
                lambda: (
                    bool(self._return_inbox or self._exchanges_due)
                    or (not self.window_open() and self._quiet())
                    or (self._continue_due() and self._quiet())
                ),
                timeout=left,
            )
        run.record("ReturnWindowClosed", returns=len(order.returns))
        if self._rewards_started:
            await workflow.get_external_workflow_handle(rewards_workflow_id(order.order_id)).signal(
                RewardsWorkflow.grant
            )
            await workflow.wait_condition(lambda: self._rewards_granted)

    async def _settle(self) -> None:
        """Apply what the returns reported, then ship the exchanges they made due."""
        while self._return_inbox:
            await self._apply_return_progress(self._return_inbox.pop(0))
        while self._exchanges_due:
            return_id, line_id, quantity = self._exchanges_due.pop(0)
            await self._ship_exchange(return_id, line_id, quantity)

    async def _continue_as_new(self) -> None:
        """Start a fresh run with the order's state, once every handler has finished and the
        journal is written; if something arrived meanwhile, carry on in this run instead."""
        run = self._order_run
        await workflow.wait_condition(workflow.all_handlers_finished)
        await run.flush_journal()
        if not (self._quiet() and workflow.all_handlers_finished()):
            run.start_journal()
            return
        carried = CarriedOrder(
            order=self.order,
            seq=run._seq,
            counters=run._counters,
            epochs=run._epochs,
            completed=run.completed,
            rewards_started=self._rewards_started,
        )
        workflow.continue_as_new(run.order_input.model_copy(update={"carried": carried}))

    # -- rewards --------------------------------------------------------------------------------

    async def _start_rewards(self) -> None:
        if self.terms.reward_points_per_unit <= 0:
            return
        order = self.order
        await workflow.start_child_workflow(
            RewardsWorkflow.run,
            RewardsInput(
                order_id=order.order_id,
                order_workflow_id=workflow.info().workflow_id,
                customer_id=order.customer_id,
                points_per_unit=self.terms.reward_points_per_unit,
                lines=[
                    _reward_line(
                        line, line.buckets.delivered, f"{order.order_id}:{line.line_id}:award"
                    )
                    for line in order.lines
                    if line.buckets.delivered
                ],
            ),
            id=rewards_workflow_id(order.order_id),
            # It lives across the order's continue-as-new runs; they signal it by id.
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{order.order_id} · loyalty points",
        )
        self._rewards_started = True

    async def _tell_rewards(self, signal: Any, line: RewardLine) -> None:
        if self._rewards_started:
            handle = workflow.get_external_workflow_handle(rewards_workflow_id(self.order.order_id))
            await handle.signal(signal, line)

    # -- returns --------------------------------------------------------------------------------

    def check_return(self, request: ReturnRequest) -> str | None:
        order = self.order
        if error := self._window_error("returns"):
            return error
        seen: set[str] = set()
        known = [line.line_id for line in order.lines]
        for index, item in enumerate(request.lines):
            where = f"lines.{index}"
            if item.line_id not in known:
                has = ", ".join(known)
                return f"{where}.line_id: unknown line {item.line_id}; the order has {has}"
            if item.line_id in seen:
                return f"{where}.line_id: line {item.line_id} is named twice"
            seen.add(item.line_id)
            line = order.line(item.line_id)
            if line.kind != "physical":
                return f"{where}.line_id: {item.line_id} is digital and cannot be returned"
            returnable = order.returnable(item.line_id)
            if item.quantity > returnable:
                held = line.buckets.delivered - returnable
                return (
                    f"{where}.quantity: only {returnable} units of {item.line_id} can be returned "
                    f"({line.buckets.delivered} delivered, {held} already in open returns, "
                    f"{line.buckets.returned} returned)"
                )
        return None

    def _window_error(self, what: str) -> str | None:
        closes = self.order.return_window_closes_at
        if closes is None:
            status = self.order.view().status.value
            return f"{what} open once the order is delivered; it is {status}"
        if workflow.now() >= closes:
            return f"the return window closed at {closes.isoformat()}; no more {what}"
        return None

    async def request_return(self, request: ReturnRequest, actor: str) -> dict[str, Any]:
        run = self._order_run
        order = self.order
        prices = await self._price_replacements(request)
        number = run._counters.get("return", 0) + 1
        run._counters["return"] = number
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
                    warehouse=self._warehouse_of(line.line_id),
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
            "ReturnRequested",
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
                auto_approve_below_minor=self.terms.return_auto_approve_below_minor,
                receipt_window_s=self.terms.return_receipt_window_s,
            ),
            id=return_workflow_id(ret.return_id),
            static_summary=f"{ret.return_id} · {sum(line.quantity for line in lines)} units · "
            f"{request.reason[:60]}",
        )
        self._return_tasks[ret.return_id] = asyncio.create_task(self._follow(ret, handle))
        return ret.model_dump(mode="json")

    async def _follow(self, ret: Return, handle: Any) -> None:
        """A return that fails for good (a refund the gateway refuses) must not keep the
        order open forever: it ends FAILED and the journal says why."""
        try:
            final = await handle
        except ChildWorkflowError as error:
            failed = ret.model_copy(update={"status": ReturnStatus.FAILED})
            self._return_inbox.append(ReturnProgress(ret=failed, note=error_message(error)))
            return
        self._return_inbox.append(ReturnProgress(ret=final))

    async def _price_replacements(self, request: ReturnRequest) -> dict[str, CatalogPrice]:
        skus = sorted({item.replacement_sku for item in request.lines if item.replacement_sku})
        if not skus:
            return {}
        found = await workflow.execute_activity_method(
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
            if price.kind != "physical" or price.currency != self.order.currency:
                raise InterventionRefused(
                    f"lines.{index}.replacement_sku: {sku} cannot replace a "
                    f"{self.order.currency} physical item"
                )
        return prices

    def _warehouse_of(self, line_id: str) -> str:
        """Returned units go back where they came from: the first shipment that carried them."""
        for shipment in self.order.shipments:
            if shipment.status == ShipmentStatus.DELIVERED and any(
                item.line_id == line_id for item in shipment.lines
            ):
                return shipment.warehouse
        for allocation in self.order.allocations:  # picked up at a store
            if any(item.line_id == line_id for item in allocation.lines):
                return allocation.warehouse
        return self.order.allocations[0].warehouse if self.order.allocations else "EWR"

    async def _apply_return_progress(self, progress: ReturnProgress) -> None:
        run = self._order_run
        order = self.order
        reported = progress.ret
        try:
            ret = order.return_(reported.return_id)
        except KeyError:
            run.record("SignalRejected", signal="return_progressed", reason="unknown return")
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
                "ReturnReviewRequested",
                return_id=return_id,
                value_minor=ret.value_minor,
                reason=f"worth {ret.value_minor}, above the automatic approval limit",
            )
            return
        if status == ReturnStatus.REJECTED:
            run.record(
                "ReturnRejected",
                actor=ret.decided_by or SYSTEM,
                reason=ret.decision_note,
                return_id=return_id,
            )
            return
        if status == ReturnStatus.EXPIRED:
            run.record("ReturnExpired", reason=progress.note, return_id=return_id)
            return
        if status == ReturnStatus.FAILED:
            run.record("ReturnFailed", reason=progress.note, return_id=return_id)
            return
        if _passed(before, status, ReturnStatus.AWAITING_RECEIPT):
            run.record(
                "ReturnApproved",
                actor=ret.decided_by or SYSTEM,
                reason=ret.decision_note,
                return_id=return_id,
            )
            run.record(
                "ReturnLabelIssued",
                return_id=return_id,
                tracking_number=ret.tracking_number,
                label_url=ret.label_url,
            )
        if _passed(before, status, ReturnStatus.RECEIVED):
            for line_id, quantity in ret.received_units().items():
                order.line(line_id).move("delivered", "returned", quantity)
            run.record(
                "ReturnReceived",
                reason=progress.note,
                return_id=return_id,
                lines=[item.model_dump(mode="json") for item in ret.received],
            )
        if status == ReturnStatus.COMPLETED:
            await self._complete_return(ret)

    async def _complete_return(self, ret: Return) -> None:
        run = self._order_run
        order = self.order
        if ret.restocked:
            run.record("ReturnRestocked", return_id=ret.return_id, lines=ret.restocked)
        if ret.refunded_minor:
            order.payment.refunded_minor += ret.refunded_minor
            run.record(
                "RefundIssued",
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
                self._exchanges_due.append((ret.return_id, line_id, quantity))
            await self._tell_rewards(
                RewardsWorkflow.claw_back,
                _reward_line(line, quantity, f"{ret.return_id}:{line_id}:claw_back"),
            )
        run.record(
            "ReturnCompleted",
            return_id=ret.return_id,
            refunded_minor=ret.refunded_minor,
            restocked=sum(ret.restocked.values()),
        )

    # -- exchanges ------------------------------------------------------------------------------

    async def _ship_exchange(self, return_id: str, line_id: str, quantity: int) -> None:
        """The replacement becomes a line of this order and ships as a shipment of its own.
        Equal prices move no money; a difference is charged or refunded. If the replacement
        is out of stock or the difference is declined, the returned units are refunded."""
        run = self._order_run
        order = self.order
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
            "ExchangeLineAdded",
            return_id=return_id,
            line_id=replacement.line_id,
            replaces=line_id,
            sku=replacement.sku,
            quantity=quantity,
            unit_price_minor=new_price,
        )
        item = AllocatedLine(line_id=replacement.line_id, sku=replacement.sku, quantity=quantity)
        try:
            allocations = await workflow.execute_activity_method(
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
            await self._exchange_failed(ret, replacement, returned, error_message(error))
            return
        difference = (new_price - returned.unit_price_minor) * quantity
        authorization_id = order.payment.authorization_id
        if difference > 0:
            try:
                authorization_id = await self._charge(f"{return_id}:exchange:{line_id}", difference)
            except ActivityError as error:
                for allocation in allocations:
                    await workflow.execute_activity_method(
                        InventoryActivities.release_inventory,
                        ReleaseRequest(
                            reservation_id=allocation.reservation_id,
                            warehouse=allocation.warehouse,
                        ),
                        summary=f"release the exchange's {replacement.sku}",
                        **activity_options.INVENTORY,
                    )
                await self._exchange_failed(ret, replacement, returned, error_message(error))
                return
        elif difference < 0:
            await self.refund(
                f"{return_id}:exchange:{line_id}:refund", -difference, "cheaper replacement"
            )
        for allocation in allocations:
            order.allocations.append(allocation)
            replacement.move("pending", "reserved", sum(i.quantity for i in allocation.lines))
            assert authorization_id is not None
            await run.start_shipment(
                allocation,
                authorization_id=authorization_id,
                capture_key_prefix=f"{return_id}:exchange:capture",
                capture_on_dispatch=False,  # settled above: nothing more to charge
            )
        run.set_details(f"shipping the replacement for {return_id}")
        await run.wait(run.shipments_settled)
        if replacement.buckets.delivered:
            await self._tell_rewards(
                RewardsWorkflow.award,
                _reward_line(
                    replacement,
                    replacement.buckets.delivered,
                    f"{order.order_id}:{replacement.line_id}:award",
                ),
            )

    async def _exchange_failed(
        self, ret: Return, replacement: OrderLine, returned: ReturnLine, why: str
    ) -> None:
        run = self._order_run
        replacement.move("pending", "cancelled", replacement.buckets.pending)
        run.record(
            "ExchangeFailed", reason=why, return_id=ret.return_id, line_id=replacement.line_id
        )
        amount = returned.unit_price_minor * replacement.quantity
        refunded = await self.refund(
            f"{ret.return_id}:exchange:{returned.line_id}:refund", amount, "exchange failed"
        )
        if refunded:
            line = self.order.line(returned.line_id)
            line.buckets.refunded = min(
                line.buckets.refunded + replacement.quantity, line.buckets.returned
            )

    async def _charge(self, key: str, amount: int) -> str:
        """Charge an exchange's price difference on the original card: its own authorization,
        captured at once."""
        run = self._order_run
        order = self.order
        authorization = await workflow.execute_activity_method(
            PaymentActivities.authorize_payment,
            AuthorizeRequest(
                order_id=order.order_id,
                key=f"{key}:authorize",
                token=run.payment_token,
                amount_minor=amount,
                currency=order.currency,
            ),
            summary=f"authorize {amount} for an exchange",
            **activity_options.PAYMENT,
        )
        captured = await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            CaptureRequest(
                order_id=order.order_id,
                key=f"{key}:capture",
                authorization_id=authorization.authorization_id,
                amount_minor=amount,
            ),
            summary=f"capture {amount} for an exchange",
            **activity_options.PAYMENT,
        )
        order.payment.extra_authorizations.append(authorization.authorization_id)
        order.payment.captured_minor += captured.amount_minor
        run.record(
            "PaymentCaptured",
            amount_minor=captured.amount_minor,
            capture_id=captured.operation_id,
            authorization_id=authorization.authorization_id,
            reason="exchange price difference",
        )
        return authorization.authorization_id

    # -- money back -----------------------------------------------------------------------------

    async def refund(self, key: str, amount: int, reason: str) -> int:
        """Refund to the original payment, capped by what the order may still give back."""
        order = self.order
        amount = min(amount, order.refundable_minor)
        if amount <= 0 or order.payment.authorization_id is None:
            return 0
        refunded = await workflow.execute_activity_method(
            PaymentActivities.refund_payment,
            CaptureRequest(
                order_id=order.order_id,
                key=key,
                authorization_id=order.payment.authorization_id,
                amount_minor=amount,
            ),
            summary=f"refund {amount}: {reason}",
            **activity_options.PAYMENT,
        )
        order.payment.refunded_minor += refunded.amount_minor
        self._order_run.record(
            "RefundIssued",
            amount_minor=refunded.amount_minor,
            refund_id=refunded.operation_id,
            reason=reason,
        )
        return refunded.amount_minor

    def check_appeasement(self, request: AppeasementRequest) -> str | None:
        if error := self._window_error("appeasements"):
            return error
        order = self.order
        limit = order.refundable_minor
        if request.amount_minor > limit:
            held = order.payment.captured_minor - order.payment.refunded_minor - limit
            detail = f"; {held} is set aside for open returns" if held else ""
            return (
                f"amount_minor: {request.amount_minor} is above this order's limit of {limit} "
                f"(captured {order.payment.captured_minor} − refunded "
                f"{order.payment.refunded_minor}{detail})"
            )
        return None

    async def appease(self, request: AppeasementRequest, actor: str) -> dict[str, Any]:
        run = self._order_run
        number = run._counters.get("appeasement", 0) + 1
        run._counters["appeasement"] = number
        appeasement_id = f"{self.order.order_id}-A{number}"
        run.record(
            "AppeasementRequested",
            actor=actor,
            reason=request.reason,
            appeasement_id=appeasement_id,
            amount_minor=request.amount_minor,
        )
        # Checked again just before this, so the whole amount is refundable.
        refunded = await self.refund(
            f"{appeasement_id}:refund", request.amount_minor, "appeasement"
        )
        appeasement = Appeasement(
            appeasement_id=appeasement_id,
            amount_minor=refunded,
            reason=request.reason,
            actor=actor,
            at=workflow.now(),
        )
        self.order.appeasements.append(appeasement)
        run.record(
            "AppeasementIssued",
            actor=actor,
            reason=request.reason,
            appeasement_id=appeasement_id,
            amount_minor=refunded,
        )
        return appeasement.model_dump(mode="json")


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


def _reward_line(line: OrderLine, quantity: int, key: str) -> RewardLine:
    return RewardLine(
        key=key, line_id=line.line_id, quantity=quantity, unit_price_minor=line.unit_price_minor
    )
