"""``manage.py tasks [--json] [--check]``: each declared task's schedule and health."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.scheduling.status import TaskStatus, task_statuses


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


class Command(BaseCommand):
    help = (
        "List the periodic tasks: schedule, next tick, last run, consecutive failures, and "
        "flags (failing, overdue, missed). --check exits non-zero if an enabled task has a flag."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print a JSON list instead."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit non-zero when any enabled task is failing, overdue or missed "
            "(for uptime monitors).",
        )

    def handle(
        self, *args: Any, as_json: bool = False, check: bool = False, **options: Any
    ) -> None:
        statuses = task_statuses()
        if as_json:
            self._print_json(statuses)
        elif not check or options["verbosity"] > 1:
            self._print_table(statuses)
        if check:
            bad = [s for s in statuses if s.enabled and not s.ok]
            if bad:
                raise CommandError(
                    f"{len(bad)} of {len(statuses)} tasks need attention: "
                    + "; ".join(f"{s.name} ({', '.join(s.problems)})" for s in bad)
                )
            if not as_json:
                self.stdout.write(self.style.SUCCESS(f"all {len(statuses)} tasks OK"))

    def _print_json(self, statuses: list[TaskStatus]) -> None:
        self.stdout.write(json.dumps([s.as_dict() for s in statuses], indent=2))

    def _print_table(self, statuses: list[TaskStatus]) -> None:
        if not statuses:
            self.stdout.write("No tasks declared in SCHEDULED_TASKS.")
            return
        header = ("task", "schedule", "next tick", "last run", "status", "fails", "flags")
        rows = []
        for s in statuses:
            run = s.last_run
            last = "never" if run is None else f"{_when(run.scheduled_for)} ({run.trigger})"
            status = "-" if run is None else run.status
            flags = ", ".join(s.flags) or ("disabled" if not s.enabled else "ok")
            if not s.enabled and s.flags:
                flags = "disabled; " + flags
            fails = str(s.consecutive_failures)
            rows.append((s.name, s.schedule, _when(s.next_tick), last, status, fails, flags))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        self.stdout.write(line.format(*header).rstrip())
        for row, s in zip(rows, statuses, strict=True):
            text = line.format(*row).rstrip()
            if s.enabled and not s.ok:
                text = self.style.ERROR(text)
            self.stdout.write(text)
        for s in statuses:
            if s.problems:
                self.stdout.write(f"{s.name}: {'; '.join(s.problems)}")
