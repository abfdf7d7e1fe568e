"""Admin for the score table's periodic tasks: read-only run records, task switches.

Nothing here runs a task. "Run now" and "Retry" insert ``queued`` runs that
the clock or the next ``runtasks`` starts (see ``core.scheduling.control``).
The run list is built to stay fast on millions of rows: indexes serve its
ordering, PostgreSQL's planner estimate replaces COUNT(*) for huge results,
and no filter or search scans the table (see docs/ops.md).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.models import FAILURES, Status, Task, TaskRun
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.control import RunRequestError, request_run, retry_run
from core.scheduling.state import ensure_task_rows
from core.scheduling.status import TaskStatus, task_statuses

RUN_PERMISSION = "core.run_task"
MAX_RETRIES_AT_ONCE = 100
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
# Above this many (estimated) rows the run list shows PostgreSQL's estimate
# instead of running COUNT(*), which would read every matching row.
ESTIMATE_ABOVE = 50_000


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


class EstimatedCountPaginator(Paginator):
    """Skips the exact COUNT(*) of a huge result on PostgreSQL.

    Counting a million rows reads them all, while the planner's estimate
    (EXPLAIN, about a millisecond) is close enough to number the pages. Results
    the planner expects to be small, and everything on SQLite (whose COUNT(*)
    walks the smallest index quickly), are counted exactly. ``estimated`` tells
    the template to say "about".
    """

    estimated = False

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and connections[qs.db].vendor == "postgresql":
            guess = _planner_rows(qs)
            if guess > ESTIMATE_ABOVE:
                self.estimated = True
                return guess
        return super().count


def _planner_rows(qs: QuerySet[Any]) -> int:
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class TaskNameFilter(admin.SimpleListFilter):
    """Task names from settings and the Task table: no DISTINCT over the runs."""

    title = "task"
    parameter_name = "task"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = set(get_tasks()) | set(Task.objects.values_list("name", flat=True))
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(task=value) if value else queryset


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = (
        "task",
        "scheduled_for",
        "attempt",
        "trigger",
        "status_badge",
        "started_at",
        "duration",
        "lateness",
        "host",
        "exit_code",
    )
    list_filter = (
        TaskNameFilter,
        "status",
        "trigger",
        ("scheduled_for", admin.DateFieldListFilter),
    )
    search_fields = ("task",)
    search_help_text = "Task name (or part of one)."
    # Only what the indexes can order; sorting a million rows by host is not a
    # page view.
    sortable_by = ("scheduled_for",)
    ordering = ("-scheduled_for", "-attempt", "-id")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100
    actions = ["retry_failed"]
    fields = (
        "task",
        "scheduled_for",
        "attempt",
        "trigger",
        "status_badge",
        "exclusive",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "duration",
        "lateness",
        "host",
        "exit_code",
        "args",
        "requested_by",
        "error_text",
        "output_text",
    )
    readonly_fields = fields

    # Run records are evidence: nobody edits or deletes them here (prune_runs
    # deletes old ones), superusers included.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_run_task_permission(self, request: HttpRequest) -> bool:
        return can_request_runs(request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # Match the term against the known task names, then filter with an
        # index-served task IN (...) rather than LIKE over every row.
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        known = set(get_tasks()) | set(Task.objects.values_list("name", flat=True))
        matches = [name for name in known if term in name.lower()] or [search_term.strip()]
        return queryset.filter(task__in=matches), False

    @admin.display(description="status")
    def status_badge(self, run: TaskRun) -> SafeString:
        return status_badge(run.status)

    @admin.display(description="duration")
    def duration(self, run: TaskRun) -> str:
        return short_duration(run.duration)

    @admin.display(description="lateness")
    def lateness(self, run: TaskRun) -> str:
        return short_duration(run.lateness)

    @admin.display(description="error")
    def error_text(self, run: TaskRun) -> SafeString:
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>', run.error or "(none)"
        )

    @admin.display(description="output (tail)")
    def output_text(self, run: TaskRun) -> SafeString:
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>', run.output or "(none)"
        )

    change_form_template = "admin/core/taskrun/change_form.html"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        context["can_request_run"] = can_request_runs(request)
        context["failure_statuses"] = [str(status) for status in FAILURES]
        context["retry_url"] = reverse("admin:core_taskrun_retry", args=[object_id])
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[URLPattern]:
        retry = path(
            "<path:object_id>/retry/",
            self.admin_site.admin_view(self.retry_view),
            name="core_taskrun_retry",
        )
        return [retry, *super().get_urls()]

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only: queue the next attempt of one failed run (the "Retry" button)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = get_object_or_404(TaskRun, pk=request_object_id(request, object_id))
        try:
            retry = retry_run(run)
        except RunRequestError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:core_taskrun_change", args=[run.pk]))
        self.message_user(
            request,
            f"Queued attempt {retry.attempt} of {run.task}; the clock or the next runtasks "
            "will start it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:core_taskrun_change", args=[retry.pk]))

    @admin.action(permissions=["run_task"], description="Retry selected failed runs")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> None:
        queued, refused = [], []
        failed = queryset.filter(status__in=FAILURES)
        # "Select all" on a big list must not queue thousands of reruns.
        if failed.count() > MAX_RETRIES_AT_ONCE:
            self.message_user(
                request,
                f"Select at most {MAX_RETRIES_AT_ONCE} failed runs to retry at once.",
                messages.ERROR,
            )
            return
        for run in failed:
            try:
                retry = retry_run(run)
            except RunRequestError as exc:
                refused.append(str(exc))
            else:
                queued.append(f"{run.task} (attempt {retry.attempt})")
        skipped = queryset.exclude(status__in=FAILURES).count()
        if queued:
            self.message_user(
                request,
                f"Queued retries of {', '.join(queued)}; the clock or the next runtasks "
                "will start them.",
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} selected runs that did not fail.", messages.WARNING
            )


class TaskChangeList(ChangeList):
    """Attaches each task's status (computed once per page) to its row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        specs = get_tasks()
        statuses = {s.name: s for s in task_statuses(specs)}
        for task in self.result_list:
            task.ops_spec = specs.get(task.name)
            task.ops_status = statuses.get(task.name)


