"""The step registry: what every step the interpreter knows needs, undoes and moves.

`STEP_SPECS` names the steps a flow's `step` entries may use; `call_spec` describes a call
step, which names an endpoint instead of a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "compensate": undo the completed steps and cancel the order; "fail": undo and end FAILED;
# "review": wait for a person. "cancel" is read as "compensate" (its former name).
FailurePolicy = Literal["review", "fail", "compensate"]
Stage = Literal["processing", "fulfillment"]


@dataclass(frozen=True)
class StepSpec:
    name: str
    stage: Stage
    compensation: str | None = None
    requires: tuple[str, ...] = ()
    skippable: bool = False  # steps guarding money or goods are never skippable by default
    delivers: bool = False  # hands goods to the customer (ships, issues keys, hands over)
    captures: bool = False  # moves the customer's money (a capture), not just authorizes
    authorizes: bool = False  # places (or renews) an authorization on the customer's card
    description: str = ""

    @property
    def moves_money(self) -> bool:
        return self.authorizes or self.captures


def call_spec(endpoint: str, compensation: str | None) -> StepSpec:
    """The spec of a call step: its compensation is another endpoint, never a step's undo."""
    return StepSpec(
        name="call",
        stage="processing",
        compensation=compensation,
        skippable=False,
        description=f"call {endpoint}",
    )


STEP_SPECS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        StepSpec("validate_order", "processing", skippable=True, description="check the order"),
        StepSpec("check_fraud", "processing", skippable=True, description="score the payment"),
        StepSpec(
            "reserve_inventory",
            "processing",
            compensation="release_inventory",
            description="reserve stock per warehouse",
        ),
        StepSpec(
            "reserve_at_store",
            "processing",
            compensation="release_inventory",
            description="reserve stock at a store for pickup",
        ),
        StepSpec(
            "authorize_payment",
            "processing",
            compensation="void_authorization",
            authorizes=True,
            description="authorize the order total",
        ),
        StepSpec(
            "await_release",
            "processing",
            requires=("authorize_payment",),
            authorizes=True,
            description="wait for the release date; re-authorize before the authorization expires",
        ),
        StepSpec(
            "manual_approval",
            "processing",
            description="a person approves the order before money moves",
        ),
        StepSpec(
            "capture_payment",
            "processing",
            compensation="refund_payment",
            requires=("authorize_payment",),
            captures=True,
            description="capture the whole order now",
        ),
        StepSpec(
            "issue_licenses",
            "fulfillment",
            compensation="revoke_licenses",
            requires=("authorize_payment",),
            delivers=True,
            captures=True,
            description="capture and issue a license key per digital unit",
        ),
        StepSpec(
            "fulfill_shipments",
            "fulfillment",
            compensation="cancel_shipments",
            requires=("reserve_inventory", "authorize_payment"),
            delivers=True,
            captures=True,
            description="one shipment per allocation; capture on dispatch unless captured",
        ),
        StepSpec(
            "notify_pickup_ready",
            "fulfillment",
            requires=("reserve_at_store",),
            description="tell the customer the order waits at the store",
        ),
        StepSpec(
            "await_pickup",
            "fulfillment",
            requires=("reserve_at_store", "authorize_payment"),
            delivers=True,
            captures=True,
            description="wait for the pickup; capture on pickup, cancel after the window",
        ),
    )
}
