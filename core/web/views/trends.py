"""``/trends/``: the problems whose users grew most over 7 and 30 days, and new problems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.web.caching import DataVersion, cached_page
from core.web.exports import problem_url
from core.web.trends import NEW_DAYS, WINDOWS, first_scrape, new_problems, window


def _params(request: HttpRequest, version: DataVersion) -> Mapping[str, Any]:
    return {}  # the page takes no parameters: it is the data's, as of the last update


@cached_page("trends", _params)
def trends(request: HttpRequest, version: DataVersion) -> HttpResponse:
    context: dict[str, Any] = {"last_update": version.finished_at, "new_days": NEW_DAYS}
    history_starts = first_scrape()
    if version.finished_at is not None and history_starts is not None:
        context["history_starts"] = history_starts
        context["windows"] = [window(days, version.finished_at, history_starts) for days in WINDOWS]
        context["new"] = [
            {"problem": problem, "spoj_url": problem_url(problem.code)}
            for problem in new_problems(version.finished_at, history_starts)
        ]
    return render(request, "core/trends.html", context)
