"""Odd query parameters never make a page fail: they are clamped or ignored."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import Problem
from core.web.search import MAX_QUERY_LENGTH
from tests.web_data import content, parse, table_rows


def ranks(response) -> list[int]:
    return [int(row["rank"]) for row in table_rows(response)]


@pytest.mark.parametrize(
    ("page", "first_rank"),
    [
        ("999999", 201),  # past the end: the last page
        ("4", 201),
        ("abc", 1),  # not a number: the first page
        ("-1", 1),  # before the start: the first page
        ("0", 1),
        ("", 1),
        ("1.5", 1),
        ("9" * 5000, 1),  # longer than Python will parse
        (" 2 ", 101),
    ],
)
def test_any_page_number_gives_a_page(
    client: Client, table_250: list[Problem], page: str, first_rank: int
) -> None:
    response = client.get("/", {"page": page})
    assert response.status_code == 200
    assert ranks(response)[0] == first_rank


@pytest.mark.parametrize("sort", ["DROP", "", "-", "--score", "rank", "score;DROP TABLE x", "é"])
def test_an_unknown_sort_means_the_default_order(
    client: Client, table_250: list[Problem], sort: str
) -> None:
    response = client.get("/", {"sort": sort})
    assert response.status_code == 200
    assert ranks(response) == list(range(1, 101))
    assert parse(response).select_one("th[aria-sort]").get_text(strip=True) == "Score▼"


def test_a_huge_search_is_cut_to_its_first_hundred_characters(
    client: Client, table_250: list[Problem]
) -> None:
    response = client.get("/", {"q": "problem" + "x" * 10_000})
    assert response.status_code == 200
    box = parse(response).select_one("input[name=q]")
    assert box["value"] == ("problem" + "x" * 10_000)[:MAX_QUERY_LENGTH]
    assert table_rows(response) == []


@pytest.mark.parametrize("url", ["/", "/problems.csv", "/problems.json"])
def test_a_nul_byte_in_the_search_is_dropped_not_sent_to_the_database(
    client: Client, spoj_table: list[Problem], url: str
) -> None:
    # PostgreSQL rejects NUL in text; the search goes on without it.
    response = client.get(url + "?q=%00PRIME1%00&sort=DROP&page=%00")
    assert response.status_code == 200
    with_nul = content(response)
    without = content(client.get(url + "?q=PRIME1"))
    if url == "/problems.json":  # generated_at differs by a few microseconds
        with_nul, without = with_nul.split(b'"last_scrape"')[1], without.split(b'"last_scrape"')[1]
    assert with_nul == without
    assert b"PRIME1" in with_nul


@pytest.mark.parametrize("q", ["%00", "%FF%FE", "%", "_", "\\", "'", '"', "  ", "\t\n"])
def test_odd_searches_give_a_normal_page(client: Client, table_250: list[Problem], q: str) -> None:
    response = client.get("/?q=" + q)
    assert response.status_code == 200
    assert parse(response).select_one("form.search") is not None


def test_only_whitespace_and_control_characters_mean_no_search(
    client: Client, table_250: list[Problem]
) -> None:
    response = client.get("/", {"q": " \x00\x07 \t"})
    assert "Showing 1–100 of 250 problems" in response.content.decode()  # noqa: RUF001
