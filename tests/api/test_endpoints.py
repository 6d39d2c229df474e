"""/endpoints: operators register the shop's own services; nobody ever reads a secret back."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.endpoints import fingerprint
from store.tables import ShopEndpoint
from tests.helpers.keys import CARRIER_KEY, CUSTOMER_KEY
from tests.helpers.stack import Stack, running_stack

SECRET = "api-test-secret-5e1f0c"


def body(**changes: Any) -> dict[str, Any]:
    values = {
        "name": f"svc-{uuid.uuid4().hex[:8]}",
        "url": "http://127.0.0.1:9911/gift-wrap",
        "timeout_s": 4,
        "secret": SECRET,
    }
    return values | changes


async def test_an_operator_registers_and_reads_an_endpoint(stack: Stack) -> None:
    sent = body()
    async with stack.http() as http:
        created = await http.post("/endpoints", json=sent)
        one = await http.get(f"/endpoints/{sent['name']}")
        listed = await http.get("/endpoints")
        unknown = await http.get("/endpoints/no-such-service")
        odd = await http.get("/endpoints/Gift%20Wrap%0A")
    assert created.status_code == 201, created.text
    expected = {
        "name": sent["name"],
        "url": sent["url"],
        "timeout_s": 4.0,
        "secret_set": True,
        "secret_fingerprint": fingerprint(SECRET),
    }
    assert created.json() == expected
    assert one.status_code == 200 and one.json() == expected
    assert listed.status_code == 200 and expected in listed.json()
    assert unknown.status_code == 404 and odd.status_code == 404
    for response in (created, one, listed):
        assert SECRET not in response.text


async def test_registering_a_name_again_moves_it(stack: Stack) -> None:
    first = body()
    moved = body(name=first["name"], url="http://localhost:9912/v2", secret="another-secret-00")
    async with stack.http() as http:
        assert (await http.post("/endpoints", json=first)).status_code == 201
        again = await http.post("/endpoints", json=moved)
        listed = (await http.get("/endpoints")).json()
    assert again.status_code == 201, again.text
    mine = [entry for entry in listed if entry["name"] == first["name"]]
    assert [(e["url"], e["secret_fingerprint"]) for e in mine] == [
        ("http://localhost:9912/v2", fingerprint("another-secret-00"))
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Gift Wrap"}, "name"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "url"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 61}, "timeout_s"),
        ({"secret": "short-secret"}, "secret"),
        ({"secret": "s" * 300}, "secret"),
    ],
)
async def test_a_bad_body_is_a_422_naming_the_field(
    stack: Stack, changes: dict[str, Any], field: str
) -> None:
    async with stack.http() as http:
        response = await http.post("/endpoints", json=body(**changes))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field]
    if field == "secret":
        assert "input" not in error and changes["secret"][:10] not in response.text


@pytest.mark.parametrize("url", ["http://example.com/wrap", "https://10.1.2.3:8443/wrap"])
async def test_a_host_not_allowed_is_a_422_naming_the_url_and_the_host(
    stack: Stack, url: str
) -> None:
    sent = body(url=url)
    async with stack.http() as http:
        response = await http.post("/endpoints", json=sent)
        after = await http.get(f"/endpoints/{sent['name']}")
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "url"]
    host = url.split("/")[2].split(":")[0]
    assert "url" in error["msg"] and host in error["msg"]
    assert "OMS_CALL_ALLOWED_HOSTS" in error["msg"]
    assert after.status_code == 404


async def test_only_operators_may_see_or_register_endpoints(stack: Stack) -> None:
    for key in (CUSTOMER_KEY, CARRIER_KEY):
        async with stack.http(key) as http:
            assert (await http.post("/endpoints", json=body())).status_code == 403
            assert (await http.get("/endpoints")).status_code == 403
            assert (await http.get("/endpoints/gift-wrap")).status_code == 403
    async with stack.http(None) as http:
        assert (await http.get("/endpoints")).status_code == 401


async def test_with_a_payload_key_the_secret_is_stored_sealed(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    sent = body()
    async with running_stack(temporal_env, url, worker=False, payload_key=key) as sealed:
        async with sealed.http() as http:
            created = await http.post("/endpoints", json=sent)
            one = await http.get(f"/endpoints/{sent['name']}")
        async with sealed.store.read() as session:
            row = await session.get(ShopEndpoint, sent["name"])
    assert created.status_code == 201, created.text
    assert one.json()["secret_fingerprint"] == fingerprint(SECRET)
    assert row is not None and row.secret_key_id is not None and SECRET not in row.secret
