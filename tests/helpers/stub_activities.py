"""Every activity the order workflow calls, replaced by a stub registered under the same name
(`workers.main.build_worker` registers the real ones): the workflow cannot tell, and the test
reads what it was asked. The stubs answer at once, as the sandbox gateway would for the same
token (`tok_declined` is declined, `tok_risk_elevated` scores 75, `tok_risk_highest` 97),
keep the journal they are given, and, as the carrier, report each booked shipment dispatched
and delivered through the order's `carrier_event` signal unless told to wait."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.catalog import CatalogPrice
from activities.inventory import (
    PartialReleaseRequest,
    ReleaseRequest,
    ReserveRequest,
    RestockRequest,
)
from activities.licenses import IssueLicensesRequest
from activities.payments import AuthorizeRequest, CaptureRequest, RiskRequest, VoidRequest
from activities.rewards import GrantRequest, PointsEntry
from activities.shipping import BookShipmentRequest, ReturnLabelRequest
from adapters.carrier import Booking, ReturnLabel
from adapters.payments import Authorization, MoneyMovement, RiskAssessment
from domain.endpoints import EndpointAnswer, EndpointCall
from domain.events import JournalBatch, JournalEvent
from domain.notifications import Notification
from domain.shipments import Allocation, License
from domain.view import OrderView
from workflows.journal import order_workflow_id
from workflows.shipment import CarrierEvent, CarrierReport

RISK_SCORES = {"tok_risk_elevated": 75, "tok_risk_highest": 97}
MONEY = ("authorize_payment", "capture_payment", "void_payment", "refund_payment")


class StubActivities:
    """The order's activities for one test. `calls` holds every call as (name, input), in the
    order the stubs ran; `journal` every event `append_events` was given."""

    def __init__(self, client: Client, *, warehouse: str = "EWR") -> None:
        self.client = client
        self.warehouse = warehouse
        self.carrier_answers = True
        self.calls: list[tuple[str, Any]] = []
        self.journal: list[JournalEvent] = []
        self.views: list[OrderView] = []
        self.notices: list[Notification] = []  # queued with the journal's batches
        self._authorized: dict[str, tuple[int, str]] = {}  # id → amount, currency
        self._captured: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._carrier: set[asyncio.Task[None]] = set()
        # A shop's service by endpoint name: the outputs it answers, or the error it raises.
        self.services: dict[str, dict[str, Any] | ApplicationError] = {}

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.assess_fraud_risk,
            self.authorize_payment,
            self.capture_payment,
            self.void_payment,
            self.refund_payment,
            self.reserve_inventory,
            self.release_inventory,
            self.release_inventory_units,
            self.restock_units,
            self.book_shipment,
            self.cancel_shipment,
            self.create_return_label,
            self.append_events,
            self.issue_licenses,
            self.notify_customer,
            self.award_points,
            self.claw_back_points,
            self.grant_points,
            self.price_items,
            self.call_endpoint,
        ]

    # -- what the test reads -------------------------------------------------------------------

    def called(self, name: str) -> list[Any]:
        """The inputs of every call of the activity `name`."""
        return [arg for called, arg in self.calls if called == name]

    def money(self) -> list[tuple[str, str, int | None]]:
        """Every money movement asked for: (activity, idempotency key, amount)."""
        return [
            (name, arg.key, getattr(arg, "amount_minor", None))
            for name, arg in self.calls
            if name in MONEY
        ]

    def journal_types(self) -> list[str]:
        return [event.type for event in self.journal]

    async def journaled(self, event_type: str, timeout: float = 10) -> JournalEvent:
        """The first journaled event of `event_type`, once the order has written it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.journal:
                if event.type == event_type:
                    return event
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {event_type} journaled; journal: {self.journal_types()}")

    async def deliver(self, order_id: str, shipment_id: str) -> None:
        """The carrier's events for a shipment: dispatched, then delivered."""
        handle = self.client.get_workflow_handle(order_workflow_id(order_id))
        for status in ("dispatched", "delivered"):
            event = CarrierEvent(status=status, event_id=f"{shipment_id}:{status}")
            await handle.signal(
                "carrier_event", CarrierReport(shipment_id=shipment_id, event=event)
            )

    def _record(self, name: str, arg: Any) -> None:
        self.calls.append((name, arg))

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    # -- payments ------------------------------------------------------------------------------

    @activity.defn(name="assess_fraud_risk")
    async def assess_fraud_risk(self, request: RiskRequest) -> RiskAssessment:
        self._record("assess_fraud_risk", request)
        score = RISK_SCORES.get(request.token, 10)
        return RiskAssessment(score=score, reason=f"stub score for {request.token}")

    @activity.defn(name="authorize_payment")
    async def authorize_payment(self, request: AuthorizeRequest) -> Authorization:
        self._record("authorize_payment", request)
        if request.token == "tok_declined":
            raise ApplicationError(
                "the card was declined",
                {"code": "card_declined"},
                type="PaymentDeclined",
                non_retryable=True,
            )
        authorization_id = self._next_id("auth")
        self._authorized[authorization_id] = (request.amount_minor, request.currency)
        return Authorization(
            authorization_id=authorization_id,
            amount_minor=request.amount_minor,
            currency=request.currency,
        )

    def _movement(self, authorization_id: str, amount_minor: int, prefix: str) -> MoneyMovement:
        currency = self._authorized[authorization_id][1]
        return MoneyMovement(
            operation_id=self._next_id(prefix),
            authorization_id=authorization_id,
            amount_minor=amount_minor,
            currency=currency,
        )

    @activity.defn(name="capture_payment")
    async def capture_payment(self, request: CaptureRequest) -> MoneyMovement:
        self._record("capture_payment", request)
        captured = self._captured.get(request.authorization_id, 0) + request.amount_minor
        self._captured[request.authorization_id] = captured
        return self._movement(request.authorization_id, request.amount_minor, "cap")

    @activity.defn(name="void_payment")
    async def void_payment(self, request: VoidRequest) -> MoneyMovement:
        self._record("void_payment", request)
        authorized = self._authorized[request.authorization_id][0]
        left = authorized - self._captured.get(request.authorization_id, 0)
        return self._movement(request.authorization_id, left, "void")

    @activity.defn(name="refund_payment")
    async def refund_payment(self, request: CaptureRequest) -> MoneyMovement:
        self._record("refund_payment", request)
        return self._movement(request.authorization_id, request.amount_minor, "ref")

    # -- inventory -----------------------------------------------------------------------------

    @activity.defn(name="reserve_inventory")
    async def reserve_inventory(self, request: ReserveRequest) -> list[Allocation]:
        """Everything asked for, in one warehouse."""
        self._record("reserve_inventory", request)
        return [
            Allocation(
                reservation_id=request.reservation_id,
                warehouse=self.warehouse,
                lines=request.lines,
            )
        ]

    @activity.defn(name="release_inventory")
    async def release_inventory(self, request: ReleaseRequest) -> int:
        self._record("release_inventory", request)
        return sum(
            item.quantity
            for _, reserve in self.calls
            if isinstance(reserve, ReserveRequest)
            and reserve.reservation_id == request.reservation_id
            for item in reserve.lines
        )

    @activity.defn(name="release_inventory_units")
    async def release_inventory_units(self, request: PartialReleaseRequest) -> bool:
        self._record("release_inventory_units", request)
        return True

    @activity.defn(name="restock_units")
    async def restock_units(self, request: RestockRequest) -> int:
        self._record("restock_units", request)
        return sum(item.quantity for item in request.lines)

    # -- the carrier ---------------------------------------------------------------------------

    @activity.defn(name="book_shipment")
    async def book_shipment(self, request: BookShipmentRequest) -> Booking:
        self._record("book_shipment", request)
        if self.carrier_answers:
            task = asyncio.create_task(self.deliver(request.order_id, request.shipment_id))
            self._carrier.add(task)
            task.add_done_callback(self._carrier.discard)
        return Booking(
            shipment_id=request.shipment_id, tracking_number=f"TRK-{request.shipment_id}"
        )

    @activity.defn(name="cancel_shipment")
    async def cancel_shipment(self, shipment_id: str) -> bool:
        self._record("cancel_shipment", shipment_id)
        return True

    @activity.defn(name="create_return_label")
    async def create_return_label(self, request: ReturnLabelRequest) -> ReturnLabel:
        self._record("create_return_label", request)
        return ReturnLabel(
            return_id=request.return_id,
            tracking_number=f"RET-{request.return_id}",
            label_url=f"https://labels.invalid/{request.return_id}",
        )

    # -- the journal, licenses, notifications, points, prices ----------------------------------

    @activity.defn(name="append_events")
    async def append_events(self, batch: JournalBatch) -> None:
        self._record("append_events", batch)
        self.journal.extend(batch.events)
        self.notices.extend(batch.notices)
        if batch.view is not None:
            self.views.append(batch.view)

    @activity.defn(name="issue_licenses")
    async def issue_licenses(self, request: IssueLicensesRequest) -> list[License]:
        self._record("issue_licenses", request)
        return [
            License(line_id=item.line_id, key=f"KEY-{item.line_id}-{unit + 1}")
            for item in request.lines
            for unit in range(item.quantity)
        ]

    @activity.defn(name="notify_customer")
    async def notify_customer(self, notification: Notification) -> bool:
        self._record("notify_customer", notification)
        return True

    @activity.defn(name="award_points")
    async def award_points(self, entry: PointsEntry) -> int:
        self._record("award_points", entry)
        return entry.points

    @activity.defn(name="claw_back_points")
    async def claw_back_points(self, entry: PointsEntry) -> int:
        self._record("claw_back_points", entry)
        return entry.points

    @activity.defn(name="grant_points")
    async def grant_points(self, request: GrantRequest) -> int:
        self._record("grant_points", request)
        awarded = sum(entry.points for entry in self.called("award_points"))
        return awarded - sum(entry.points for entry in self.called("claw_back_points"))

    @activity.defn(name="call_endpoint")
    async def call_endpoint(self, call: EndpointCall) -> EndpointAnswer:
        self._record("call_endpoint", call)
        answer = self.services.get(call.endpoint, {})
        if isinstance(answer, ApplicationError):
            raise answer
        return EndpointAnswer(status=200, outputs={} if call.undo else answer)

    @activity.defn(name="price_items")
    async def price_items(self, skus: list[str]) -> list[CatalogPrice]:
        self._record("price_items", skus)
        return []


def activity_names(activities: list[Callable[..., Any]]) -> set[str]:
    """The names activities are registered under."""
    names = set()
    for function in activities:
        definition = activity._Definition.from_callable(function)  # noqa: SLF001
        assert definition is not None and definition.name is not None, function
        names.add(definition.name)
    return names
