"""Score-table data for the web tests and ``bench/page.py``, written with the ORM.

The rows come from SPOJ's real list (May 2025, 3,971 problems), so the pages
are exercised with real names: non-ASCII letters, double-encoded titles,
``&`` and quotes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone

from core.models import Problem, ProblemHistory, Scrape, score_for

FIXTURE = Path(__file__).parent / "fixtures" / "spoj" / "classical_list_all_2025-05_scraped.json"


def fixture_rows() -> list[dict[str, Any]]:
    with FIXTURE.open(encoding="utf-8") as f:
        rows: list[dict[str, Any]] = json.load(f)
    return rows


def make_problem(
    code: str,
    name: str = "",
    users: int = 0,
    *,
    acceptance: float = 50.0,
    quality: int | None = None,
    spoj_id: int = 1,
    active: bool = True,
    seen: datetime | None = None,
) -> Problem:
    """An unsaved problem with a consistent score."""
    seen = seen or timezone.now()
    return Problem(
        code=code,
        name=name or code.title(),
        spoj_id=spoj_id,
        users=users,
        score=score_for(users),
        acceptance=acceptance,
        quality=quality,
        first_seen=seen,
        last_seen=seen,
        active=active,
    )


def spoj_problems(rows: Iterable[dict[str, Any]] | None = None) -> list[Problem]:
    """Unsaved problems for the fixture's rows."""
    seen = timezone.now()
    return [
        make_problem(
            row["url"].rstrip("/").rsplit("/", 1)[-1],
            row["title"],
            int(row["user_count"]),
            acceptance=float(row["acceptance_rate"]),
            quality=None if row["quality"] is None else int(row["quality"]),
            spoj_id=int(row["id"]),
            seen=seen,
        )
        for row in (fixture_rows() if rows is None else rows)
    ]


def load_spoj_problems(history_every: int = 0, history_points: int = 5) -> list[Problem]:
    """Save all fixture problems, a finished scrape and, for every
    ``history_every``-th problem, ``history_points`` history rows (users growing)."""
    problems = Problem.objects.bulk_create(spoj_problems(), batch_size=500)
    now = timezone.now()
    if history_every:
        history = []
        for problem in problems[::history_every]:
            for i in range(history_points):
                users = max(0, problem.users - (history_points - 1 - i) * 3)
                history.append(
                    ProblemHistory(
                        problem=problem,
                        users=users,
                        score=score_for(users),
                        recorded_at=now - timedelta(days=30 * (history_points - 1 - i)),
                    )
                )
        ProblemHistory.objects.bulk_create(history, batch_size=1000)
    record_scrape(now, len(problems))
    return problems


def record_scrape(
    finished_at: datetime, problems: int, base_url: str = "https://www.spoj.com"
) -> Scrape:
    return Scrape.objects.create(
        started_at=finished_at - timedelta(minutes=2),
        finished_at=finished_at,
        base_url=base_url,
        pages=80,
        problems=problems,
        new=problems,
        changed=0,
        unchanged=0,
        gone=0,
    )


@pytest.fixture
def spoj_table(db: None) -> list[Problem]:
    """The whole May 2025 list (3,971 active problems) and one finished scrape."""
    return load_spoj_problems()


def parse(response: Any) -> Any:
    """The page's HTML tree. Typed Any so tests navigate it freely: a missing
    element fails the test all the same (with an AttributeError or TypeError)."""
    return BeautifulSoup(response.content.decode(), "lxml")


def content(response: Any) -> bytes:
    """The body of a response, streamed or not."""
    if response.streaming:
        return b"".join(response.streaming_content)
    body: bytes = response.content
    return body


def table_rows(response: Any) -> list[dict[str, str]]:
    """The score table's body rows as text, keyed by column."""
    keys = ("rank", "code", "name", "users", "score", "acceptance")
    rows = []
    for tr in parse(response).select("table.scores tbody tr"):
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        rows.append(dict(zip(keys, cells, strict=True)))
    return rows


def score_order(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in rank order: score high to low, ties by code."""
    return sorted(problems, key=lambda p: (-p.score, p.code))


@pytest.fixture
def table_250(db: None) -> list[Problem]:
    """250 active problems (users 0-249, so rank = users + 1): three pages, quick to make."""
    problems = [make_problem(f"P{i:03d}", f"Problem {i}", i) for i in range(250)]
    return Problem.objects.bulk_create(problems)
