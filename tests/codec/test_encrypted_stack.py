"""An OMS with `OMS_PAYLOAD_KEY` on a real dev server: Temporal stores only ciphertext, the
API and the order behave as before, the codec endpoint shows the payloads to an operator,
and the history replays with the codec converter (and exports readable without the key)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from oms.config.codec import ENCODING, KEY_ID_METADATA, data_converter
from oms.history import (
    child_workflow_ids,
    export_command,
    load_history,
    order_workflow_id,
)
from tests.helpers.keys import CUSTOMER_KEY, OPERATOR_KEY
from tests.helpers.orders import order_body, place, wait_for_status
from tests.helpers.stack import TEMPORAL, running_stack
from workflows.legacy.rewards import RewardsWorkflow
from workflows.legacy.shipment import ShipmentWorkflow
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow

WORKFLOWS = [OrderWorkflow, ShipmentWorkflow, ReturnWorkflow, RewardsWorkflow]


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every payload inside a history event but its search attributes, which the server
    indexes and no codec may touch."""
    for field, value in message.ListFields():
        if field.message_type is None or field.name == "search_attributes":
            continue
        where = f"{path}.{field.name}"
        if field.message_type.GetOptions().map_entry:
            items = [(f"{where}[{k}]", value[k]) for k in value]
            if field.message_type.fields_by_name["value"].message_type is None:
                items = []
        elif field.is_repeated:
            items = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
        else:
            items = [(where, value)]
        for item_path, item in items:
            if isinstance(item, Payload):
                yield item_path, item
            else:
                yield from payloads_in(item, item_path)


