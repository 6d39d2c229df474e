"""What the rules decide on: the run's state, the flow it follows, and whether its return
window is open (the one fact that needs the workflow's clock). Built fresh for each check."""

from __future__ import annotations

from dataclasses import dataclass

from domain.flows import FlowDefinition
from domain.order_state import OrderState
from domain.orders import Order


@dataclass(frozen=True)
class FlowState:
    state: OrderState
    flow: FlowDefinition
    returns_open: bool = False

    @property
    def order(self) -> Order:
        return self.state.order

    @property
    def cursor(self) -> int:
        return self.state.cursor

    @property
    def completed(self) -> list[str]:
        return self.state.completed

    @property
    def skips(self) -> set[str]:
        return self.state.skips

    @property
    def running_step(self) -> str | None:
        return self.state.running_step

    @property
    def current_step_id(self) -> str | None:
        return self.state.current_step_id

    def window_open(self) -> bool:
        return self.returns_open
