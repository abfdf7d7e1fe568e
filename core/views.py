"""The score table, a problem's page, the exports and the health check.

Every request parameter is optional and forgiving: an unknown sort means the
default order, a page out of range is clamped, the search text is trimmed and
capped (``core.search.clean_query``), a filter that is not a number >= 0 is
ignored and a too big one clamped (``core.table.Filters``). None of them can
make a page fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db import DatabaseError, connection
from django.db.models import Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from core.chart import HistoryPoint, score_chart
from core.exports import csv_lines, json_chunks, problem_url
from core.models import Problem, Scrape
from core.search import clean_query
from core.table import (
    DEFAULT_SORT,
    NO_FILTERS,
    ROW_FIELDS,
    Filters,
    PageWindow,
    Sort,
    active_problems,
    ranked_problems,
)

COLUMNS = (
    # (sort key, header, numeric)
    ("code", "Code", False),
    ("name", "Name", False),
    ("users", "Users", True),
    ("score", "Score", True),
    # A soft hyphen: on a phone the header breaks as "Accept-/ance" (no dictionary needed).
    ("acceptance", "Accept\u00adance", True),
)


@dataclass(frozen=True)
class TableRow:
    """One row of ``/``, numbers already formatted: 100 rows of ``floatformat``
    and ``{% url %}`` in the template cost more than the queries."""

    rank: int
    code: str
    name: str
    users: str
    score: str
    acceptance: str
    spoj_url: str
    page_url: str


def _table_rows(problems: list[Problem]) -> list[TableRow]:
    # reverse() once, not once per row.
    page_prefix = reverse("problem_detail", kwargs={"code": "X"}).removesuffix("X/")
    return [
        TableRow(
            rank=p.rank,  # type: ignore[attr-defined]  # the window annotation
            code=p.code,
            name=p.name,
            users=f"{p.users:,}",
            score=f"{p.score:.3f}",
            acceptance=f"{p.acceptance:.2f}%",
            spoj_url=problem_url(p.code),
            page_url=f"{page_prefix}{p.code}/",
        )
        for p in problems
    ]


def _last_scrape() -> datetime | None:
    return Scrape.objects.order_by("-finished_at").values_list("finished_at", flat=True).first()


SPOJ_HOSTS = frozenset({"www.spoj.com", "spoj.com"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class DataSource:
    """Where the table's data was scraped from, and when: the newest ``Scrape``.

    ``kind`` is ``spoj`` (the real site: the scrape time is the data's age),
    ``local`` (a server on this machine, such as the offline demo's fake SPOJ,
    which serves a May 2025 snapshot) or ``other``; for those two the page says
    the time is when it was scraped, since nothing tells how old their data is.
    """

    finished_at: datetime
    base_url: str
    kind: str


def _data_source() -> DataSource | None:
    scrape = Scrape.objects.order_by("-finished_at").only("finished_at", "base_url").first()
    if scrape is None:
        return None
    host = urlsplit(scrape.base_url).hostname or ""
    kind = "spoj" if host in SPOJ_HOSTS else "local" if host in LOCAL_HOSTS else "other"
    return DataSource(finished_at=scrape.finished_at, base_url=scrape.base_url, kind=kind)


def _table_params(request: HttpRequest) -> tuple[str, Sort, Filters]:
    return (
        clean_query(request.GET.get("q")),
        Sort.parse(request.GET.get("sort")),
        Filters.parse(request.GET.get("min_users"), request.GET.get("min_acc")),
    )


def _query_string(query: str, sort: Sort, filters: Filters, page: int = 1) -> str:
    """``?...`` for the table with these parameters, leaving out the defaults."""
    params: dict[str, str | int] = {}
    if query:
        params["q"] = query
    if sort.param != DEFAULT_SORT:
        params["sort"] = sort.param
    params.update(filters.params())
    if page > 1:
        params["page"] = page
    return "?" + urlencode(params) if params else "?"


def score_table(request: HttpRequest) -> HttpResponse:
    query, sort, filters = _table_params(request)
    # Three queries whatever the page: count, one page of rows, last scrape.
    page = PageWindow.parse(request.GET.get("page"), active_problems(query, filters).count())
    problems = ranked_problems(query, sort, filters).only(*ROW_FIELDS)
    rows = _table_rows(list(problems[page.offset : page.offset + page.size]))
    columns = [
        {
            "key": key,
            "label": label,
            "numeric": numeric,
            "href": _query_string(query, sort.toggled_for(key), filters),
            "aria_sort": (
                ("descending" if sort.descending else "ascending") if key == sort.key else ""
            ),
        }
        for key, label, numeric in COLUMNS
    ]
    export_params = _query_string(query, sort, filters).removeprefix("?")
    context: dict[str, Any] = {
        "rows": rows,
        "columns": columns,
        "query": query,
        "sort": sort,
        "page": page,
        "filters": filters,
        "previous_href": _query_string(query, sort, filters, page.number - 1),
        "next_href": _query_string(query, sort, filters, page.number + 1),
        "source": _data_source(),
        "export_query": f"?{export_params}" if export_params else "",
        "clear_href": _query_string("", sort, NO_FILTERS),
        "sorted_by_default": sort.param == DEFAULT_SORT,
    }
    return render(request, "core/score_table.html", context)


def problem_detail(request: HttpRequest, code: str) -> HttpResponse:
    if code != code.upper():
        # Codes are upper case on SPOJ; a hand-typed lower-case one still arrives.
        return redirect("problem_detail", code=code.upper(), permanent=True)
    problem = get_object_or_404(Problem, code=code)
    history = [
        HistoryPoint(recorded_at=at, users=users, score=score)
        for at, users, score in problem.history.order_by("recorded_at", "id").values_list(
            "recorded_at", "users", "score"
        )
    ]
    rank = None
    if problem.active:
        # The same rank as on "/": problems with a higher score, or equal score and earlier code.
        ahead = Q(score__gt=problem.score) | Q(score=problem.score, code__lt=problem.code)
        rank = Problem.objects.filter(active=True).filter(ahead).count() + 1
    context = {
        "problem": problem,
        "rank": rank,
        "history": history,
        "chart": score_chart(history, until=problem.last_seen),
        "spoj_url": problem_url(problem.code),
    }
    return render(request, "core/problem_detail.html", context)


def problems_csv(request: HttpRequest) -> StreamingHttpResponse:
    query, sort, filters = _table_params(request)
    response = StreamingHttpResponse(
        csv_lines(ranked_problems(query, sort, filters)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="spojscore-problems.csv"'
    return response


def problems_json(request: HttpRequest) -> StreamingHttpResponse:
    query, sort, filters = _table_params(request)
    chunks = json_chunks(ranked_problems(query, sort, filters), timezone.now(), _last_scrape())
    return StreamingHttpResponse(chunks, content_type="application/json")


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Resolved per request: the hashed name exists only after collectstatic.
    return HttpResponsePermanentRedirect(static("core/favicon.svg"))
