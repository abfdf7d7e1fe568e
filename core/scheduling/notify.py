"""Failure notifications: mail ``ADMINS`` once per streak of failures, and once on recovery.

The engine calls :func:`run_finished` after it records any terminal status.
Each mail is claimed with a conditional UPDATE on the task's
``failure_notified_at`` (set for a failure streak, cleared for a recovery)
and sent only by the process whose UPDATE changed the row, so two clocks
finishing runs of the same task at once send one mail between them.

Deciding is a few indexed queries; *sending* is a network call that may stall
(a mail server that accepts and never greets). A supervisor therefore passes
``send``, which delivers from a short-lived child process (see
``core.scheduling.mailer``), so no SMTP call ever sits on its heartbeat path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import mail_admins
from django.db.models.functions import Right
from django.utils import timezone

from core.models import FAILURES, Status, Task, TaskRun
from core.scheduling.state import ensure_task_rows

logger = logging.getLogger(__name__)

# consecutive_failures looks at no more than this many of a task's newest runs,
# so its cost is fixed however long the history; a longer streak reads as 50.
STREAK_WINDOW = 50
# Runs that say nothing about whether the task works.
_NEUTRAL = (Status.SKIPPED, Status.MISSED, Status.QUEUED, Status.RUNNING)
ERROR_EXCERPT = 2000
# failure_streak reads this much of the end of each error, and says at most REASON_MAX of it.
REASON_TAIL = 1000
REASON_MAX = 300


def streak_from(statuses: list[str]) -> int:
    """Failures at the head of ``statuses`` (newest first), up to the first success."""
    count = 0
    for status in statuses:
        if status == Status.SUCCEEDED:
            break
        if status in FAILURES:
            count += 1
    return count


def consecutive_failures(name: str) -> int:
    """How many of the task's newest runs failed in a row (capped at ``STREAK_WINDOW``).

    Runs are taken newest first (scheduled_for, attempt, id, descending — the
    ``taskrun_task_latest`` index); skipped, missed, queued and running runs
    are ignored, and the count stops at the first success.
    """
    statuses = list(
        TaskRun.objects.filter(task=name)
        .order_by("-scheduled_for", "-attempt", "-id")
        .values_list("status", flat=True)[:STREAK_WINDOW]
    )
    return streak_from(statuses)


def failure_streak(name: str) -> tuple[int, str, str]:
    """:func:`consecutive_failures`, with the newest failure's status and reason (one line).

    The same single query, reading the tail of each error too (the last line of
    a traceback is the exception); ``("", "")`` when the streak is 0 or the
    newest failure recorded no error.
    """
    rows = list(
        TaskRun.objects.filter(task=name)
        .order_by("-scheduled_for", "-attempt", "-id")
        .values_list("status", Right("error", REASON_TAIL))[:STREAK_WINDOW]
    )
    count = streak_from([status for status, _ in rows])
    if not count:
        return 0, "", ""
    status, error = next((s, e) for s, e in rows if s in FAILURES)
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    reason = lines[-1] if lines else ""
    if len(reason) > REASON_MAX:
        reason = reason[: REASON_MAX - 1] + "…"
    return count, status, reason


@dataclass(frozen=True)
class Mail:
    """A notification to ``ADMINS``, claimed and ready to send."""

    subject: str
    body: str
    task: str
    # A streak mail: if it cannot be delivered, the claim is undone so that
    # the next failure tries again rather than staying silent.
    streak: bool


def run_finished(run: TaskRun, send: Callable[[Mail], object] | None = None) -> None:
    """Send the streak or recovery mail if ``run`` (just recorded) calls for one.

    ``send`` delivers the mail (default: :func:`deliver`, inline). Never
    raises: a broken mail server or database hiccup here is logged and must
    not take the engine down.
    """
    try:
        mail = None
        if run.status in FAILURES:
            mail = _after_failure(run)
        elif run.status == Status.SUCCEEDED:
            mail = _after_success(run)
        if mail is not None:
            (send or deliver)(mail)
    except Exception:
        logger.exception("failure notification for %s could not be handled", run.task)


def claim_failure_notice(name: str) -> bool:
    """Mark the task's streak as notified; True only for the one caller that did."""
    ensure_task_rows([name])
    updated = Task.objects.filter(name=name, failure_notified_at__isnull=True).update(
        failure_notified_at=timezone.now()
    )
    return updated == 1


def claim_recovery_notice(name: str) -> bool:
    """Clear the task's streak mark; True only for the one caller that did."""
    updated = Task.objects.filter(name=name, failure_notified_at__isnull=False).update(
        failure_notified_at=None
    )
    return updated == 1


def _after_failure(run: TaskRun) -> Mail | None:
    streak = consecutive_failures(run.task)
    if streak < settings.SCHEDULED_TASKS_NOTIFY_AFTER or not claim_failure_notice(run.task):
        return None
    error = run.error.strip() or "(no error recorded)"
    if len(error) > ERROR_EXCERPT:
        error = "...\n" + error[-ERROR_EXCERPT:]
    more = "+" if streak >= STREAK_WINDOW else ""
    body = (
        f"The periodic task {run.task} has failed {streak}{more} times in a row.\n\n"
        f"Last run: tick {run.scheduled_for:%Y-%m-%d %H:%M:%S} UTC, attempt {run.attempt}, "
        f"trigger {run.trigger}, status {run.status}, exit code {run.exit_code}, "
        f"host {run.host or '-'}.\n\n"
        f"Last error:\n{error}\n\n"
        "You will get one more mail when the task next succeeds. "
        "See the runs in the admin or with `python manage.py tasks`.\n"
    )
    subject = f"Task {run.task} failed {streak}{more} times in a row"
    return Mail(subject, body, run.task, streak=True)


def _after_success(run: TaskRun) -> Mail | None:
    if not claim_recovery_notice(run.task):
        return None
    body = (
        f"The periodic task {run.task} succeeded again: tick "
        f"{run.scheduled_for:%Y-%m-%d %H:%M:%S} UTC, attempt {run.attempt}, "
        f"trigger {run.trigger}, host {run.host or '-'}.\n"
    )
    return Mail(f"Task {run.task} recovered", body, run.task, streak=False)


def deliver(mail: Mail) -> bool:
    """Send ``mail`` now (bounded by ``EMAIL_TIMEOUT``); a failure is logged, never raised."""
    try:
        mail_admins(mail.subject, mail.body, fail_silently=False)
    except Exception as exc:
        logger.error("could not mail ADMINS about task %s: %s", mail.task, exc)
        if mail.streak:
            # Give the next failure a chance to send it rather than staying silent.
            try:
                Task.objects.filter(name=mail.task).update(failure_notified_at=None)
            except Exception:
                logger.exception("could not reset the notification mark of %s", mail.task)
        return False
    logger.info("mailed ADMINS: %s", mail.subject)
    return True
