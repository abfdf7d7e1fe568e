"""The score table at ``/``: order, sorting, search, ranks, pagination, last update."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from core.models import Problem
from tests.web_data import (
    make_problem,
    parse,
    queries,
    record_scrape,
    score_order,
    table_rows,
    templates_rendered,
)

# Ties on purpose (ALPHA/BRAVO have the same users and score), non-ASCII names,
# and one problem no longer listed.
SMALL = [
    make_problem("ALPHA", "alpha Trip", 10, acceptance=50.0),
    make_problem("BRAVO", "Bravo", 10, acceptance=20.0),
    make_problem("CHARLIE", "Łódź Trip", 0, acceptance=10.0),
    make_problem("DELTA", "école", 300, acceptance=90.5),
    make_problem("ECHO", "Число Пи", 5, acceptance=0.0),
    make_problem("FOXTROT", "zeta", 1000, acceptance=33.3),
    make_problem("BYU15W_4", "Game Calculator", 7, acceptance=3.57),
    make_problem("GHOST", "Gone away", 1, acceptance=1.0, active=False),
]


@pytest.fixture
def small(db: None) -> list[Problem]:
    return Problem.objects.bulk_create(
        [
            make_problem(p.code, p.name, p.users, acceptance=p.acceptance, active=p.active)
            for p in SMALL
        ]
    )


def codes(response) -> list[str]:
    return [row["code"] for row in table_rows(response)]


def expected_order(problems: list[Problem], key: str, descending: bool) -> list[str]:
    """Python's idea of the order: the column (names without case), then code."""
    active = sorted((p for p in problems if p.active), key=lambda p: p.code)
    if key == "code":
        return [p.code for p in sorted(active, key=lambda p: p.code, reverse=descending)]

    def value(p: Problem) -> Any:
        return p.name.lower() if key == "name" else getattr(p, key)

    # sorted() is stable, also with reverse=True, so ties keep code order.
    return [p.code for p in sorted(active, key=value, reverse=descending)]


