"""Conditions: a step's `when`, a structured predicate over the order's facts.

The facts are the order's own (`total_minor`, `country`, ...) and what earlier call steps
produced, read as `facts.<name>` with the type the call step declares in its `outputs`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FACTS = ("total_minor", "line_count", "item_count", "country", "customer_id", "order_type")
INT_FACTS = frozenset({"total_minor", "line_count", "item_count"})
ORDERING_OPS = frozenset({"gt", "ge", "lt", "le"})
CALL_FACT_PREFIX = "facts."

OUTPUT_NAME = r"[a-z][a-z0-9_]{0,39}"
OutputName = Annotated[str, Field(pattern=rf"^{OUTPUT_NAME}$")]
# The kinds of value a call step may produce, and so a condition may compare.
OutputType = Literal["int", "str", "bool"]
FactField = Annotated[str, Field(pattern=rf"^({'|'.join(FACTS)}|facts[.]{OUTPUT_NAME})$")]

WANTED = {"int": "integer", "str": "string", "bool": "boolean"}


def builtin_kind(field: str) -> OutputType:
    return "int" if field in INT_FACTS else "str"


class Condition(BaseModel):
    """A structured predicate over an order's facts; never evaluated as code. `value` stays
    loose here so that `validate_flow` can say which step's condition is wrong."""

    model_config = ConfigDict(extra="forbid")

    field: FactField
    op: Literal["eq", "ne", "gt", "ge", "lt", "le", "in"]
    value: Any

    @property
    def call_fact(self) -> str | None:
        """The output name for a `facts.<name>` condition; None for the order's own facts."""
        if self.field.startswith(CALL_FACT_PREFIX):
            return self.field.removeprefix(CALL_FACT_PREFIX)
        return None

    def holds(self, facts: dict[str, Any]) -> bool:
        # A call step may have been skipped and produced nothing: nothing to compare holds.
        if self.field not in facts:
            return False
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

    def problems(self, kind: OutputType | None = None) -> list[str]:
        """Why the value does not fit the field and operator; empty when it does. `kind` is
        the type of a `facts.<name>` field, as its call step declares it."""
        if kind is None:
            kind = builtin_kind(self.field)
        wanted = WANTED[kind]

        def fits(value: Any) -> bool:
            # bool is an int subclass, but `true` is never a sensible amount or count.
            if kind == "int":
                return isinstance(value, int) and not isinstance(value, bool)
            return isinstance(value, bool if kind == "bool" else str)

        if self.op == "in":
            if not isinstance(self.value, list) or not self.value:
                return [f"condition {self.field} 'in' needs a non-empty list of {wanted}s"]
            wrong = [item for item in self.value if not fits(item)]
            if wrong:
                return [f"condition {self.field} 'in' needs {wanted}s, got {wrong!r}"]
            return []
        if self.op in ORDERING_OPS and kind != "int":
            return [f"condition op {self.op!r} orders numbers; {self.field} is a {wanted}"]
        if not fits(self.value):
            article = "an" if kind == "int" else "a"
            return [
                f"condition {self.field} {self.op!r} needs {article} {wanted} value, "
                f"got {self.value!r}"
            ]
        return []
