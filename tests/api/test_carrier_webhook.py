"""POST /shipments/{id}/events: unknown shipments and bad statuses are refused."""

from __future__ import annotations

import pytest

from tests.helpers.keys import CARRIER_KEY
from tests.helpers.stack import Stack


async def test_event_for_unknown_shipment_is_404(stack: Stack) -> None:
    async with stack.http(CARRIER_KEY) as http:
        response = await http.post(
            "/shipments/shp_does_not_exist/events", json={"status": "delivered"}
        )
    assert response.status_code == 404, response.text
    assert "shp_does_not_exist" in response.json()["detail"]


@pytest.mark.parametrize("status", ["teleported", "DELIVERED", "", None])
async def test_bad_status_is_422(stack: Stack, status: str | None) -> None:
    async with stack.http(CARRIER_KEY) as http:
        response = await http.post("/shipments/shp_does_not_exist/events", json={"status": status})
    assert response.status_code == 422, response.text
    assert ["body", "status"] in [error["loc"] for error in response.json()["detail"]]
