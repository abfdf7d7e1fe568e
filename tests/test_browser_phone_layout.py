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


TREND_HEADERS = ["Code", "Name", "Gained", "Users", "Score", "Score change"]


@pytest.fixture
def trends(transactional_db: None) -> None:
    """Two scrapes a week apart: a long-named problem that gained 100,000 users."""
    from datetime import timedelta

    from django.utils import timezone

    from core.models import ProblemHistory, score_for
    from tests.web_data import record_scrape

    now = timezone.now()
    record_scrape(now - timedelta(days=8), 1)
    record_scrape(now, 1)
    kite = make_problem("ILD18MSM", "Bob and his new kite factory in the mountains", 182_235)
    kite.first_seen = now - timedelta(days=8)
    kite.save()
    ProblemHistory.objects.bulk_create(
        ProblemHistory(problem=kite, users=users, score=score_for(users), recorded_at=moment)
        for moment, users in ((now - timedelta(days=8), 82_235), (now, 182_235))
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_the_trends_fit_this_width_and_the_navigation_leads_there(
    trends: None, live_server: Any, browser: Any, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(f"{live_server.url}/")
    with page.expect_navigation():
        page.locator("header nav a", has_text="Trends").click()
    assert page.url == f"{live_server.url}/trends/"
    table = page.locator("#grew-7").locator("xpath=..").locator("table")
    headers = table.locator("thead th")
    assert [h.strip() for h in headers.all_inner_texts()] == TREND_HEADERS
    wrap = page.locator(".table-wrap").first.bounding_box()
    assert wrap is not None
    for i, name in enumerate(TREND_HEADERS):
        box = headers.nth(i).bounding_box()
        assert box is not None, name
        assert box["x"] >= wrap["x"], (name, box, wrap)
        assert box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 1, (name, box, wrap)
    first = table.locator("tbody tr:first-child td").all_inner_texts()
    assert first[:4] == [
        "ILD18MSM",
        "Bob and his new kite factory in the mountains",
        "+100,000",
        "182,235",
    ]
    page.close()
