"""Following an order until it ends: one line per change, a spinner on a terminal."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from oms.client import OmsClient
from oms.commands import render

TERMINAL = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
SPINNER = "|/-\\"
TICK_S = 0.1
TIMED_OUT = 3  # exit code: the order had not ended when --timeout ran out


def watch(
    client: OmsClient,
    order_id: str,
    *,
    timeout: float | None = None,
    interval: float = 1.0,
    as_json: bool = False,
) -> int:
    """Poll `GET /orders/{id}` and print each change of status or step until the order is
    COMPLETED, CANCELLED or FAILED (exit 0) or `timeout` seconds pass (exit 3)."""
    out = sys.stdout
    tty = out.isatty() and not as_json
    start = time.monotonic()
    last: tuple[Any, Any] | None = None
    frame = 0
    while True:
        view = client.order(order_id)
        elapsed = time.monotonic() - start
        if (view.get("status"), view.get("current_step")) != last:
            last = (view.get("status"), view.get("current_step"))
            if tty:
                out.write("\r\x1b[K")
            render.emit(json.dumps(view) if as_json else f"{elapsed:6.1f}s  {render.summary(view)}")
        if view.get("status") in TERMINAL:
            return 0
        if timeout is not None and elapsed >= timeout:
            if tty:
                out.write("\r\x1b[K")
                out.flush()
            print(
                f"oms: order {order_id} is still {view.get('status')} after {timeout:g}s",
                file=sys.stderr,
            )
            return TIMED_OUT
        next_poll = time.monotonic() + interval
        while (now := time.monotonic()) < next_poll:
            if tty:
                out.write(
                    f"\r{SPINNER[frame % len(SPINNER)]} {view.get('status')}  {now - start:.0f}s"
                )
                out.flush()
                frame += 1
            time.sleep(min(TICK_S, max(0.0, next_poll - now)))