async def temporal_show(address: str, workflow_id: str, *extra: str) -> str:
    process = await asyncio.create_subprocess_exec(
        TEMPORAL,
        "workflow",
        "show",
        "--address",
        address,
        "-w",
        workflow_id,
        "--output",
        "json",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def started_input(history_json: str) -> dict:
    """The order input of `temporal workflow show --output json`, decoded (payloads there are
    protobuf JSON: base64 metadata and data)."""
    first = json.loads(history_json)["events"][0]
    [payload] = first["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    return json.loads(base64.b64decode(payload["data"]))


def event_kind(path: str) -> str:
    """`workflow_execution_started_event_attributes` of `event 1.workflow_..._attributes.input`"""
    return path.split(".")[1]


def sdk_bookkeeping(path: str) -> bool:
    """A marker's details the SDK writes itself (a local activity's `data`: its type, seq
    and timing; a patch marker's `patch_data`), as opposed to a local activity's `result`."""
    return ".marker_recorded_event_attributes.details[" in path and "details[result]" not in path


def history_payloads(history: WorkflowHistory) -> list[tuple[str, Payload]]:
    found = []
    for event in history.events:
        found += payloads_in(event, f"event {event.event_id}")
    return found


async def test_an_encrypted_order_runs_and_temporal_sees_only_ciphertext(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    customer = f"cus_secret_{uuid.uuid4().hex[:10]}"
    street = f"{uuid.uuid4().hex[:8]} Cipher Lane"
    body = order_body(customer=customer)
    body["shipping_address"]["line1"] = street
    url = f"sqlite:///{tmp_path / 'oms.db'}"

    async with running_stack(temporal_env, url, payload_key=f"test:{key}") as stack:
        async with stack.http(OPERATOR_KEY) as operator:
            placed = await place(operator, body)
            order_id = placed["order_id"]
            view = await wait_for_status(operator, order_id, "COMPLETED")
            assert view["customer_id"] == customer
            live = await operator.get(f"/orders/{order_id}", params={"consistent": "true"})
            assert live.status_code == 200, live.text
            assert live.headers["X-Read-Model"] == "live"
            assert live.json()["shipping_address"]["line1"] == street

            # The history as the server keeps it, read by a client without the codec.
            raw = temporal_env.client
            assert raw.data_converter.payload_codec is None
            workflow_id = order_workflow_id(order_id)
            history = await raw.get_workflow_handle(workflow_id).fetch_history()
            children = [
                await raw.get_workflow_handle(child).fetch_history()
                for child in child_workflow_ids(history)
            ]
            # Shipments and points run inside the order: its history holds every payload.
            for each in [history, *children]:
                payloads = history_payloads(each)
                kinds = {event_kind(path) for path, _ in payloads}
                assert {"workflow_execution_started_event_attributes"} <= kinds
                for path, payload in payloads:
                    assert customer.encode() not in payload.data, path
                    assert street.encode() not in payload.data, path
                    if sdk_bookkeeping(path):
                        continue
                    assert payload.metadata["encoding"] == ENCODING, path
                    assert payload.metadata[KEY_ID_METADATA] == b"test", path
                # The address is nowhere in the stored history; the customer id only in the
                # CustomerId search attribute, which Temporal must be able to read.
                stored = b"".join(event.SerializeToString() for event in each.events)
                assert street.encode() not in stored
            kinds = {event_kind(path) for path, _ in history_payloads(history)}
            assert {
                "marker_recorded_event_attributes",  # local activities' results
                "workflow_execution_completed_event_attributes",
            } <= kinds

            # The codec endpoint shows an operator the order's input as JSON.
            started = history.events[0].workflow_execution_started_event_attributes
            request = json_format.MessageToDict(Payloads(payloads=list(started.input.payloads)))
            headers = {"X-Namespace": stack.settings.temporal_namespace}
            decoded = await operator.post("/codec/decode", json=request, headers=headers)
            assert decoded.status_code == 200, decoded.text
            [plain] = json_format.ParseDict(decoded.json(), Payloads()).payloads
            assert plain.metadata["encoding"] == b"json/plain"
            order_input = json.loads(plain.data)
            assert order_input["customer_id"] == customer
            assert order_input["shipping_address"]["line1"] == street
            # A declined card: the activity's failure travels encrypted and still cancels.
            declined = await place(operator, order_body("tok_declined", customer=customer))
            cancelled = await wait_for_status(operator, declined["order_id"], "CANCELLED")
            assert cancelled["cancel_reason"] == "PAYMENT_DECLINED"
            failed_history = await raw.get_workflow_handle(
                order_workflow_id(declined["order_id"])
            ).fetch_history()
            failures = [
                event.marker_recorded_event_attributes.failure
                for event in failed_history.events
                if event.HasField("marker_recorded_event_attributes")
                and event.marker_recorded_event_attributes.HasField("failure")
            ]
            assert failures
            for failure in failures:
                assert failure.message == "Encoded failure"
                assert failure.encoded_attributes.metadata["encoding"] == ENCODING

        # The `temporal` CLI speaks the same protocol and can send the operator key.
        shown = await temporal_show(
            stack.settings.resolved_temporal_address,
            workflow_id,
            "--codec-endpoint",
            f"{stack.base_url}/codec",
            "--codec-auth",
            f"Bearer {OPERATOR_KEY}",
        )
        assert street in started_input(shown)["shipping_address"]["line1"]
        without_codec = await temporal_show(stack.settings.resolved_temporal_address, workflow_id)
        assert street not in without_codec
        assert base64.b64encode(ENCODING).decode() in without_codec
        async with stack.http(CUSTOMER_KEY) as customer_http:
            refused = await customer_http.post("/codec/decode", json=request, headers=headers)
            assert refused.status_code == 403

        # Replay: the recorded history with the codec converter; without it, it cannot.
        converter = data_converter(stack.settings)
        replayed = await Replayer(workflows=WORKFLOWS, data_converter=converter).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert replayed.replay_failure is None, repr(replayed.replay_failure)
        blind = await Replayer(
            workflows=WORKFLOWS, data_converter=pydantic_data_converter
        ).replay_workflow(history, raise_on_replay_failure=False)
        assert blind.replay_failure is not None

        # `oms history export` writes decoded files that replay without the key.
        paths = await export_command(
            stack.settings, order_id, directory=tmp_path / "histories", name="encrypted"
        )
        assert len(paths) == 1 + len(children)
        exported = load_history(paths[0])
        assert all(p.metadata["encoding"] != ENCODING for _, p in history_payloads(exported))
        exported_input = exported.events[0].workflow_execution_started_event_attributes.input
        assert json.loads(exported_input.payloads[0].data)["shipping_address"]["line1"] == street
        plain_replay = await Replayer(
            workflows=WORKFLOWS, data_converter=pydantic_data_converter
        ).replay_workflow(exported, raise_on_replay_failure=False)
        assert plain_replay.replay_failure is None, repr(plain_replay.replay_failure)
