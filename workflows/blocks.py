"""Parallel blocks: the branches of a `parallel` entry run side by side in the order's own
workflow, each a sequence of steps, and the block ends when every branch has. A branch that
fails with `compensate` or `fail` stops its siblings at their next safe point (between two
steps, or at a wait) before the order is undone; `review` holds its own branch, and so the
block, until decided. Interventions apply only when every branch is at such a point
(docs/decisions/0012-parallel-blocks.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.flows import FlowStep
    from domain.interventions import ReviewDecision
    from workflows import moves
    from workflows.rules.conditions import order_facts
    from workflows.steps import attempt

if TYPE_CHECKING:
    from workflows.run import OrderRun


@dataclass
class Branch:
    name: str  # `checks[1]`: the block's id and the branch's index
    steps: list[FlowStep]
    parked: bool = False  # at a wait, or waiting for a block of its own
    finished: bool = False


@dataclass
class Branches:
    """Every live branch of the order, of any block (blocks nest through fragments)."""

    live: list[Branch] = field(default_factory=list)
    stopping: bool = False  # a branch failed for good: the others stop at their next step

    def quiet(self, but: Branch | None = None) -> bool:
        """No branch is between its safe points, so effects may be undone or decided."""
        return all(b.finished or b.parked or b is but for b in self.live)


_current: ContextVar[Branch | None] = ContextVar("branch", default=None)


@contextmanager
def parked() -> Iterator[None]:
    """The calling branch (if any) is at a safe point while inside this block."""
    branch = _current.get()
    if branch is None:
        yield
        return
    was, branch.parked = branch.parked, True
    try:
        yield
    finally:
        branch.parked = was


async def run_block(run: OrderRun, entry: FlowStep, branches: Branches) -> None:
    """Run the block's branches to their end; raises what a branch raised (a redirect of
    the flow: cancelled, backtracked), after stopping the others."""
    mine = [Branch(f"{entry.step_id}[{i}]", steps) for i, steps in enumerate(entry.branches)]
    branches.live.extend(mine)
    run.record(EventType.BRANCHES_STARTED, block=entry.step_id, branches=len(mine))
    tasks = [asyncio.create_task(_branch(run, branches, branch)) for branch in mine]
    try:
        with parked():
            await workflow.wait_condition(
                lambda: (
                    all(t.done() for t in tasks)
                    or any(_raised(t) for t in tasks)
                    or run.order.outcome is not None
                )
            )
        for task in tasks:
            if not task.done():
                task.cancel()  # parked at a wait whose order has ended or redirected
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if _raised(task):
                raise task.exception()  # type: ignore[misc]
    finally:
        for branch in mine:
            branches.live.remove(branch)
        if not branches.live:
            branches.stopping = False
    if run.order.outcome is None:
        run.record(EventType.BRANCHES_JOINED, block=entry.step_id)


def _raised(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


async def _branch(run: OrderRun, branches: Branches, branch: Branch) -> None:
    _current.set(branch)
    state = run.state
    try:
        position = 0
        while position < len(branch.steps):
            if branches.stopping or run.order.outcome is not None:
                return
            if run.order.holds:
                await run.wait(lambda: not run.order.holds)
                continue
            step = branch.steps[position]
            if step.step_id in state.skips or (
                step.when is not None and not step.when.holds(order_facts(run.order))
            ):
                why = "skipped by request" if step.step_id in state.skips else "condition not met"
                run.record(EventType.STEP_SKIPPED, step=step.step_id, reason=why)
                run.order.mark(step.step_id, "skipped")
                position += 1
                continue
            run.order.mark(step.step_id, "running")
            if step.kind == "parallel":
                with parked():
                    await run_block(run, step, branches)
                run.order.mark(step.step_id, "done")
                position += 1
                continue
            state.branch_steps.append(step.step_id)
            try:
                failure = await attempt(run, step)
            finally:
                state.branch_steps.remove(step.step_id)
            if failure is None:
                state.completed.append(step.step_id)
                run.order.mark(step.step_id, "done")
                position += 1
                continue
            if moves.policy_for(step, failure) != "review":
                if branches.stopping:
                    return  # another branch failed first and is undoing the order
                # Stop the siblings at their next safe point, then undo as the flow says.
                branches.stopping = True
                run.record(EventType.BRANCHES_STOPPED, block=branch.name, step=step.step_id)
                with parked():
                    await workflow.wait_condition(lambda: branches.quiet(but=branch))
                await moves.settle(run, step, failure)
                return
            await moves.settle(run, step, failure)
            if state.decisions.pop(step.step_id, None) != ReviewDecision.RETRY:
                position += 1  # approved, or skipped by the decision
    finally:
        branch.finished = True
