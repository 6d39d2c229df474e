"""The codec endpoint on its own: the remote codec protocol, who may call it, its CORS."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.middleware.codec import install
from oms.config.codec import ENCODING
from oms.config.settings import Settings
from tests.helpers.keys import API_KEYS, CUSTOMER_KEY, OPERATOR_KEY

UI = "http://127.0.0.1:8299"
PLAIN = {"customer_id": "cus_secret", "line1": "9 Hidden Way"}


def codec_app(**overrides) -> FastAPI:  # noqa: ANN003
    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(**{"api_keys": API_KEYS, "ui_port": 8299, "payload_key": key} | overrides)
    app = FastAPI()
    app.state.settings = settings
    app.state.principals = dict(settings.principals)
    install(app, settings)
    return app


def client(app: FastAPI, key: str | None = OPERATOR_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api", headers=headers
    )


def body(*values: object) -> dict:
    payloads = Payloads(
        payloads=[
            Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(v).encode())
            for v in values
        ]
    )
    return json_format.MessageToDict(payloads)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with client(codec_app()) as http:
        yield http


async def test_encode_then_decode_speaks_the_protocol(http: httpx.AsyncClient) -> None:
    encoded = await http.post("/codec/encode", json=body(PLAIN), headers={"X-Namespace": "default"})
    assert encoded.status_code == 200, encoded.text
    [payload] = json_format.ParseDict(encoded.json(), Payloads()).payloads
    assert payload.metadata["encoding"] == ENCODING and b"cus_secret" not in payload.data
    decoded = await http.post("/codec/decode", json=encoded.json())
    assert decoded.status_code == 200, decoded.text
    [plain] = json_format.ParseDict(decoded.json(), Payloads()).payloads
    assert json.loads(plain.data) == PLAIN
    # Payloads that were never encrypted come back as they were.
    assert (await http.post("/codec/decode", json=body(PLAIN))).json() == body(PLAIN)


async def test_bad_bodies_and_foreign_keys_are_400s(http: httpx.AsyncClient) -> None:
    assert (await http.post("/codec/decode", content=b"{not json")).status_code == 400
    async with client(codec_app()) as elsewhere:  # another deployment, another key
        foreign = await elsewhere.post("/codec/encode", json=body(PLAIN))
    refused = await http.post("/codec/decode", json=foreign.json())
    assert refused.status_code == 400 and "key id" in refused.json()["detail"]
    other_ns = await http.post("/codec/decode", json=body(PLAIN), headers={"X-Namespace": "x"})
    assert other_ns.status_code == 400


async def test_only_an_operator_key_decodes_by_default() -> None:
    app = codec_app()
    async with client(app, key=None) as anonymous, client(app, key=CUSTOMER_KEY) as customer:
        assert (await anonymous.post("/codec/decode", json=body(PLAIN))).status_code == 401
        assert (await customer.post("/codec/decode", json=body(PLAIN))).status_code == 403


async def test_without_require_key_the_web_ui_may_call_without_one() -> None:
    async with client(codec_app(codec_require_key=False), key=None) as anonymous:
        assert (await anonymous.post("/codec/decode", json=body(PLAIN))).status_code == 200


async def test_no_key_configured_is_a_404() -> None:
    async with client(codec_app(payload_key=None)) as http:
        response = await http.post("/codec/decode", json=body(PLAIN))
        assert response.status_code == 404
        assert "not configured" in response.json()["detail"]


async def test_cors_lets_the_web_ui_in_and_no_one_else(http: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    allowed = await http.options("/codec/decode", headers={"Origin": UI} | preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert allowed.headers["access-control-allow-credentials"] == "true"
    localhost = await http.options(
        "/codec/decode", headers={"Origin": "http://localhost:8299"} | preflight
    )
    assert localhost.status_code == 200
    foreign = await http.options(
        "/codec/decode", headers={"Origin": "https://evil.example"} | preflight
    )
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    response = await http.post("/codec/decode", json=body(PLAIN), headers={"Origin": UI})
    assert response.headers["access-control-allow-origin"] == UI
    # Errors carry the header too, so the UI can read them.
    app = codec_app()
    async with client(app, key=None) as anonymous:
        refused = await anonymous.post("/codec/decode", json=body(PLAIN), headers={"Origin": UI})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == UI


async def test_cors_origins_can_be_set() -> None:
    app = codec_app(codec_cors_origins="https://temporal.example.com")
    async with client(app) as http:
        response = await http.post(
            "/codec/decode", json=body(PLAIN), headers={"Origin": "https://temporal.example.com"}
        )
        assert response.headers["access-control-allow-origin"] == "https://temporal.example.com"
        other = await http.post("/codec/decode", json=body(PLAIN), headers={"Origin": UI})
        assert "access-control-allow-origin" not in other.headers
