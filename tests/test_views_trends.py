"""``/trends/``: users gained over 7 and 30 days (from the history) and new problems,
on generated history with every number known in advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from core.models import Problem, ProblemHistory, score_for
from core.web.trends import growers
from tests.test_escaping import ATTRIBUTE, EVIL, assert_inert
from tests.web_data import parse, queries, record_scrape, templates_rendered

FIRST = datetime(2025, 5, 1, 3, 0, tzinfo=UTC)  # the first scrape
LAST = datetime(2025, 6, 30, 3, 0, tzinfo=UTC)  # the last update
WEEK_AGO = LAST - timedelta(days=7)  # 2025-06-23 03:00
MONTH_AGO = LAST - timedelta(days=30)  # 2025-05-31 03:00


def at(month: int, day: int) -> datetime:
    return datetime(2025, month, day, 3, 0, tzinfo=UTC)


def problem(code: str, history: list[tuple[datetime, int]], *, active: bool = True) -> Problem:
    """A problem first seen at its first history row, with that history; its users
    are the last row's, as after a scrape."""
    first_seen, _ = history[0]
    users = history[-1][1]
    made = Problem.objects.create(
        code=code,
        name=f"{code.title()} problem",
        spoj_id=len(code),
        users=users,
        score=score_for(users),
        acceptance=10.0,
        first_seen=first_seen,
        last_seen=LAST if active else history[-1][0],
        active=active,
    )
    ProblemHistory.objects.bulk_create(
        ProblemHistory(problem=made, users=u, score=score_for(u), recorded_at=moment)
        for moment, u in history
    )
    return made


@pytest.fixture
def history(db: None) -> None:
    record_scrape(FIRST, 12)
    record_scrape(at(6, 20), 12)
    record_scrape(LAST, 12)
    problem("ALPHA", [(FIRST, 100), (at(6, 20), 150), (at(6, 28), 180)])  # +30 / +80
    problem("BRAVO", [(FIRST, 10), (at(6, 29), 60)])  # +50 / +50
    problem("CHARLIE", [(FIRST, 500)])  # never changed
    problem("DELTA", [(at(6, 25), 5), (at(6, 29), 9)])  # new: not listed a week ago
    problem("ECHO", [(at(5, 15), 20), (at(6, 10), 45)])  # 0 / +25; first seen 46 days ago
    problem("FOXTROT", [(FIRST, 1), (at(6, 29), 500)], active=False)  # left the list
    problem("GOLF", [(FIRST, 300), (at(6, 29), 290)])  # lost users
    # A row exactly at the window's start counts as "as of" it: +30 (ties ALPHA) / +70.
    problem("HOTEL", [(FIRST, 0), (WEEK_AGO, 40), (at(6, 29), 70)])
    problem("JULIET", [(MONTH_AGO, 3)])  # new, first seen exactly 30 days back
    problem("KILO", [(FIRST, 8)])  # found by the first scrape: known since, not new
    problem("LIMA", [(at(6, 26), 4)], active=False)  # new, but gone again


def section(response, heading_id: str) -> list[list[str]]:
    page = parse(response)
    block = page.find(id=heading_id).find_parent("section")
    return [
        [td.get_text(strip=True) for td in tr.find_all("td")] for tr in block.select("tbody tr")
    ]


def test_the_week_s_growers_are_ranked_by_users_gained(client: Client, history: None) -> None:
    rows = section(client.get("/trends/"), "grew-7")
    assert rows == [
        ["BRAVO", "Bravo problem", "+50", "60", "0.800", "-0.8000"],
        ["ALPHA", "Alpha problem", "+30", "180", "0.364", "-0.0574"],
        ["HOTEL", "Hotel problem", "+30", "70", "0.727", "-0.2727"],
    ]


def test_the_month_s_growers_count_from_30_days_before_the_last_update(
    client: Client, history: None
) -> None:
    rows = section(client.get("/trends/"), "grew-30")
    assert rows == [
        ["ALPHA", "Alpha problem", "+80", "180", "0.364", "-0.2078"],
        ["HOTEL", "Hotel problem", "+70", "70", "0.727", "-1.2727"],
        ["BRAVO", "Bravo problem", "+50", "60", "0.800", "-0.8000"],
        ["ECHO", "Echo problem", "+25", "45", "0.941", "-0.3922"],
    ]


def test_new_problems_are_those_first_seen_in_30_days_after_the_first_scrape(
    client: Client, history: None
) -> None:
    rows = section(client.get("/trends/"), "new-problems")
    assert rows == [
        ["DELTA", "Delta problem", "2025-06-25", "9", "1.633"],
        ["JULIET", "Juliet problem", "2025-05-31", "3", "1.860"],
    ]


