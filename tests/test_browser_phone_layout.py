"""The score table on a phone (360 px wide, headless Chromium): every column can be seen and sorted.

Skipped, saying why, without Chromium or Playwright (``tests/test_e2e_browser.py`` has the
full journey through gunicorn).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.models import Problem
from tests.support import unavailable
from tests.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, missing_browser
from tests.web_data import make_problem

pytestmark = pytest.mark.slow

HEADERS = ["Rank", "Code", "Name", "Users", "Score", "Acceptance"]


@pytest.fixture
def browser() -> Any:
    missing = missing_browser()
    if missing:
        unavailable(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def problems(transactional_db: None) -> None:
    """Long values in every column: an 8-letter code, a long name, 6-digit users.

    Written before the browser starts: Playwright's sync API runs an event loop,
    inside which Django refuses database calls."""
    Problem.objects.bulk_create(
        [
            make_problem("ILD18MSM", "Bob and his new kite factory in the mountains", 2),
            make_problem("PRIME1", "Prime Generator", 182_235, acceptance=16.24),
        ]
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_every_column_is_visible_and_sortable_at_this_width(
    problems: None, live_server: Any, browser: Any, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(f"{live_server.url}/")
    headers = page.locator("table.scores thead th")
    assert [
        h.strip().rstrip("▲▼").replace("\xad", "") for h in headers.all_inner_texts()
    ] == HEADERS
    wrap = page.locator(".table-wrap").bounding_box()
    assert wrap is not None
    for i, name in enumerate(HEADERS):
        box = headers.nth(i).bounding_box()
        assert box is not None, name
        assert box["width"] > 0, name
        # Inside the table's box without scrolling sideways: on screen, not hidden.
        assert box["x"] >= wrap["x"], (name, box, wrap)
        assert box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 1, (name, box, wrap)
    cells = page.locator("table.scores tbody tr:first-child td")
    assert [cells.nth(i).is_visible() for i in range(cells.count())] == [True] * len(HEADERS)
    # Sorting by users works by tapping its header.
    with page.expect_navigation():
        headers.nth(HEADERS.index("Users")).locator("a").click()
    assert page.url.endswith("?sort=-users")
    first = page.locator("table.scores tbody tr:first-child td").all_inner_texts()
    assert first[1] == "PRIME1"
    assert first[3] == "182,235"
    page.close()
