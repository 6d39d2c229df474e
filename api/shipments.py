"""The carrier webhook: a carrier event becomes a signal to the order that owns the shipment."""

from fastapi import APIRouter, HTTPException, status
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CarrierPrincipal, ClientDep
from workflows.order import order_workflow_id
from workflows.shipment import CarrierEvent, CarrierReport

router = APIRouter(prefix="/shipments", tags=["shipments"])


def owning_order(shipment_id: str) -> str | None:
    """The order a shipment belongs to: the order mints its shipments' ids as
    `{order_id}-{n}`."""
    order_id, dash, number = shipment_id.rpartition("-")
    return order_id if dash and order_id and number.isdigit() else None


@router.post("/{shipment_id}/events", status_code=status.HTTP_202_ACCEPTED)
async def post_carrier_event(
    shipment_id: str, event: CarrierEvent, _: CarrierPrincipal, client: ClientDep
) -> dict[str, str]:
    order_id = owning_order(shipment_id)
    if order_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}")
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        await handle.signal("carrier_event", CarrierReport(shipment_id=shipment_id, event=event))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no open shipment {shipment_id}"
            ) from error
        raise
    return {"shipment_id": shipment_id, "status": "accepted"}
