"""A problem's page at ``/problems/<code>/``: its numbers, its chart, 404s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from core.models import Problem, ProblemHistory, score_for
from tests.web_data import make_problem, parse, queries, record_scrape

SEEN = datetime(2025, 5, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def problems(db: None) -> dict[str, Problem]:
    made = Problem.objects.bulk_create(
        [
            make_problem("EASY", "Easy one", 900, acceptance=61.5, quality=12, spoj_id=42),
            make_problem("HARD", "Hard one", 3, acceptance=5.25, spoj_id=43),
            make_problem("TIED", "Tied with hard", 3, spoj_id=44),
            make_problem("OLD", "Old one", 7, spoj_id=45, active=False),
        ]
    )
    Problem.objects.filter(code="EASY").update(first_seen=SEEN, last_seen=SEEN + timedelta(days=60))
    return {p.code: Problem.objects.get(pk=p.pk) for p in made}


def add_history(problem: Problem, *users_by_day: tuple[int, int]) -> None:
    ProblemHistory.objects.bulk_create(
        ProblemHistory(
            problem=problem,
            users=users,
            score=score_for(users),
            recorded_at=SEEN + timedelta(days=day),
        )
        for day, users in users_by_day
    )


def facts(response) -> dict[str, str]:
    page = parse(response)
    return {
        div.dt.get_text(strip=True): div.dd.get_text(" ", strip=True)
        for div in page.select("dl.facts > div")
    }


def test_it_shows_the_problems_numbers(client: Client, problems: dict[str, Problem]) -> None:
    response = client.get("/problems/EASY/")
    assert response.status_code == 200
    page = parse(response)
    assert page.h1.get_text(" ", strip=True) == "EASY Easy one"
    assert facts(response) == {
        "Score": "0.08511",  # 80 / 940
        "Rank": "3",  # after HARD and TIED; OLD is worth more but no longer listed
        "Users": "900",
        "Acceptance": "61.50%",
        "Quality": "12",
        "SPOJ id": "42",
        "First seen": "2025-05-01 03:00 UTC",
        "Last seen": "2025-06-30 03:00 UTC",
        "Status": "Listed",
    }


def test_its_rank_matches_the_table_with_ties_broken_by_code(
    client: Client, problems: dict[str, Problem]
) -> None:
    assert facts(client.get("/problems/HARD/"))["Rank"] == "1"
    assert facts(client.get("/problems/TIED/"))["Rank"] == "2"


def test_an_unrated_problem_says_so(client: Client, problems: dict[str, Problem]) -> None:
    assert facts(client.get("/problems/HARD/"))["Quality"] == "not rated"


def test_it_links_to_the_problem_on_spoj(
    client: Client, problems: dict[str, Problem], settings
) -> None:
    settings.SPOJ_BASE_URL = "https://spoj.example"
    links = [a["href"] for a in parse(client.get("/problems/EASY/")).select("main a")]
    assert "https://spoj.example/problems/EASY" in links


def test_an_unknown_code_is_404(client: Client, problems: dict[str, Problem]) -> None:
    assert client.get("/problems/NOSUCH/").status_code == 404


@pytest.mark.parametrize(
    "path", ["/problems/A-B/", "/problems/%00/", "/problems/" + "A" * 33 + "/"]
)
def test_a_code_spoj_could_not_have_is_404(
    client: Client, problems: dict[str, Problem], path: str
) -> None:
    assert client.get(path).status_code == 404


def test_a_lower_case_code_redirects_to_the_real_one(
    client: Client, problems: dict[str, Problem]
) -> None:
    response = client.get("/problems/easy/")
    assert response.status_code == 301
    assert response["Location"] == "/problems/EASY/"


def test_a_problem_no_longer_listed_keeps_its_page_marked_as_such(
    client: Client, problems: dict[str, Problem]
) -> None:
    response = client.get("/problems/OLD/")
    assert response.status_code == 200
    assert "No longer listed" in parse(response).select_one(".notice").get_text()
    assert facts(response)["Status"] == "No longer listed"
    assert facts(response)["Rank"] == "—"
    assert parse(client.get("/problems/EASY/")).select_one(".notice") is None


def test_without_history_it_says_there_is_no_chart_yet(
    client: Client, problems: dict[str, Problem]
) -> None:
    page = parse(client.get("/problems/EASY/"))
    assert page.select("svg") == []
    assert "No history recorded yet" in page.select_one(".history").get_text()


def test_one_history_point_draws_one_dot_and_a_flat_line(
    client: Client, problems: dict[str, Problem]
) -> None:
    add_history(problems["EASY"], (0, 900))
    svg = parse(client.get("/problems/EASY/")).select_one("figure.chart svg")
    dots = svg.select("circle")
    assert len(dots) == 1
    assert dots[0].title.get_text() == "2025-05-01 03:00 UTC: 900 users, score 0.08511"
    points = [tuple(map(float, p.split(","))) for p in svg.polyline["points"].split()]
    # From the dot to the last time the problem was seen, at the same height.
    assert len(points) == 2
    assert points[0] == (float(dots[0]["cx"]), float(dots[0]["cy"]))
    assert points[1][1] == points[0][1]
    assert points[1][0] > points[0][0]


def test_many_history_points_draw_a_falling_step_line_with_labelled_axes(
    client: Client, problems: dict[str, Problem]
) -> None:
    add_history(problems["EASY"], (0, 700), (20, 800), (40, 850), (60, 900))
    svg = parse(client.get("/problems/EASY/")).select_one("figure.chart svg")
    assert svg["role"] == "img"
    assert svg.title.get_text() == "Score of EASY (Easy one) over time"
    dots = svg.select("g.dots circle")
    titles = [dot.title.get_text() for dot in dots]
    assert titles[0].startswith("2025-05-01 03:00 UTC: 700 users")
    assert titles[-1].startswith("2025-06-30 03:00 UTC: 900 users")
    xs = [float(d["cx"]) for d in dots]
    ys = [float(d["cy"]) for d in dots]
    assert xs == sorted(xs)
    assert len(set(xs)) == 4
    assert ys == sorted(ys)
    assert len(set(ys)) == 4
    assert len(svg.polyline["points"].split()) == 7  # a step (two corners) per change
    y_labels = [float(t.get_text()) for t in svg.select("g.y-labels text")]
    assert min(y_labels) <= score_for(900)
    assert max(y_labels) >= score_for(700)
    x_labels = [t.get_text() for t in svg.select("g.x-labels text")]
    assert x_labels[0] == "2025-05-01"
    assert x_labels[-1] == "2025-06-30"
    rows = parse(client.get("/problems/EASY/")).select("details.history-table tbody tr")
    assert len(rows) == 4


def test_the_page_is_rendered_from_three_queries_however_long_the_history(
    client: Client, problems: dict[str, Problem]
) -> None:
    add_history(problems["EASY"], *[(day, 700 + day) for day in range(200)])
    record_scrape(SEEN + timedelta(days=60), 4)
    # The data version and the problem's last tag fetch (tags change without a
    # scrape: part of the ETag), then the problem, its rank, its history, its tags.
    with queries() as done:
        response = client.get("/problems/EASY/")
    assert (len(done.version), len(done.data)) == (1, 5)
    assert len(parse(response).select("g.dots circle")) == 200
    # No rank for a problem that is no longer listed.
    with queries() as done:
        client.get("/problems/OLD/")
    assert (len(done.version), len(done.data)) == (1, 4)
    # Asked again: from the cache, after the version and the tag fetch time.
    with queries() as done:
        client.get("/problems/EASY/")
    assert done.total == 2
