"""``/users/``, ``/users/<handle>/``, ``/users/<handle>.json`` and ``/compare/<a>/<b>/``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponsePermanentRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.models import SpojUser
from core.scheduling import request_run
from core.spoj.profile import normalize_handle
from core.web import lookup
from core.web.caching import DataVersion, cached_page
from core.web.chart import HistoryPoint, score_chart
from core.web.exports import export_rows
from core.web.keys import UserKey, tags_version, user_keys
from core.web.table import (
    ranked_problems,
)
from core.web.users import compare, format_points, solved_by, solved_of
from core.web.views.params import table_params
from core.web.views.score_table import _page_key, latest, table_context

# Known users listed on /users/, most solved first.
KNOWN_SHOWN = 50


def _spoj_profile_url(handle: str) -> str:
    return f"{settings.SPOJ_BASE_URL}/users/{handle}/"


# --- /users/<handle>/ -------------------------------------------------------------------


def _user_params(request: HttpRequest, version: DataVersion, key: UserKey) -> Mapping[str, Any]:
    query, sort, filters = table_params(request)
    return {
        "user": key.pk,
        "fetched_at": key.fetched_at.isoformat(),
        # The page says since when SPOJ has had no such user; a miss changes only this.
        "missing_since": key.missing_since.isoformat() if key.missing_since else "",
        "q": query,
        "sort": sort.param,
        **filters.params(),
        "page": _page_key(request.GET.get("page")),
        "tags": tags_version(),  # the tag filter's choices
    }


def _user_modified(version: DataVersion, params: Mapping[str, Any]) -> datetime | None:
    if version.finished_at is None:
        return None
    return latest(
        version.finished_at, params["fetched_at"], params["missing_since"], params["tags"]
    )


def _points_chart(user: SpojUser) -> tuple[list[HistoryPoint], Any]:
    history = [
        HistoryPoint(recorded_at=at, users=solved, score=float(points or 0))
        for at, solved, points in user.history.exclude(spoj_points=None)
        .order_by("recorded_at", "id")
        .values_list("recorded_at", "solved_count", "spoj_points")
    ]

    def describe(point: HistoryPoint) -> str:
        return (
            f"{point.recorded_at:%Y-%m-%d %H:%M}: {point.score:g} points on SPOJ, "
            f"{point.users:,} solved"
        )

    return history, score_chart(history, until=user.fetched_at, describe=describe)


def _load(key: UserKey) -> SpojUser:
    """The user behind ``key``, to render its page (gone since: a 404)."""
    user = SpojUser.objects.filter(pk=key.pk).first()
    if user is None:
        raise Http404(f"no user {key.handle}")
    return user


@cached_page("user_detail", _user_params, modified=_user_modified)
def _user_page(request: HttpRequest, version: DataVersion, key: UserKey) -> HttpResponse:
    user = _load(key)
    solved = solved_of(user)
    history, chart = _points_chart(user)
    context: dict[str, Any] = {
        "spoj_user": user,
        "points": format_points(solved.points),
        "solved": solved,
        "solved_in_table": len(solved.in_table),
        "not_in_table": solved.not_in_table,
        "spoj_profile_url": _spoj_profile_url(user.handle),
        "history": history,
        "chart": chart,
        "chart_title": f"SPOJ points of {user.handle} over time",
        "chart_desc": (
            f"{len(history)} recorded change{'' if len(history) == 1 else 's'} of the points "
            "SPOJ's profile showed."
        ),
        **table_context(request, "", without=solved_by(user)),
        "last_update": version.finished_at,
    }
    return render(request, "core/user_detail.html", context)


def _missing(request: HttpRequest, handle: str) -> HttpResponse:
    """No such user here: "being fetched" (refreshing itself) or a 404 offering the lookup.

    Never cached: the answer changes as soon as the fetch ends.
    """
    pending = lookup.pending_run(handle)
    if pending is not None:
        response = render(
            request, "core/user_pending.html", {"handle": handle, "run": pending}, status=200
        )
    else:
        response = render(
            request,
            "core/user_missing.html",
            {"handle": handle, "last_run": lookup.last_run(handle)},
            status=404,
        )
    response["Cache-Control"] = "no-store"
    return response


def _stored_handle(handle: str) -> str | None:
    try:
        return normalize_handle(handle)
    except ValueError:
        return None


def user_detail(request: HttpRequest, handle: str) -> HttpResponseBase:
    stored = _stored_handle(handle)
    if stored is None:
        return _missing(request, handle.lower())
    if stored != handle:
        return HttpResponsePermanentRedirect(
            reverse("user_detail", kwargs={"handle": stored})
            + (f"?{request.GET.urlencode()}" if request.GET else "")
        )
    key = user_keys(stored).get(stored)
    if key is None:
        return _missing(request, stored)
    return _user_page(request, key=key)


@cached_page("user_json", _user_params, modified=_user_modified)
def _user_json(request: HttpRequest, version: DataVersion, key: UserKey) -> HttpResponse:
    user = _load(key)
    query, sort, filters = table_params(request)
    solved = solved_of(user)
    unsolved = list(export_rows(ranked_problems(query, sort, filters, solved_by(user))))
    document = {
        "handle": user.handle,
        "name": user.name,
        "points": round(solved.points, 3),
        "world_rank": user.world_rank,
        "spoj_points": None if user.spoj_points is None else float(user.spoj_points),
        "solved_count": user.solved_count,
        "fetched_at": user.fetched_at.isoformat(),
        "missing_since": user.missing_since.isoformat() if user.missing_since else None,
        "last_scrape": version.finished_at.isoformat() if version.finished_at else None,
        "solved": [
            {"code": e.code, "score": e.score, "in_table": e.in_table} for e in solved.entries
        ],
        "unsolved": unsolved,
        "unsolved_count": len(unsolved),
    }
    return HttpResponse(
        json.dumps(document, ensure_ascii=False).encode(), content_type="application/json"
    )


def user_json(request: HttpRequest, handle: str) -> HttpResponseBase:
    stored = _stored_handle(handle)
    key = user_keys(stored).get(stored) if stored is not None and stored == handle else None
    if key is None:
        response = HttpResponse(
            json.dumps({"error": "unknown user", "handle": handle}).encode(),
            content_type="application/json",
            status=404,
        )
        response["Cache-Control"] = "no-store"
        return response
    return _user_json(request, key=key)


# --- /users/ ----------------------------------------------------------------------------


def _lookup_page(
    request: HttpRequest, handle: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    known = SpojUser.objects.order_by("-solved_count", "handle").values(
        "handle", "name", "solved_count", "world_rank"
    )[:KNOWN_SHOWN]
    return render(
        request,
        "core/user_lookup.html",
        {"handle": handle, "error": error, "known": list(known)},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def user_lookup(request: HttpRequest) -> HttpResponse:
    """The form (GET: carries a CSRF token, so never cached) and the lookup (POST)."""
    if request.method != "POST":
        return _lookup_page(request, handle=(request.GET.get("handle") or "")[:64])
    raw = str(request.POST.get("handle") or "")[:200]
    try:
        handle = normalize_handle(raw)
    except ValueError:
        return _lookup_page(
            request,
            handle=raw[:64],
            error="A SPOJ handle is 2 to 32 letters, digits or underscores.",
            status=400,
        )
    target = reverse("user_detail", kwargs={"handle": handle})
    if SpojUser.objects.filter(handle=handle).exists() or lookup.pending_run(handle):
        return redirect(target)
    if not lookup.allow_new_lookup(lookup.client_ip(request)):
        response = _lookup_page(
            request,
            handle=handle,
            error="Too many new lookups in the last minute; please try again in a minute.",
            status=429,
        )
        response["Retry-After"] = "60"
        return response
    request_run(lookup.TASK, [handle], requested_by="web")
    return redirect(target)


# --- /compare/<a>/<b>/ ------------------------------------------------------------------


def _compare_params(
    request: HttpRequest, version: DataVersion, a_key: UserKey, b_key: UserKey
) -> Mapping[str, Any]:
    return {
        "a": a_key.pk,
        "b": b_key.pk,
        "a_fetched": a_key.fetched_at.isoformat(),
        "b_fetched": b_key.fetched_at.isoformat(),
    }


def _compare_modified(version: DataVersion, params: Mapping[str, Any]) -> datetime | None:
    if version.finished_at is None:
        return None
    return latest(version.finished_at, params["a_fetched"], params["b_fetched"])


@cached_page("compare", _compare_params, modified=_compare_modified)
def _compare_page(
    request: HttpRequest, version: DataVersion, a_key: UserKey, b_key: UserKey
) -> HttpResponse:
    a, b = _load(a_key), _load(b_key)
    solved_a, solved_b = solved_of(a), solved_of(b)
    comparison = compare(solved_a, solved_b)
    sections = [
        ("both", f"Solved by both {a.handle} and {b.handle}", comparison.both),
        ("only-b", f"Solved by {b.handle}, not by {a.handle}: try these first", comparison.only_b),
        ("only-a", f"Solved by {a.handle}, not by {b.handle}", comparison.only_a),
    ]
    context = {
        "a": a,
        "b": b,
        "points_a": format_points(solved_a.points),
        "points_b": format_points(solved_b.points),
        "sections": [
            {
                "id": key,
                "title": title,
                "entries": entries,
                "points": format_points(comparison.points(entries)),
                "scored": sum(1 for e in entries if e.in_table),
            }
            for key, title, entries in sections
        ],
    }
    return render(request, "core/compare.html", context)


def compare_users(request: HttpRequest, a: str, b: str) -> HttpResponseBase:
    handles = (_stored_handle(a), _stored_handle(b))
    if None in handles:
        bad = [h for h, s in zip((a, b), handles, strict=True) if s is None]
        return _compare_missing(request, bad)
    if handles != (a, b):
        return HttpResponsePermanentRedirect(
            reverse("compare_users", kwargs={"a": handles[0], "b": handles[1]})
        )
    users = user_keys(a, b)
    missing = [h for h in (a, b) if h not in users]
    if missing:
        return _compare_missing(request, missing)
    return _compare_page(request, a_key=users[a], b_key=users[b])


def _compare_missing(request: HttpRequest, handles: list[str]) -> HttpResponse:
    response = render(
        request, "core/compare_missing.html", {"handles": [h.lower() for h in handles]}, status=404
    )
    response["Cache-Control"] = "no-store"
    return response
