"""Following an order until it is at rest: one line per change, a spinner on a terminal.

At rest is `domain.status.at_rest`: ended (COMPLETED, CANCELLED, FAILED), or waiting on the
outside world (a return window, a hold, a review, a pickup, a release date). A delivered
order keeps its return window open for weeks, so waiting for an end alone would not return.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from domain.view import OrderView, at_rest
from oms.client import OmsClient
from oms.commands import render

SPINNER = "|/-\\"
TICK_S = 0.1
TIMED_OUT = 3  # exit code: the order was not at rest when --timeout ran out


def watch(
    client: OmsClient,
    order_id: str,
    *,
    timeout: float | None = None,
    interval: float = 1.0,
    as_json: bool = False,
) -> int:
    """Poll the order's live view and print each change of status or step until the order
    is at rest (exit 0, saying why) or `timeout` seconds pass (exit 3)."""
    out = sys.stdout
    tty = out.isatty() and not as_json
    start = time.monotonic()
    last: tuple[Any, Any] | None = None
    frame = 0
    stored_said = False
    while True:
        # Live, not the read model: right after an intervention the stored view can still
        # show the state the order just left (a review, a hold) and end the wait at once.
        read = client.live_order(order_id)
        view = read.view
        if read.source == "stored" and not stored_said:
            stored_said = True
            print(f"oms: following the {render.source(read)}", file=sys.stderr)
        elapsed = time.monotonic() - start
        if (view.get("status"), view.get("current_step")) != last:
            last = (view.get("status"), view.get("current_step"))
            if tty:
                out.write("\r\x1b[K")
            render.emit(json.dumps(view) if as_json else f"{elapsed:6.1f}s  {render.summary(view)}")
        rest = at_rest(OrderView.model_validate(view), now=datetime.now(UTC))
        if rest is not None:
            if as_json:  # stdout stays one view per line
                print(f"oms: order {order_id} {rest}", file=sys.stderr)
            else:
                render.emit(f"{order_id}  {rest}")
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
