"""Every patch the workflows take (`workflow.patched(...)`), in one registry: what it changed,
since when, which recorded histories guard it and when its old path can go. `oms patches`
counts the running orders on each; docs/versioning.md tells a patch's life.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Patch:
    id: str
    changed: str  # what orders started after it do differently
    since: str  # the day it shipped
    guarded_by: tuple[str, ...]  # scenarios in tests/histories recorded before and after it
    retire: str  # when `deprecate_patch`, then removal, becomes safe

    def __str__(self) -> str:
        return self.id


_NO_OLD_RUNS = "once no running order started before it (`oms patches` shows 0 without it)"

IN_PROCESS = Patch(
    "order-runs-in-process",
    "the flow's steps run as local activities, shipments and loyalty points inside the order "
    "(no ShipmentWorkflow or RewardsWorkflow child), search attributes upserted with each "
    "journal batch",
    "2026-11-24",
    ("standard_completed", "cancel_partial", "return_refunded", "exchange_shipped"),
    f"{_NO_OLD_RUNS}; then workflows/legacy/ goes with it",
)
RETURN_WINDOW = Patch(
    "return-window-after-delivery",
    "a delivered order stays open for its return window before it completes",
    "2026-11-24",
    ("standard_completed", "hold_release", "digital_completed"),
    _NO_OLD_RUNS,
)
NOTIFY_ON_COMPLETION = Patch(
    "notify-customer-on-completion",
    "the customer is told when the order completes",
    "2026-11-24",
    ("standard_completed", "hold_release", "cancel_partial"),
    _NO_OLD_RUNS,
)
CHANGE_MAY_OUTRUN_SHIPMENT = Patch(
    "shipment-change-answered-by-its-end",
    "a shipment that ends before it reads a change answers the change by ending (older "
    "orders waited for an answer that never came)",
    "2026-11-24",
    ("cancel_partial", "cancel_whole", "backtrack_authorize", "prepaid_partial_cancel"),
    _NO_OLD_RUNS,
)
WINDOW_TIMER = Patch(
    "return-window-closes-on-its-timer",
    "the return window closes when its durable timer fires, not when the clock passes it "
    "(docs/decisions: the return-window timer)",
    "2026-12-06",
    ("standard_completed", "return_refunded", "appeasement_refunded", "exchange_shipped"),
    f"{_NO_OLD_RUNS}, i.e. 30 days (the return window) after it shipped",
)
UNREADABLE_REPORTS_JOURNALED = Patch(
    "unreadable-reports-journaled",
    "a report from a child that cannot be read is journaled as SignalRejected; older orders "
    "dropped it unrecorded (docs/decisions/0001-messages-take-any-input.md)",
    "2026-12-06",
    (),  # it takes effect only on an unreadable report; tests/workflows/test_bad_signals.py
    _NO_OLD_RUNS,
)
NOTICE_WITH_JOURNAL = Patch(
    "completion-notice-with-journal",
    "the customer's completion notice is queued in the transaction that journals "
    "OrderCompleted, not by a local activity of its own (one fewer per order)",
    "2026-12-06",
    ("standard_completed",),
    _NO_OLD_RUNS,
)

PATCHES: tuple[Patch, ...] = (
    IN_PROCESS,
    RETURN_WINDOW,
    NOTIFY_ON_COMPLETION,
    CHANGE_MAY_OUTRUN_SHIPMENT,
    WINDOW_TIMER,
    UNREADABLE_REPORTS_JOURNALED,
    NOTICE_WITH_JOURNAL,
)
