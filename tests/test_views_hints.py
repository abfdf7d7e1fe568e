"""What a new user is told: what "Quality" means, and where the code and the name lead."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from core.models import Problem
from tests.web_data import make_problem, parse


@pytest.fixture
def problem(db: None) -> Problem:
    made = make_problem("PRIME1", "Prime Generator", 9, quality=7)
    made.save()
    return made


def text(node) -> str:
    return " ".join(node.get_text(" ").split())


def test_the_problem_page_explains_quality_in_a_tooltip_and_a_legend(
    client: Client, problem: Problem
) -> None:
    page = parse(client.get("/problems/PRIME1/"))
    dt = next(dt for dt in page.select("dl.facts dt") if dt.get_text(strip=True) == "Quality")
    assert "thumbs up minus thumbs down" in dt.abbr["title"]
    legend = page.select_one(".legend")
    assert "Quality" in text(legend)
    assert "thumbs up minus thumbs down" in text(legend)
    assert "on SPOJ" in text(legend)


def test_the_table_says_the_code_opens_spoj_and_the_name_our_page(
    client: Client, problem: Problem
) -> None:
    page = parse(client.get("/"))
    legend = text(page.select_one(".table-legend"))
    assert "code opens the problem on SPOJ" in legend
    assert "name opens its page here" in legend
    code_cell, name_cell = page.select("table.scores tbody tr td")[1:3]
    assert code_cell.a["title"] == "Open PRIME1 on SPOJ"
    assert "external" in code_cell.a["rel"]
    assert name_cell.a["title"] == "PRIME1 here: its numbers and score over time"


def test_links_to_spoj_carry_a_visible_arrow(client: Client, problem: Problem) -> None:
    # Drawn by the stylesheet: not part of the code's text (copying a code copies it alone).
    path = finders.find("core/style.css")
    assert path is not None
    with open(path, encoding="utf-8") as css:
        assert '.scores .code a::after { content: "↗"' in css.read()
