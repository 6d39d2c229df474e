"""`validate_flow`: every reason a definition cannot run, each naming its entry by path.

A flow is checked after its fragments are expanded. Parallel branches run side by side, so
a step may count only on what came before its block or earlier in its own branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from domain.flows.conditions import Condition, OutputType
from domain.flows.model import FlowDefinition, FlowDraft, FlowStep, entries
from domain.flows.positions import positions
from domain.flows.specs import STEP_SPECS

MAX_DEPTH = 4  # parallel blocks inside one another, and fragments inside one another
SIBLING = "; a sibling branch does not count"


@dataclass
class Scope:
    """What a step may count on: steps done and facts produced before it."""

    done: set[str] = field(default_factory=set)
    facts: dict[str, OutputType] = field(default_factory=dict)
    # Only in a sibling branch of an enclosing block: named to say why they do not count.
    siblings: set[str] = field(default_factory=set)
    sibling_facts: set[str] = field(default_factory=set)


class Checker:
    def __init__(
        self,
        endpoints: Mapping[str, str] | None,
        host_allowed: Callable[[str], bool] | None,
    ) -> None:
        self.endpoints = endpoints
        self.host_allowed = host_allowed
        self.errors: list[str] = []
        self.seen_ids: set[str] = set()
        self.names: set[str] = set()
        self.delivering: list[str] = []
        self.captures = False

    def sequence(
        self, steps: list[FlowStep], where: str, fragment: str | None, scope: Scope, depth: int
    ) -> None:
        for path, entry in positions(steps, where, fragment):
            here = f"{path} ({entry.step_id})"
            if entry.kind == "include":
                self.errors.append(f"{here}: fragment {entry.flow} is not expanded")
            elif entry.kind == "parallel":
                self.unique(entry, here)
                self.block(entry, path, here, scope, depth + 1)
            else:
                self.step(entry, here, scope)

    def unique(self, entry: FlowStep, here: str) -> None:
        if entry.step_id in self.seen_ids:
            self.errors.append(f"{here}: duplicate step id {entry.step_id!r}")
        self.seen_ids.add(entry.step_id)

    def step(self, entry: FlowStep, here: str, scope: Scope) -> None:
        if entry.when is not None:
            self.condition(entry.when, here, scope)
        if entry.step is not None and entry.step not in STEP_SPECS:
            self.errors.append(f"{here}: unknown step {entry.step!r}; known: {sorted(STEP_SPECS)}")
            return
        self.unique(entry, here)
        spec = entry.spec
        if entry.call is not None:
            for endpoint in (entry.call, entry.compensation):
                if endpoint is not None:
                    self.endpoint(endpoint, here)
        for needed in spec.requires:
            if needed not in scope.done:
                hint = SIBLING if needed in scope.siblings else ""
                self.errors.append(f"{here}: {spec.name} needs {needed} earlier in the flow{hint}")
        if spec.delivers:
            self.delivering.append(here)
        self.captures = self.captures or spec.captures
        if entry.step is not None:
            scope.done.add(entry.step)
            self.names.add(entry.step)
        for name, kind in entry.outputs.items():
            if scope.facts.get(name, kind) != kind:
                self.errors.append(
                    f"{here}: output {name} is {kind} here but {scope.facts[name]} earlier"
                )
            scope.facts[name] = kind

    def condition(self, when: Condition, here: str, scope: Scope) -> None:
        name = when.call_fact
        if name is None:
            problems = when.problems()
        elif name in scope.facts:
            problems = when.problems(scope.facts[name])
        else:
            hint = SIBLING if name in scope.sibling_facts else ""
            problems = [f"condition uses {when.field} before any step produces it{hint}"]
        self.errors.extend(f"{here}: {problem}" for problem in problems)

    def endpoint(self, name: str, here: str) -> None:
        if self.endpoints is None:
            return
        if name not in self.endpoints:
            known = sorted(self.endpoints)
            self.errors.append(f"{here}: unknown endpoint {name!r}; known: {known}")
            return
        host = urlsplit(self.endpoints[name]).hostname or ""
        if self.host_allowed is not None and not self.host_allowed(host):
            self.errors.append(
                f"{here}: endpoint {name!r} host {host!r} is not in OMS_CALL_ALLOWED_HOSTS"
            )

    def block(self, block: FlowStep, path: str, here: str, scope: Scope, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.errors.append(f"{here}: parallel blocks nest at most {MAX_DEPTH} deep")
            return
        steps = [[e for e in entries(branch) if e.kind == "step"] for branch in block.branches]
        names = [{e.step for e in branch if e.step} for branch in steps]
        facts = [{name for e in entries(branch) for name in e.outputs} for branch in block.branches]
        movers = [
            f"{number} ({moving[0].step_id})"
            for number, branch in enumerate(steps)
            if (moving := [e for e in branch if e.step in STEP_SPECS and e.spec.moves_money])
        ]
        if len(movers) > 1:
            self.errors.append(
                f"{here}: branches {' and '.join(movers)} both move money; money moves in one "
                "branch at most, or before or after the block"
            )
        done, produced = set(scope.done), dict(scope.facts)
        for number, branch in enumerate(block.branches):
            others = [n for n in range(len(steps)) if n != number]
            inner = Scope(
                done=set(scope.done),
                facts=dict(scope.facts),
                siblings=scope.siblings.union(*(names[n] for n in others)),
                sibling_facts=scope.sibling_facts.union(*(facts[n] for n in others)),
            )
            self.sequence(branch, f"{path}.parallel[{number}]", block.fragment, inner, depth)
            done |= inner.done
            produced |= inner.facts
        scope.done, scope.facts = done, produced

    def deliveries(self) -> None:
        if not self.delivering:
            deliverers = sorted(name for name, spec in STEP_SPECS.items() if spec.delivers)
            self.errors.append(f"flow: no step delivers the goods; add one of {deliverers}")
        # Goods leave only against money: an authorization up front and a capture somewhere.
        for where in self.delivering:
            if "authorize_payment" not in self.names:
                self.errors.append(
                    f"{where}: delivers paid goods but the flow has no authorize_payment"
                )
            if not self.captures:
                capturers = sorted(name for name, spec in STEP_SPECS.items() if spec.captures)
                self.errors.append(
                    f"{where}: delivers paid goods but no step captures payment; "
                    f"add one of {capturers}"
                )


def validate_flow(
    flow: FlowDefinition | FlowDraft,
    endpoints: Mapping[str, str] | None = None,
    host_allowed: Callable[[str], bool] | None = None,
) -> list[str]:
    """Every reason the definition cannot run; empty when it is sound. Each reason starts
    with the entry it is about (`steps[2].parallel[1][0] (address_check): ...`) or `flow`.
    With `endpoints` (name -> URL), call steps must name known endpoints, and with
    `host_allowed`, endpoints on hosts it allows. A fragment need not deliver goods."""
    checker = Checker(endpoints, host_allowed)
    checker.sequence(flow.steps, "steps", None, Scope(), 0)
    if flow.kind == "order":
        checker.deliveries()
    return checker.errors
