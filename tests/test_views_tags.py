"""``?tag=<slug>`` on ``/`` and the exports, and tags on problem pages."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from core.models import Problem, Tag
from tests.test_views_score_table import SMALL, codes
from tests.web_data import make_problem, parse, record_scrape, score_order, table_rows


@pytest.fixture
def tagged(db: None) -> dict[str, list[Problem]]:
    problems = Problem.objects.bulk_create(
        [
            make_problem(p.code, p.name, p.users, acceptance=p.acceptance, active=p.active)
            for p in SMALL
        ]
    )
    by_code = {p.code: p for p in problems}
    dp = Tag.objects.create(slug="dp", name="Dynamic <b>Programming</b>")
    graph = Tag.objects.create(slug="graph-theory", name="Graph & theory")
    Tag.objects.create(slug="unused", name="Unused")
    for code in ("ALPHA", "DELTA", "ECHO", "GHOST"):
        by_code[code].tags.add(dp)
    for code in ("DELTA", "FOXTROT"):
        by_code[code].tags.add(graph)
    Problem.objects.update(tags_fetched_at=timezone.now())
    record_scrape(timezone.now(), len(problems))
    return {"all": problems, "dp": [by_code[c] for c in ("ALPHA", "DELTA", "ECHO", "GHOST")]}


def expected(problems: list[Problem], min_users: int = 0) -> list[str]:
    return [p.code for p in score_order(problems) if p.active and p.users >= min_users]


def test_tag_keeps_only_the_tagged_active_problems_with_their_ranks(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    response = client.get("/", {"tag": "dp"})
    assert codes(response) == expected(tagged["dp"]) == ["ECHO", "ALPHA", "DELTA"]
    all_ranks = {row["code"]: row["rank"] for row in table_rows(client.get("/"))}
    assert {row["code"]: row["rank"] for row in table_rows(response)} == {
        code: all_ranks[code] for code in ("ECHO", "ALPHA", "DELTA")
    }
    assert "tagged “Dynamic &lt;b&gt;Programming&lt;/b&gt;”" in response.content.decode()


def test_tag_combines_with_min_users_search_and_sort(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    assert codes(client.get("/", {"tag": "dp", "min_users": "6"})) == ["ALPHA", "DELTA"]
    assert codes(client.get("/", {"tag": "dp", "sort": "code"})) == ["ALPHA", "DELTA", "ECHO"]
    assert codes(client.get("/", {"tag": "dp", "q": "école"})) == ["DELTA"]
    assert codes(client.get("/", {"tag": "graph-theory"})) == ["DELTA", "FOXTROT"]


def test_sort_links_pager_and_form_keep_the_tag(client: Client, db: None) -> None:
    problems = Problem.objects.bulk_create(
        [make_problem(f"P{i:03d}", f"Problem {i}", i) for i in range(250)]
    )
    tag = Tag.objects.create(slug="odd", name="Odd")
    odd = [p for p in problems if p.users % 2]
    tag.problems.add(*odd)
    record_scrape(timezone.now(), len(problems))
    page = parse(client.get("/", {"tag": "odd", "min_users": "3", "page": "1"}))
    next_href = page.select_one("nav.pager a[rel=next]")["href"]
    assert parse_qs(urlsplit(next_href).query) == {
        "min_users": ["3"],
        "tag": ["odd"],
        "page": ["2"],
    }
    for link in page.select("table.scores thead a"):
        assert parse_qs(urlsplit(link["href"]).query)["tag"] == ["odd"]
    assert page.select_one("form.search select[name=tag] option[selected]")["value"] == "odd"
    second = client.get("/" + next_href)
    expected_codes = [p.code for p in score_order(odd) if p.users >= 3]
    assert len(expected_codes) == 124
    assert codes(second) == expected_codes[100:]


@pytest.mark.parametrize("value", ["no such tag", "DP!", "x" * 65, "dp\x00", "../dp"])
def test_a_malformed_tag_is_ignored(
    client: Client, tagged: dict[str, list[Problem]], value: str
) -> None:
    response = client.get("/", {"tag": value})
    assert response.status_code == 200
    assert codes(response) == expected(tagged["all"])


def test_an_unknown_slug_shows_no_problem_and_says_so(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    response = client.get("/", {"tag": "nosuch"})
    assert response.status_code == 200
    assert codes(response) == []
    assert "no problem has that tag" in response.content.decode()


def test_exports_take_the_tag(client: Client, tagged: dict[str, list[Problem]]) -> None:
    data = json.loads(client.get("/problems.json", {"tag": "dp"}).content)
    assert [row["code"] for row in data["problems"]] == ["ECHO", "ALPHA", "DELTA"]
    assert data["count"] == 3
    lines = client.get("/problems.csv", {"tag": "graph-theory"}).content.decode().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["DELTA", "FOXTROT"]
    export = parse(client.get("/", {"tag": "dp"})).select_one("p.exports a")["href"]
    assert parse_qs(urlsplit(export).query) == {"tag": ["dp"]}


def test_a_tag_scrape_changes_the_etag_of_a_tagged_table(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    first = client.get("/", {"tag": "graph-theory"})
    assert codes(first) == ["DELTA", "FOXTROT"]
    # scrape_spoj_tags writes no Scrape row: the tagged table must still change.
    alpha = Problem.objects.get(code="ALPHA")
    alpha.tags.add(Tag.objects.get(slug="graph-theory"))
    Problem.objects.filter(pk=alpha.pk).update(
        tags_fetched_at=timezone.now() + timedelta(seconds=5)
    )
    again = client.get("/", {"tag": "graph-theory"}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert codes(again) == ["ALPHA", "DELTA", "FOXTROT"]


def test_problem_page_lists_its_tags_escaped_and_linked(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    response = client.get("/problems/DELTA/")
    body = response.content.decode()
    assert "Dynamic <b>" not in body
    links = parse(response).select("p.tags a.tag")
    assert [(a.get_text(), a["href"]) for a in links] == [
        ("Dynamic <b>Programming</b>", "/?tag=dp"),
        ("Graph & theory", "/?tag=graph-theory"),
    ]
    assert parse(client.get("/problems/BRAVO/")).select_one("p.tags").get_text() == (
        "No tags on SPOJ."
    )


def test_problem_page_etag_follows_its_tags(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    first = client.get("/problems/BRAVO/")
    bravo = Problem.objects.get(code="BRAVO")
    bravo.tags.add(Tag.objects.get(slug="dp"))
    Problem.objects.filter(pk=bravo.pk).update(tags_fetched_at=timezone.now() + timedelta(1))
    again = client.get("/problems/BRAVO/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert [a.get_text() for a in parse(again).select("p.tags a.tag")] == [
        "Dynamic <b>Programming</b>"
    ]


def tag_options(response: object) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of the tag filter's options; [] without one."""
    select = parse(response).select_one("form.search select[name=tag]")
    if select is None:
        return []
    return [(o["value"], o.get_text(), o.has_attr("selected")) for o in select.select("option")]