def test_the_default_order_is_highest_score_first_with_ties_by_code(
    client: Client, small: list[Problem]
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert codes(response) == [p.code for p in score_order(p for p in small if p.active)]
    assert codes(response)[:3] == ["CHARLIE", "ECHO", "BYU15W_4"]
    assert codes(response)[3:5] == ["ALPHA", "BRAVO"]  # tied on score


def test_it_lists_only_active_problems(client: Client, small: list[Problem]) -> None:
    assert "GHOST" not in codes(client.get("/"))
    assert "Gone away" not in client.get("/").content.decode()


@pytest.mark.parametrize("key", ["code", "name", "users", "score", "acceptance"])
@pytest.mark.parametrize("descending", [False, True])
def test_it_sorts_by_every_column_in_both_directions(
    client: Client, small: list[Problem], key: str, descending: bool
) -> None:
    response = client.get("/", {"sort": ("-" if descending else "") + key})
    assert codes(response) == expected_order(small, key, descending)


def test_ranks_stay_the_score_ranks_whatever_the_sort(client: Client, small: list[Problem]) -> None:
    rank_of = {p.code: i for i, p in enumerate(score_order(p for p in small if p.active), 1)}
    for sort in ("-score", "score", "name", "-users", "code", "acceptance"):
        rows = table_rows(client.get("/", {"sort": sort}))
        assert {row["code"]: int(row["rank"]) for row in rows} == rank_of, sort


def test_it_shows_the_numbers_of_each_problem(client: Client, small: list[Problem]) -> None:
    row = next(r for r in table_rows(client.get("/")) if r["code"] == "FOXTROT")
    assert row == {
        "rank": "7",
        "code": "FOXTROT",
        "name": "zeta",
        "users": "1,000",
        "score": "0.077",  # 80 / 1040, three decimals
        "acceptance": "33.30%",
    }


def test_the_code_links_to_spoj_and_the_name_to_the_problem_page(
    client: Client, small: list[Problem], settings
) -> None:
    settings.SPOJ_BASE_URL = "https://spoj.example"
    row = parse(client.get("/")).select_one("table.scores tbody tr")
    code_link, name_link = row.select("td a")
    assert code_link["href"] == "https://spoj.example/problems/CHARLIE"
    assert name_link["href"] == "/problems/CHARLIE/"


def test_the_sorted_header_says_so_and_its_link_reverses_the_order(
    client: Client, small: list[Problem]
) -> None:
    page = parse(client.get("/", {"sort": "users", "q": "a"}))
    headers = {
        th.get_text(strip=True).rstrip("▲▼").replace("\xad", ""): th
        for th in page.select("thead th")
    }
    assert [name for name, th in headers.items() if th.has_attr("aria-sort")] == ["Users"]
    assert headers["Users"]["aria-sort"] == "ascending"
    assert headers["Users"]["scope"] == "col"
    assert "▲" in headers["Users"].get_text()
    assert headers["Users"].a["href"] == "?q=a&sort=-users"
    # Another column starts in its natural direction: text A-Z, numbers biggest first.
    assert headers["Name"].a["href"] == "?q=a&sort=name"
    assert headers["Acceptance"].a["href"] == "?q=a&sort=-acceptance"
    assert headers["Score"].a["href"] == "?q=a"  # -score is the default, left out


def test_the_default_sort_is_marked_descending_on_score(
    client: Client, small: list[Problem]
) -> None:
    th = parse(client.get("/")).select_one("th[aria-sort]")
    assert th.get_text(strip=True) == "Score▼"
    assert th["aria-sort"] == "descending"
    assert th.a["href"] == "?sort=score"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ALPHA", ["ALPHA"]),  # code
        ("avo", ["BRAVO"]),  # part of a code, any case
        ("TRIP", ["CHARLIE", "ALPHA"]),  # part of names, any case, in score order
        ("łÓDŹ", ["CHARLIE"]),  # non-ASCII letters, any case
        ("ÉCOLE", ["DELTA"]),
        ("число пи", ["ECHO"]),
        ("  alpha\t\x00 TRIP ", ["ALPHA"]),  # controls are spaces, spaces collapse
        ("w_4", ["BYU15W_4"]),  # "_" is a plain character, not a LIKE wildcard
        ("%", []),  # so is "%"
        ("gone", []),  # inactive problems are not listed
    ],
)
def test_it_searches_codes_and_names_ignoring_case(
    client: Client, small: list[Problem], query: str, found: list[str]
) -> None:
    assert codes(client.get("/", {"q": query})) == found


def test_a_found_problem_keeps_its_rank_among_all_problems(
    client: Client, small: list[Problem]
) -> None:
    rows = table_rows(client.get("/", {"q": "trip"}))
    assert [(r["code"], r["rank"]) for r in rows] == [("CHARLIE", "1"), ("ALPHA", "4")]


def test_a_search_without_matches_says_so(client: Client, small: list[Problem]) -> None:
    response = client.get("/", {"q": "nothing-like-this"})
    assert response.status_code == 200
    assert table_rows(response) == []
    assert "No problem’s code or name contains “nothing-like-this”" in response.content.decode()  # noqa: RUF001


def test_the_search_box_is_labelled_and_keeps_the_query_and_sort(
    client: Client, small: list[Problem]
) -> None:
    form = parse(client.get("/", {"q": "trip", "sort": "name"})).select_one("form.search")
    label = form.select_one("label")
    box = form.select_one("input[name=q]")
    assert label["for"] == box["id"]
    assert box["value"] == "trip"
    assert form.select_one("input[name=sort]")["value"] == "name"


# --- the whole May 2025 list --------------------------------------------------------


def test_page_two_holds_ranks_101_to_200(client: Client, spoj_table: list[Problem]) -> None:
    response = client.get("/", {"page": "2"})
    rows = table_rows(response)
    assert [int(r["rank"]) for r in rows] == list(range(101, 201))
    assert [r["code"] for r in rows] == [p.code for p in score_order(spoj_table)[100:200]]
    assert "Showing 101–200 of 3,971 problems" in response.content.decode()  # noqa: RUF001


def test_the_last_page_ends_with_the_last_rank(client: Client, spoj_table: list[Problem]) -> None:
    response = client.get("/", {"page": "40"})
    rows = table_rows(response)
    assert [int(r["rank"]) for r in rows] == list(range(3901, 3972))
    assert rows[-1]["code"] == "TEST"  # the most solved problem is worth least
    pager = parse(response).select_one("nav.pager")
    assert pager.select_one("a[rel=prev]")["href"] == "?page=39"
    assert pager.select_one("a[rel=next]") is None
    assert "Page 40 of 40" in pager.get_text()


