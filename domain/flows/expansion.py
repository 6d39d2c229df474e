"""Expanding fragment includes: each include's entries inlined in its place, their ids
namespaced by the include's id (`pay.authorize_payment`). Pure: the registry is read
through `lookup`, so the same draft and registry always give the same flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from domain.flows.model import FlowDefinition, FlowDraft, FlowRef, FlowStep, entries
from domain.flows.validation import MAX_DEPTH

# (type, version or None for the latest) -> the registered definition, fragment or not.
Lookup = Callable[[str, int | None], FlowDefinition | None]


class ExpansionRefused(ValueError):
    """Includes that cannot be expanded; `errors` names each by its path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass
class Expansion:
    lookup: Lookup
    fragments: dict[str, FlowRef] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def inline(
        self,
        steps: list[FlowStep],
        prefix: str | None,
        where: str,
        chain: tuple[str, ...],
        depth: int,
    ) -> list[FlowStep]:
        found: list[FlowStep] = []
        for index, entry in enumerate(steps):
            here = f"{where}[{index}]"
            named = f"{prefix}.{entry.step_id}" if prefix else entry.step_id
            if entry.kind == "include":
                found += self.include(entry, named, here, chain, depth + 1)
                continue
            update: dict[str, object] = {}
            if prefix is not None:
                update = {"id": named, "fragment": prefix}
            if entry.kind == "parallel":
                update["parallel"] = [
                    self.inline(branch, prefix, f"{here}.parallel[{number}]", chain, depth)
                    for number, branch in enumerate(entry.branches)
                ]
            found.append(entry.model_copy(update=update) if update else entry)
        return found

    def include(
        self, entry: FlowStep, named: str, here: str, chain: tuple[str, ...], depth: int
    ) -> list[FlowStep]:
        where = f"{here} ({named})"
        wanted = f"{entry.flow} v{entry.version}" if entry.version else f"{entry.flow}"
        if "." in entry.step_id:
            self.errors.append(f"{where}: an include's id may not contain '.'")
            return []
        if depth > MAX_DEPTH:
            self.errors.append(f"{where}: fragments nest at most {MAX_DEPTH} deep")
            return []
        assert entry.flow is not None  # an include names its fragment
        if entry.flow in chain:
            self.errors.append(f"{where}: fragment cycle: {' -> '.join([*chain, entry.flow])}")
            return []
        fragment = self.lookup(entry.flow, entry.version)
        if fragment is None:
            self.errors.append(f"{where}: unknown fragment {wanted}")
            return []
        if fragment.kind != "fragment":
            self.errors.append(f"{where}: {entry.flow} is an order type, not a fragment")
            return []
        self.fragments[named] = fragment.ref
        return self.inline(fragment.steps, named, f"{here}.steps", (*chain, fragment.type), depth)


def expand(flow: FlowDraft | FlowDefinition, lookup: Lookup) -> FlowDefinition:
    """The flow with every include replaced by its fragment's entries, each marked with the
    include's id path (`fragment`), and `fragments` saying which version each became. A
    draft expands as its first version would. Raises `ExpansionRefused`."""
    definition = flow.versioned(1) if isinstance(flow, FlowDraft) else flow
    if isinstance(flow, FlowDraft):
        marked = [entry.step_id for entry in entries(flow.steps) if entry.fragment is not None]
        if marked:
            raise ExpansionRefused(
                [f"steps: fragment is set by expansion, not written (on {', '.join(marked)})"]
            )
    if not definition.includes:
        return definition
    expansion = Expansion(lookup, dict(definition.fragments))
    chain = (definition.type,) if definition.kind == "fragment" else ()
    steps = expansion.inline(definition.steps, None, "steps", chain, 0)
    if expansion.errors:
        raise ExpansionRefused(expansion.errors)
    return definition.model_copy(update={"steps": steps, "fragments": expansion.fragments})
