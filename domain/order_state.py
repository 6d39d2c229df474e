"""What an order's workflow starts from (`OrderInput`) and the one state its runs keep
(`OrderState`): the order, where its flow stands, its counters and what waits to be applied.
A long-lived order continues as new with its `OrderState` whole (docs/decisions/0011).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_serializer

from domain.addresses import Address
from domain.flows import FlowDefinition
from domain.lines import LineBuckets, OrderLine, PricedLine
from domain.orders import Order
from domain.payment import FraudThresholds
from domain.returns import ConcessionTerms, ReturnProgress


class OrderInput(BaseModel):
    """Everything an order workflow starts from, including the snapshot of its flow."""

    order_id: str
    customer_id: str
    order_type: str
    currency: str
    lines: list[PricedLine]
    shipping_address: Address
    payment_token: str
    placed_at: datetime
    flow: FlowDefinition
    review_sla_s: int = Field(48 * 3600, gt=0, description="escalate, then auto-cancel, after")
    pickup_window_s: int = Field(3 * 24 * 3600, gt=0, description="pickup orders wait this long")
    concessions: ConcessionTerms = Field(default_factory=ConcessionTerms)
    fraud: FraudThresholds = Field(default_factory=FraudThresholds)
    carried: OrderState | None = Field(
        None, description="set when a long-lived order continues as new: its state so far"
    )


class OrderState(BaseModel):
    """Everything a run of the order keeps. Runs continued before this model existed carried
    its first seven fields only; the rest default."""

    order: Order
    seq: int = 0  # the journal's last sequence number
    counters: dict[str, int] = Field(default_factory=dict)  # one-off keys taken per purpose
    epochs: dict[str, int] = Field(default_factory=dict)  # bumped when a step runs again
    completed: list[str] = Field(default_factory=list)  # step ids, in the order they completed
    rewards_started: bool = False
    rewards_in_order: bool = False  # False: a `RewardsWorkflow` child keeps the points
    cursor: int = 0  # the index of the next step to run
    skips: set[str] = Field(default_factory=set)  # steps asked to be skipped ahead
    running_step: str | None = None
    rewards_granted: bool = False  # reported by a `RewardsWorkflow` child
    return_inbox: list[ReturnProgress] = Field(default_factory=list)  # reports to apply
    exchanges_due: list[tuple[str, str, int]] = Field(default_factory=list)  # return, line, units
    branch_steps: list[str] = Field(default_factory=list)  # under way in parallel branches
    decisions: dict[str, str] = Field(default_factory=dict)  # reviews decided in a branch

    @field_serializer("skips")
    def _skips_in_order(self, skips: set[str]) -> list[str]:
        return sorted(skips)  # a set's order differs between processes; a payload's must not

    @property
    def current_step_id(self) -> str | None:
        """The step under way, or the failed step an order in review waits on."""
        if self.running_step is not None:
            return self.running_step
        return self.order.review.step if self.order.review is not None else None

    def key_for(self, purpose: str) -> int:
        """Take the next number for a one-off effect of this purpose (a refund, a cancel)."""
        self.counters[purpose] = self.counters.get(purpose, 0) + 1
        return self.counters[purpose]


def place(order: OrderInput) -> Order:
    """The order as placed: every unit pending, nothing paid."""
    return Order(
        order_id=order.order_id,
        customer_id=order.customer_id,
        order_type=order.order_type,
        flow=order.flow.ref,
        currency=order.currency,
        lines=[
            OrderLine(
                line_id=line.line_id,
                sku=line.sku,
                name=line.name,
                unit_price_minor=line.unit_price_minor,
                quantity=line.quantity,
                buckets=LineBuckets(pending=line.quantity),
                kind=line.kind,
                release_date=line.release_date,
            )
            for line in order.lines
        ],
        shipping_address=order.shipping_address,
        placed_at=order.placed_at,
        updated_at=order.placed_at,
    )


def start(order: OrderInput) -> OrderState:
    """The state a run starts from: the one carried from the last run, else the new order's.
    A state carried before `cursor` was kept always continued after its flow had finished."""
    carried = order.carried
    if carried is None:
        return OrderState(order=place(order))
    state = carried.model_copy()
    if "cursor" not in carried.model_fields_set:
        state.cursor = len(order.flow.steps)
    return state


OrderInput.model_rebuild()