# The change page has no TaskChangeList: it computes the same once per object.
def _spec(task: Task) -> TaskSpec | None:
    if not hasattr(task, "ops_spec"):
        task.ops_spec = get_tasks().get(task.name)  # type: ignore[attr-defined]
    spec: TaskSpec | None = task.ops_spec  # type: ignore[attr-defined]
    return spec


def _status(task: Task) -> TaskStatus | None:
    if not hasattr(task, "ops_status"):
        statuses = {s.name: s for s in task_statuses()}
        task.ops_status = statuses.get(task.name)  # type: ignore[attr-defined]
    status: TaskStatus | None = task.ops_status  # type: ignore[attr-defined]
    return status


def _ticks(spec: TaskSpec, count: int) -> list[datetime]:
    return list(islice(spec.ticks_after(timezone.now()), count))


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "schedule",
        "next_ticks",
        "enabled_state",
        "last_run",
        "consecutive_failures",
        "flags",
    )
    list_display_links = ("name",)
    actions = ["enable", "disable", "run_now"]
    fields = (
        "name",
        "schedule",
        "next_ticks",
        "enabled",
        "enabled_state",
        "last_run",
        "consecutive_failures",
        "flags",
        "failure_notified_at",
    )
    readonly_fields = (
        "name",
        "schedule",
        "next_ticks",
        "enabled_state",
        "last_run",
        "consecutive_failures",
        "flags",
        "failure_notified_at",
    )
    change_form_template = "admin/core/task/change_form.html"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TaskChangeList

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        ensure_task_rows(get_tasks())
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        context["can_request_run"] = can_request_runs(request)
        context["run_url"] = reverse("admin:core_task_run", args=[object_id])
        return super().change_view(request, object_id, form_url, context)

    # Rows come from settings (created on demand); an undeclared leftover may
    # be deleted, a declared one would only come back.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None or obj.name in get_tasks():
            return False
        return super().has_delete_permission(request, obj)

    def has_run_task_permission(self, request: HttpRequest) -> bool:
        return can_request_runs(request)

    def get_urls(self) -> list[URLPattern]:
        run = path(
            "<path:object_id>/run/",
            self.admin_site.admin_view(self.run_now_view),
            name="core_task_run",
        )
        return [run, *super().get_urls()]

    def run_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only: queue a run of one task (the change page's "Run now" button)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        task = get_object_or_404(Task, pk=request_object_id(request, object_id))
        self._request(request, task.name)
        return HttpResponseRedirect(reverse("admin:core_task_change", args=[task.pk]))

    def _request(self, request: HttpRequest, name: str) -> bool:
        try:
            request_run(name, requested_by=request.user.get_username())
        except RunRequestError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        self.message_user(
            request,
            f"Requested a run of {name}; the clock or the next runtasks will start it.",
            messages.SUCCESS,
        )
        return True

    @admin.action(permissions=["run_task"], description="Run selected tasks now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        for task in queryset:
            self._request(request, task.name)

    @admin.action(permissions=["change"], description="Enable selected tasks")
    def enable(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        count = queryset.update(enabled=True)
        self.message_user(request, f"Enabled {count} tasks in the admin.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Disable selected tasks")
    def disable(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        count = queryset.update(enabled=False)
        self.message_user(
            request,
            f"Disabled {count} tasks; they are skipped until enabled again.",
            messages.SUCCESS,
        )

    @admin.display(description="schedule")
    def schedule(self, task: Task) -> str:
        spec = _spec(task)
        return spec.describe() if spec else "not declared (no entry in SCHEDULED_TASKS)"

    @admin.display(description="next ticks")
    def next_ticks(self, task: Task) -> SafeString | str:
        spec = _spec(task)
        if spec is None:
            return "-"
        return format_html_join(
            "",
            "<div>{}</div>",
            ((f"{timezone.localtime(t):%Y-%m-%d %H:%M %Z}",) for t in _ticks(spec, 3)),
        )

    @admin.display(description="enabled")
    def enabled_state(self, task: Task) -> str:
        spec = _spec(task)
        if spec is None:
            return "not declared"
        if not spec.enabled:
            return "no (settings)"
        return "yes" if task.enabled else "no (admin)"

    @admin.display(description="last run")
    def last_run(self, task: Task) -> SafeString | str:
        status = _status(task)
        run = status.last_run if status else None
        if run is None:
            return "never"
        url = reverse("admin:core_taskrun_change", args=[run.pk])
        return format_html(
            '<a href="{}">{}</a> {} ({})',
            url,
            f"{timezone.localtime(run.scheduled_for):%Y-%m-%d %H:%M}",
            status_badge(run.status),
            run.trigger,
        )

    @admin.display(description="consecutive failures")
    def consecutive_failures(self, task: Task) -> int | str:
        status = _status(task)
        return status.consecutive_failures if status else "-"

    @admin.display(description="flags")
    def flags(self, task: Task) -> str:
        status = _status(task)
        if status is None:
            return "-"
        return "; ".join(status.problems) or "ok"
