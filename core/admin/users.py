"""SPOJ users and tags: what the scrapers stored, read-only except a user's ``tracked``.

A user's profile and solved list come from SPOJ (``scrape_spoj_users``) and a
problem's tags from its page (``scrape_spoj_tags``): an edit here would be
overwritten by the next fetch, so the only thing an operator changes is
whether the periodic refresh keeps fetching a user (``tracked``, editable in
the list). Users are added by a lookup on ``/users/`` or the command.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.models import SpojUser, Tag


@admin.register(SpojUser)
class SpojUserAdmin(admin.ModelAdmin):
    list_display = (
        "handle",
        "name",
        "world_rank",
        "spoj_points",
        "solved_count",
        "tracked",
        "missing_since",
        "fetched_at",
        "page",
    )
    list_editable = ("tracked",)
    # missing_since: Django's date filter, with "No date" / "Has date" for a nullable field.
    list_filter = ("tracked", "missing_since")
    search_fields = ("=handle",)
    ordering = ("handle",)
    list_per_page = 100
    fields = (
        "handle",
        "name",
        "world_rank",
        "spoj_points",
        "solved_count",
        "first_seen",
        "fetched_at",
        "tracked",
        "missing_since",
    )
    readonly_fields = (
        "handle",
        "name",
        "world_rank",
        "spoj_points",
        "solved_count",
        "first_seen",
        "fetched_at",
        "missing_since",
    )

    @admin.display(description="page")
    def page(self, user: SpojUser) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>', reverse("user_detail", kwargs={"handle": user.handle}), "view"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "problem_count")
    search_fields = ("slug", "name")
    readonly_fields = ("slug", "name")
    ordering = ("slug",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(problem_count=Count("problems"))

    @admin.display(description="problems", ordering="problem_count")
    def problem_count(self, tag: Any) -> int:
        return int(tag.problem_count)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
