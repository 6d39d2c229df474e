"""The carrier webhook: a carrier event becomes a signal to the order that owns the shipment."""

from fastapi import APIRouter, HTTPException, status
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CarrierPrincipal, ClientDep
from domain.shipments import parse_shipment_id
from workflows.order import order_workflow_id
from workflows.shipment import CarrierEvent, CarrierReport

router = APIRouter(prefix="/shipments", tags=["shipments"])


@router.post("/{shipment_id}/events", status_code=status.HTTP_202_ACCEPTED)
async def post_carrier_event(
    shipment_id: str, event: CarrierEvent, _: CarrierPrincipal, client: ClientDep
) -> dict[str, str]:
    named = parse_shipment_id(shipment_id)  # the order that owns it is in the id
    if named is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}")
    handle = client.get_workflow_handle(order_workflow_id(named[0]))
    try:
        await handle.signal("carrier_event", CarrierReport(shipment_id=shipment_id, event=event))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}"
            ) from error
        raise
    return {"shipment_id": shipment_id, "status": "accepted"}
