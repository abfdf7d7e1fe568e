"""A test-only task command whose side effect can be counted: it appends JSON lines to a file.

Each execution appends a ``start`` line (its task, tick, attempt and pid, read
from the run row the supervised child stamped with its own host:pid) and, if it
gets that far, an ``end`` line. Tests count executions from the file, not only
from ``TaskRun`` rows. ``--tag WORD`` goes into every line (which arguments a
run got); ``--grandchild`` starts a ``sleep`` of the task's own that ignores
SIGTERM, its pid in the start line (a timeout must kill the whole group).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import TaskRun
from core.scheduling.runs import host_name


def append(path: str, record: dict[str, Any]) -> None:
    # One small write to a file opened with O_APPEND: lines from concurrent
    # processes do not interleave.
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")


class Command(BaseCommand):
    help = "Test helper: record this execution in a file, optionally sleep, fail or ignore SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", required=True)
        parser.add_argument("--sleep", type=float, default=0.0)
        parser.add_argument("--fail", action="store_true")
        parser.add_argument("--ignore-term", action="store_true")
        parser.add_argument(
            "--beat", action="store_true", help="While sleeping, append a 'beat' line every 50 ms."
        )
        parser.add_argument(
            "--tag", default=None, help="A word copied into every line (to see which args ran)."
        )
        parser.add_argument(
            "--grandchild",
            action="store_true",
            help="Start a 'sleep 600' that ignores SIGTERM, in this process group; "
            "its pid goes into the start line.",
        )

    def handle(
        self,
        *args: Any,
        file: str,
        sleep: float,
        fail: bool,
        ignore_term: bool,
        beat: bool,
        tag: str | None = None,
        grandchild: bool = False,
        **options: Any,
    ) -> None:
        if ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        row = (
            TaskRun.objects.filter(host=host_name())
            .order_by("-id")
            .values("id", "task", "scheduled_for", "attempt")
            .first()
        )
        base: dict[str, Any] = {"pid": os.getpid()}
        if row is not None:
            base.update(
                run=row["id"],
                task=row["task"],
                tick=row["scheduled_for"].isoformat(),
                attempt=row["attempt"],
            )
        if tag is not None:
            base["tag"] = tag
        start: dict[str, Any] = {**base, "event": "start", "t": time.time()}
        if grandchild:
            # A process of the task's own that a timeout must kill too (its group).
            # (An ignored signal stays ignored across exec.)
            proc = subprocess.Popen(["sh", "-c", "trap '' TERM; exec sleep 600"])
            start["grandchild"] = proc.pid
        append(file, start)
        self.stdout.write(f"started run {base.get('run')}")
        if beat:
            until = time.monotonic() + sleep
            while time.monotonic() < until:
                append(file, {**base, "event": "beat", "t": time.time()})
                time.sleep(0.05)
        else:
            time.sleep(sleep)
        append(file, {**base, "event": "end", "t": time.time()})
        if fail:
            raise CommandError("asked to fail (--fail)")
        self.stdout.write("done")
