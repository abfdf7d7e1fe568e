"""Recording a task's command when it is run directly (``python manage.py scrape_spoj``).

``manage.py`` hands its argv here first. When the command line is a declared
task's invocation — the task's command, with arguments that begin with the
task's ``args`` (extra options may follow) — the run is claimed as a ``TaskRun``
with trigger ``manual`` — or ``scheduler`` inside a Heroku Scheduler dyno
(``DYNO=scheduler.N``) — and executed in a supervised child like any other
run: heartbeats, timeout, output tail and outcome are recorded. It is not a
tick (``on_tick`` false), so it never hides, replaces or moves one. Anything
else goes straight to Django: with a task ``{"command": "shell", "args": ["-c",
"..."]}``, ``manage.py shell`` is still an interactive shell.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from django.core.management import execute_from_command_line as django_execute
from django.core.management import load_command_class
from django.core.management.base import BaseCommand


def task_for_invocation(command: str, args: Sequence[str], declared: Any) -> str | None:
    """The declared task that ``manage.py command *args`` invokes, if any.

    A task is invoked when ``command`` is its command and ``args`` begin with
    its declared ``args``. Of several such tasks the one with the longest
    declared ``args`` wins; a tie goes to the task named like the command, and
    is otherwise ambiguous (None: the command runs unrecorded).
    """
    if not isinstance(declared, dict):
        return None
    candidates: list[tuple[int, str]] = []
    for name, entry in declared.items():
        if not isinstance(entry, dict) or entry.get("command", name) != command:
            continue
        prefix = entry.get("args", [])
        if not isinstance(prefix, list | tuple) or not all(isinstance(a, str) for a in prefix):
            continue
        if list(args[: len(prefix)]) == list(prefix):
            candidates.append((len(prefix), name))
    if not candidates:
        return None
    longest = max(length for length, _ in candidates)
    best = [name for length, name in candidates if length == longest]
    if len(best) == 1:
        return best[0]
    return command if command in best else None


def execute_from_command_line(argv: Sequence[str]) -> None:
    argv = list(argv)
    if len(argv) < 2 or argv[1].startswith("-"):
        django_execute(argv)
        return
    try:
        from django.conf import settings

        declared = getattr(settings, "SCHEDULED_TASKS", None)
        task = task_for_invocation(argv[1], argv[2:], declared)
    except Exception:
        task = None  # let Django report broken settings its own way
    if task is None or "--help" in argv[2:] or "-h" in argv[2:]:
        django_execute(argv)
        return
    sys.exit(run_recorded(task, argv[1], argv[2:]))


def run_recorded(task: str, command: str, args: list[str]) -> int:
    import django

    django.setup()
    from django.conf import settings

    from core.models import Status, TaskRun, Trigger
    from core.scheduling.config import get_tasks
    from core.scheduling.engine import Engine
    from core.scheduling.executors.fork import ForkExecutor
    from core.scheduling.supervisor import Child, Supervisor

    spec = get_tasks()[task]
    cmd, cmd_args, options = parse_command(command, args)  # usage errors exit 2, unrecorded
    in_scheduler = os.environ.get("DYNO", "").startswith("scheduler.")
    trigger = Trigger.SCHEDULER if in_scheduler else Trigger.MANUAL
    # A run asked for at a terminal runs here, in the foreground, whatever the
    # executor: the operator sees its output and its exit code.
    engine = Engine(trigger, {task: spec}, executor=ForkExecutor())
    engine._ensure_rows()
    # Extra options after the declared args are recorded with the run.
    extra = list(args) if tuple(args) != spec.args else None
    claimed = engine.claim_force(spec, trigger, args=extra)
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

    stop_signal: list[int] = []
    supervisor = Supervisor(echo=echo, stopping=lambda: bool(stop_signal))
    supervisor.install_wakeup()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_signal.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    grace = float(settings.SCHEDULED_TASKS_SHUTDOWN_GRACE)
    outcomes = []
    try:
        failure = engine.start(
            supervisor, spec, claimed, command=cmd, args=cmd_args, options=options
        )
        if failure is not None:
            outcomes.append(failure)
        interrupted = False
        while supervisor.children:
            if stop_signal and not interrupted:
                supervisor.interrupt_all(grace, sig=stop_signal[0])
                interrupted = True
            outcomes += supervisor.wait(supervisor.next_wakeup())
        outcomes += supervisor.tend()
        supervisor.finish(until=time.monotonic() + 5)
    finally:
        supervisor.close()
    if not outcomes:
        sys.stderr.write(f"{task} run #{claimed.run.pk}: no outcome was recorded\n")
        return 1
    outcome = outcomes[0]
    if outcome.status == Status.SUCCEEDED:
        return 0
    # The last line says what went wrong, not only that something did.
    sys.stderr.write(outcome.describe() + "\n")
    return outcome.exit_code if outcome.exit_code and outcome.exit_code > 0 else 1


def parse_command(
    command: str, argv: Sequence[str]
) -> tuple[BaseCommand, list[str], dict[str, Any]]:
    """Load ``command`` and parse ``argv`` as the command line would (errors exit 2)."""
    from django.core.management import get_commands

    app = get_commands()[command]
    cmd = app if isinstance(app, BaseCommand) else load_command_class(app, command)
    # As run_from_argv does: parser errors print usage and exit 2.
    cmd._called_from_command_line = True  # type: ignore[attr-defined]
    parser = cmd.create_parser(os.path.basename(sys.argv[0]), command)
    options = vars(parser.parse_args(list(argv)))
    args = list(options.pop("args", ()))
    return cmd, args, options
