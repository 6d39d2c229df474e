"""License activities: issue keys for digital units, idempotently."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from domain.shipments import AllocatedLine, License
from store import licenses
from store.db import Store


class IssueLicensesRequest(BaseModel):
    order_id: str
    lines: list[AllocatedLine]


class LicenseActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn
    async def issue_licenses(self, request: IssueLicensesRequest) -> list[License]:
        return await licenses.issue(self.store, request.order_id, request.lines)
