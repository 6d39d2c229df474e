"""What a running order offers the modules that act for it: its state, how it calls
activities and journals, and the moves of its flow. Steps, compensation, interventions,
concessions and exchanges are written against this, never against the workflow class, so
none of them imports it; `OrderWorkflow` satisfies it (mypy checks each call)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, Protocol

from domain.flows import FlowDefinition, FlowStep
from domain.order_state import OrderInput, OrderState
from domain.orders import Order
from domain.returns import ConcessionTerms
from domain.statuses import CancelReason
from workflows.journal import OrderJournal
from workflows.legacy.rewards import RewardsProgress
from workflows.rewards import RewardLine
from workflows.rules.state import FlowState
from workflows.tracking import OrderShipments


class OrderRun(Protocol):
    # -- the order's state ---------------------------------------------------------------------
    state: OrderState  # everything the run keeps, carried whole when it continues as new
    order_input: OrderInput
    flow: FlowDefinition
    terms: ConcessionTerms
    payment_token: str
    pickup_window: timedelta
    review_sla: timedelta
    return_tasks: dict[str, asyncio.Task[None]]
    shipments: OrderShipments
    journal: OrderJournal

    @property
    def order(self) -> Order: ...

    @property
    def current_step_id(self) -> str | None: ...

    def situation(self) -> FlowState: ...

    def commands_pending(self) -> bool: ...

    # -- effects: activities, keys, the journal ------------------------------------------------
    async def call(
        self,
        activity: Callable[..., Any],
        arg: Any,
        *,
        summary: str,
        local: bool = ...,
        **options: Any,
    ) -> Any: ...

    def activity_options(self, step: FlowStep, defaults: dict[str, Any]) -> dict[str, Any]: ...

    def key(self, step: FlowStep) -> str: ...

    def next_key(self, purpose: str) -> str: ...

    async def void(self, authorization_id: str, *, reason: str | None = ...) -> None: ...

    def record(
        self, type: str, *, actor: str = ..., reason: str | None = ..., **data: Any
    ) -> None: ...

    def set_details(self, details: str) -> None: ...

    def start_journal(self) -> None: ...

    async def flush_journal(self) -> None: ...

    async def wait(self, condition: Callable[[], bool], timeout: float | None = ...) -> bool: ...

    # -- the flow's moves ----------------------------------------------------------------------
    async def finish_cancelled(
        self, reason: CancelReason, *, actor: str = ..., note: str | None = ...
    ) -> None: ...

    async def decide_review(self, request: Any, *, actor: str) -> None: ...

    async def backtrack(self, to_step: str, *, actor: str, reason: str) -> None: ...

    # -- after delivery ------------------------------------------------------------------------
    async def return_window(self) -> None: ...

    def window_open(self) -> bool: ...

    async def tell_rewards(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None: ...

    def rewards_progressed(self, progress: RewardsProgress) -> None: ...
