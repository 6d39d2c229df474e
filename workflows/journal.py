"""The order's journal and its face in Temporal: events numbered as they happen and written
in batches by one background writer, and the search attributes and the Web UI's current
details kept in step with the order, upserted only when what they show changes (each
upsert costs history). Composed into the order workflow; it owns no other state."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.journal import JournalActivities
    from domain.events import SYSTEM, JournalBatch, JournalEvent
    from domain.money import Money
    from domain.notifications import Notification
    from domain.order_state import OrderState
    from domain.orders import Order
    from domain.statuses import OrderStatus
    from domain.view import order_status
    from workflows import activity_options
    from workflows import search_attributes as sa

Shown = tuple[OrderStatus, bool, bool]  # status, in review, review escalated


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def order_summary(order: Order) -> str:
    """The one line the Web UI shows: `ord_7Q · standard v1 · 3 lines · $59.00`."""
    total = Money(amount_minor=order.total_minor, currency=order.currency)
    lines = f"{len(order.lines)} line{'s' if len(order.lines) != 1 else ''}"
    return f"{order.order_id} · {order.flow.type} v{order.flow.version} · {lines} · {total}"


class OrderJournal:
    def __init__(self, state: OrderState, lane: asyncio.Lock) -> None:
        self._state = state  # the journal numbers its events in `state.seq`
        self.details = ""  # what the order is doing, for the Web UI
        # An in-process order upserts its search attributes from the writer, with each batch,
        # and holds its events while its flow runs from one local activity to the next.
        self.in_process = False
        self._lane = lane  # the order's local-activity lane (docs/decisions/0005)
        self._unwritten: list[JournalEvent] = []
        self._notices: list[Notification] = []  # queued with the next batch of events
        self._closing = False
        self._published: Shown | None = None  # in the search attributes
        self._values: dict[str, Any] = {}  # what this run last upserted, by attribute
        self._shown: Shown | None = None  # as the order stands
        self._writer: asyncio.Task[None] | None = None

    @property
    def order(self) -> Order:
        return self._state.order

    @property
    def seq(self) -> int:
        return self._state.seq

    def record(
        self, type: str, *, actor: str = SYSTEM, reason: str | None = None, **data: Any
    ) -> None:
        self._state.seq += 1
        now = workflow.now()
        self._unwritten.append(
            JournalEvent(
                order_id=self.order.order_id,
                seq=self.seq,
                type=type,
                at=now,
                actor=actor,
                reason=reason,
                data=data,
            )
        )
        self.order.updated_at = now
        self.publish()

    def notify(self, notice: Notification) -> None:
        """Queue a message to the customer with the events recorded next, in their batch's
        transaction: no local activity of its own, and sent only if they are written."""
        self._notices.append(notice)

    def set_details(self, details: str) -> None:
        self.details = details
        self.publish(force=True)

    def publish(self, force: bool = False) -> None:
        """Bring the search attributes and the current details in step with the order."""
        order = self.order
        status = order_status(order)
        review = order.review
        shown = (status, review is not None, bool(review and review.escalated))
        if shown == self._shown and not force:
            return
        self._shown = shown
        if not self.in_process:
            self._upsert_search_attributes()
        step = f" · {order.current_step}" if order.current_step else ""
        details = f" · {self.details}" if self.details and order.outcome is None else ""
        workflow.set_current_details(f"{order_summary(order)}\n\n**{status.value}**{step}{details}")

    def _upsert_search_attributes(self) -> None:
        shown = self._shown
        if shown is None or shown == self._published:
            return
        order = self.order
        values: list[tuple[SearchAttributeKey[Any], Any]] = [
            (sa.ORDER_STATUS, shown[0].value),
            (sa.ORDER_TYPE, order.order_type),
            (sa.CUSTOMER_ID, order.customer_id),
            (sa.ORDER_TOTAL, order.total_minor),
            (sa.FLOW_VERSION, order.flow.version),
            (sa.NEEDS_REVIEW, shown[1]),
            (sa.REVIEW_ESCALATED, shown[2]),
        ]
        # Only what changed since the run's last upsert: each one is a visibility write,
        # and its size is history the order carries (the count of upserts stays the same).
        changed = [(key, value) for key, value in values if self._values.get(key.name) != value]
        workflow.upsert_search_attributes([key.value_set(value) for key, value in changed])
        self._values.update((key.name, value) for key, value in changed)
        self._published = shown

    def start(self) -> None:
        self._closing = False
        self._writer = asyncio.create_task(self._write())

    async def flush(self) -> None:
        """Write what is left and stop the writer: before the run closes or continues as new."""
        self._closing = True
        if self._writer is not None:
            await self._writer

    def _due(self) -> bool:
        """Whether the writer has something to do: events to write, or (in process) search
        attributes to bring up to date. An in-process order's events wait while its flow runs
        from one local activity to the next, so a run of steps is one batch, written when the
        flow pauses: at a wait, or on a regular activity or a timer."""
        if self._closing or self._shown != self._published:
            return True
        return bool(self._unwritten) and not self._between_steps()

    def _between_steps(self) -> bool:
        # Conditions are checked only once every task of the workflow is blocked: the lane
        # is held then only by a local activity in flight (or one waiting to retry).
        return self.in_process and self._lane.locked()

    async def _write(self) -> None:
        while True:
            await workflow.wait_condition(self._due)
            self._upsert_search_attributes()  # in step already unless the order is in-process
            if not self._unwritten:
                if self._closing:
                    return
                continue
            if self._between_steps() and not self._closing:
                continue  # woken for the attributes; the events wait for the flow to pause
            async with self._lane:
                # The view rides with the batch so the read model can be rebuilt from the
                # journal; only the local activity's input changes, which replay does not
                # compare. The batch is taken in the lane: it carries what piled up meanwhile.
                batch = list(self._unwritten)
                notices = list(self._notices)
                await workflow.execute_local_activity_method(
                    JournalActivities.append_events,
                    JournalBatch(events=batch, view=self.order.view(), notices=notices),
                    **activity_options.JOURNAL,
                )
            del self._unwritten[: len(batch)]
            del self._notices[: len(notices)]