ANY = ("", "any tag", False)
DP = ("dp", "Dynamic <b>Programming</b>", False)
GRAPH = ("graph-theory", "Graph & theory", False)


def test_the_tag_filter_offers_the_tags_of_active_problems_by_name(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    response = client.get("/")
    # "unused" has no problem, so it is not offered; names are escaped, not markup.
    assert tag_options(response) == [ANY, DP, GRAPH]
    assert "<b>Programming" not in response.content.decode()
    assert tag_options(client.get("/", {"tag": "graph-theory"})) == [
        ANY,
        DP,
        ("graph-theory", "Graph & theory", True),
    ]
    # A tag no problem on the table has is kept selected, and said so.
    assert tag_options(client.get("/", {"tag": "unused"}))[-1] == (
        "unused",
        "Unused (no problem on the table has it)",
        True,
    )
    assert tag_options(client.get("/", {"tag": "nosuch"}))[-1] == (
        "nosuch",
        "nosuch (no problem on the table has it)",
        True,
    )


def test_submitting_the_form_with_a_tag_filters_the_table(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    form = parse(client.get("/", {"min_users": "6"})).select_one("form.search")
    fields = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
    fields["tag"] = "dp"  # the visitor picks a tag and presses Search
    response = client.get(form["action"], {k: v for k, v in fields.items() if v})
    assert codes(response) == ["ALPHA", "DELTA"]
    assert tag_options(response)[1] == ("dp", "Dynamic <b>Programming</b>", True)


def test_no_tags_no_tag_filter(client: Client, db: None) -> None:
    Problem.objects.bulk_create([make_problem("AAA", "A", 1)])
    record_scrape(timezone.now(), 1)
    assert tag_options(client.get("/")) == []


def test_a_tag_scrape_changes_the_choices_of_an_untagged_table(
    client: Client, tagged: dict[str, list[Problem]]
) -> None:
    first = client.get("/")
    bravo = Problem.objects.get(code="BRAVO")
    bravo.tags.add(Tag.objects.create(slug="ad-hoc", name="Ad hoc"))
    Problem.objects.filter(pk=bravo.pk).update(tags_fetched_at=timezone.now() + timedelta(1))
    again = client.get("/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert tag_options(again) == [ANY, ("ad-hoc", "Ad hoc", False), DP, GRAPH]
