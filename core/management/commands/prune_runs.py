"""``manage.py prune_runs --days N``: delete old finished run records in short batches."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.models import FINISHED, TaskRun


def _whole_number(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum of {minimum}")
        return value

    return parse


def latest_finished_ids() -> list[int]:
    """The newest finished run of every task that has runs (by tick, attempt, id)."""
    names = TaskRun.objects.order_by().values_list("task", flat=True).distinct()
    ids = []
    for name in names:
        latest = (
            TaskRun.objects.filter(task=name, status__in=FINISHED)
            .order_by("-scheduled_for", "-attempt", "-id")
            .values_list("id", flat=True)
            .first()
        )
        if latest is not None:
            ids.append(latest)
    return ids


def prunable(days: int) -> QuerySet[TaskRun]:
    """Runs ``prune_runs --days days`` may delete now.

    Finished runs that finished (or, lacking ``finished_at``, were due) more
    than ``days`` days ago, except each task's latest finished run. Queued and
    running rows are never touched. The latest runs are found once, up front:
    rows added later are newer, so they cannot make an older row the latest.
    """
    cutoff = timezone.now() - timedelta(days=days)
    old = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, scheduled_for__lt=cutoff)
    return (
        TaskRun.objects.filter(old, status__in=FINISHED)
        .exclude(id__in=latest_finished_ids())
        .order_by()
    )


class Command(BaseCommand):
    help = (
        "Delete finished task runs older than --days days, in short batches, always keeping "
        "each task's latest finished run and never touching queued or running runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=_whole_number(0),
            required=True,
            help="Delete runs that finished more than this many days ago (whole number >= 0).",
        )
        parser.add_argument(
            "--batch-size",
            type=_whole_number(1),
            default=5000,
            help="Rows deleted per transaction (default 5000).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(
        self, *args: Any, days: int, batch_size: int, dry_run: bool = False, **options: Any
    ) -> None:
        started = time.monotonic()
        candidates = prunable(days)
        total = 0
        batches = 0
        longest = 0.0
        last_id = 0
        # Keyset pagination by id: each batch starts where the last one ended,
        # so no batch rescans rows an earlier batch already deleted or kept.
        while True:
            batch_started = time.monotonic()
            with transaction.atomic():
                ids = list(
                    candidates.filter(id__gt=last_id)
                    .order_by("id")
                    .values_list("id", flat=True)[:batch_size]
                )
                if not ids:
                    break
                last_id = ids[-1]
                if dry_run:
                    deleted = len(ids)
                else:
                    # The range plus the same conditions, rather than a list of
                    # ids: one statement with a fixed number of parameters.
                    deleted, _ = candidates.filter(id__gte=ids[0], id__lte=last_id).delete()
            longest = max(longest, time.monotonic() - batch_started)
            total += deleted
            batches += 1
            if options["verbosity"] >= 1:
                self.stdout.write(f"batch {batches}: {deleted} runs, {total} so far")
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {total} runs finished more than {days} days ago in {batches} batches "
                f"({time.monotonic() - started:.1f} s, longest batch {longest * 1000:.0f} ms)."
            )
        )
