"""``/problems.csv`` and ``/problems.json``: the whole table, same parameters as ``/``.

Rendered once per data version and parameters and kept in the page cache
(``core.web.caching``), so the document is built in memory (about 0.8 MB of
JSON for 3,971 problems) rather than streamed: the rows are still read in
chunks, and the cache holds the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

from core.web.caching import DataVersion, cached_page
from core.web.exports import csv_lines, json_chunks
from core.web.keys import tags_version
from core.web.table import ranked_problems
from core.web.views.params import table_params
from core.web.views.score_table import latest


def _params(request: HttpRequest, version: DataVersion) -> Mapping[str, Any]:
    query, sort, filters = table_params(request)
    return {
        "q": query,
        "sort": sort.param,
        **filters.params(),
        "tags": tags_version() if filters.tag else "",
    }


def _modified(version: DataVersion, params: Mapping[str, Any]) -> datetime | None:
    if version.finished_at is None:
        return None
    return latest(version.finished_at, params["tags"])


@cached_page("problems_csv", _params, modified=_modified)
def problems_csv(request: HttpRequest, version: DataVersion) -> HttpResponse:
    query, sort, filters = table_params(request)
    body = "".join(csv_lines(ranked_problems(query, sort, filters)))
    response = HttpResponse(body.encode(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="spojscore-problems.csv"'
    return response


@cached_page("problems_json", _params, modified=_modified)
def problems_json(request: HttpRequest, version: DataVersion) -> HttpResponse:
    query, sort, filters = table_params(request)
    chunks = json_chunks(
        ranked_problems(query, sort, filters), version.read_at, version.finished_at
    )
    return HttpResponse("".join(chunks).encode(), content_type="application/json")
