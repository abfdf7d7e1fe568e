"""The score table's filters: ``?min_users=N`` and ``?min_acc=X`` on ``/`` and the exports."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from core.models import Problem
from tests.test_views_score_table import SMALL, codes
from tests.web_data import content, make_problem, parse, queries, score_order, table_rows


@pytest.fixture
def small(db: None) -> list[Problem]:
    return Problem.objects.bulk_create(
        [
            make_problem(p.code, p.name, p.users, acceptance=p.acceptance, active=p.active)
            for p in SMALL
        ]
    )


def expected(problems: list[Problem], min_users: int = 0, min_acc: float = 0.0) -> list[str]:
    """Python's idea of the filtered table, in the default (score) order."""
    return [
        p.code
        for p in score_order(problems)
        if p.active and p.users >= min_users and p.acceptance >= min_acc
    ]


def params_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def test_min_users_keeps_the_problems_with_at_least_that_many_users(
    client: Client, small: list[Problem]
) -> None:
    assert codes(client.get("/", {"min_users": "10"})) == expected(small, min_users=10)
    assert codes(client.get("/", {"min_users": "10"})) == ["ALPHA", "BRAVO", "DELTA", "FOXTROT"]


def test_min_acc_keeps_the_problems_with_at_least_that_acceptance(
    client: Client, small: list[Problem]
) -> None:
    # 33.3 itself is kept: "at least".
    assert codes(client.get("/", {"min_acc": "33.3"})) == ["ALPHA", "DELTA", "FOXTROT"]
    assert codes(client.get("/", {"min_acc": "33.3"})) == expected(small, min_acc=33.3)


def test_the_filters_combine_with_each_other_the_search_and_the_sort(
    client: Client, small: list[Problem]
) -> None:
    response = client.get("/", {"min_users": "5", "min_acc": "20", "sort": "-users"})
    assert codes(response) == ["FOXTROT", "DELTA", "ALPHA", "BRAVO"]
    response = client.get("/", {"min_users": "5", "min_acc": "20", "q": "trip"})
    assert codes(response) == ["ALPHA"]


def test_a_filtered_problem_keeps_its_rank_among_all_problems(
    client: Client, small: list[Problem]
) -> None:
    rank_of = {p.code: i for i, p in enumerate(score_order(p for p in small if p.active), 1)}
    rows = table_rows(client.get("/", {"min_users": "10", "min_acc": "20"}))
    assert [r["code"] for r in rows] == ["ALPHA", "BRAVO", "DELTA", "FOXTROT"]
    assert [int(r["rank"]) for r in rows] == [rank_of[r["code"]] for r in rows] == [4, 5, 6, 7]


def test_sorting_links_keep_the_filters(client: Client, small: list[Problem]) -> None:
    page = parse(client.get("/", {"min_users": "5", "min_acc": "12.5", "sort": "code"}))
    for th in page.select("thead th a"):
        params = params_of(th["href"])
        assert params["min_users"] == ["5"], th["href"]
        assert params["min_acc"] == ["12.5"], th["href"]


def test_the_export_links_keep_the_filters(client: Client, small: list[Problem]) -> None:
    page = parse(client.get("/", {"min_users": "5", "min_acc": "12.5", "q": "a"}))
    links = page.select(".exports a")
    assert [urlsplit(a["href"]).path for a in links] == ["/problems.csv", "/problems.json"]
    for a in links:
        assert params_of(a["href"]) == {"q": ["a"], "min_users": ["5"], "min_acc": ["12.5"]}


def test_the_pager_keeps_the_filters(client: Client, spoj_table: list[Problem]) -> None:
    response = client.get("/", {"min_users": "1", "min_acc": "10", "page": "2"})
    pager = parse(response).select_one("nav.pager")
    assert pager.select_one("a[rel=prev]")["href"] == "?min_users=1&min_acc=10"
    assert pager.select_one("a[rel=next]")["href"] == "?min_users=1&min_acc=10&page=3"
    count = len(expected(spoj_table, min_users=1, min_acc=10))
    assert f"of {count:,} problems" in response.content.decode()
    rank_of = {p.code: i for i, p in enumerate(score_order(spoj_table), 1)}
    rows = table_rows(response)
    assert [r["code"] for r in rows] == expected(spoj_table, min_users=1, min_acc=10)[100:200]
    assert all(int(r["rank"]) == rank_of[r["code"]] for r in rows)


