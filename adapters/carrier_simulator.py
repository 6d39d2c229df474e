"""The simulated carrier's tracking side: a process of its own (`oms carrier`, started by
`oms run`) that advances each booked shipment (`dispatched`, then `delivered`) after
`OMS_CARRIER_DELAY_S` by posting to the webhook a real carrier calls,
`POST /shipments/{shipment_id}/events`, with a key of the `carrier` role. It runs outside the
API, as a real carrier does: see docs/decisions/0009-carrier-simulator-outside-the-api.md.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from adapters.carrier import NEXT_STATUS
from oms.config.auth import parse_api_keys
from oms.config.logs import configure_logging
from oms.config.settings import Settings, get_settings
from store.db import Store
from store.sandbox_tables import CarrierShipment

log = logging.getLogger("oms.carrier")


class CarrierSimulator:
    """Advances booked shipments through the carrier webhook, like a real carrier would:
    the events that fall due are sent side by side, up to `concurrency` at a time, rather
    than each waiting for the answer to the one before (which made the simulator the
    slowest part of an order under `make bench`)."""

    def __init__(
        self,
        store: Store,
        api_url: str,
        api_key: str,
        delay_s: float,
        poll_s: float = 0.2,
        concurrency: int = 16,
    ) -> None:
        self.store = store
        self.api_url = api_url
        self.api_key = api_key
        self.delay_s = delay_s
        self.poll_s = poll_s
        self.concurrency = concurrency

    async def run(self) -> None:
        async with httpx.AsyncClient(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        ) as http:
            while True:
                try:
                    await self.advance_due(http)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the loop must outlive a bad moment of the store or API
                    log.exception("carrier simulator: advancing shipments failed")
                await asyncio.sleep(self.poll_s)

    async def advance_due(self, http: httpx.AsyncClient) -> int:
        now = datetime.now(UTC)
        async with self.store.read() as session:
            due = (
                await session.scalars(
                    select(CarrierShipment)
                    .where(CarrierShipment.next_event_at <= now)
                    .order_by(CarrierShipment.next_event_at)
                    .limit(100)
                )
            ).all()
        lanes = asyncio.Semaphore(self.concurrency)

        async def send(shipment: CarrierShipment) -> bool:
            status = NEXT_STATUS.get(shipment.status)
            if status is None:
                return False
            async with lanes:
                response = await http.post(
                    f"/shipments/{shipment.shipment_id}/events",
                    json={
                        "event_id": f"{shipment.shipment_id}:{status}",
                        "status": status,
                        "tracking_number": shipment.tracking_number,
                        "occurred_at": now.isoformat(),
                    },
                )
            if response.status_code >= 500:
                return False  # try again on the next round
            await self._advance(shipment.shipment_id, status, accepted=response.is_success)
            return True

        # Every send ends before the next round starts, so none is sent twice.
        sent = await asyncio.gather(*(send(shipment) for shipment in due), return_exceptions=True)
        advanced = 0
        for outcome in sent:
            if isinstance(outcome, BaseException):
                raise outcome
            advanced += outcome
        return advanced

    async def _advance(self, shipment_id: str, status: str, *, accepted: bool) -> None:
        async with self.store.transaction() as session:
            row = await session.get(CarrierShipment, shipment_id)
            if row is None:
                return
            if not accepted:
                # The OMS refused the event (shipment gone or closed): stop simulating it.
                row.next_event_at = None
                return
            row.status = status
            more = status in NEXT_STATUS
            row.next_event_at = (
                datetime.now(UTC) + timedelta(seconds=self.delay_s) if more else None
            )


def with_carrier_key(api_keys: str) -> str:
    """`OMS_API_KEYS` with a key of the `carrier` role for the simulator, added (one made up
    for this run) when there is none, as `oms run` and the benchmark start it."""
    if any(each.role == "carrier" for each in parse_api_keys(api_keys).values()):
        return api_keys
    made = f"sim_{secrets.token_urlsafe(24)}:carrier"
    return f"{api_keys},{made}" if api_keys.strip() else made


def carrier_key(settings: Settings) -> str:
    """The first key `OMS_API_KEYS` gives the `carrier` role: the simulator signs its
    webhooks with it, as a real carrier signs with the key the shop issued it."""
    for key, principal in settings.principals.items():
        if principal.role == "carrier":
            return key
    raise SystemExit(
        "the simulated carrier needs a key of the carrier role in OMS_API_KEYS "
        "(key:carrier); `oms run` adds one when there is none"
    )


async def serve(settings: Settings) -> None:
    simulator = CarrierSimulator(
        Store(settings.resolved_database_url),
        settings.resolved_api_url,
        carrier_key(settings),
        settings.carrier_delay_s,
    )
    running = asyncio.create_task(simulator.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, running.cancel)
    log.info("simulated carrier posting to %s", settings.resolved_api_url)
    try:
        await running
    except asyncio.CancelledError:
        pass
    finally:
        await simulator.store.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
