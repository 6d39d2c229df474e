"""The part of a running order that the rules read: the order, its flow and where it is."""

from __future__ import annotations

from typing import Protocol

from domain.flows import FlowDefinition
from domain.orders import Order


class FlowState(Protocol):
    order: Order
    flow: FlowDefinition
    cursor: int  # the index of the next step to run
    completed: list[str]  # step ids, in the order they completed
    skips: set[str]  # steps asked to be skipped ahead
    running_step: str | None

    @property
    def current_step_id(self) -> str | None:
        """The step under way, or the failed step an order in review waits on."""
        ...

    def window_open(self) -> bool: ...
