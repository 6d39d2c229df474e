"""Postal addresses: where an order ships, and where a return comes from."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from domain.countries import CountryCode
from domain.text import refuse_control_characters


class Address(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: CountryCode

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refused here, whichever door the address came in by.
        return refuse_control_characters(value) if isinstance(value, str) else value
