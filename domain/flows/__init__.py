"""Flow definitions: an order type is data naming steps from the step registry.

`STEP_SPECS` declares every step the interpreter knows; a flow's entries are steps, call
steps, parallel blocks and (in a draft) fragment includes, which `expand` inlines.
`validate_flow` checks an expanded definition before it is accepted or an order runs it.
"""

from domain.flows.conditions import FACTS, INT_FACTS, ORDERING_OPS, Condition, OutputType
from domain.flows.expansion import ExpansionRefused, Lookup, expand
from domain.flows.model import (
    Endpoint,
    EntryKind,
    FlowDefinition,
    FlowDraft,
    FlowKind,
    FlowRef,
    FlowStep,
    FlowType,
    StepRetry,
    entries,
)
from domain.flows.specs import STEP_SPECS, FailurePolicy, Stage, StepSpec, call_spec
from domain.flows.validation import MAX_DEPTH, validate_flow

__all__ = [
    "FACTS",
    "INT_FACTS",
    "MAX_DEPTH",
    "ORDERING_OPS",
    "STEP_SPECS",
    "Condition",
    "Endpoint",
    "EntryKind",
    "ExpansionRefused",
    "FailurePolicy",
    "FlowDefinition",
    "FlowDraft",
    "FlowKind",
    "FlowRef",
    "FlowStep",
    "FlowType",
    "Lookup",
    "OutputType",
    "Stage",
    "StepRetry",
    "StepSpec",
    "call_spec",
    "entries",
    "expand",
    "validate_flow",
]
