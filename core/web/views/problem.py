"""``/problems/<CODE>/``: one problem's numbers and its score over time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render

from core.models import Problem
from core.web.caching import DataVersion, cached_page
from core.web.chart import HistoryPoint, score_chart
from core.web.exports import problem_url
from core.web.keys import problem_tags_fetched
from core.web.views.score_table import latest


def to_upper_case(request: HttpRequest, code: str) -> HttpResponsePermanentRedirect:
    # Codes are upper case on SPOJ; a hand-typed lower-case one still arrives.
    return redirect("problem_detail", code=code.upper(), permanent=True)


def _params(request: HttpRequest, version: DataVersion, code: str) -> Mapping[str, Any]:
    # Tags change without a scrape: the page is also as of its problem's last tag fetch.
    fetched = problem_tags_fetched(code)
    return {"code": code, "tags": fetched.isoformat() if fetched else ""}


def _modified(version: DataVersion, params: Mapping[str, Any]) -> datetime | None:
    if version.finished_at is None:
        return None
    return latest(version.finished_at, params["tags"])


@cached_page("problem_detail", _params, modified=_modified)
def problem_detail(request: HttpRequest, version: DataVersion, code: str) -> HttpResponse:
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
        "chart_title": f"Score of {problem.code} ({problem.name}) over time",
        "chart_desc": (
            f"{len(history)} recorded change{'' if len(history) == 1 else 's'}; the score is "
            "80 / (40 + users) and only falls as more users solve the problem."
        ),
        "tags": list(problem.tags.order_by("name", "slug").values_list("slug", "name")),
    }
    return render(request, "core/problem_detail.html", context)
