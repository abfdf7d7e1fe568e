"""Helpers for the scrape_spoj tests: run the command, dump what it may write."""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.core.management import call_command

from core.models import Problem, ProblemHistory, Scrape


def scrape(*args: str) -> str:
    """Run ``scrape_spoj`` with ``args``; its stdout."""
    out = StringIO()
    call_command("scrape_spoj", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def database_dump() -> list[tuple[Any, ...]]:
    """Every row of every table a scrape writes, every field, in primary-key order."""
    dump: list[tuple[Any, ...]] = []
    for model in (Problem, ProblemHistory, Scrape):
        fields = [field.attname for field in model._meta.concrete_fields]
        dump.extend(
            (model.__name__, *row) for row in model.objects.order_by("pk").values_list(*fields)
        )
    return dump
