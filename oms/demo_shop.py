"""The demo shop's own services, the kind a flow step calls (`activities/endpoints.py`):
`POST /gift-wrap`, `/gift-wrap-cancel` and `/address-check`, each checking the call's
signature and answering a repeated `Idempotency-Key` as it did the first time, without doing
the work again. `GET /calls` shows the requests and effects per key. `oms run` starts it
(`python -m oms.demo_shop --port N`, the secret in `OMS_DEMO_SHOP_SECRET`) and registers it."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from domain.endpoints import Endpoint, timestamp_fresh, verify_signature
from oms.config.settings import Settings
from store.db import Store
from store.endpoints import register_endpoint
from store.sealed import SecretBox

SECRET_ENV = "OMS_DEMO_SHOP_SECRET"
GIFT_WRAP_FEE_MINOR = 250
Document = dict[str, Any]


def gift_wrap(call: Document) -> Document:
    """A fee for wrapping when a line's SKU says GIFT or the facts ask for it."""
    lines = call.get("lines") or []
    gift = any(
        "GIFT" in str(line.get("sku", "")).upper() for line in lines if isinstance(line, dict)
    )
    facts = call.get("facts") or {}
    wanted = gift or (isinstance(facts, dict) and facts.get("gift_wrap") is True)
    return {"wrap_fee_minor": GIFT_WRAP_FEE_MINOR if wanted else 0}


def gift_wrap_cancel(_call: Document) -> Document:
    return {}


def address_check(_call: Document) -> Document:
    return {"address_ok": True}


SERVICES: dict[str, Callable[[Document], Document]] = {
    "gift-wrap": gift_wrap,
    "gift-wrap-cancel": gift_wrap_cancel,
    "address-check": address_check,
}


@dataclass
class Call:
    """What one idempotency key of one service did: how often it was asked, how often the
    work was done (once), and the answer every request gets."""

    service: str
    key: str
    body_hash: str
    answer: Document
    requests: int = 1
    effects: int = 1


class DemoShop:
    def __init__(self, secret: str, tolerance_s: float = 300) -> None:
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.calls: dict[tuple[str, str], Call] = {}

    def handle(self, service: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Document]:
        """The status and answer for a call; `headers` keyed in lowercase."""
        if service not in SERVICES:
            return 404, {"detail": f"no service {service[:40]!r}"}
        timestamp = headers.get("x-oms-timestamp", "")
        if not verify_signature(self.secret, timestamp, body, headers.get("x-oms-signature")):
            return 401, {"detail": "the signature does not match the body"}
        if not timestamp_fresh(timestamp, time.time(), self.tolerance_s):
            return 401, {"detail": "X-OMS-Timestamp is too far from now"}
        key = headers.get("idempotency-key", "")
        if not key:
            return 400, {"detail": "an Idempotency-Key header is required"}
        try:
            document = json.loads(body)
        except ValueError:
            return 400, {"detail": "the body is not JSON"}
        if not isinstance(document, dict):
            return 400, {"detail": "the body is not a JSON object"}
        body_hash = hashlib.sha256(body).hexdigest()
        found = self.calls.get((service, key))
        if found is not None:
            if found.body_hash != body_hash:
                return 409, {"detail": "this Idempotency-Key came with another order or step"}
            found.requests += 1
            return 200, found.answer
        answer = SERVICES[service](document)
        self.calls[(service, key)] = Call(service, key, body_hash, answer)
        return 200, answer

    def report(self) -> Document:
        return {
            "calls": [
                {
                    "service": call.service,
                    "key": call.key,
                    "requests": call.requests,
                    "effects": call.effects,
                    "answer": call.answer,
                }
                for call in self.calls.values()
            ]
        }


def create_app(shop: DemoShop) -> FastAPI:
    app = FastAPI(title="Demo shop services", docs_url=None, redoc_url=None)

    @app.get("/calls")
    async def calls() -> Document:
        return shop.report()

    @app.get("/health")
    async def health() -> Document:
        return {"status": "ok"}

    @app.post("/{service}")
    async def serve(service: str, request: Request) -> JSONResponse:
        status, answer = shop.handle(service, request.headers, await request.body())
        return JSONResponse(answer, status_code=status)

    return app


def demo_endpoints(base_url: str, secret: str) -> list[Endpoint]:
    return [
        Endpoint(name=name, url=f"{base_url}/{name}", secret=SecretStr(secret)) for name in SERVICES
    ]


async def register_demo_endpoints(settings: Settings, base_url: str, secret: str) -> list[str]:
    """Point `gift-wrap`, `gift-wrap-cancel` and `address-check` at the demo shop (again:
    registering moves an endpoint that is there)."""
    store = Store(settings.resolved_database_url)
    try:
        box = SecretBox.from_settings(settings)
        for endpoint in demo_endpoints(base_url, secret):
            await register_endpoint(store, endpoint, box)
    finally:
        await store.close()
    return list(SERVICES)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="the demo shop's services")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise SystemExit(f"{SECRET_ENV} must hold the endpoints' secret (16 characters or more)")
    uvicorn.run(create_app(DemoShop(secret)), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
