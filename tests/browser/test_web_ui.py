"""The Temporal Web UI, driven by Debian's Chromium: an operator filters the workflow list by
the orders' search attributes, finds a completed order and reads its summary; and sends a
signal with the form's input left empty, which the order journals as rejected.

Playwright's API drives the system's `/usr/bin/chromium` (`make test` installs it with apt
when it can); nothing here downloads a browser. Screenshots land in `tests/browser/artifacts/`;
`OMS_UPDATE_DOCS_SCREENSHOT=1` also copies the order's page to `docs/web-ui.png`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers.orders import (
    events,
    intervene,
    order_body,
    place,
    shipments_booked,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "web-ui.png"
UI_WAIT_S = 20  # visibility is eventually consistent: how long the list may lag


@contextlib.asynccontextmanager
async def browser_page(pw_api, failure_shot: str) -> AsyncIterator[Any]:  # noqa: ANN001
    """A page of Debian's Chromium; a screenshot of it in ARTIFACTS if the test fails."""
    ARTIFACTS.mkdir(exist_ok=True)
    async with pw_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = await browser.new_page(viewport={"width": 1600, "height": 900})
        try:
            yield page
        except Exception:
            await page.screenshot(path=ARTIFACTS / failure_shot)
            raise
        finally:
            await browser.close()


async def wait_for_event(http, order_id: str, kind: str) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + UI_WAIT_S
    while time.monotonic() < deadline:
        found = [e for e in await events(http, order_id) if e["type"] == kind]
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {kind} in the journal of {order_id}")


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install chromium; `make test` tries it)",
    ),
]


async def test_operator_finds_a_completed_order_in_the_web_ui(
    stack: Stack, temporal_ui_url: str
) -> None:
    pw_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    expect = pw_api.expect
    customer = f"cus_ui_{uuid.uuid4().hex[:10]}"  # unique, so the filter finds this order only
    async with stack.http() as http:
        order_id = (await place(http, order_body(customer=customer)))["order_id"]
        await wait_for_status(http, order_id, "COMPLETED", timeout=30)
    workflow_id = f"order-{order_id}"
    description = await stack.client.get_workflow_handle(workflow_id).describe()
    summary = await description.static_summary()
    assert summary is not None
    assert re.fullmatch(rf"{order_id} · standard v\d+ · 1 line · \$\d+\.\d\d", summary), summary

    query = f'OrderStatus="COMPLETED" AND CustomerId="{customer}"'
    list_url = f"{temporal_ui_url}/namespaces/default/workflows?query={quote(query)}"

    async with browser_page(pw_api, "web-ui-failure.png") as page:
        # The list is a single-page app over an eventually consistent index: reload it
        # until the filtered list shows the order.
        link = page.get_by_role("link", name=workflow_id, exact=True)
        deadline = time.monotonic() + UI_WAIT_S
        while True:
            await page.goto(list_url)
            try:
                await link.wait_for(state="visible", timeout=3000)
                break
            except pw_api.TimeoutError:
                if time.monotonic() > deadline:
                    raise
        # The filter leaves this order alone, shown as completed (upper case by CSS).
        rows = page.get_by_test_id("workflows-summary-configurable-table-row")
        await expect(rows).to_have_count(1)
        await expect(rows.filter(has=link)).to_contain_text(re.compile("completed", re.I))
        await page.screenshot(path=ARTIFACTS / "web-ui-list.png")

        # The order's page: the workflow's static summary under User Metadata, rendered
        # as markdown in a frame of its own.
        await link.click()
        await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()
        await page.get_by_test_id("user-metadata-tab").click()
        rendered = page.frame_locator("#user-metadata-summary")
        await expect(rendered.get_by_text(summary, exact=True)).to_be_visible()
        # Current details come from the worker (a metadata query): the order's status.
        current = page.frame_locator("#user-metadata-current-details")
        await expect(current.get_by_text("COMPLETED", exact=True)).to_be_visible(timeout=10_000)
        await page.screenshot(path=ARTIFACTS / "web-ui-order.png")

    if os.environ.get("OMS_UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(ARTIFACTS / "web-ui-order.png", DOCS_SCREENSHOT)


async def send_signal_in_the_web_ui(page, name: str, data: str | None) -> None:  # noqa: ANN001
    """More Actions → Send a Signal, a custom name, the data left empty unless given."""
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_role("menuitem", name="Send a Signal").click()
    await page.get_by_test_id("signal-select-button").locator("visible=true").click()
    await page.get_by_role("option").filter(has_text="Custom").click()
    await page.get_by_test_id("signal-name").locator("visible=true").fill(name)
    if data is not None:
        editor = page.get_by_role("textbox", name="Data").locator("visible=true")
        await editor.click()
        await page.keyboard.type(data)
    await page.get_by_role("button", name="Submit").locator("visible=true").click()


async def test_a_signal_sent_empty_from_the_web_ui_is_journaled_and_the_order_goes_on(
    slow_stack: Stack, temporal_ui_url: str
) -> None:
    pw_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    async with slow_stack.http() as http:
        order_id = (await place(http, order_body()))["order_id"]
        await wait_until(http, order_id, shipments_booked)
        await intervene(http, order_id, "hold", {"reason": "OTHER", "note": "call the customer"})
    url = f"{temporal_ui_url}/namespaces/default/workflows/order-{order_id}"
    async with browser_page(pw_api, "web-ui-signal-failure.png") as page:
        await page.goto(url)
        # The operator picks `release` and leaves the input empty: no payload at all.
        await send_signal_in_the_web_ui(page, "release", None)
        async with slow_stack.http() as http:
            rejected = await wait_for_event(http, order_id, "InterventionRejected")
            assert rejected["data"]["intervention"] == "release"
            assert "no input" in rejected["reason"]
            assert (await wait_until(http, order_id, lambda v: True))["status"] == "ON_HOLD"
        # Then sends it again with `{}`: released, and the order runs to its end.
        await page.reload()
        await send_signal_in_the_web_ui(page, "release", "{}")
        async with slow_stack.http() as http:
            done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", timeout=60)
        await page.screenshot(path=ARTIFACTS / "web-ui-signal.png")
    assert done["status"] == "COMPLETED"
    assert done["totals"]["captured_minor"] == done["totals"]["total_minor"]
