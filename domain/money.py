"""Money is integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount_minor: int
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    def __str__(self) -> str:
        sign = "-" if self.amount_minor < 0 else ""
        units, cents = divmod(abs(self.amount_minor), 100)
        symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(self.currency)
        amount = f"{units:,}.{cents:02d}"
        return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {self.currency}"
