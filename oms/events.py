"""`oms events dead`: the messages `oms intake` could never take, with their reasons, read
from the `OMS_DEAD` stream (`OMS_NATS_URL`). Exit codes: 0 read, 2 the broker did not answer."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import nats
from nats.errors import Error as BrokerError

from oms import broker
from oms.commands.output import emit, emit_json, table
from oms.config.settings import Settings

CONNECT_TIMEOUT_S = 3.0


async def read_dead_letters(settings: Settings, limit: int) -> list[broker.DeadLetter]:
    assert settings.nats_url is not None

    async def quiet(_: Exception) -> None:  # the one failure that counts is raised below
        return None

    connection = await asyncio.wait_for(
        nats.connect(
            settings.nats_url,
            name="oms-events-dead",
            allow_reconnect=False,
            max_reconnect_attempts=1,  # two tries, half a second apart
            reconnect_time_wait=0.5,
            connect_timeout=CONNECT_TIMEOUT_S,
            error_cb=quiet,
            **settings.nats_options,
        ),
        CONNECT_TIMEOUT_S * 2,
    )
    try:
        return await broker.dead_letters(connection.jetstream(), limit)
    finally:
        await connection.close()


def as_json(letter: broker.DeadLetter) -> dict[str, Any]:
    return {
        "seq": letter.seq,
        "time": letter.time.isoformat() if letter.time else None,
        "subject": letter.subject,
        "reason": letter.reason,
        "headers": letter.headers,
        "body": letter.data.decode("utf-8", "replace"),
    }


def show_dead_letters(settings: Settings, limit: int, json_: bool) -> int:
    """Print the last `limit` dead letters, oldest first; the exit code."""
    if not settings.nats_url:
        print("oms: no broker named: set OMS_NATS_URL", file=sys.stderr)
        return 2
    try:
        letters = asyncio.run(read_dead_letters(settings, limit))
    except (OSError, TimeoutError, BrokerError) as error:
        print(f"oms: the broker at {settings.nats_url} did not answer: {error!r}", file=sys.stderr)
        return 2
    if json_:
        emit_json([as_json(letter) for letter in letters])
        return 0
    rows = [
        (
            letter.seq,
            letter.time.strftime("%Y-%m-%d %H:%M:%S") if letter.time else "",
            letter.subject,
            letter.headers.get(broker.MESSAGE_ID) or letter.headers.get(broker.SHIPMENT_ID, ""),
            letter.reason,
        )
        for letter in letters
    ]
    emit(table(["seq", "time", "subject", "message id", "reason"], rows))
    return 0
