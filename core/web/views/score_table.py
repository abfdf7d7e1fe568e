"""``/``: the score table, with sort, search, filters and pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.models import Problem
from core.web.caching import DataVersion, cached_page
from core.web.exports import problem_url
from core.web.keys import tags_version
from core.web.table import (
    DEFAULT_SORT,
    NO_FILTERS,
    ROW_FIELDS,
    Filters,
    PageWindow,
    Sort,
    active_problems,
    ranked_problems,
    tag_name,
    tag_options,
)
from core.web.views.params import table_params

# Page numbers above this share one cache entry and ETag (all show the last
# page): a crawler asking for ?page=1..10**9 cannot make a billion entries.
MAX_PAGE_KEY = 10_000

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


def _data_source(version: DataVersion) -> DataSource | None:
    if version.finished_at is None or version.base_url is None:
        return None
    host = urlsplit(version.base_url).hostname or ""
    kind = "spoj" if host in SPOJ_HOSTS else "local" if host in LOCAL_HOSTS else "other"
    return DataSource(finished_at=version.finished_at, base_url=version.base_url, kind=kind)


_AGE_UNITS = (("day", 86400, 2 * 86400), ("hour", 3600, 3600))


def shown_age(finished_at: datetime, now: datetime) -> tuple[str, datetime]:
    """How long ago ``finished_at`` was, as the page says it, and since when it says so.

    "less than an hour", then one unit rounded down: hours under two days,
    then days (the exact time is printed beside it). The text is part of the
    page's ETag and the moment it began to apply is its Last-Modified, so a
    cached page is re-rendered when, and only when, the text changes: at most
    once an hour between scrapes.
    """
    seconds = max(0, int((now - finished_at).total_seconds()))
    for unit, size, threshold in _AGE_UNITS:
        if seconds >= threshold:
            count = seconds // size
            return f"{count}\u00a0{unit}{'' if count == 1 else 's'}", finished_at + timedelta(
                seconds=count * size
            )
    return "less than an hour", finished_at


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


def _page_key(value: str | None) -> int:
    try:
        number = int(value or "1")
    except ValueError:
        number = 1
    return min(max(number, 1), MAX_PAGE_KEY)


def _params(request: HttpRequest, version: DataVersion) -> Mapping[str, Any]:
    query, sort, filters = table_params(request)
    age = None
    if version.finished_at is not None:
        age = shown_age(version.finished_at, version.read_at)[0]
    return {
        "q": query,
        "sort": sort.param,
        **filters.params(),
        "page": _page_key(request.GET.get("page")),
        "age": age,
        # Tags change without a scrape: the tag filter's choices (and a tag's
        # table) are also as of the last tag change.
        "tags": tags_version(),
    }


def _modified(version: DataVersion, params: Mapping[str, Any]) -> datetime | None:
    if version.finished_at is None:
        return None
    return latest(shown_age(version.finished_at, version.read_at)[1], params.get("tags"))


def latest(moment: datetime, *others: str | None) -> datetime:
    """The newest of ``moment`` and the ISO times in ``others`` (empty ones skipped)."""
    times = [moment, *(datetime.fromisoformat(other) for other in others if other)]
    return max(times)


@cached_page("score_table", _params, modified=_modified)
def score_table(request: HttpRequest, version: DataVersion) -> HttpResponse:
    source = _data_source(version)
    context: dict[str, Any] = {
        **table_context(request, reverse("score_table")),
        "source": source,
        "age": shown_age(source.finished_at, version.read_at)[0] if source else "",
    }
    return render(request, "core/score_table.html", context)


def table_context(
    request: HttpRequest, form_action: str, without: Q | None = None
) -> dict[str, Any]:
    """The context of a problem table ("/", and a user's best unsolved: ``without``
    their solved problems): its page of rows, header links, pager, filter form.

    Four queries whatever the page: count, one page of rows, the tag filter's
    choices and the selected tag's name (the data version is read before).
    """
    query, sort, filters = table_params(request)
    page = PageWindow.parse(
        request.GET.get("page"), active_problems(query, filters, without).count()
    )
    problems = ranked_problems(query, sort, filters, without).only(*ROW_FIELDS)
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
    name = tag_name(filters.tag)
    return {
        "rows": rows,
        "columns": columns,
        "query": query,
        "sort": sort,
        "page": page,
        "filters": filters,
        "previous_href": _query_string(query, sort, filters, page.number - 1),
        "next_href": _query_string(query, sort, filters, page.number + 1),
        "export_query": f"?{export_params}" if export_params else "",
        "clear_href": _query_string("", sort, NO_FILTERS),
        "tag_name": name,
        "tag_options": tag_options(filters.tag, name),
        "untag_href": _query_string(query, sort, replace(filters, tag="")),
        "sorted_by_default": sort.param == DEFAULT_SORT,
        "form_action": form_action,
    }
