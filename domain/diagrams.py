"""A flow as a Mermaid `flowchart TD`: steps and call steps as nodes, parallel blocks as a
fork and a join, the steps a fragment brought in as a `subgraph`, conditions on edges, and
each step's undo. `render` can mark where an order is (done, running, ...) on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.flows import STEP_SPECS, Condition, FlowDefinition, FlowStep
from domain.flows.positions import include_key

OPS = {"eq": "=", "ne": "≠", "gt": "#gt;", "ge": "≥", "lt": "#lt;", "le": "≤", "in": "in"}
MARKS = {
    "done": "fill:#dcfce7,stroke:#15803d",
    "running": "fill:#dbeafe,stroke:#1d4ed8,stroke-width:3px",
    "waiting": "fill:#fef9c3,stroke:#a16207",
    "skipped": "fill:#f3f4f6,stroke:#9ca3af,color:#6b7280",
    "compensated": "fill:#ede9fe,stroke:#6d28d9",
    "failed": "fill:#fee2e2,stroke:#b91c1c",
}


def text(value: str) -> str:
    # Mermaid entity codes, so that quotes and angle brackets never end or open markup.
    return (
        value.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def condition_label(condition: Condition) -> str:
    return f"{condition.field} {OPS[condition.op]} {text(json.dumps(condition.value))}"


def step_label(step: FlowStep) -> str:
    label = [text(step.step_id)]
    if step.call is not None:
        label.append(f"call: {text(step.call)}")
        if step.outputs:
            label.append(f"outputs: {text(', '.join(step.outputs))}")
    elif step.step_id != step.step:
        label.append(f"step: {text(step.step or '')}")
    label.append(f"on failure: {step.on_failure}")
    if step.step is None or step.step in STEP_SPECS:
        if step.is_skippable:
            label.append("skippable")
    if step.retry is not None:
        label.append(f"retry: {step.retry.max_attempts} attempts")
    if not step.backtrackable:
        label.append("no backtrack")
    return "<br/>".join(label)


@dataclass
class Diagram:
    flow: FlowDefinition
    nodes: list[tuple[str | None, str]] = field(default_factory=list)  # (fragment, line)
    edges: list[str] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    node_of: dict[str, list[str]] = field(default_factory=dict)  # step id -> its nodes

    def node(self, entry: FlowStep, node: str, line: str) -> None:
        self.nodes.append((entry.fragment, f"    {line}"))
        self.node_of.setdefault(entry.step_id, []).append(node)

    def entry(self, entry: FlowStep, node: str) -> tuple[str, str, list[str]]:
        """Draws one entry; returns the node an edge goes into, the one it leaves from, and
        the edges inside it (a parallel block's branches)."""
        if entry.kind == "include":
            latest = f"v{entry.version}" if entry.version else "(latest)"
            label = f"{text(entry.step_id)}<br/>include {text(entry.flow or '')} {latest}"
            self.node(entry, node, f'{node}[["{label}"]]')
            return node, node, []
        if entry.kind == "parallel":
            fork, join = f"{node}_fork", f"{node}_join"
            self.node(entry, fork, f'{fork}{{{{"{text(entry.step_id)}: in parallel"}}}}')
            outer, self.edges = self.edges, []
            for number, branch in enumerate(entry.branches):
                self.sequence(branch, f"{node}_{number}_", fork, join)
            inner, self.edges = self.edges, outer
            self.node(entry, join, f'{join}{{{{"{text(entry.step_id)}: all done"}}}}')
            return fork, join, inner
        self.node(entry, node, f'{node}["{step_label(entry)}"]')
        known = entry.kind == "call" or entry.step in STEP_SPECS
        compensation = entry.spec.compensation if known else None
        if compensation:
            undo = f"u{node[1:]}"
            self.undo += [
                f'    {undo}[/"undo: {text(compensation)}"/]',
                f"    {node} -.-> {undo}",
                f"    class {undo} undo",
            ]
        return node, node, []

    def sequence(self, steps: list[FlowStep], prefix: str, before: str, after: str) -> None:
        drawn = [self.entry(entry, f"{prefix}{index}") for index, entry in enumerate(steps)]
        previous = before
        for index, (entry, (head, tail, inner)) in enumerate(zip(steps, drawn, strict=True)):
            if entry.when is None:
                self.edges.append(f"    {previous} --> {head}")
            else:
                following = drawn[index + 1][0] if index + 1 < len(drawn) else after
                self.edges.append(f'    {previous} -->|"{condition_label(entry.when)}"| {head}')
                self.edges.append(f'    {previous} -.->|"otherwise"| {following}')
            self.edges += inner
            previous = tail
        self.edges.append(f"    {previous} --> {after}")

    def grouped(self, level: str | None = None, indent: str = "") -> list[str]:
        """The node lines, those a fragment brought in inside its `subgraph`."""
        lines = [indent + line for fragment, line in self.nodes if fragment == level]
        children: list[str] = []
        for fragment, _ in self.nodes:
            key = include_key(fragment, level)
            if key is not None and key not in children:
                children.append(key)
        for key in children:
            ref = self.flow.fragments.get(key)
            title = f"{key}: {ref.type} v{ref.version}" if ref else key
            graph = "g_" + key.replace(".", "__")
            lines.append(f'{indent}    subgraph {graph}["{text(title)}"]')
            lines += self.grouped(key, indent + "    ")
            lines.append(f"{indent}    end")
        return lines


def render(flow: FlowDefinition, marks: Mapping[str, str] | None = None) -> str:
    """The flow as a `flowchart TD`. `marks` (step id -> done, running, waiting, skipped,
    compensated or failed) gives each marked node that class, with a `classDef` for each."""
    unknown = sorted(set((marks or {}).values()) - set(MARKS))
    if unknown:
        raise ValueError(f"unknown marks {unknown}; known: {list(MARKS)}")
    placed = "order placed" if flow.kind == "order" else "fragment starts"
    diagram = Diagram(flow)
    diagram.sequence(flow.steps, "s", "start", "done")
    lines = [
        "flowchart TD",
        f'    start(["{text(flow.type)} v{flow.version}: {placed}"])',
        *diagram.grouped(),
        f'    done(["{"completed" if flow.kind == "order" else "fragment done"}"])',
        *diagram.edges,
        *diagram.undo,
        "    classDef undo stroke-dasharray: 4 3",
    ]
    if marks is not None:
        for step_id, mark in marks.items():
            lines += [f"    class {node} {mark}" for node in diagram.node_of.get(step_id, [])]
        lines += [f"    classDef {mark} {style}" for mark, style in MARKS.items()]
    return "\n".join(lines) + "\n"


def mermaid(flow: FlowDefinition) -> str:
    return render(flow)
