"""``/``: the score table, with sort, search, filters and pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.models import Problem, Scrape
from core.web.exports import problem_url
from core.web.table import (
    DEFAULT_SORT,
    NO_FILTERS,
    ROW_FIELDS,
    Filters,
    PageWindow,
    Sort,
    active_problems,
    ranked_problems,
)
from core.web.views.params import table_params

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
    query, sort, filters = table_params(request)
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
