"""Recording a task's command when it is run directly (``python manage.py scrape_spoj``).

``manage.py`` hands its argv here first. When the command is a declared task's
(the task named like it, else the only task using it), the run is claimed as a
``TaskRun`` with trigger ``manual`` — or ``scheduler`` inside a Heroku Scheduler
dyno (``DYNO=scheduler.N``) — and executed in a supervised child like any other
run: heartbeats, timeout, output tail and outcome are recorded. Any other
command goes straight to Django.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from django.core.management import execute_from_command_line as django_execute


def task_for_command(command: str, declared: Any) -> str | None:
    if not isinstance(declared, dict):
        return None
    if isinstance(declared.get(command), dict) and declared[command].get("command", command) == (
        command
    ):
        return command
    users = [
        name
        for name, entry in declared.items()
        if isinstance(entry, dict) and entry.get("command", name) == command
    ]
    return users[0] if len(users) == 1 else None


def execute_from_command_line(argv: Sequence[str]) -> None:
    argv = list(argv)
    if len(argv) < 2 or argv[1].startswith("-"):
        django_execute(argv)
        return
    try:
        from django.conf import settings

        task = task_for_command(argv[1], getattr(settings, "SCHEDULED_TASKS", None))
    except Exception:
        task = None  # let Django report broken settings its own way
    if task is None or "--help" in argv[2:] or "-h" in argv[2:]:
        django_execute(argv)
        return
    sys.exit(run_recorded(task, argv[1], argv[2:]))


def run_recorded(task: str, command: str, args: list[str]) -> int:
    import django
    from django.db import IntegrityError

    django.setup()
    from core.models import Status, TaskRun, Trigger
    from core.scheduling.config import get_tasks
    from core.scheduling.engine import Engine
    from core.scheduling.runner import Child, Supervisor, parse_command

    spec = get_tasks()[task]
    cmd, cmd_args, options = parse_command(command, args)  # usage errors exit 2, unrecorded
    in_scheduler = os.environ.get("DYNO", "").startswith("scheduler.")
    trigger = Trigger.SCHEDULER if in_scheduler else Trigger.MANUAL
    engine = Engine(trigger, {task: spec})
    engine._ensure_rows()
    claimed = engine.claim_force(spec, trigger)
    if claimed.run is None:
        running = TaskRun.objects.running().filter(task=task).first()
        where = f" (run #{running.pk} on {running.host})" if running else ""
        sys.stderr.write(
            f"{task} is already running{where}; not started. "
            "It forbids overlapping runs (overlap='forbid').\n"
        )
        return 1

    def echo(child: Child, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    supervisor = Supervisor(echo=echo)
    supervisor.install_wakeup()
    stop_signal: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_signal.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    outcomes = []
    try:
        try:
            supervisor.start(claimed.run, cmd, cmd_args, timeout=spec.timeout, options=options)
        except IntegrityError:  # pragma: no cover - claim already decided
            return 1
        interrupted = False
        while supervisor.children:
            if stop_signal and not interrupted:
                supervisor.interrupt_all(10.0, sig=stop_signal[0])
                interrupted = True
            outcomes += supervisor.wait(supervisor.next_wakeup())
        outcomes += supervisor.tend()
    finally:
        supervisor.close()
    if not outcomes:
        return 1
    outcome = outcomes[0]
    if outcome.status == Status.SUCCEEDED:
        return 0
    sys.stderr.write(f"{task} run #{outcome.run_id}: {outcome.status}\n")
    return outcome.exit_code if outcome.exit_code and outcome.exit_code > 0 else 1
