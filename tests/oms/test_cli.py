"""The operator commands (`oms orders show`, `oms hold`, `oms flows list`, ...) against a
running API. `main` runs in a thread: it blocks on HTTP while the API serves on this loop."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest
import typer

from oms.client import OrderRead
from oms.commands.interventions import line_quantity
from oms.commands.watch import watch
from tests.helpers.keys import CUSTOMER_KEY
from tests.helpers.order_input import placed
from tests.helpers.orders import order_body, place, shipments_booked, wait_for_status, wait_until
from tests.helpers.stack import Stack, free_port
from tests.oms.conftest import Oms


async def test_show_prints_a_table_and_json_the_raw_view(stack: Stack, oms: Oms) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")

    table = await oms(stack.base_url, "orders", "show", order_id)
    assert table.code == 0, table.err
    assert f"order        {order_id}" in table.out
    assert "view         live (the order's workflow)" in table.out
    assert "status       COMPLETED" in table.out
    assert "type         standard v2" in table.out
    assert "LINE  SKU" in table.out and "TSHIRT-BLK-M" in table.out and "2 delivered" in table.out
    assert "SHIPMENT" in table.out and "DELIVERED" in table.out
    assert "\x1b" not in table.out  # captured, not a terminal: no colour

    raw = await oms(stack.base_url, "orders", "show", order_id, "--json")
    assert raw.code == 0
    assert raw.json()["order_id"] == order_id and raw.json()["status"] == "COMPLETED"


async def test_show_json_is_the_apis_answer(stack: Stack, oms: Oms) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")
        api = (await http.get(f"/orders/{order_id}", params={"consistent": "true"})).json()

    raw = await oms(stack.base_url, "orders", "show", order_id, "--json")
    assert raw.code == 0, raw.err
    assert raw.json() == api
    assert raw.out == json.dumps(api, indent=2) + "\n"  # no markup, no colour
    assert raw.err == ""


async def test_events_and_returns(stack: Stack, oms: Oms) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")

    journal = await oms(stack.base_url, "orders", "events", order_id)
    assert journal.code == 0, journal.err
    lines = journal.out.splitlines()
    assert lines[0].split() == ["SEQ", "AT", "TYPE", "ACTOR", "REASON"]
    assert lines[1].split()[0] == "1" and "OrderPlaced" in lines[1]
    raw = await oms(stack.base_url, "orders", "events", order_id, "--json")
    assert raw.json()["count"] == len(lines) - 1

    returns = await oms(stack.base_url, "returns", order_id)
    assert returns.code == 0 and returns.out.split() == [
        "RETURN",
        "STATUS",
        "LINES",
        "REFUNDED",
        "TRACKING",
        "REQUESTED",
    ]


async def test_hold_then_release_a_booked_order(slow_stack: Stack, oms: Oms) -> None:
    url = slow_stack.base_url
    async with slow_stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_until(http, order_id, shipments_booked)

        plan = await oms(
            url, "backtrack", order_id, "--to", "authorize_payment", "--reason", "x", "--dry-run"
        )
        assert plan.code == 0, plan.err
        assert "backtrack to  authorize_payment" in plan.out
        assert "cancel_shipment" in plan.out and "void_authorization" in plan.out

        held = await oms(url, "hold", order_id, "--reason", "OTHER", "--note", "call her")
        assert held.code == 0, held.err
        assert held.out.strip() == f"hold: {order_id}  ON_HOLD · fulfill_shipments · held: OTHER"
        shown = await oms(url, "orders", "show", order_id)
        assert "holds        OTHER by operator (call her)" in shown.out

        released = await oms(url, "release", order_id, "--json")
        assert released.code == 0, released.err
        assert released.json()["holds"] == []

        # A refused intervention: the API's reason on stderr, exit 1.
        refused = await oms(url, "release", order_id, "--reason", "OTHER")
        assert refused.code == 1 and refused.out == ""
        assert refused.err == "oms: 409 the order is not on hold\n"
        await wait_for_status(http, order_id, "COMPLETED")


async def test_invalid_input_and_ended_orders_are_refused_with_the_apis_detail(
    stack: Stack, oms: Oms
) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")

    ended = await oms(stack.base_url, "cancel", order_id, "--reason", "CUSTOMER")
    assert ended.code == 1
    assert f"order {order_id} has ended COMPLETED; it can no longer change" in ended.err

    invalid = await oms(stack.base_url, "hold", order_id, "--reason", "BORED")
    assert invalid.code == 1 and "oms: 422 body.reason: Input should be" in invalid.err

    missing = await oms(stack.base_url, "orders", "show", "ord_0000000000000000")
    assert missing.code == 1 and missing.err.startswith("oms: 404 ")


async def test_review_with_wait_follows_the_order_to_its_end(stack: Stack, oms: Oms) -> None:
    async with stack.http() as http:
        order_id = (await place(http, order_body("tok_risk_elevated")))["order_id"]
        await wait_for_status(http, order_id, "NEEDS_REVIEW")

    ran = await oms(
        stack.base_url,
        *("review", order_id, "--decision", "approve", "--note", "known customer"),
        *("--wait", "--interval", "0.1", "--timeout", "60"),
    )
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].startswith(f"review: {order_id}  ")
    assert rested(order_id, lines)


def rested(order_id: str, lines: list[str]) -> bool:
    """The watch ended at rest: delivered in its return window (a second long here), or
    completed when a poll missed that second."""
    return (
        lines[-2].endswith(f"{order_id}  DELIVERED")
        and lines[-1].startswith(
            f"{order_id}  at rest: DELIVERED, waiting for the return window to close on "
        )
    ) or (
        lines[-2].endswith(f"{order_id}  COMPLETED")
        and lines[-1] == f"{order_id}  ended: COMPLETED"
    )


async def test_watch_prints_each_change_until_at_rest(stack: Stack, oms: Oms) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]

    ran = await oms(
        stack.base_url, "orders", "watch", order_id, "--interval", "0.05", "--timeout", "60"
    )
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert len(lines) >= 2  # not a TTY: one line per change, no spinner
    assert "\r" not in ran.out
    assert all(order_id in line for line in lines)
    assert rested(order_id, lines)
    assert len(set(lines)) == len(lines)

    async with stack.http() as http:
        await wait_for_status(http, order_id, "COMPLETED")
    again = await oms(stack.base_url, "orders", "watch", order_id, "--json")
    assert again.code == 0 and json.loads(again.out)["status"] == "COMPLETED"
    assert again.err == f"oms: order {order_id} ended: COMPLETED\n"


async def test_watch_gives_up_at_its_timeout(slow_stack: Stack, oms: Oms) -> None:
    async with slow_stack.http() as http:
        order_id = (await place(http))["order_id"]
        ran = await oms(
            slow_stack.base_url,
            "orders",
            "watch",
            order_id,
            "--interval",
            "0.1",
            "--timeout",
            "0.3",
        )
        assert ran.code == 3
        assert f"oms: order {order_id} is still " in ran.err and "after 0.3s" in ran.err
        await wait_for_status(http, order_id, "COMPLETED")


async def test_flows_list_and_show(stack: Stack, oms: Oms) -> None:
    listed = await oms(stack.base_url, "flows", "list")
    assert listed.code == 0, listed.err
    rows = {line.split()[0]: line.split() for line in listed.out.splitlines()[1:]}
    assert listed.out.splitlines()[0].split()[:4] == ["TYPE", "VERSION", "STEPS", "RETIRED"]
    assert {"standard", "prepaid", "digital"} <= rows.keys()
    assert rows["standard"][1] == "2"

    versions = await oms(stack.base_url, "flows", "show", "standard", "--json")
    assert [f["version"] for f in versions.json()["data"]][:2] == [1, 2]

    one = await oms(stack.base_url, "flows", "show", "standard", "1")
    assert one.code == 0
    assert one.out.startswith("standard v1")
    steps = [line.split()[2] for line in one.out.splitlines()[3:]]
    assert steps == [
        "validate_order",
        "check_fraud",
        "reserve_inventory",
        "authorize_payment",
        "fulfill_shipments",
    ]

    unknown = await oms(stack.base_url, "flows", "show", "teleport")
    assert unknown.code == 1 and "no order type teleport" in unknown.err


async def test_order_list_filters_and_pages(stack: Stack, oms: Oms) -> None:
    async with stack.http() as http:
        first = (await place(http))["order_id"]
        second = (await place(http))["order_id"]
        for order_id in (first, second):
            await wait_for_status(http, order_id, "COMPLETED")
    ran = await oms(stack.base_url, "orders", "list", "--status", "COMPLETED", "--limit", "1")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].split() == ["ORDER", "STATUS", "TYPE", "CUSTOMER", "TOTAL", "PLACED"]
    assert lines[1].split()[:3] == [second, "COMPLETED", "standard"]
    cursor = lines[-1].removeprefix("more: --cursor ")
    following = await oms(stack.base_url, "orders", "list", "--limit", "1", "--cursor", cursor)
    assert following.out.splitlines()[1].split()[0] != second

    raw = await oms(stack.base_url, "orders", "list", "--no-needs-review", "--limit", "3", "--json")
    page = json.loads(raw.out)
    assert page["count"] == 3 and not any(row["needs_review"] for row in page["data"])

    refused = await oms(stack.base_url, "orders", "list", "--status", "SOON")
    assert refused.code == 1 and "status" in refused.err


async def test_a_bad_key_exits_1_with_the_401_message(stack: Stack, oms: Oms) -> None:
    for key in ("not-a-real-key", None):
        ran = await oms(stack.base_url, "flows", "list", key=key)
        assert ran.code == 1
        assert "oms: 401 a valid API key is required" in ran.err
    customer = await oms(stack.base_url, "hold", "ord_x", "--reason", "OTHER", key=CUSTOMER_KEY)
    assert customer.code == 1 and "oms: 403 " in customer.err


async def test_an_unreachable_api_exits_2_naming_the_url(oms: Oms) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ran = await oms(url, "orders", "show", "ord_x")
    assert ran.code == 2
    assert f"cannot reach the API at {url}/orders/ord_x" in ran.err


def test_cancel_lines_parse_as_line_and_quantity() -> None:
    assert line_quantity("ln_1=2") == {"line_id": "ln_1", "quantity": 2}
    for bad in ("ln_1", "ln_1=0", "=2", "ln_1=two"):
        with pytest.raises(typer.BadParameter):
            line_quantity(bad)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Views:
    """A stand-in client whose order goes through `statuses`, one per poll."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)

    def live_order(self, order_id: str) -> OrderRead:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        view = placed().view().model_dump(mode="json")
        return OrderRead(view | {"order_id": order_id, "status": status}, "live")


CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER_LINE = re.compile(r"[-\\|/] [A-Z_]+  \d+s")


def test_watch_on_a_terminal_spins_between_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    views = Views("FULFILLING", "FULFILLING", "FULFILLING", "SHIPPED", "COMPLETED")
    assert watch(views, "ord_1", interval=0.05) == 0  # type: ignore[arg-type]
    text = screen.getvalue()
    # The spinner hides the cursor while it spins and shows it again once cleared.
    assert text.count("\x1b[?25l") == text.count("\x1b[?25h") >= 2
    assert "\x1b[32mCOMPLETED\x1b[0m" in text  # the status in colour
    shown = [line.rsplit("\r", 1)[-1] for line in CONTROL.sub("", text).split("\n") if line]
    spun = [line for line in shown if SPINNER_LINE.fullmatch(line)]
    assert any(line.split()[1] == "FULFILLING" for line in spun)  # the spinner line
    printed = [line for line in shown if line not in spun]
    assert [line.split()[-1] for line in printed[:-1]] == ["FULFILLING", "SHIPPED", "COMPLETED"]
    assert printed[-1] == "ord_1  ended: COMPLETED"


def test_no_color_keeps_a_terminal_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    assert watch(Views("COMPLETED"), "ord_1") == 0  # type: ignore[arg-type]
    assert screen.getvalue() == "   0.0s  ord_1  COMPLETED\nord_1  ended: COMPLETED\n"
