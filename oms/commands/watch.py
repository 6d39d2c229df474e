"""Following an order until it is at rest: one line per change, a Rich spinner on a terminal.

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

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from domain.view import OrderView, at_rest
from oms.client import OmsClient
from oms.commands.output import console, is_terminal
from oms.commands.views import source, summary_text

SPINNER = "line"  # - \ | /
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
    screen = console() if is_terminal(sys.stdout) and not as_json else None
    spinner = Spinner(SPINNER)
    start = time.monotonic()
    last: tuple[Any, Any] | None = None
    stored_said = False
    while True:
        # Live, not the read model: right after an intervention the stored view can still
        # show the state the order just left (a review, a hold) and end the wait at once.
        read = client.live_order(order_id)
        view = read.view
        if read.source == "stored" and not stored_said:
            stored_said = True
            print(f"oms: following the {source(read)}", file=sys.stderr)
        elapsed = time.monotonic() - start
        if (view.get("status"), view.get("current_step")) != last:
            last = (view.get("status"), view.get("current_step"))
            shown = Text(json.dumps(view)) if as_json else summary_text(view, f"{elapsed:6.1f}s  ")
            line(screen, shown)
        rest = at_rest(OrderView.model_validate(view), now=datetime.now(UTC))
        if rest is not None:
            if as_json:  # stdout stays one view per line
                print(f"oms: order {order_id} {rest}", file=sys.stderr)
            else:
                line(screen, Text(f"{order_id}  {rest}"))
            return 0
        if timeout is not None and elapsed >= timeout:
            print(
                f"oms: order {order_id} is still {view.get('status')} after {timeout:g}s",
                file=sys.stderr,
            )
            return TIMED_OUT
        until = time.monotonic() + interval
        if screen is None:
            time.sleep(interval)
        else:
            spin(screen, spinner, f"{view.get('status')}", start, until)


def line(screen: Console | None, text: Text) -> None:
    """One line of the watch: plain text off a terminal, in colour on one."""
    if screen is None:
        print(text.plain, flush=True)
    else:
        screen.print(text)


def spin(screen: Console, spinner: Spinner, status: str, start: float, until: float) -> None:
    """The spinner, the status and the time so far until `until`, then cleared."""

    def say(now: float) -> Text:
        return Text(f"{status}  {now - start:.0f}s")

    spinner.update(text=say(time.monotonic()))
    with Live(
        spinner,
        console=screen,
        auto_refresh=False,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as live:
        while (now := time.monotonic()) < until:
            spinner.update(text=say(now))
            live.refresh()
            time.sleep(min(TICK_S, max(0.0, until - now)))
