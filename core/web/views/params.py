"""The score table's request parameters, shared by ``/`` and the exports."""

from __future__ import annotations

from django.http import HttpRequest

from core.web.search import clean_query
from core.web.table import Filters, Sort


def table_params(request: HttpRequest) -> tuple[str, Sort, Filters]:
    return (
        clean_query(request.GET.get("q")),
        Sort.parse(request.GET.get("sort")),
        Filters.parse(
            request.GET.get("min_users"), request.GET.get("min_acc"), request.GET.get("tag")
        ),
    )
