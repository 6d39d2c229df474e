"""Settings that reach the order: the fraud thresholds, refused at startup when they cannot
work, and pinned on each order placed over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from oms.config.settings import Settings
from tests.helpers.orders import order_body, place, wait_until
from tests.helpers.stack import running_stack


def test_a_review_score_above_the_block_score_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMS_FRAUD_REVIEW_SCORE", "95")
    monkeypatch.setenv("OMS_FRAUD_BLOCK_SCORE", "90")
    with pytest.raises(ValidationError, match=r"review score \(95\) is above the block score"):
        Settings()


async def test_the_fraud_review_score_set_for_the_api_sends_a_plain_order_to_review(
    temporal_env,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    async with running_stack(temporal_env, url, fraud_review_score=5) as stack:
        async with stack.http() as http:
            placed = await place(http, order_body())  # tok_visa: the sandbox scores it 10
            view = await wait_until(http, placed["order_id"], lambda v: v["review"] is not None)
    assert view["status"] == "NEEDS_REVIEW"
    assert view["review"]["reason"] == "fraud score 10 needs a manual review"
