"""Run requests from the operator side: "run now" and "retry".

Nothing here runs a task. Each function inserts a ``queued`` TaskRun; the clock
(which polls every ``SCHEDULED_TASKS_POLL`` seconds) or the next ``runtasks``
claims it with a conditional UPDATE (queued -> running) and runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max

from core.models import FAILURES, Status, TaskRun, Trigger
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.state import request_time


class RunRequestError(Exception):
    """A run request that cannot be recorded; the message is meant for the operator."""


class UnknownTaskError(RunRequestError, LookupError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"Unknown task {name!r}; declared tasks: {', '.join(known) or '(none)'}.")


class NotRetryableError(RunRequestError):
    pass


class AlreadyRetriedError(RunRequestError):
    pass


def declared_spec(name: str) -> TaskSpec:
    """The declared task ``name``; ``UnknownTaskError`` lists the known ones."""
    tasks = get_tasks()
    if name not in tasks:
        raise UnknownTaskError(name, sorted(tasks))
    return tasks[name]


def request_run(
    name: str,
    args: Sequence[str] | None = None,
    *,
    requested_by: str = "",
    trigger: Trigger = Trigger.ADMIN,
) -> TaskRun:
    """Queue one run of ``name`` now (a request, not a tick); the public way for code.

    ``args`` replace the task's declared ``args`` for this run (recorded in
    ``TaskRun.args`` only when they differ). Nothing runs in the calling
    process: the clock, the next ``runtasks`` (or a worker) claims the queued
    row, so a web view may call this.
    """
    spec = declared_spec(name)
    if args is not None and (isinstance(args, str) or not all(isinstance(a, str) for a in args)):
        raise RunRequestError(f"args for {name!r} must be a list of strings, not {args!r}.")
    differing = None if args is None or tuple(args) == spec.args else list(args)
    when = request_time()
    # Request times never fall on a tick (whole seconds); one stamped with the
    # microsecond of another request would collide: move it along.
    for _ in range(3):
        try:
            with transaction.atomic():
                return TaskRun.objects.create(
                    task=name,
                    scheduled_for=when,
                    attempt=1,
                    trigger=trigger,
                    status=Status.QUEUED,
                    exclusive=spec.exclusive,
                    on_tick=False,
                    args=differing,
                    requested_by=requested_by[:150],
                )
        except IntegrityError:
            when += timedelta(microseconds=1)
    raise RunRequestError(f"Could not queue a run of {name!r}: its request times keep colliding.")


def retry_run(run: TaskRun) -> TaskRun:
    """Queue the next attempt at ``run``'s tick; ``run`` must have failed.

    Refused (``AlreadyRetriedError``) when a later attempt at the same tick is
    already queued, running or succeeded, and when a concurrent retry of the
    same tick won the insert: the unique (task, scheduled_for, attempt)
    constraint decides, so a double click queues one run.
    """
    if run.status not in FAILURES:
        raise NotRetryableError(
            f"{run} did not fail (status {run.status}); only failed runs can be retried."
        )
    spec = declared_spec(run.task)
    attempts = TaskRun.objects.filter(task=run.task, scheduled_for=run.scheduled_for)
    if attempts.filter(attempt__gt=run.attempt).exclude(status__in=FAILURES).exists():
        raise AlreadyRetriedError(f"{run} was already retried.")
    highest = attempts.aggregate(highest=Max("attempt"))["highest"] or run.attempt
    try:
        with transaction.atomic():
            return TaskRun.objects.create(
                task=run.task,
                scheduled_for=run.scheduled_for,
                attempt=highest + 1,
                trigger=Trigger.RETRY,
                status=Status.QUEUED,
                exclusive=spec.exclusive,
                # A retry of a manual run is no tick either, and runs with its arguments.
                on_tick=run.on_tick,
                args=run.args,
            )
    except IntegrityError:
        raise AlreadyRetriedError(f"{run} was already retried.") from None
