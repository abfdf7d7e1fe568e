"""``/problems.csv`` and ``/problems.json``: the whole table, same parameters as ``/``."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from core.models import Scrape
from core.web.exports import csv_lines, json_chunks
from core.web.table import ranked_problems
from core.web.views.params import table_params


def _last_scrape() -> datetime | None:
    return Scrape.objects.order_by("-finished_at").values_list("finished_at", flat=True).first()


def problems_csv(request: HttpRequest) -> StreamingHttpResponse:
    query, sort, filters = table_params(request)
    response = StreamingHttpResponse(
        csv_lines(ranked_problems(query, sort, filters)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="spojscore-problems.csv"'
    return response


def problems_json(request: HttpRequest) -> StreamingHttpResponse:
    query, sort, filters = table_params(request)
    chunks = json_chunks(ranked_problems(query, sort, filters), timezone.now(), _last_scrape())
    return StreamingHttpResponse(chunks, content_type="application/json")
