"""The carrier webhook: carrier events become signals to the shipment's workflow."""

from fastapi import APIRouter, HTTPException, status
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CarrierPrincipal, ClientDep
from workflows.shipment import CarrierEvent, ShipmentWorkflow, shipment_workflow_id

router = APIRouter(prefix="/shipments", tags=["shipments"])


@router.post("/{shipment_id}/events", status_code=status.HTTP_202_ACCEPTED)
async def post_carrier_event(
    shipment_id: str, event: CarrierEvent, _: CarrierPrincipal, client: ClientDep
) -> dict[str, str]:
    handle = client.get_workflow_handle(shipment_workflow_id(shipment_id))
    try:
        await handle.signal(ShipmentWorkflow.carrier_event, event)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}"
            ) from error
        raise
    return {"shipment_id": shipment_id, "status": "accepted"}
