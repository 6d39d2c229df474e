"""A workflow that reads the wall clock: what the strict sandbox must refuse
(`test_sandbox.py`). A module of its own because the strict sandbox imports a workflow's
module afresh, and this one imports only what a workflow module would."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # workflow.now() is the replayable one