def test_the_links_go_to_spoj_and_to_the_problem_page(
    client: Client, history: None, settings
) -> None:
    settings.SPOJ_BASE_URL = "https://spoj.example"
    page = parse(client.get("/trends/"))
    code_link, name_link = page.find(id="grew-7").find_parent("section").select("tbody tr")[0]("a")
    assert code_link["href"] == "https://spoj.example/problems/BRAVO"
    assert name_link["href"] == "/problems/BRAVO/"
    new_code, new_name = page.find(id="new-problems").find_parent("section").select("tbody a")[:2]
    assert (new_code["href"], new_name["href"]) == (
        "https://spoj.example/problems/DELTA",
        "/problems/DELTA/",
    )


def test_the_window_is_measured_from_the_last_update_not_from_today(
    client: Client, history: None
) -> None:
    # Months later, with no scrape since, the page still shows the week before the update.
    import time_machine

    with time_machine.travel(LAST + timedelta(days=90), tick=False):
        rows = section(client.get("/trends/"), "grew-7")
    assert [row[0] for row in rows] == ["BRAVO", "ALPHA", "HOTEL"]


def test_a_history_shorter_than_the_window_counts_from_the_first_scrape(
    client: Client, db: None
) -> None:
    first = LAST - timedelta(days=10)
    record_scrape(first, 2)
    record_scrape(LAST, 2)
    problem("ALPHA", [(first, 100), (at(6, 25), 130)])
    problem("BRAVO", [(first, 7), (at(6, 29), 9)])
    response = client.get("/trends/")
    assert section(response, "grew-30") == [
        ["ALPHA", "Alpha problem", "+30", "130", "0.471", "-0.1008"],
        ["BRAVO", "Bravo problem", "+2", "9", "1.633", "-0.0695"],
    ]
    block = parse(response).find(id="grew-30").find_parent("section")
    text = " ".join(block.get_text().split())
    assert "The history starts on 2025-06-20 03:00 UTC, the first scrape" in text
    week = parse(response).find(id="grew-7").find_parent("section")
    assert "history starts" not in week.get_text()  # 7 days fit in the 10


def test_after_one_scrape_it_says_there_is_no_growth_and_nothing_new_yet(
    client: Client, db: None
) -> None:
    record_scrape(LAST, 1)
    problem("ALPHA", [(LAST, 100)])
    page = parse(client.get("/trends/")).get_text(" ", strip=True)
    assert "No listed problem gained users since 2025-06-30 03:00 UTC" in page
    assert "the history is too short yet" in page
    assert "No problem was added to the list in the 30 days before the last update" in page
    assert "after the first scrape, 2025-06-30" in page


def test_before_the_first_scrape_it_says_so(client: Client, db: None) -> None:
    response = client.get("/trends/")
    assert response.status_code == 200
    assert "Not updated yet" in parse(response).get_text(" ", strip=True)
    assert parse(response).select("table") == []


def test_each_list_holds_at_most_25_problems(client: Client, db: None) -> None:
    record_scrape(FIRST, 30)
    record_scrape(LAST, 30)
    for i in range(30):
        problem(f"P{i:02d}", [(FIRST, 0), (at(6, 29), 100 + i)])
    found = growers(WEEK_AGO)
    assert len(found) == 25
    assert [g.code for g in found] == [f"P{i:02d}" for i in range(29, 4, -1)]
    assert len(section(client.get("/trends/"), "grew-7")) == 25


def test_it_is_rendered_from_four_queries_and_then_served_from_the_cache(
    client: Client, history: None
) -> None:
    # The data version; then the first scrape, one per window, the new problems.
    with queries() as first:
        assert client.get("/trends/").status_code == 200
    assert (len(first.version), len(first.data)) == (1, 4)
    with queries() as again, templates_rendered() as rendered:
        response = client.get("/trends/", headers={"If-None-Match": "nothing"})
    assert (again.total, rendered, response.status_code) == (1, [], 200)
    etag = response["ETag"]
    assert client.get("/trends/", headers={"If-None-Match": etag}).status_code == 304
    assert "public" in response["Cache-Control"]


def test_names_from_spoj_are_shown_as_text(client: Client, db: None) -> None:
    record_scrape(FIRST, 2)
    record_scrape(LAST, 2)
    evil = problem("EVIL", [(FIRST, 1), (at(6, 29), 9)])
    attr = problem("ATTR", [(at(6, 28), 1)])
    Problem.objects.filter(pk=evil.pk).update(name=EVIL)
    Problem.objects.filter(pk=attr.pk).update(name=ATTRIBUTE)
    response = client.get("/trends/")
    html = response.content.decode()
    assert_inert(html)
    assert [row[1] for row in section(response, "grew-7")] == [EVIL]
    assert [row[1] for row in section(response, "new-problems")] == [ATTRIBUTE]


def test_the_site_navigation_links_the_table_and_the_trends(client: Client, history: None) -> None:
    for url, current in (("/", "Problems"), ("/trends/", "Trends")):
        nav = parse(client.get(url)).select_one("header nav.site-nav")
        links = {a.get_text(strip=True): a for a in nav.select("a")}
        assert {name: a["href"] for name, a in links.items()} == {
            "Problems": "/",
            "Trends": "/trends/",
            "Users": "/users/",
        }
        assert [name for name, a in links.items() if a.get("aria-current") == "page"] == [current]
