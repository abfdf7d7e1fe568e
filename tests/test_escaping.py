"""Names come from another site: every page shows them as text, exports carry them verbatim."""

from __future__ import annotations

import csv
import io
import json

import pytest
from bs4 import BeautifulSoup
from django.test import Client

from core.models import Problem, ProblemHistory
from tests.web_data import content, make_problem, parse

EVIL = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
NAMES = {"EVIL": EVIL, "ATTR": ATTRIBUTE, "AMP": "Tom & Jerry's <b>"}


@pytest.fixture
def hostile(db: None) -> None:
    problems = Problem.objects.bulk_create(
        [make_problem(code, name, users) for users, (code, name) in enumerate(NAMES.items())]
    )
    evil = problems[0]
    ProblemHistory.objects.create(
        problem=evil, users=0, score=evil.score, recorded_at=evil.first_seen
    )


def assert_inert(html: str) -> None:
    page = BeautifulSoup(html, "lxml")
    assert page.select("script") == []
    assert page.select("img") == []
    assert EVIL not in html
    assert ATTRIBUTE not in html


def test_the_table_shows_hostile_names_as_text(client: Client, hostile: None) -> None:
    response = client.get("/")
    html = response.content.decode()
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    names = [td.get_text() for td in parse(response).select("td.name")]
    assert sorted(names) == sorted(NAMES.values())


def test_the_problem_page_and_its_chart_show_a_hostile_name_as_text(
    client: Client, hostile: None
) -> None:
    response = client.get("/problems/EVIL/")
    html = response.content.decode()
    assert_inert(html)
    page = parse(response)
    assert page.h1.get_text(" ", strip=True) == f"EVIL {EVIL}"
    assert page.select_one("svg > title").get_text() == f"Score of EVIL ({EVIL}) over time"
    assert EVIL in page.title.get_text()


def test_a_hostile_search_is_shown_as_text(client: Client, hostile: None) -> None:
    response = client.get("/", {"q": ATTRIBUTE})
    html = response.content.decode()
    assert_inert(html)
    page = parse(response)
    assert page.select_one("input[name=q]")["value"] == ATTRIBUTE
    assert [td.get_text() for td in page.select("td.name")] == [ATTRIBUTE]


def test_the_exports_carry_names_verbatim(client: Client, hostile: None) -> None:
    data = json.loads(content(client.get("/problems.json")))
    assert sorted(p["name"] for p in data["problems"]) == sorted(NAMES.values())
    text = content(client.get("/problems.csv")).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["name"] for r in rows) == sorted(NAMES.values())
