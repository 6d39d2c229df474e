"""The registry as expansion reads it: every version that is not retired, at one moment.

Registering checks a draft's expansion here; a new fragment version is refused when it would
break the latest version of an order type that includes it without a pinned version; an
order's flow is expanded here when it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.flows import (
    ExpansionRefused,
    FlowDefinition,
    FlowDraft,
    expand,
    validate_flow,
)
from store.db import Store, reading
from store.tables import FlowDefinitionRecord


class FlowInvalid(Exception):
    """A definition the registry refuses; `errors` says why, each naming its step."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


def expanded(
    flow: FlowDraft | FlowDefinition,
    lookup: Callable[[str, int | None], FlowDefinition | None],
    endpoints: Mapping[str, str] | None = None,
    host_allowed: Callable[[str], bool] | None = None,
) -> FlowDefinition:
    """The flow with its includes expanded, and sound; raises `FlowInvalid` naming why not."""
    try:
        result = expand(flow, lookup)
    except ExpansionRefused as refused:
        raise FlowInvalid(refused.errors) from refused
    if errors := validate_flow(result, endpoints, host_allowed):
        raise FlowInvalid(errors)
    return result


@dataclass(frozen=True)
class Registry:
    """Registered versions that are not retired, by (type, version), and each type's newest."""

    flows: dict[tuple[str, int], FlowDefinition]
    newest: dict[str, int]

    @classmethod
    async def load(cls, source: Store | AsyncSession) -> Registry:
        async with reading(source) as session:
            rows = await session.scalars(
                select(FlowDefinitionRecord).where(~FlowDefinitionRecord.retired)
            )
            found = {
                (row.type, row.version): FlowDefinition.model_validate(row.definition)
                for row in rows
            }
        newest: dict[str, int] = {}
        for flow_type, version in found:
            newest[flow_type] = max(version, newest.get(flow_type, 0))
        return cls(found, newest)

    def lookup(self, flow_type: str, version: int | None) -> FlowDefinition | None:
        """For `expand`: the version, or the type's newest."""
        wanted = self.newest.get(flow_type) if version is None else version
        return None if wanted is None else self.flows.get((flow_type, wanted))

    def kind_of(self, flow_type: str) -> str | None:
        newest = self.lookup(flow_type, None)
        return None if newest is None else newest.kind

    def with_flow(self, flow: FlowDefinition) -> Registry:
        """The registry as it would be with `flow` registered as its type's newest."""
        return Registry(
            {**self.flows, (flow.type, flow.version): flow},
            {**self.newest, flow.type: flow.version},
        )

    def clash(self, draft: FlowDraft) -> list[str]:
        """A type is an order type or a fragment, never both."""
        kind = self.kind_of(draft.type)
        if kind is None or kind == draft.kind:
            return []
        registered, wanted = ("an order type", "a fragment")[:: 1 if kind == "order" else -1]
        return [f"type: {draft.type} is {registered}; {wanted} needs a name of its own"]

    def dependents(self, fragment: FlowDefinition) -> list[str]:
        """What the new fragment version would break: the latest version of each order type
        that expands to it (an include without a pinned version), checked again."""
        after = self.with_flow(fragment)
        errors: list[str] = []
        for (flow_type, version), flow in sorted(self.flows.items()):
            if flow.kind != "order" or version != self.newest[flow_type] or not flow.includes:
                continue
            try:
                expand(flow, self.lookup)
            except ExpansionRefused:
                continue  # broken before this fragment version: not its doing
            try:
                result = expand(flow, after.lookup)
            except ExpansionRefused as refused:
                errors += [f"{flow_type} v{version}: {error}" for error in refused.errors]
                continue
            if fragment.ref not in result.fragments.values():
                continue
            errors += [f"{flow_type} v{version}: {error}" for error in validate_flow(result)]
        return errors
