"""Tasks: every declared task with its schedule and status; enable, disable, "Run now".

"Run now" only records a ``queued`` run (``core.scheduling.request_run``) that
the clock or the next ``runtasks`` starts; a web request never runs a task.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin.common import can_request_runs, request_object_id, status_badge
from core.models import Task
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.control import RunRequestError, request_run
from core.scheduling.state import ensure_task_rows
from core.scheduling.status import TaskStatus, task_statuses


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
