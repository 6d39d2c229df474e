"""`validate_flow` refuses every definition that cannot run, naming the step and the rule."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.flows import STEP_SPECS, FlowDefinition, FlowDraft, FlowStep, StepSpec, validate_flow

SOUND_STEPS: list[dict[str, Any]] = [
    {"step": "validate_order", "on_failure": "fail"},
    {"step": "check_fraud", "on_failure": "compensate"},
    {"step": "reserve_inventory", "on_failure": "review"},
    {"step": "authorize_payment", "on_failure": "compensate"},
    {"step": "fulfill_shipments", "on_failure": "review"},
]


def flow(steps: list[dict[str, Any]]) -> FlowDefinition:
    return FlowDefinition.model_validate({"type": "custom", "version": 1, "steps": steps})


def with_condition(condition: dict[str, Any]) -> FlowDefinition:
    steps = [dict(step) for step in SOUND_STEPS]
    steps[1] = {**steps[1], "when": condition}
    return flow(steps)


def test_a_sound_flow_passes() -> None:
    assert validate_flow(flow(SOUND_STEPS)) == []


def test_a_sound_flow_with_every_option_passes() -> None:
    steps = [dict(step) for step in SOUND_STEPS]
    steps[1] |= {"when": {"field": "total_minor", "op": "ge", "value": 10_000}}
    steps[2] |= {"retry": {"max_attempts": 5, "initial_interval_s": 0.5, "maximum_interval_s": 10}}
    steps[4] |= {"id": "ship", "backtrackable": False}
    steps.insert(
        0,
        {
            "step": "check_fraud",
            "id": "pre_screen",
            "when": {"field": "country", "op": "in", "value": ["US", "CA"]},
        },
    )
    assert validate_flow(flow(steps)) == []


def test_unknown_step_is_refused_naming_its_position() -> None:
    steps = [*SOUND_STEPS[:2], {"step": "teleport"}, *SOUND_STEPS[2:]]
    errors = validate_flow(flow(steps))
    assert len(errors) == 1
    assert errors[0].startswith("steps[2] (teleport): unknown step 'teleport'")


def test_duplicate_step_id_is_refused() -> None:
    steps = [*SOUND_STEPS[:2], {"step": "validate_order", "id": "check_fraud"}, *SOUND_STEPS[2:]]
    assert validate_flow(flow(steps)) == ["steps[2] (check_fraud): duplicate step id 'check_fraud'"]


def test_unmet_prerequisite_is_refused() -> None:
    steps = [SOUND_STEPS[0], SOUND_STEPS[3], SOUND_STEPS[4], SOUND_STEPS[2]]
    assert validate_flow(flow(steps)) == [
        "steps[2] (fulfill_shipments): fulfill_shipments needs reserve_inventory "
        "earlier in the flow"
    ]


def test_a_flow_that_delivers_nothing_is_refused() -> None:
    errors = validate_flow(flow(SOUND_STEPS[:4]))
    assert len(errors) == 1
    assert errors[0].startswith("flow: no step delivers the goods")


def test_delivering_without_authorization_is_refused() -> None:
    # issue_licenses needs authorize_payment too; the payment rule names the delivering step.
    errors = validate_flow(flow([{"step": "validate_order"}, {"step": "issue_licenses"}]))
    assert (
        "steps[1] (issue_licenses): delivers paid goods but the flow has no authorize_payment"
        in (errors)
    )


def test_delivering_without_any_capture_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every delivering step in the registry captures today; a hand-over that does not
    # shows the rule still stands.
    monkeypatch.setitem(
        STEP_SPECS, "hand_over", StepSpec("hand_over", "fulfillment", delivers=True)
    )
    steps = [SOUND_STEPS[2], SOUND_STEPS[3], {"step": "hand_over"}]
    errors = validate_flow(flow(steps))
    assert len(errors) == 1
    assert errors[0].startswith(
        "steps[2] (hand_over): delivers paid goods but no step captures payment"
    )
    assert validate_flow(flow([*steps, {"step": "capture_payment"}])) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "total_minor", "op": "gt", "value": "100"}, "needs an integer value"),
        ({"field": "item_count", "op": "eq", "value": True}, "needs an integer value"),
        ({"field": "line_count", "op": "le", "value": 2.5}, "needs an integer value"),
        ({"field": "country", "op": "eq", "value": 1}, "needs a string value"),
        ({"field": "customer_id", "op": "ne", "value": None}, "needs a string value"),
        ({"field": "country", "op": "gt", "value": "US"}, "op 'gt' orders numbers"),
        ({"field": "order_type", "op": "le", "value": "standard"}, "op 'le' orders numbers"),
        ({"field": "country", "op": "in", "value": "US"}, "'in' needs a non-empty list"),
        ({"field": "country", "op": "in", "value": []}, "'in' needs a non-empty list"),
        ({"field": "total_minor", "op": "in", "value": [1, "2"]}, "'in' needs integers"),
        ({"field": "order_type", "op": "in", "value": ["a", 3]}, "'in' needs strings"),
    ],
)
def test_a_condition_that_does_not_fit_its_field_is_refused(
    condition: dict[str, Any], expected: str
) -> None:
    errors = validate_flow(with_condition(condition))
    assert len(errors) == 1, errors
    assert errors[0].startswith("steps[1] (check_fraud): condition "), errors
    assert expected in errors[0]


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "total_minor", "op": "gt", "value": 100},
        {"field": "item_count", "op": "in", "value": [1, 2]},
        {"field": "country", "op": "ne", "value": "US"},
        {"field": "order_type", "op": "in", "value": ["standard"]},
    ],
)
def test_a_condition_that_fits_passes(condition: dict[str, Any]) -> None:
    assert validate_flow(with_condition(condition)) == []


def test_every_reason_is_reported_at_once() -> None:
    steps = [{"step": "teleport"}, {"step": "validate_order"}, {"step": "validate_order"}]
    errors = validate_flow(flow(steps))
    assert [error.split(":")[0] for error in errors] == [
        "steps[0] (teleport)",
        "steps[2] (validate_order)",
        "flow",
    ]


def test_cancel_is_read_as_compensate() -> None:
    step = FlowStep.model_validate({"step": "check_fraud", "on_failure": "cancel"})
    assert step.on_failure == "compensate"
    assert step.model_dump()["on_failure"] == "compensate"
    with pytest.raises(ValidationError):
        FlowStep.model_validate({"step": "check_fraud", "on_failure": "explode"})


@pytest.mark.parametrize(
    "retry",
    [
        {"max_attempts": 0},
        {"max_attempts": 101},
        {"initial_interval_s": 0},
        {"maximum_interval_s": -1},
        {"initial_interval_s": 10, "maximum_interval_s": 5},
        {"max_attempts": 3, "backoff": 2},
    ],
)
def test_retry_bounds_are_enforced(retry: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FlowStep.model_validate({"step": "reserve_inventory", "retry": retry})


def test_step_defaults() -> None:
    step = FlowStep.model_validate({"step": "reserve_inventory"})
    assert (step.retry, step.backtrackable, step.on_failure) == (None, True, "fail")


def test_a_draft_has_no_version_and_gets_one() -> None:
    draft = FlowDraft.model_validate({"type": "custom", "steps": SOUND_STEPS})
    assert draft.versioned(3).version == 3
    with pytest.raises(ValidationError):
        FlowDraft.model_validate({"type": "custom", "version": 2, "steps": SOUND_STEPS})
