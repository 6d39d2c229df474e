"""The Temporal Web UI, driven by Debian's Chromium: an operator filters the workflow list by
the orders' search attributes, finds a completed order and reads its summary.

Playwright's API drives the system's `/usr/bin/chromium` (`make test` installs it with apt
when it can); nothing here downloads a browser. Screenshots land in `tests/browser/artifacts/`;
`OMS_UPDATE_DOCS_SCREENSHOT=1` also copies the order's page to `docs/web-ui.png`."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import Stack
from tests.orders import order_body, place, wait_for_status

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "web-ui.png"
UI_WAIT_S = 20  # visibility is eventually consistent: how long the list may lag

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
    ARTIFACTS.mkdir(exist_ok=True)

    async with pw_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = await browser.new_page(viewport={"width": 1600, "height": 900})
        try:
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
        except Exception:
            await page.screenshot(path=ARTIFACTS / "web-ui-failure.png")
            raise
        finally:
            await browser.close()

    if os.environ.get("OMS_UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(ARTIFACTS / "web-ui-order.png", DOCS_SCREENSHOT)
