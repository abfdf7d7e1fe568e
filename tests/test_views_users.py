"""``/users/<handle>/``, ``/users/<handle>.json`` and ``/compare/<a>/<b>/``."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from core.models import Problem, SolvedProblem, SpojUser, SpojUserHistory, Tag
from tests.web_data import make_problem, parse, queries, record_scrape, table_rows

NOW = timezone.now().replace(microsecond=0)


def make_user(handle: str, codes: list[str], **fields: object) -> SpojUser:
    defaults: dict[str, object] = {
        "name": handle.title(),
        "world_rank": 1234,
        "spoj_points": Decimal("12.5"),
        "first_seen": NOW - timedelta(days=3),
        "fetched_at": NOW,
    }
    defaults.update(fields)
    user = SpojUser.objects.create(handle=handle, solved_count=len(codes), **defaults)
    SolvedProblem.objects.bulk_create(
        SolvedProblem(user=user, code=code, first_seen=NOW) for code in codes
    )
    return user


def exact_points(problems: dict[str, tuple[int, bool]], codes: list[str]) -> str:
    """Points as fractions: 80 / (40 + users) of each solved active problem, then 3 decimals."""
    total = sum(
        (Fraction(80, 40 + problems[c][0]) for c in codes if c in problems and problems[c][1]),
        Fraction(0),
    )
    return f"{float(total):,.3f}"


# (users, active) of each problem
TABLE = {
    "AAA": (0, True),
    "BBB": (1, True),
    "CCC": (7, True),
    "DDD": (40, True),
    "EEE": (123, True),
    "FFF": (999, True),
    "OLD": (3, False),
}


@pytest.fixture
def table(db: None) -> dict[str, Problem]:
    problems = Problem.objects.bulk_create(
        make_problem(code, f"Name <i>{code}</i>", users, active=active)
        for code, (users, active) in TABLE.items()
    )
    record_scrape(NOW - timedelta(hours=1), len(problems))
    return {p.code: p for p in problems}


def test_user_page_shows_exact_points_solved_count_and_spoj_numbers(
    client: Client, table: dict[str, Problem]
) -> None:
    codes = ["BBB", "DDD", "FFF", "OLD", "NOTYET"]
    make_user("alice_1", codes, world_rank=28304, spoj_points=Decimal("0.6"))
    response = client.get("/users/alice_1/")
    assert response.status_code == 200
    page = parse(response)
    # 80/41 + 80/80 + 80/1039 = 1.951219... + 1 + 0.076997... = 3.028217...
    assert page.select_one("#points").get_text() == exact_points(TABLE, codes) == "3.028"
    assert page.select_one("#solved-count").get_text() == "5"
    facts = page.select_one("dl.user-facts").get_text(" ", strip=True)
    assert "28,304" in facts
    assert "0.6" in facts
    missing = page.select_one("details.not-in-table")
    assert "2 solved codes not on our table" in missing.summary.get_text()
    assert [c.get_text() for c in missing.select("code")] == ["NOTYET", "OLD"]


def test_best_unsolved_is_the_table_without_the_solved_problems_with_global_ranks(
    client: Client, table: dict[str, Problem]
) -> None:
    make_user("bob", ["AAA", "DDD"])
    rows = table_rows(client.get("/users/bob/"))
    assert [(r["rank"], r["code"]) for r in rows] == [
        ("2", "BBB"),
        ("3", "CCC"),
        ("5", "EEE"),
        ("6", "FFF"),
    ]
    sorted_rows = table_rows(client.get("/users/bob/", {"sort": "code", "min_users": "5"}))
    assert [r["code"] for r in sorted_rows] == ["CCC", "EEE", "FFF"]
    assert [r["code"] for r in table_rows(client.get("/users/bob/", {"q": "eee"}))] == ["EEE"]


def test_the_tag_filter_and_links_keep_the_parameters(
    client: Client, table: dict[str, Problem]
) -> None:
    tag = Tag.objects.create(slug="math", name="Math & <Co>")
    tag.problems.add(table["AAA"], table["CCC"], table["FFF"])
    make_user("carol", ["AAA"])
    response = client.get("/users/carol/", {"tag": "math", "sort": "-users"})
    assert [r["code"] for r in table_rows(response)] == ["FFF", "CCC"]
    assert "Math &amp; &lt;Co&gt;" in response.content.decode()
    page = parse(response)
    header = page.select_one("table.scores thead th.col-code a")["href"]
    assert parse_qs(urlsplit(header).query) == {"sort": ["code"], "tag": ["math"]}
    export = page.select_one("p.exports a")["href"]
    assert export.startswith("/users/carol.json?")
    data = json.loads(client.get(export).content)
    assert [row["code"] for row in data["unsolved"]] == ["FFF", "CCC"]
    # The same tag filter as the score table's, with the tag selected; the
    # form submits to the user's page.
    form = page.select_one("form.search")
    assert form["action"] == ""
    chosen = form.select("select[name=tag] option[selected]")
    assert [(o["value"], o.get_text()) for o in chosen] == [("math", "Math & <Co>")]


def test_the_unsolved_list_pages_and_keeps_filters(client: Client, db: None) -> None:
    problems = Problem.objects.bulk_create(
        make_problem(f"P{i:03d}", f"Problem {i}", i) for i in range(250)
    )
    record_scrape(NOW, len(problems))
    make_user("dave", [f"P{i:03d}" for i in range(0, 250, 3)])  # 84 solved
    unsolved = [f"P{i:03d}" for i in range(1, 250) if i % 3]  # min_users=1 drops P000
    assert len(unsolved) == 166
    first = parse(client.get("/users/dave/", {"min_users": "1"}))
    assert "of 166 unsolved problems" in first.select_one("p.showing").get_text()
    next_href = first.select_one("nav.pager a[rel=next]")["href"]
    assert parse_qs(urlsplit(next_href).query) == {"min_users": ["1"], "page": ["2"]}
    second = table_rows(client.get("/users/dave/" + next_href))
    expected = unsolved[100:]
    assert [r["code"] for r in second] == expected
    assert [r["rank"] for r in second] == [str(int(c[1:]) + 1) for c in expected]


def test_the_chart_draws_spoj_points_from_the_history(
    client: Client, table: dict[str, Problem]
) -> None:
    user = make_user("erin", ["AAA"])
    for days, points in ((10, "1.5"), (5, "2.25"), (1, "3.0")):
        SpojUserHistory.objects.create(
            user=user,
            world_rank=100,
            spoj_points=Decimal(points),
            solved_count=1,
            recorded_at=NOW - timedelta(days=days),
        )
    page = parse(client.get("/users/erin/"))
    titles = [t.get_text() for t in page.select("figure.chart g.dots circle title")]
    assert len(titles) == 3
    assert "2.25 points on SPOJ, 1 solved" in titles[1]


def test_json_export(client: Client, table: dict[str, Problem]) -> None:
    codes = ["CCC", "EEE", "GONE"]
    make_user("frank", codes, world_rank=None, spoj_points=None)
    data = json.loads(client.get("/users/frank.json").content)
    assert data["handle"] == "frank"
    assert f"{data['points']:.3f}" == exact_points(TABLE, codes)
    assert data["world_rank"] is None
    assert data["spoj_points"] is None
    assert [(s["code"], s["in_table"]) for s in data["solved"]] == [
        ("CCC", True),
        ("EEE", True),
        ("GONE", False),
    ]
    assert [r["code"] for r in data["unsolved"]] == ["AAA", "BBB", "DDD", "FFF"]
    assert data["unsolved_count"] == 4
    assert client.get("/users/nobody.json").status_code == 404


def test_names_and_handles_from_spoj_are_escaped(client: Client, table: dict[str, Problem]) -> None:
    make_user("xss", ["AAA"], name='<script>alert("x")</script>')
    body = client.get("/users/xss/").content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body
    assert "<i>BBB</i>" not in body
    assert "&lt;i&gt;BBB&lt;/i&gt;" in body


def test_unknown_and_bad_handles(client: Client, table: dict[str, Problem]) -> None:
    response = client.get("/users/nobody_here/")
    assert response.status_code == 404
    form = parse(response).select_one("form.lookup")
    assert form["action"] == "/users/"
    assert form["method"] == "post"
    assert form.select_one("input[name=handle]")["value"] == "nobody_here"
    assert form.select_one("input[name=csrfmiddlewaretoken]")
    assert client.get("/users/x/").status_code == 404  # too short for a handle
    assert client.get("/users/" + "a" * 40 + "/").status_code == 404
    assert client.get("/users/a%3Cb/").status_code == 404
    make_user("grace", [])
    redirect = client.get("/users/Grace/", {"sort": "code"})
    assert (redirect.status_code, redirect["Location"]) == (301, "/users/grace/?sort=code")
    for params in ({"page": "-5"}, {"page": "x"}, {"sort": "evil"}, {"min_acc": "nan"}):
        assert client.get("/users/grace/", params).status_code == 200


def test_a_user_with_nothing_solved(client: Client, table: dict[str, Problem]) -> None:
    make_user("heidi", [])
    page = parse(client.get("/users/heidi/"))
    assert page.select_one("#points").get_text() == "0.000"
    assert len(table_rows_of(page)) == 6


def table_rows_of(page: object) -> list[object]:
    return page.select("table.scores tbody tr")  # type: ignore[attr-defined]


def test_the_page_costs_the_same_queries_for_10_and_1000_solved(client: Client, db: None) -> None:
    problems = Problem.objects.bulk_create(
        make_problem(f"Q{i:04d}", f"Problem {i}", i) for i in range(1200)
    )
    record_scrape(NOW, len(problems))
    few = make_user("few", [f"Q{i:04d}" for i in range(10)])
    many = make_user("many", [f"Q{i:04d}" for i in range(0, 2000, 2)])  # 600 in, 400 not
    for user in (few, many):
        SpojUserHistory.objects.create(
            user=user, spoj_points=Decimal(1), solved_count=1, recorded_at=NOW
        )
    counts = []
    for handle in ("few", "many"):
        with queries() as done:
            response = client.get(f"/users/{handle}/", {"tag": ""})
        assert response.status_code == 200
        counts.append((len(done.version), len(done.data)))
    # The key (one indexed row), then to render: the user, the solved codes,
    # their problems' scores, the count and the page of unsolved, the history,
    # the tag filter's choices.
    assert counts[0] == counts[1] == (1, 8)
    assert many.solved.count() == 1000


def test_a_304_and_a_stored_page_cost_one_indexed_row_beside_the_data_version(
    client: Client, table: dict[str, Problem]
) -> None:
    make_user("ivan", ["AAA"])
    make_user("judy", ["BBB"])
    for url, rows in (("/users/ivan/", 1), ("/compare/ivan/judy/", 2), ("/problems/AAA/", 1)):
        first = client.get(url)
        assert first.status_code == 200
        with queries() as stored:
            assert client.get(url).content == first.content
        with queries() as conditional:
            assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        for done in (stored, conditional):
            assert len(done.data) == rows, (url, done.data)
            assert all(" WHERE " in sql and "JOIN" not in sql for sql in done.data), done.data


def test_a_user_deleted_between_the_key_and_the_render_is_a_404(
    client: Client, table: dict[str, Problem], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.web import keys
    from core.web.views import users

    ivan = make_user("ivan", ["AAA"])
    real = keys.user_keys

    def then_deleted(*handles: str) -> dict[str, keys.UserKey]:
        found = real(*handles)
        SpojUser.objects.filter(pk=ivan.pk).delete()
        return found

    monkeypatch.setattr(users, "user_keys", then_deleted)
    assert client.get("/users/ivan/").status_code == 404


def test_compare_lists_both_only_a_only_b_with_points(
    client: Client, table: dict[str, Problem]
) -> None:
    a_codes = ["AAA", "BBB", "EEE", "XA"]
    b_codes = ["BBB", "CCC", "DDD", "FFF", "EEE", "XB"]
    make_user("ann", a_codes)
    make_user("ben", b_codes)
    response = client.get("/compare/ann/ben/")
    assert response.status_code == 200
    page = parse(response)

    def section(key: str) -> tuple[list[str], str]:
        node = page.select_one(f"section#{key}")
        codes = [tr.select_one("td").get_text() for tr in node.select("tbody tr")]
        return codes, node.select_one(".section-points").get_text()

    both, only_a, only_b = ["BBB", "EEE"], ["AAA", "XA"], ["CCC", "DDD", "FFF", "XB"]
    assert section("both") == (both, exact_points(TABLE, both))
    assert section("only-a") == (only_a, exact_points(TABLE, only_a))
    # What ben solved that ann did not, best (highest score) first, unknown codes last.
    assert section("only-b") == (only_b, exact_points(TABLE, only_b))
    assert page.select_one("#points-a").get_text() == exact_points(TABLE, a_codes)
    assert page.select_one("#points-b").get_text() == exact_points(TABLE, b_codes)


def test_compare_404s_for_unknown_users(client: Client, table: dict[str, Problem]) -> None:
    make_user("ann", ["AAA"])
    assert client.get("/compare/ann/nobody/").status_code == 404
    assert client.get("/compare/nobody/ann/").status_code == 404
    assert client.get("/compare/ann/x/").status_code == 404
    assert client.get("/compare/Ann/ann/")["Location"] == "/compare/ann/ann/"


def test_user_pages_answer_conditional_requests_and_follow_a_fetch(
    client: Client, table: dict[str, Problem]
) -> None:
    user = make_user("ivan", ["AAA"])
    make_user("judy", ["BBB"])
    for url in ("/users/ivan/", "/users/ivan.json", "/compare/ivan/judy/"):
        first = client.get(url)
        assert first["Cache-Control"] == "public, max-age=60, stale-while-revalidate=600"
        assert first.has_header("Last-Modified")
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304
    etag = client.get("/users/ivan/")["ETag"]
    # A new fetch of the profile (no Scrape row) changes the page.
    SolvedProblem.objects.create(user=user, code="CCC", first_seen=NOW)
    SpojUser.objects.filter(pk=user.pk).update(
        solved_count=2, fetched_at=NOW + timedelta(minutes=1)
    )
    changed = client.get("/users/ivan/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert parse(changed).select_one("#solved-count").get_text() == "2"
    assert client.get("/users/nobody/")["Cache-Control"] == "no-store"


def test_kosaksis_real_profile_fetched_over_http_gives_exact_points(
    client: Client, spoj_table: list[Problem], spoj_server: object
) -> None:
    from django.core.management import call_command

    from tests.test_spoj_profile_parse import KOSAKSI_SOLVED
    from tests.web_data import fixture_rows

    call_command("scrape_spoj_users", "kosaksi", stdout=StringIO())
    users = {
        row["url"].rstrip("/").rsplit("/", 1)[-1]: int(row["user_count"]) for row in fixture_rows()
    }
    listed = [code for code in KOSAKSI_SOLVED if code in users]
    expected = sum((Fraction(80, 40 + users[code]) for code in listed), Fraction(0))
    page = parse(client.get("/users/kosaksi/"))
    assert page.select_one("#points").get_text() == f"{float(expected):,.3f}"
    assert page.select_one("#solved-count").get_text() == "70"
    facts = page.select_one("dl.user-facts").get_text(" ", strip=True)
    assert "28,304" in facts
    assert "0.6" in facts
    unlisted = sorted(set(KOSAKSI_SOLVED) - set(users))
    shown = page.select("details.not-in-table code")
    assert [c.get_text() for c in shown] == unlisted
    rows = table_rows(client.get("/users/kosaksi/"))
    assert len(rows) == 100
    assert not {r["code"] for r in rows} & set(KOSAKSI_SOLVED)
