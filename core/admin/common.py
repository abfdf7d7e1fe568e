"""What the run and task admins share: the status badge, durations, the run-request guard."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.models import Status

RUN_PERMISSION = "core.run_task"
BADGE_COLOURS: dict[str, str] = {
    Status.QUEUED: "#6c757d",
    Status.RUNNING: "#0d6efd",
    Status.SUCCEEDED: "#198754",
    Status.FAILED: "#dc3545",
    Status.TIMED_OUT: "#dc3545",
    Status.INTERRUPTED: "#fd7e14",
    Status.ABANDONED: "#dc3545",
    Status.MISSED: "#b58900",
    Status.SKIPPED: "#6c757d",
}


def status_badge(status: str) -> SafeString:
    colour = BADGE_COLOURS.get(status, "#6c757d")  # Status members hash as their values
    return format_html(
        '<span style="background:{};color:#fff;padding:1px 6px;border-radius:8px;'
        'white-space:nowrap">{}</span>',
        colour,
        status,
    )


def short_duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{sign}{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours} h {minutes} min"


def can_request_runs(request: HttpRequest) -> bool:
    return request.user.has_perm(RUN_PERMISSION)


def request_object_id(request: HttpRequest, object_id: str) -> int:
    """Guard of the "Run now" and "Retry" buttons: a POST by a permitted user, a numeric id."""
    if not can_request_runs(request):
        raise PermissionDenied
    if not object_id.isdigit():
        raise Http404
    return int(object_id)
