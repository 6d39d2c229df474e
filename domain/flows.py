"""Flow definitions: an order type is data naming steps from the step registry.

`STEP_SPECS` declares, for every step the interpreter knows, its stage, its compensation,
its prerequisites and whether it may be skipped. `validate_flow` checks a definition
against it before the definition is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# "compensate": undo the completed steps and cancel the order; "fail": undo and end FAILED;
# "review": wait for a person. "cancel" is read as "compensate" (its former name).
FailurePolicy = Literal["review", "fail", "compensate"]
Stage = Literal["processing", "fulfillment"]


@dataclass(frozen=True)
class StepSpec:
    name: str
    stage: Stage
    compensation: str | None = None
    requires: tuple[str, ...] = ()
    skippable: bool = False  # steps guarding money or goods are never skippable by default
    delivers: bool = False  # hands goods to the customer (ships, issues keys, hands over)
    captures: bool = False  # moves the customer's money (a capture), not just authorizes
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
            "reserve_at_store",
            "processing",
            compensation="release_inventory",
            description="reserve stock at a store for pickup",
        ),
        StepSpec(
            "authorize_payment",
            "processing",
            compensation="void_authorization",
            description="authorize the order total",
        ),
        StepSpec(
            "await_release",
            "processing",
            requires=("authorize_payment",),
            description="wait for the release date; re-authorize before the authorization expires",
        ),
        StepSpec(
            "manual_approval",
            "processing",
            description="a person approves the order before money moves",
        ),
        StepSpec(
            "capture_payment",
            "processing",
            compensation="refund_payment",
            requires=("authorize_payment",),
            captures=True,
            description="capture the whole order now",
        ),
        StepSpec(
            "issue_licenses",
            "fulfillment",
            compensation="revoke_licenses",
            requires=("authorize_payment",),
            delivers=True,
            captures=True,
            description="capture and issue a license key per digital unit",
        ),
        StepSpec(
            "fulfill_shipments",
            "fulfillment",
            compensation="cancel_shipments",
            requires=("reserve_inventory", "authorize_payment"),
            delivers=True,
            captures=True,
            description="one shipment per allocation; capture on dispatch unless captured",
        ),
        StepSpec(
            "notify_pickup_ready",
            "fulfillment",
            requires=("reserve_at_store",),
            description="tell the customer the order waits at the store",
        ),
        StepSpec(
            "await_pickup",
            "fulfillment",
            requires=("reserve_at_store", "authorize_payment"),
            delivers=True,
            captures=True,
            description="wait for the pickup; capture on pickup, cancel after the window",
        ),
    )
}

FACTS = ("total_minor", "line_count", "item_count", "country", "customer_id", "order_type")
INT_FACTS = frozenset({"total_minor", "line_count", "item_count"})
ORDERING_OPS = frozenset({"gt", "ge", "lt", "le"})


class Condition(BaseModel):
    """A structured predicate over an order's facts; never evaluated as code. `value` stays
    loose here so that `validate_flow` can say which step's condition is wrong."""

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

    def problems(self) -> list[str]:
        """Why the value does not fit the field and operator; empty when it does."""
        numeric = self.field in INT_FACTS
        wanted = "integer" if numeric else "string"

        def fits(value: Any) -> bool:
            # bool is an int subclass, but `true` is never a sensible amount or count.
            if numeric:
                return isinstance(value, int) and not isinstance(value, bool)
            return isinstance(value, str)

        if self.op == "in":
            if not isinstance(self.value, list) or not self.value:
                return [f"condition {self.field} 'in' needs a non-empty list of {wanted}s"]
            wrong = [item for item in self.value if not fits(item)]
            if wrong:
                return [f"condition {self.field} 'in' needs {wanted}s, got {wrong!r}"]
            return []
        if self.op in ORDERING_OPS and not numeric:
            return [f"condition op {self.op!r} orders numbers; {self.field} is a string"]
        if not fits(self.value):
            article = "an" if numeric else "a"
            return [
                f"condition {self.field} {self.op!r} needs {article} {wanted} value, "
                f"got {self.value!r}"
            ]
        return []


class StepRetry(BaseModel):
    """How a step's activities retry before the step counts as failed."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(3, ge=1, le=100)
    initial_interval_s: float = Field(1.0, gt=0)
    maximum_interval_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _interval_order(self) -> StepRetry:
        if self.maximum_interval_s < self.initial_interval_s:
            raise ValueError("maximum_interval_s must not be below initial_interval_s")
        return self


class FlowStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str
    id: str | None = None  # defaults to the step name; must be unique in a flow
    on_failure: FailurePolicy = "fail"
    skippable: bool | None = None  # None: the registry's default
    when: Condition | None = None
    retry: StepRetry | None = None  # None: the activity's own retry policy
    backtrackable: bool = True  # False: an operator may not backtrack to this step

    @field_validator("on_failure", mode="before")
    @classmethod
    def _cancel_means_compensate(cls, value: Any) -> Any:
        # Definitions stored, and orders started, before the rename still say "cancel".
        return "compensate" if value == "cancel" else value

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


FlowType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class FlowDraft(BaseModel):
    """A definition as submitted for registration: the registry assigns the version."""

    model_config = ConfigDict(extra="forbid")

    type: FlowType
    description: str = ""
    steps: list[FlowStep] = Field(min_length=1)

    def versioned(self, version: int) -> FlowDefinition:
        return FlowDefinition(
            type=self.type, version=version, description=self.description, steps=self.steps
        )


class FlowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FlowType
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


def validate_flow(flow: FlowDefinition | FlowDraft) -> list[str]:
    """Every reason the definition cannot run; empty when it is sound. Each reason starts
    with the step it is about (`steps[2] (reserve_inventory): ...`) or `flow` for the whole."""
    errors: list[str] = []
    seen_ids: set[str] = set()
    done: set[str] = set()
    delivering: list[str] = []
    captures = False
    for position, step in enumerate(flow.steps):
        where = f"steps[{position}] ({step.step_id})"
        if step.when is not None:
            errors.extend(f"{where}: {problem}" for problem in step.when.problems())
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
        if spec.delivers:
            delivering.append(where)
        captures = captures or spec.captures
        done.add(step.step)
    if not delivering:
        deliverers = sorted(name for name, spec in STEP_SPECS.items() if spec.delivers)
        errors.append(f"flow: no step delivers the goods; add one of {deliverers}")
    # Goods leave only against money: an authorization up front and a capture somewhere.
    for where in delivering:
        if "authorize_payment" not in done:
            errors.append(f"{where}: delivers paid goods but the flow has no authorize_payment")
        if not captures:
            capturers = sorted(name for name, spec in STEP_SPECS.items() if spec.captures)
            errors.append(
                f"{where}: delivers paid goods but no step captures payment; add one of {capturers}"
            )
    return errors
