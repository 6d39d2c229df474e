"""The order's money with the payment gateway: authorized, captured, refunded, voided."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator


class Payment(BaseModel):
    authorization_id: str | None = None
    authorized_minor: int = 0
    authorized_at: datetime | None = None  # authorizations expire (7 days) and are renewed
    captured_minor: int = 0
    refunded_minor: int = 0
    voided: bool = False
    voided_minor: int = 0  # what the void gave back; kept, as exchanges add to captured_minor
    # Exchanges that cost more are charged on authorizations of their own.
    extra_authorizations: list[str] = Field(default_factory=list)

    def void(self) -> None:
        """The authorization's uncaptured part goes back; nothing more is captured on it."""
        self.voided_minor = self.authorized_minor - self.captured_minor
        self.voided = True


class FraudThresholds(BaseModel):
    """Where a fraud score (0-100) sends an order: to a person's review from `review_score`,
    cancelled from `block_score`. Pinned on the order when it is placed, like its flow."""

    review_score: int = Field(60, ge=0, le=100)
    block_score: int = Field(90, ge=0, le=100)

    @model_validator(mode="after")
    def _review_before_block(self) -> FraudThresholds:
        if self.review_score > self.block_score:
            raise ValueError(
                f"the review score ({self.review_score}) is above the block score "
                f"({self.block_score}): no order would ever be reviewed"
            )
        return self
