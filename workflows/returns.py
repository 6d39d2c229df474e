"""One return of an order: approve, issue a label, wait for the parcel, restock, refund.

A child of the order (`return-{return_id}`). It reports each stage to the order with the
`return_progressed` signal, as shipments do, so the order's journal tells the whole story;
the order never keeps more than one writer per fact: the return owns its stages, the order
owns the line buckets and the payment totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, RestockRequest
    from activities.shipping import ReturnLabelRequest, ShippingActivities
    from domain.addresses import Address
    from domain.events import SYSTEM
    from domain.returns import (
        Return,
        ReturnCondition,
        ReturnDecision,
        ReturnDecisionRequest,
        ReturnProgress,
        ReturnReceipt,
        ReturnStatus,
        receipt_error,
    )
    from domain.shipments import AllocatedLine
    from workflows import activity_options, effects
    from workflows.messages import Unreadable, one_model

RETURN_PROGRESSED = "return_progressed"  # the parent order's signal


def return_workflow_id(return_id: str) -> str:
    return f"return-{return_id}"


def order_id_of(return_id: str) -> str:
    """`ord_7Q-2` → `ord_7Q`: a return id is its order's id and a number."""
    return return_id.rsplit("-", 1)[0]


class ReturnInput(BaseModel):
    order_id: str
    order_workflow_id: str
    customer_id: str
    ret: Return
    address: Address  # where the label picks the parcel up
    authorization_id: str | None  # refunds go back to the original payment
    auto_approve_below_minor: int
    receipt_window_s: int


M = TypeVar("M", bound=BaseModel)


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="ReturnRefused", non_retryable=True)


@workflow.defn
class ReturnWorkflow:
    @workflow.init
    def __init__(self, request: ReturnInput) -> None:
        self._input = request
        self._ret = request.ret.model_copy(deep=True)
        self._decision: ReturnDecisionRequest | None = None
        self._receipt: ReturnReceipt | None = None

    @workflow.query
    def view(self, *_: Any) -> Return:
        return self._ret

    # -- the warehouse's receipt and the operator's decision -----------------------------------

    @workflow.update
    async def receive(self, *args: Any) -> Return:
        self._receipt = _parse(ReturnReceipt, args)
        # Answer once restocked and refunded, so the warehouse sees what its receipt did.
        await workflow.wait_condition(lambda: not self._ret.is_open)
        return self._ret

    @receive.validator
    def _validate_receive(self, *args: Any) -> None:
        if self._receipt is not None:
            raise _refused(f"return {self._ret.return_id} was already received")
        if error := receipt_error(self._ret, _parse(ReturnReceipt, args)):
            raise _refused(error)

    @workflow.update
    async def decide(self, *args: Any) -> Return:
        self._decision = _parse(ReturnDecisionRequest, args)
        await workflow.wait_condition(lambda: self._ret.status != ReturnStatus.NEEDS_REVIEW)
        return self._ret

    @decide.validator
    def _validate_decide(self, *args: Any) -> None:
        _parse(ReturnDecisionRequest, args)
        if self._ret.status != ReturnStatus.NEEDS_REVIEW or self._decision is not None:
            raise _refused(
                f"return {self._ret.return_id} is {self._ret.status.value}; "
                "only a return in NEEDS_REVIEW takes a decision"
            )

    # -- the return's life ----------------------------------------------------------------------

    @workflow.run
    async def run(self, request: ReturnInput) -> Return:
        ret = self._ret
        if ret.value_minor >= request.auto_approve_below_minor:
            await self._advance(ReturnStatus.NEEDS_REVIEW)
            await workflow.wait_condition(lambda: self._decision is not None)
            decision = self._decision
            assert decision is not None
            ret.decided_by = decision.actor or "operator"
            ret.decision_note = decision.note
            if decision.decision == ReturnDecision.REJECT:
                return await self._end(ReturnStatus.REJECTED)
        else:
            ret.decided_by = SYSTEM
            ret.decision_note = f"worth less than {request.auto_approve_below_minor}: approved"
        label = await workflow.execute_activity_method(
            ShippingActivities.create_return_label,
            ReturnLabelRequest(
                return_id=ret.return_id,
                order_id=request.order_id,
                warehouse=ret.lines[0].warehouse,
                address=request.address,
                lines=_items(ret, {line.line_id: line.quantity for line in ret.lines}),
            ),
            summary=f"return label for {ret.return_id}",
            **activity_options.CARRIER,
        )
        ret.tracking_number = label.tracking_number
        ret.label_url = label.label_url
        await self._advance(ReturnStatus.AWAITING_RECEIPT)
        window = timedelta(seconds=request.receipt_window_s)
        workflow.set_current_details(f"awaiting the parcel (label {label.tracking_number})")
        try:
            await workflow.wait_condition(lambda: self._receipt is not None, timeout=window)
        except TimeoutError:
            return await self._end(ReturnStatus.EXPIRED, note=f"not received within {window}")
        receipt = self._receipt
        assert receipt is not None
        ret.received = receipt.lines
        await self._advance(ReturnStatus.RECEIVED, note=receipt.note)
        await self._restock()
        await self._refund()
        return await self._end(ReturnStatus.COMPLETED)

    async def _restock(self) -> None:
        ret = self._ret
        resellable: dict[str, int] = {}
        for item in ret.received:
            if item.condition == ReturnCondition.RESELLABLE:
                resellable[item.line_id] = resellable.get(item.line_id, 0) + item.quantity
        by_warehouse: dict[str, dict[str, int]] = {}
        for line_id, quantity in resellable.items():
            by_warehouse.setdefault(ret.line(line_id).warehouse, {})[line_id] = quantity
        for warehouse, units in by_warehouse.items():
            await workflow.execute_activity_method(
                InventoryActivities.restock_units,
                RestockRequest(
                    restock_id=f"{ret.return_id}:restock:{warehouse}",
                    warehouse=warehouse,
                    lines=_items(ret, units),
                ),
                summary=f"restock {sum(units.values())} units in {warehouse}",
                **activity_options.INVENTORY,
            )
        ret.restocked = resellable

    async def _refund(self) -> None:
        ret = self._ret
        amount = min(ret.refund_due_minor(), ret.refund_limit_minor)
        if amount <= 0 or self._input.authorization_id is None:
            return
        refunded = await effects.refund(
            effects.regular_activity,
            order_id=self._input.order_id,
            key=effects.keys.return_refund(ret.return_id),
            authorization_id=self._input.authorization_id,
            amount_minor=amount,
            summary=f"refund {amount} for {ret.return_id}",
        )
        ret.refunded_minor = refunded.amount_minor
        ret.refund_id = refunded.operation_id

    async def _end(self, status: ReturnStatus, note: str | None = None) -> Return:
        await self._advance(status, note=note)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._ret

    async def _advance(self, status: ReturnStatus, note: str | None = None) -> None:
        self._ret.status = status
        workflow.set_current_details(status.value.lower().replace("_", " "))
        await workflow.get_external_workflow_handle(self._input.order_workflow_id).signal(
            RETURN_PROGRESSED, ReturnProgress(ret=self._ret, note=note)
        )


def _items(ret: Return, units: dict[str, int]) -> list[AllocatedLine]:
    return [
        AllocatedLine(line_id=line_id, sku=ret.line(line_id).sku, quantity=quantity)
        for line_id, quantity in units.items()
    ]


def _parse(model: type[M], args: Sequence[Any]) -> M:
    try:
        return one_model(args, model)
    except Unreadable as why:
        raise _refused(f"invalid request: {why}") from None
