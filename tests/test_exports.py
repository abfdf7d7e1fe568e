"""``/problems.csv`` and ``/problems.json``: the whole table, honouring ``q`` and ``sort``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import F
from django.test import Client

from core.models import Problem
from core.web.search import Fold, matches
from tests.web_data import content, make_problem, queries, record_scrape, score_order


def body(response) -> str:
    return content(response).decode("utf-8")


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(response))))


def db_codes(query: str, sort: str) -> list[str]:
    """The order the ORM gives, independently of the views' query code."""
    problems = Problem.objects.filter(active=True)
    if query:
        problems = problems.filter(matches(query))
    key = sort.removeprefix("-")
    column = Fold("name") if key == "name" else F(key)
    first = column.desc() if sort.startswith("-") else column.asc()
    return list(problems.order_by(first, "code").values_list("code", flat=True))


def test_the_csv_is_an_attachment_with_a_header_row(client: Client, spoj_table) -> None:
    response = client.get("/problems.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="spojscore-problems.csv"'
    first_line = body(response).splitlines()[0]
    assert first_line == "rank,code,name,users,score,acceptance,quality,spoj_id,url"


def test_the_csv_holds_every_active_problem_unpaginated(
    client: Client, spoj_table: list[Problem]
) -> None:
    rows = csv_rows(client.get("/problems.csv"))
    assert len(rows) == 3971
    assert [r["code"] for r in rows] == [p.code for p in score_order(spoj_table)]
    assert [int(r["rank"]) for r in rows] == list(range(1, 3972))


@pytest.mark.parametrize(
    ("query", "sort"), [("prime", "-users"), ("e", "name"), ("", "acceptance"), ("tree", "-code")]
)
def test_csv_rows_are_the_database_rows_for_a_search_and_sort(
    client: Client, spoj_table: list[Problem], query: str, sort: str
) -> None:
    rows = csv_rows(client.get("/problems.csv", {"q": query, "sort": sort}))
    assert [r["code"] for r in rows] == db_codes(query, sort)
    assert rows  # each of these searches finds something
    by_code = {p.code: p for p in spoj_table}
    for row in rows:
        problem = by_code[row["code"]]
        assert row["name"] == problem.name
        assert int(row["users"]) == problem.users
        assert float(row["score"]) == problem.score  # full precision, not the page's 3 places
        assert float(row["acceptance"]) == problem.acceptance
        assert row["quality"] == ("" if problem.quality is None else str(problem.quality))
        assert int(row["spoj_id"]) == problem.spoj_id
        assert row["url"] == f"https://www.spoj.com/problems/{problem.code}"


def test_csv_quotes_commas_quotes_and_newlines(client: Client, db: None) -> None:
    Problem.objects.bulk_create([make_problem("QUOTE", 'Say "hi", then\nleave', 3)])
    assert csv_rows(client.get("/problems.csv"))[0]["name"] == 'Say "hi", then\nleave'


@pytest.mark.parametrize("name", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", '=HYPERLINK("x")'])
def test_csv_defuses_names_a_spreadsheet_would_run_as_formulas(
    client: Client, db: None, name: str
) -> None:
    Problem.objects.bulk_create([make_problem("FORMULA", name, 3, quality=-4)])
    (row,) = csv_rows(client.get("/problems.csv"))
    assert row["name"] == "'" + name
    assert row["quality"] == "-4"  # numbers are numbers, not text


def test_the_json_has_the_documented_structure(client: Client, spoj_table) -> None:
    record_scrape(datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC), 3971)
    response = client.get("/problems.json", {"q": "PRIME1"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data: dict[str, Any] = json.loads(body(response))
    assert set(data) == {"generated_at", "last_scrape", "count", "problems"}
    assert data["last_scrape"] == "2099-01-02T03:04:05+00:00"
    assert datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    assert [p["code"] for p in data["problems"]] == ["MPRIME1", "PRIME1"]
    assert data["count"] == 2
    assert data["problems"][1] == {
        "rank": 3969,
        "code": "PRIME1",
        "name": "Prime Generator",
        "users": 82235,
        "score": 80 / (40 + 82235),
        "acceptance": 16.24,
        "quality": 630,
        "spoj_id": 2,
        "url": "https://www.spoj.com/problems/PRIME1",
    }


@pytest.mark.parametrize(("query", "sort"), [("", "-score"), ("prime", "users"), ("e", "-name")])
def test_json_rows_are_the_database_rows_for_a_search_and_sort(
    client: Client, spoj_table, query: str, sort: str
) -> None:
    data = json.loads(body(client.get("/problems.json", {"q": query, "sort": sort})))
    assert [p["code"] for p in data["problems"]] == db_codes(query, sort)
    assert data["count"] == len(db_codes(query, sort))


def test_the_json_of_an_empty_table_is_still_valid(client: Client, db: None) -> None:
    data = json.loads(body(client.get("/problems.json")))
    assert data["problems"] == []
    assert data["count"] == 0
    assert data["last_scrape"] is None


def test_exports_read_the_table_in_a_constant_number_of_queries(client: Client, spoj_table) -> None:
    # One query for the rows, fetched in chunks, after the data version (which
    # also gives the JSON its last_scrape); 3,971 rows must not mean thousands.
    for url in ("/problems.csv", "/problems.json"):
        with queries() as done:
            body(client.get(url))
        assert (len(done.version), len(done.data)) == (1, 1), url
