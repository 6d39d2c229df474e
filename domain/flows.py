"""Flow definitions: an order type is data naming steps from the step registry.

`STEP_SPECS` declares, for every step the interpreter knows, its stage, its compensation,
its prerequisites and whether it may be skipped. `validate_flow` checks a definition
against it before the definition is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FailurePolicy = Literal["cancel", "fail", "review"]
Stage = Literal["processing", "fulfillment"]


@dataclass(frozen=True)
class StepSpec:
    name: str
    stage: Stage
    compensation: str | None = None
    requires: tuple[str, ...] = ()
    skippable: bool = False  # steps guarding money or goods are never skippable by default
    description: str = ""


STEP_SPECS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        StepSpec("validate_order", "processing", skippable=True, description="check the order"),
        StepSpec("check_fraud", "processing", skippable=True, description="score the payment"),
        StepSpec(
            "reserve_inventory",
            "processing",
            compensation="release_inventory",
            description="reserve stock per warehouse",
        ),
        StepSpec(
            "authorize_payment",
            "processing",
            compensation="void_authorization",
            description="authorize the order total",
        ),
        StepSpec(
            "capture_payment",
            "processing",
            compensation="refund_payment",
            requires=("authorize_payment",),
            description="capture the whole order now",
        ),
        StepSpec(
            "fulfill_shipments",
            "fulfillment",
            compensation="cancel_shipments",
            requires=("reserve_inventory", "authorize_payment"),
            description="one shipment per allocation; capture on dispatch unless captured",
        ),
    )
}

FACTS = ("total_minor", "line_count", "item_count", "country", "customer_id", "order_type")


class Condition(BaseModel):
    """A structured predicate over an order's facts; never evaluated as code."""

    model_config = ConfigDict(extra="forbid")

    field: Literal[
        "total_minor", "line_count", "item_count", "country", "customer_id", "order_type"
    ]
    op: Literal["eq", "ne", "gt", "ge", "lt", "le", "in"]
    value: Any

    def holds(self, facts: dict[str, Any]) -> bool:
        actual = facts[self.field]
        match self.op:
            case "eq":
                return bool(actual == self.value)
            case "ne":
                return bool(actual != self.value)
            case "gt":
                return bool(actual > self.value)
            case "ge":
                return bool(actual >= self.value)
            case "lt":
                return bool(actual < self.value)
            case "le":
                return bool(actual <= self.value)
            case "in":
                return actual in self.value


class FlowStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str
    id: str | None = None  # defaults to the step name; must be unique in a flow
    on_failure: FailurePolicy = "fail"
    skippable: bool | None = None  # None: the registry's default
    when: Condition | None = None

    @property
    def step_id(self) -> str:
        return self.id or self.step

    @property
    def spec(self) -> StepSpec:
        return STEP_SPECS[self.step]

    @property
    def is_skippable(self) -> bool:
        return self.spec.skippable if self.skippable is None else self.skippable


class FlowRef(BaseModel):
    type: str
    version: int


class FlowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    version: int = Field(ge=1)
    description: str = ""
    steps: list[FlowStep] = Field(min_length=1)

    @property
    def ref(self) -> FlowRef:
        return FlowRef(type=self.type, version=self.version)

    def index_of(self, step_id: str) -> int:
        for index, step in enumerate(self.steps):
            if step.step_id == step_id:
                return index
        raise KeyError(step_id)


def validate_flow(flow: FlowDefinition) -> list[str]:
    """Every reason the definition cannot run; empty when it is sound."""
    errors: list[str] = []
    seen_ids: set[str] = set()
    done: set[str] = set()
    for position, step in enumerate(flow.steps):
        where = f"steps[{position}] ({step.step_id})"
        spec = STEP_SPECS.get(step.step)
        if spec is None:
            errors.append(f"{where}: unknown step {step.step!r}; known: {sorted(STEP_SPECS)}")
            continue
        if step.step_id in seen_ids:
            errors.append(f"{where}: duplicate step id {step.step_id!r}")
        seen_ids.add(step.step_id)
        for needed in spec.requires:
            if needed not in done:
                errors.append(f"{where}: {step.step} needs {needed} earlier in the flow")
        if step.when is not None and step.when.op == "in" and not isinstance(step.when.value, list):
            errors.append(f"{where}: condition op 'in' needs a list value")
        done.add(step.step)
    return errors