def test_the_exports_honour_the_filters(client: Client, spoj_table: list[Problem]) -> None:
    params = {"min_users": "100", "min_acc": "40", "sort": "-users"}
    want = [
        p.code
        for p in sorted(spoj_table, key=lambda p: (-p.users, p.code))
        if p.users >= 100 and p.acceptance >= 40
    ]
    assert 0 < len(want) < 3971
    rows = list(csv.DictReader(io.StringIO(content(client.get("/problems.csv", params)).decode())))
    assert [r["code"] for r in rows] == want
    data = json.loads(content(client.get("/problems.json", params)))
    assert [p["code"] for p in data["problems"]] == want
    assert data["count"] == len(want)


def test_the_form_has_labelled_filter_controls_keeping_their_values(
    client: Client, small: list[Problem]
) -> None:
    form = parse(client.get("/", {"min_users": "5", "min_acc": "12.5"})).select_one("form.search")
    for name, value in (("min_users", "5"), ("min_acc", "12.5")):
        box = form.select_one(f"input[name={name}]")
        assert box["value"] == value
        assert box["type"] == "number"
        assert form.select_one(f"label[for={box['id']}]") is not None


@pytest.mark.parametrize(
    "value", ["", "abc", "-1", "-0.5", "nan", "inf", "-inf", "1e999", "1.5.2", "\x00", "9" * 5000]
)
def test_a_bad_filter_value_is_ignored(client: Client, small: list[Problem], value: str) -> None:
    for name in ("min_users", "min_acc"):
        response = client.get("/", {name: value})
        assert response.status_code == 200
        assert codes(response) == expected(small), (name, value)
        box = parse(response).select_one(f"input[name={name}]")
        assert box.get("value", "") == ""
        for export in ("/problems.csv", "/problems.json"):
            assert client.get(export, {name: value}).status_code == 200


def test_a_huge_filter_value_is_clamped_to_its_maximum(
    client: Client, small: list[Problem]
) -> None:
    response = client.get("/", {"min_users": "9" * 40, "min_acc": "1000"})
    assert response.status_code == 200
    assert codes(response) == []
    form = parse(response).select_one("form.search")
    assert form.select_one("input[name=min_users]")["value"] == "1000000000"
    assert form.select_one("input[name=min_acc]")["value"] == "100"
    Problem.objects.filter(code="DELTA").update(acceptance=100.0)
    assert codes(client.get("/", {"min_acc": "1000"})) == ["DELTA"]
    assert client.get("/problems.csv", {"min_users": "9" * 40}).status_code == 200


def test_no_match_for_the_filters_says_so(client: Client, small: list[Problem]) -> None:
    response = client.get("/", {"min_users": "5000"})
    assert response.status_code == 200
    text = parse(response).get_text(" ", strip=True)
    assert "No problem matches" in text
    assert "at least 5,000 users" in text


@pytest.mark.parametrize(
    "params",
    [
        {"min_users": "1"},
        {"min_acc": "25", "page": "3"},
        {"min_users": "10", "min_acc": "30", "q": "a", "sort": "name", "page": "2"},
        {"min_users": "99999999"},
    ],
)
def test_the_filtered_table_is_still_rendered_from_three_queries(
    client: Client, spoj_table: list[Problem], params: dict
) -> None:
    with queries() as done:
        assert client.get("/", params).status_code == 200
    # Count, one page of rows, the tag filter's choices (no tag chosen: no name).
    assert (len(done.version), len(done.tags), len(done.data)) == (1, 1, 3)