def test_the_pager_keeps_the_query_and_sort(client: Client, spoj_table: list[Problem]) -> None:
    pager = parse(client.get("/", {"q": "e", "sort": "code", "page": "2"})).select_one("nav.pager")
    assert pager.select_one("a[rel=prev]")["href"] == "?q=e&sort=code"
    assert pager.select_one("a[rel=next]")["href"] == "?q=e&sort=code&page=3"


@pytest.mark.parametrize(("query", "sort"), [("prime", "-users"), ("E", "name"), ("", "code")])
def test_ranks_are_right_on_every_page_of_a_sorted_search(
    client: Client, spoj_table: list[Problem], query: str, sort: str
) -> None:
    rank_of = {p.code: i for i, p in enumerate(score_order(spoj_table), 1)}
    page, seen = 1, 0
    while True:
        rows = table_rows(client.get("/", {"q": query, "sort": sort, "page": str(page)}))
        assert all(int(r["rank"]) == rank_of[r["code"]] for r in rows)
        seen += len(rows)
        if len(rows) < 100 or page == 3:  # three pages are plenty to prove it
            break
        page += 1
    assert seen > 0


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"page": "2"},
        {"page": "40"},
        {"sort": "name", "page": "7"},
        {"q": "prime"},
        {"q": "zzzz-nothing"},
        {"sort": "-acceptance", "q": "a", "page": "3"},
    ],
)
def test_the_table_is_rendered_from_three_queries_whatever_the_page(
    client: Client, spoj_table: list[Problem], params: dict
) -> None:
    # The data version and the tags version, then count, one page of rows and
    # the tag filter's choices: never one per row.
    with queries() as first:
        assert client.get("/", params).status_code == 200
    assert (len(first.version), len(first.tags), len(first.data)) == (1, 1, 3)
    # Asked again, the page comes from the cache: the two versions only.
    with queries() as again, templates_rendered() as rendered:
        assert client.get("/", params).status_code == 200
    assert (len(again.version), len(again.tags), again.total, rendered) == (1, 1, 2, [])


def test_the_table_is_rendered_from_three_queries_when_empty(client: Client, db: None) -> None:
    with queries() as done:
        assert client.get("/").status_code == 200
    # Nothing scraped yet: no key, so no tags version; nothing cached yet.
    assert (len(done.version), len(done.data), done.cache) == (1, 3, [])


# --- last update and empty state ----------------------------------------------------


def test_it_shows_when_the_last_successful_scrape_finished(
    client: Client, small: list[Problem]
) -> None:
    record_scrape(datetime(2025, 5, 1, 3, 0, tzinfo=UTC), 8)
    record_scrape(datetime(2025, 5, 2, 3, 4, tzinfo=UTC), 8)
    record_scrape(datetime(2025, 4, 30, 3, 0, tzinfo=UTC), 8)
    updated = parse(client.get("/")).select_one(".updated")
    assert "Last updated 2025-05-02 03:04 UTC" in updated.get_text(" ", strip=True)
    assert updated.time["datetime"] == "2025-05-02T03:04:00+00:00"


def test_before_the_first_scrape_it_says_how_to_load_data(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 200
    text = parse(response).get_text(" ", strip=True)
    assert "No problems yet" in text
    assert "python manage.py scrape_spoj" in text
    assert "Not updated yet" in text
    assert parse(response).select("table.scores") == []


def test_every_page_has_the_header_footer_and_stylesheet(
    client: Client, small: list[Problem]
) -> None:
    for url in ("/", "/problems/ALPHA/"):
        page = parse(client.get(url))
        assert page.select_one("meta[name=viewport]")["content"].startswith("width=device-width")
        assert page.select_one("link[rel=stylesheet]")["href"] == "/static/core/style.css"
        assert page.select_one("header .brand").get_text() == "spojscore"
        footer = page.select_one("footer")
        assert "Scores: 80 / (40 + users)" in footer.get_text()
        assert footer.select_one("a")["href"] == "/admin/"
    assert finders.find("core/style.css") is not None
