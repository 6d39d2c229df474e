"""The order workflow as it ran before its signals were read raw: `release` took exactly one
argument, so a `release` with none failed every workflow task after it. Registered under
the same name, it lets a test stall an order as the older code did and then hand it to
today's worker."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from domain.order_state import OrderInput
    from domain.view import OrderView

from workflows.order import OrderWorkflow


@workflow.defn(name="OrderWorkflow")
class OrderWorkflowBeforeRawSignals(OrderWorkflow):
    @workflow.run
    async def run(self, order: OrderInput) -> OrderView:
        return await super().run(order)

    @workflow.signal(name="release")
    def release_signal(self, body: RawValue) -> None:
        self.inbox.intervention_signal("release", [body])
