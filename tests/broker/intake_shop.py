"""What the intake's tests share: a shop (API, worker, store) beside a real NATS server,
`oms intake` running against both with Temporal behind a gate, and the user's ways to see
what happened: the dead letters `oms events dead --json` prints, the intake's metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from oms import broker
from oms.cli import main
from oms.config.settings import Settings
from oms.intake import serve
from tests.helpers.gate import Gate
from tests.helpers.stack import Stack, free_port


@dataclass
class Shop:
    stack: Stack
    nats_url: str
    js: JetStreamContext
    gate: Gate  # in front of Temporal, for the intake alone


@dataclass
class Intake:
    settings: Settings

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """`oms_intake_*_total` as the endpoint serves them, by name and labels."""
        url = f"http://127.0.0.1:{self.settings.intake_metrics_port}/metrics"
        async with httpx.AsyncClient() as http:
            text = (await http.get(url)).text
        rows = re.findall(r"^(oms_intake_\w+_total)\{(.*)\} (\S+)$", text, re.MULTILINE)
        return {
            (name, frozenset(re.findall(r'(\w+)="([^"]*)"', labels))): float(value)
            for name, labels, value in rows
        }

    async def count(self, subject: str, outcome: str | None = None) -> float:
        """`oms_intake_messages_total` for the outcome, or with no outcome
        `oms_intake_dead_letters_total`, of the subject."""
        name = "oms_intake_dead_letters_total" if outcome is None else "oms_intake_messages_total"
        labels = {("subject", subject)} | ({("outcome", outcome)} if outcome else set())
        return (await self.metrics()).get((name, frozenset(labels)), 0.0)


@contextlib.asynccontextmanager
async def running_intake(shop: Shop, **overrides: Any) -> AsyncIterator[Intake]:
    """`oms intake` in this process, as the command runs it, until the block ends."""
    settings = shop.stack.settings.model_copy(
        update={
            "nats_url": shop.nats_url,
            "temporal_address": shop.gate.address,
            "intake_metrics_port": free_port(),
        }
        | overrides
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    while True:  # ready once both consumers exist
        if task.done():
            task.result()
        try:
            for durable in broker.INTAKE_CONSUMERS.values():
                await shop.js.consumer_info(broker.INTAKE_STREAM, durable)
            break
        except NotFoundError:
            await asyncio.sleep(0.1)
    try:
        yield Intake(settings)
    finally:
        stop.set()
        await task


async def publish(
    js: JetStreamContext, subject: str, data: bytes, headers: dict[str, str] | None = None
) -> bool:
    """Publish as any service would; False when the broker dropped it as a duplicate."""
    ack = await js.publish(subject, data, headers=headers or None)
    return not ack.duplicate


async def drained(js: JetStreamContext, timeout: float = 90) -> None:
    """Until the intake's queue is empty: every message taken or dead-lettered."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await js.stream_info(broker.INTAKE_STREAM)).state.messages:
        assert asyncio.get_running_loop().time() < deadline, "the intake never emptied its queue"
        await asyncio.sleep(0.2)


async def dead_letters_shown(
    nats_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    """What `oms events dead --json` prints."""
    monkeypatch.setenv("OMS_NATS_URL", nats_url)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["events", "dead", "--json", "--limit", "1000"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)
