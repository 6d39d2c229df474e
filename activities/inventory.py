"""Inventory activities: reserve per warehouse and release, idempotent by reservation id;
restock returned units, idempotent by restock id."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.shipments import AllocatedLine, Allocation
from store import inventory
from store.db import Store


class ReserveRequest(BaseModel):
    order_id: str
    reservation_id: str
    lines: list[AllocatedLine]
    location_kind: str = "warehouse"  # "store" for pickup orders


class ReleaseRequest(BaseModel):
    reservation_id: str
    warehouse: str | None = None


class PartialReleaseRequest(BaseModel):
    release_id: str
    reservation_id: str
    warehouse: str
    lines: list[AllocatedLine]


class RestockRequest(BaseModel):
    restock_id: str
    warehouse: str
    lines: list[AllocatedLine]


class InventoryActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn
    async def reserve_inventory(self, request: ReserveRequest) -> list[Allocation]:
        try:
            return await inventory.reserve(
                self.store,
                request.order_id,
                request.reservation_id,
                request.lines,
                location_kind=request.location_kind,
            )
        except inventory.OutOfStock as error:
            raise ApplicationError(
                str(error), error.shortages, type="OutOfStock", non_retryable=True
            ) from error

    @activity.defn
    async def release_inventory(self, request: ReleaseRequest) -> int:
        return await inventory.release(self.store, request.reservation_id, request.warehouse)

    @activity.defn
    async def release_inventory_units(self, request: PartialReleaseRequest) -> bool:
        return await inventory.release_units(
            self.store, request.release_id, request.reservation_id, request.warehouse, request.lines
        )

    @activity.defn
    async def restock_units(self, request: RestockRequest) -> int:
        """Put returned resellable units back on sale; returns the units added (0 on a retry)."""
        try:
            return await inventory.restock(
                self.store, request.restock_id, request.warehouse, request.lines
            )
        except inventory.UnknownStock as error:
            raise ApplicationError(str(error), type="UnknownStock", non_retryable=True) from error
