"""A real browser on the competitive programmers' pages, served by gunicorn, at 1280 and 390 px.

The data is the offline demo's: the list, the demo users (the saved real page
of ``kosaksi`` and generated users) and the demo's tags, scraped from the local
fake SPOJ by the real commands. The browser opens a user's page, filters its
unsolved problems by a tag, follows the comparison and opens ``/trends/``, at a
desktop and a phone width; a page that answers non-200, logs a console error or
is wider than the screen fails the test. Screenshots go to
``artifacts/browser-<db>/users-*.png``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial

import pytest

from tests.heroku_e2e import ROOT, manage, production_env, read_procfile, run_checked, start_web
from tests.spoj_server import demo_tags
from tests.support import is_postgres
from tests.test_e2e_browser import CHROMIUM_ARGS, chromium, navigate, on_console, on_response

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["chromium"]  # the fixture, imported for this module's tests

WIDTHS = (1280, 390)


def demo(flag: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.spoj_server", flag],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_browser_visits_a_user_a_comparison_and_trends_at_two_widths(
    chromium, tmp_path, e2e_processes, e2e_database, spoj_base_url
):
    from playwright.sync_api import sync_playwright

    env = production_env(
        DJANGO_SETTINGS_MODULE="tests.e2e_settings",
        DATABASE_URL=e2e_database,
        SPOJ_BASE_URL=spoj_base_url,
        E2E_STATIC_ROOT=str(tmp_path / "static"),
    )
    run_checked(manage("collectstatic", "--no-input"), env)
    run_checked(read_procfile()["release"], env)
    run_checked(manage("runtasks", "scrape_spoj", "--force"), env)
    handles = demo("--print-demo-handles")
    assert handles[0] == "kosaksi"
    run_checked(manage("scrape_spoj_users", *handles, "--delay", "0"), env)
    run_checked(manage("scrape_spoj_tags", *demo("--print-demo-codes"), "--delay", "0"), env)
    _, url = start_web(e2e_processes, env)
    other = handles[1]
    by_tag: dict[str, set[str]] = {}
    for code, slugs in demo_tags().items():
        for name in slugs:
            by_tag.setdefault(name, set()).add(code)
    slug = max(sorted(by_tag), key=lambda name: len(by_tag[name]))
    tagged = by_tag[slug]

    shots = (
        ROOT / "artifacts" / f"browser-{'postgresql' if is_postgres(e2e_database) else 'sqlite'}"
    )
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_default_timeout(15_000)
                page.on("console", lambda message: on_console(message, problems))
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                page.on("response", lambda response: on_response(response, problems))

                # 1. /users/ lists the known users; open kosaksi's page from it.
                response = page.goto(f"{url}/users/")
                assert response is not None
                assert response.status == 200
                navigate(page, page.locator("a[href='/users/kosaksi/']").first.click)
                assert page.url.endswith("/users/kosaksi/")
                points = float(page.locator("#points").inner_text().replace(",", ""))
                data = json.loads(page.request.get(f"{url}/users/kosaksi.json").text())
                assert points == pytest.approx(data["points"], abs=0.0005)
                assert points > 0
                solved = {entry["code"] for entry in data["solved"]}
                assert page.locator("#solved-count").inner_text() == "70"
                assert page.locator("table.scores tbody tr").count() == 100
                assert fits(page), f"/users/kosaksi/ is wider than {width} px"
                page.screenshot(path=shots / f"users-01-kosaksi-{width}.png", full_page=True)

                # 2. Its unsolved problems with the demo's commonest tag: exactly the
                # tagged problems kosaksi has not solved, best first.
                navigate(page, partial(page.goto, f"{url}/users/kosaksi/?tag={slug}"))
                shown = [
                    text.strip()
                    for text in page.locator("table.scores tbody td.code").all_inner_texts()
                ]
                assert shown
                assert set(shown) <= tagged - solved
                assert "tagged" in page.locator("p.showing").inner_text()
                assert fits(page)
                page.screenshot(path=shots / f"users-02-kosaksi-tag-{width}.png", full_page=True)

                # 3. The comparison with another demo user.
                navigate(page, partial(page.goto, f"{url}/compare/kosaksi/{other}/"))
                for section in ("both", "only-a", "only-b"):
                    assert page.locator(f"section#{section} h2").count() == 1
                assert fits(page), f"/compare/ is wider than {width} px"
                page.screenshot(path=shots / f"users-03-compare-{width}.png", full_page=True)

                # 4. /trends/ from the navigation.
                navigate(page, page.locator("header nav a", has_text="Trends").click)
                assert page.url.endswith("/trends/")
                assert fits(page), f"/trends/ is wider than {width} px"
                page.screenshot(path=shots / f"users-04-trends-{width}.png", full_page=True)
                page.close()
        finally:
            browser.close()

    assert not problems, "\n".join(problems)
