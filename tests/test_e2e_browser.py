"""A real browser (headless Chromium, driven by Playwright) uses the app served by gunicorn.

The database is filled by a real scrape of the local SPOJ server, recorded as a
task run. Screenshots of every step are saved under ``artifacts/browser-<db>/``.
A page that does not render (non-200, a JavaScript console error, no table)
fails the test.

Without Chromium or Playwright the test is skipped, saying which is missing;
under CI=true it fails instead (``.ci/run`` installs Debian's Chromium).
"""

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.heroku_e2e import (
    ROOT,
    manage,
    production_env,
    read_procfile,
    run_checked,
    start_web,
)
from tests.support import is_postgres, unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
# No network, no first-run or background chatter: the browser only talks to 127.0.0.1.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "e2e-admin-passphrase-1"


def column(page, index: int) -> list[str]:
    return [
        text.strip()
        for text in page.locator(f"table tbody tr td:nth-child({index + 1})").all_inner_texts()
    ]


def navigate(page, action: Callable[[], object]) -> None:
    """Do ``action`` and check that the page it leads to answered 200."""
    with page.expect_navigation() as navigation:
        action()
    response = navigation.value
    assert response is not None
    assert response.status == 200, response.url


def on_console(message, problems: list[str]) -> None:
    source = message.location.get("url", "")
    if message.type == "error":
        problems.append(f"console error: {message.text} at {source}")


def on_response(response, problems: list[str]) -> None:
    if response.status >= 400:
        problems.append(f"HTTP {response.status} for {response.url}")


def as_number(text: str) -> float:
    return float(text.replace(",", "").strip())


def missing_browser() -> str | None:
    """What of the browser stack is missing, or None."""
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium (.ci/run does)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: make install (requirements-dev.txt)"
    return None


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, checked before anything is started for the test."""
    missing = missing_browser()
    if missing:
        unavailable(missing)
    return CHROMIUM


def test_a_browser_sorts_searches_opens_a_problem_and_sees_runs_in_the_admin(
    chromium, tmp_path, e2e_processes, e2e_database, spoj_base_url
):
    from playwright.sync_api import sync_playwright

    env = production_env(
        DJANGO_SETTINGS_MODULE="tests.e2e_settings",
        DATABASE_URL=e2e_database,
        SPOJ_BASE_URL=spoj_base_url,
        E2E_STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    run_checked(manage("collectstatic", "--no-input"), env)
    run_checked(read_procfile()["release"], env)
    run_checked(manage("runtasks", "scrape_spoj", "--force"), env)
    run_checked(
        manage("createsuperuser", "--no-input", "--username", "admin", "--email", "a@b.example"),
        env,
    )
    _, url = start_web(e2e_processes, env)

    shots = (
        ROOT / "artifacts" / f"browser-{'postgresql' if is_postgres(e2e_database) else 'sqlite'}"
    )
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.on("console", lambda message: on_console(message, problems))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("response", lambda response: on_response(response, problems))

            # 1. The score table.
            response = page.goto(f"{url}/")
            assert response is not None
            assert response.status == 200
            assert page.locator("table tbody tr").count() > 0
            page.screenshot(path=shots / "01-score-table.png", full_page=False)

            # 2. Sort by the users column: click its header.
            headers = [
                text.strip().lower() for text in page.locator("table thead th").all_inner_texts()
            ]
            users = next(i for i, text in enumerate(headers) if "users" in text)
            before = column(page, users)
            navigate(
                page, lambda: page.locator("table thead th").nth(users).locator("a").first.click()
            )
            assert "sort=" in page.url
            after = column(page, users)
            assert after != before
            numbers = [as_number(text) for text in after]
            assert numbers in (sorted(numbers), sorted(numbers, reverse=True))
            page.screenshot(path=shots / "02-sorted-by-users.png")

            # 3. Search by name.
            box = page.locator("input[name=q]")
            box.fill("prime")
            navigate(page, lambda: box.press("Enter"))
            assert re.search(r"[?&]q=prime", page.url)
            rows = page.locator("table tbody tr").all_inner_texts()
            assert rows
            assert all("prime" in row.lower() for row in rows), rows
            assert any("Prime Generator" in row for row in rows)
            page.screenshot(path=shots / "03-search-prime.png")

            # 4. A problem page with its score chart.
            navigate(
                page, lambda: page.get_by_role("link", name="Prime Generator", exact=True).click()
            )
            assert page.url.endswith("/problems/PRIME1/")
            assert "Prime Generator" in page.content()
            assert page.locator("svg").count() >= 1
            page.screenshot(path=shots / "04-problem-PRIME1.png", full_page=True)

            # 5. The admin, after logging in, lists the recorded run.
            page.goto(f"{url}/admin/core/taskrun/")
            assert "/admin/login/" in page.url
            page.fill("#id_username", "admin")
            page.fill("#id_password", ADMIN_PASSWORD)
            navigate(page, lambda: page.locator("input[type=submit]").click())
            assert page.url.endswith("/admin/core/taskrun/")
            runs = page.locator("#result_list tbody tr")
            assert runs.count() >= 1
            assert "scrape_spoj" in runs.first.inner_text()
            page.screenshot(path=shots / "05-admin-task-runs.png", full_page=True)
        finally:
            browser.close()

    assert not problems, "\n".join(problems)
