"""``runtasks``: run what is due now, then exit (the Heroku Scheduler add-on's command)."""

from __future__ import annotations

import os
import signal
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.models import Status, Trigger
from core.scheduling.config import get_tasks
from core.scheduling.engine import ClaimResult, Engine
from core.scheduling.supervisor import Child, Supervisor


class Command(BaseCommand):
    help = (
        "Run every scheduled task that is due now, wait for them, and exit "
        "(non-zero if a task it ran failed). For the Heroku Scheduler: every 10 minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="Only these tasks.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run the named tasks now, whatever their schedule.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print each task's decision and run nothing.",
        )

    def handle(self, *args: Any, names: list[str], force: bool, dry_run: bool, **_: Any) -> None:
        specs = get_tasks()
        unknown = [name for name in names if name not in specs]
        if unknown:
            raise CommandError(
                f"unknown task(s): {', '.join(unknown)}. "
                f"Known tasks: {', '.join(sorted(specs)) or 'none'}."
            )
        if force and not names:
            raise CommandError("--force needs the names of the tasks to run.")
        engine = Engine(Trigger.SCHEDULER, specs, only=names or None)
        in_scheduler = os.environ.get("DYNO", "").startswith("scheduler.")
        if dry_run:
            now = timezone.now()
            if force:
                for name in names:
                    self.stdout.write(f"{name}: would run now (--force)")
            else:
                for decision in engine.plan(now):
                    self.stdout.write(decision.describe())
            return

        stopping = False
        supervisor = Supervisor(echo=self._echo, stopping=lambda: stopping)
        supervisor.install_wakeup()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        handed_on = 0
        try:
            claimed = engine.step(
                supervisor,
                force=force,
                force_trigger=Trigger.SCHEDULER if in_scheduler else Trigger.MANUAL,
            )
            outcomes = []
            for item in claimed:
                if item.result != ClaimResult.STARTED:
                    self.stdout.write(f"{item.decision.task}: {item.result}")
                elif item.run is not None and item.run.status == Status.QUEUED:
                    # The celery executor: a worker runs it and records it.
                    handed_on += 1
                    self.stdout.write(
                        f"{item.decision.task} run #{item.run.pk}: sent to the workers"
                    )
                if item.failure is not None:
                    outcomes.append(item.failure)
            grace = float(settings.SCHEDULED_TASKS_SHUTDOWN_GRACE)
            while supervisor.children:
                if stopping:
                    supervisor.interrupt_all(grace)
                    outcomes += supervisor.run_to_end()
                    break
                outcomes += supervisor.wait(supervisor.next_wakeup())
            outcomes += supervisor.tend()
            supervisor.finish(until=time.monotonic() + 5)
        finally:
            supervisor.close()
        for outcome in outcomes:
            self.stdout.write(
                f"{outcome.task} run #{outcome.run_id}: {outcome.status} in {outcome.seconds:.2f} s"
            )
        failed = [o for o in outcomes if o.status != Status.SUCCEEDED]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(outcomes)} task run(s) did not succeed: "
                + "; ".join(o.describe() for o in failed)
            )
        if not outcomes and not handed_on:
            self.stdout.write("nothing due")

    def _echo(self, child: Child, line: str) -> None:
        self.stdout.write(f"[{child.task} #{child.run_id}] {line}")
        sys.stdout.flush()
