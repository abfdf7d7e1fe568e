"""A run's bookkeeping: how it ended (``Outcome``), writing that to its row, and who ran it.

Shared by every supervisor (clock, ``runtasks``, a manual run) and, later, by
other executors: the row is the record, only a row still ``running`` is
changed, and a finished run goes to the failure/recovery notifier.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections
from django.utils import timezone

from core.models import Status, TaskRun
from core.scheduling.notify import Mail

log = logging.getLogger("core.scheduling")


def host_name() -> str:
    """The dyno name on Heroku (``clock.1``), the host name elsewhere; with the pid."""
    return f"{os.environ.get('DYNO') or socket.gethostname()}:{os.getpid()}"


def retry_once(step: Callable[[], Any], what: str) -> Any:
    """Run an idempotent bookkeeping ``step``; after a lost connection, reconnect and retry once.

    A database restart breaks the open connection: the first attempt fails with
    OperationalError/InterfaceError, closing the connection makes Django open a
    new one on the retry (guarantee 7).
    """
    try:
        return step()
    except DatabaseError as exc:
        log.warning("database error during %s (%s); reconnecting and retrying once", what, exc)
        connections.close_all()
        return step()


@dataclass
class Outcome:
    """How a run ended, as recorded (or waiting to be recorded) in its row."""

    run_id: int
    task: str
    status: str
    exit_code: int | None
    seconds: float
    error: str = ""
    output: str = ""

    @property
    def summary(self) -> str:
        """The error in one line: the last line of a traceback is the exception."""
        return error_summary(self.error)

    def describe(self) -> str:
        """One line: which run, how it ended, and why (``scrape_spoj run #4 failed: ...``)."""
        line = f"{self.task} run #{self.run_id} {self.status}"
        if self.status == Status.SUCCEEDED:
            return f"{line} in {self.seconds:.2f} s"
        return f"{line}: {self.summary or f'exit code {self.exit_code}'}"


def error_summary(error: str) -> str:
    """A run's ``error`` in one line: the last line of a traceback is the exception."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    # "django.core.management.base.CommandError: msg" -> "msg": a CommandError
    # is the command's own one-line explanation.
    prefix, sep, rest = last.partition(": ")
    if sep and prefix.rsplit(".", 1)[-1] == "CommandError":
        return rest
    return last


def record_outcome(outcome: Outcome, send: Callable[[Mail], object] | None = None) -> None:
    """Write a run's ending; only a row still ``running`` is changed."""
    updated = TaskRun.objects.filter(pk=outcome.run_id, status=Status.RUNNING).update(
        status=outcome.status,
        finished_at=timezone.now(),
        exit_code=outcome.exit_code,
        error=outcome.error,
        output=outcome.output,
    )
    if updated:
        log.info(
            "finished %s run #%s: %s in %.3f s",
            outcome.task,
            outcome.run_id,
            outcome.status,
            outcome.seconds,
        )
        notify_finished(outcome.run_id, send)
    else:
        current = TaskRun.objects.filter(pk=outcome.run_id).values_list("status", flat=True).first()
        log.warning(
            "%s run #%s ended %s but was already recorded as %s; kept that",
            outcome.task,
            outcome.run_id,
            outcome.status,
            current,
        )


def notify_finished(run_id: int, send: Callable[[Mail], object] | None = None) -> None:
    """Hand a finished run to the failure/recovery notifier; never raises."""
    from core.scheduling import notify

    try:
        run = TaskRun.objects.get(pk=run_id)
        notify.run_finished(run, send)
    except Exception:
        log.exception("failure notification for run #%s failed", run_id)
