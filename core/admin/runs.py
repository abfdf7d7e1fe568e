"""Task runs: read-only records, filters that stay fast on millions of rows, "Retry".

Nothing here runs a task: "Retry" inserts a ``queued`` run that the clock or
the next ``runtasks`` starts (see ``core.scheduling.control``). The list is
built to stay fast on millions of rows: indexes serve its ordering,
PostgreSQL's planner estimate replaces COUNT(*) for huge results
(``core.admin.paginator``), and no filter or search scans the table (see
docs/ops.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin.common import can_request_runs, request_object_id, short_duration, status_badge
from core.admin.paginator import EstimatedCountPaginator
from core.models import FAILURES, Task, TaskRun
from core.scheduling.config import get_tasks
from core.scheduling.control import RunRequestError, retry_run

MAX_RETRIES_AT_ONCE = 100


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
        "executor",
        "dispatched_at",
        "dispatches",
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
