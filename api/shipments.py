"""The carrier webhook: a carrier event becomes a signal to the order that owns the shipment."""

from fastapi import APIRouter, status

from api.deps import CarrierPrincipal, ClientDep
from api.ordering import apply_carrier_event
from workflows.shipment import CarrierEvent

router = APIRouter(prefix="/shipments", tags=["shipments"])


@router.post("/{shipment_id}/events", status_code=status.HTTP_202_ACCEPTED)
async def post_carrier_event(
    shipment_id: str, event: CarrierEvent, _: CarrierPrincipal, client: ClientDep
) -> dict[str, str]:
    await apply_carrier_event(client, shipment_id, event)
    return {"shipment_id": shipment_id, "status": "accepted"}
