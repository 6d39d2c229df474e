"""A flow definition's shape: its entries (steps, call steps, parallel blocks, fragment
includes), a draft as submitted, and a registered, versioned definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.flows.conditions import Condition, OutputName, OutputType
from domain.flows.specs import STEP_SPECS, FailurePolicy, StepSpec, call_spec

Endpoint = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
FlowType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
FlowKind = Literal["order", "fragment"]
EntryKind = Literal["step", "call", "parallel", "include"]
HEADS: tuple[EntryKind, ...] = ("step", "call", "parallel", "include")


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
    """One entry of a flow: a `step` from the registry, a `call` to an endpoint, a
    `parallel` block of branches, or (in a draft) a `flow` fragment to include."""

    model_config = ConfigDict(extra="forbid")

    step: str | None = None
    id: str | None = None  # defaults to the step name; must be unique in a flow
    on_failure: FailurePolicy = "fail"
    skippable: bool | None = None  # None: the registry's default
    when: Condition | None = None
    retry: StepRetry | None = None  # None: the activity's own retry policy
    backtrackable: bool = True  # False: an operator may not backtrack to this step
    call: Endpoint | None = None
    compensation: Endpoint | None = None  # a call step's undo, another endpoint
    outputs: dict[OutputName, OutputType] = Field(default_factory=dict)
    parallel: list[list[FlowStep]] | None = None
    flow: FlowType | None = None  # a fragment to include
    version: int | None = Field(None, ge=1)  # the fragment's version; None: its latest
    fragment: str | None = None  # set by expansion: the id path of the including entry

    @field_validator("on_failure", mode="before")
    @classmethod
    def _cancel_means_compensate(cls, value: Any) -> Any:
        # Definitions stored, and orders started, before the rename still say "cancel".
        return "compensate" if value == "cancel" else value

    @model_validator(mode="after")
    def _one_kind(self) -> FlowStep:
        given = [
            name
            for name, value in zip(
                ("step", "call", "parallel", "flow"),
                (self.step, self.call, self.parallel, self.flow),
                strict=True,
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"an entry names exactly one of step, call, parallel or flow; got {given or 'none'}"
            )
        kind = self.kind
        if kind != "step" and not self.id:
            raise ValueError(f"a {given[0]} entry needs an id")
        if kind != "call" and (self.compensation is not None or self.outputs):
            raise ValueError("compensation and outputs belong to call entries")
        if kind != "include" and self.version is not None:
            raise ValueError("version belongs to flow (include) entries")
        if kind in ("parallel", "include") and (
            self.when is not None
            or self.retry is not None
            or self.skippable is not None
            or not self.backtrackable
            or self.on_failure != "fail"
        ):
            raise ValueError(f"a {given[0]} entry takes no when, retry, skippable, ... of its own")
        if self.parallel is not None:
            if len(self.parallel) < 2:
                raise ValueError("a parallel block needs at least 2 branches")
            if not all(self.parallel):
                raise ValueError("every branch of a parallel block needs an entry")
        return self

    @property
    def kind(self) -> EntryKind:
        if self.call is not None:
            return "call"
        if self.parallel is not None:
            return "parallel"
        if self.flow is not None:
            return "include"
        return "step"

    @property
    def step_id(self) -> str:
        return self.id or self.step or ""

    @property
    def spec(self) -> StepSpec:
        """The registry's spec of an activity step; a call step's is made from its endpoints."""
        if self.call is not None:
            return call_spec(self.call, self.compensation)
        if self.step is None:
            raise TypeError(f"{self.step_id} is a {self.kind} entry; only steps have a spec")
        return STEP_SPECS[self.step]

    @property
    def is_skippable(self) -> bool:
        return self.spec.skippable if self.skippable is None else self.skippable

    @property
    def branches(self) -> list[list[FlowStep]]:
        return self.parallel or []


def entries(steps: list[FlowStep]) -> Iterator[FlowStep]:
    """Every entry, parallel blocks and their branches' entries included, depth first."""
    for entry in steps:
        yield entry
        for branch in entry.branches:
            yield from entries(branch)


class FlowRef(BaseModel):
    type: str
    version: int


class FlowEntries:
    """What drafts and definitions share: ways to find steps among their entries."""

    if TYPE_CHECKING:
        steps: list[FlowStep]

    def walk(self) -> Iterator[FlowStep]:
        """Every step and call step in flow order, those in parallel blocks included."""
        return (entry for entry in entries(self.steps) if entry.kind in ("step", "call"))

    def find(self, step_id: str) -> FlowStep:
        for entry in entries(self.steps):
            if entry.step_id == step_id:
                return entry
        raise KeyError(step_id)

    def index_of(self, step_id: str) -> int:
        """The top-level index of the entry: a step inside a parallel block gives the block's."""
        for index, top in enumerate(self.steps):
            if any(entry.step_id == step_id for entry in entries([top])):
                return index
        raise KeyError(step_id)

    @property
    def includes(self) -> list[FlowStep]:
        return [entry for entry in entries(self.steps) if entry.kind == "include"]


class FlowDraft(FlowEntries, BaseModel):
    """A definition as submitted for registration: the registry assigns the version."""

    model_config = ConfigDict(extra="forbid")

    type: FlowType
    kind: FlowKind = "order"  # a fragment is included by other flows and takes no orders
    description: str = ""
    steps: list[FlowStep] = Field(min_length=1)

    def versioned(self, version: int) -> FlowDefinition:
        return FlowDefinition(
            type=self.type,
            version=version,
            kind=self.kind,
            description=self.description,
            steps=self.steps,
        )


class FlowDefinition(FlowEntries, BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FlowType
    version: int = Field(ge=1)
    kind: FlowKind = "order"
    description: str = ""
    steps: list[FlowStep] = Field(min_length=1)
    # Set by expansion: each include's id path ("pay", "pay.inner") and what it expanded to.
    fragments: dict[str, FlowRef] = Field(default_factory=dict)

    @property
    def ref(self) -> FlowRef:
        return FlowRef(type=self.type, version=self.version)
