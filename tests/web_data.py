"""Score-table data for the web tests and ``bench/page.py``, written with the ORM.

The rows come from SPOJ's real list (May 2025, 3,971 problems), so the pages
are exercised with real names: non-ASCII letters, double-encoded titles,
``&`` and quotes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Problem, ProblemHistory, Scrape, score_for
from core.web import caching
from core.web.caching import local_pages

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


@pytest.fixture(autouse=True)
def _empty_local_page_cache() -> None:
    """Each test starts with this process's page cache and recent reads (the
    data version, users' and problems' keys) empty: on SQLite a rolled back
    test's scrape ids are handed out again, so a page stored under one test's
    data version could otherwise be served to the next. (The shared cache, a
    table, rolls back with each test's transaction.)"""
    local_pages.clear()
    caching.forget_recent_reads()


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


# --- what a request asked of the database ---------------------------------------------

_TRANSACTION = re.compile(r"^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|BEGIN|COMMIT)\b")


@dataclass
class Queries:
    """The statements of some requests, by purpose: the data version (the newest
    scrape, read first by every cached page), the tags version (the newest tag
    fetch, in the key of every page with a tag filter), the page cache's table
    (and the savepoints its writes open), and the data the page is rendered from."""

    version: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    cache: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.version) + len(self.tags) + len(self.cache) + len(self.data)


@contextmanager
def queries() -> Iterator[Queries]:
    found = Queries()
    with CaptureQueriesContext(connection) as captured:
        yield found
    for query in captured.captured_queries:
        sql = query["sql"]
        if "spojscore_cache" in sql or _TRANSACTION.match(sql):
            found.cache.append(sql)
        elif "core_scrape" in sql and "SELECT (SELECT MAX(" in sql:
            found.version.append(sql)
        elif sql.startswith('SELECT MAX("tags_fetched_at") FROM "core_problem"'):
            found.tags.append(sql)
        else:
            found.data.append(sql)


@contextmanager
def templates_rendered() -> Iterator[list[str]]:
    """The names of the templates rendered inside the block (the test runner's
    instrumented renderer sends ``template_rendered`` for each)."""
    names: list[str] = []

    def receiver(sender: Any, template: Any, context: Any, **kwargs: Any) -> None:
        names.append(template.name)

    template_rendered.connect(receiver)
    try:
        yield names
    finally:
        template_rendered.disconnect(receiver)
