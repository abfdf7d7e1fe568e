"""Runs handed on to workers: re-sending them and giving up on them (in database terms).

A claim made for an executor that hands runs on (``celery``) writes the row
``queued`` with ``executor`` set, and ``dispatched_at`` (database time) when
it is sent. Whoever executes it must win ``queued -> running``. Each engine
step then looks after what was handed on:

* a row not sent (``dispatched_at`` null: the broker was down, or a stopping
  worker handed it back) is sent again, by whichever process wins the
  conditional UPDATE that stamps it;
* a row sent ``SCHEDULED_TASKS_DISPATCH_TIMEOUT`` seconds ago that no worker
  has started (message lost, queue purged, no worker running) is sent once
  more, then recorded ``abandoned`` with an error saying why.

Every change is a conditional UPDATE on a ``queued`` row, so two clocks
looking after the same rows send each at most once per turn, and a worker
that starts the run meanwhile wins: nothing here touches a row once running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, QuerySet, TextField, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from core.models import Status, TaskRun
from core.scheduling.notify import Mail
from core.scheduling.runs import notify_finished

log = logging.getLogger("core.scheduling")

# How many times a run is sent to the workers before it is given up.
MAX_DISPATCHES = 2

# Sends run ``run_id`` to the workers; returns None, or why it could not.
Publish = Callable[[int], str | None]


def handed_on() -> QuerySet[TaskRun]:
    """Queued rows claimed for an executor that hands runs on (not yet started)."""
    return TaskRun.objects.queued().exclude(executor="")


def timeout() -> float:
    return float(settings.SCHEDULED_TASKS_DISPATCH_TIMEOUT)


def give_up(run_id: int, error: str, send: Callable[[Mail], None] | None = None) -> bool:
    """Record a handed-on run ``abandoned`` unless a worker started it meanwhile."""
    won = (
        handed_on()
        .filter(pk=run_id)
        .update(status=Status.ABANDONED, finished_at=timezone.now(), error=error)
    )
    if won:
        log.warning("abandoned run #%s: %s", run_id, error)
        notify_finished(run_id, send)
    return bool(won)


def send(run_id: int, publish: Publish) -> str | None:
    """Publish a run already stamped ``dispatched_at``; count it, or unstamp it on failure."""
    problem = publish(run_id)
    if problem is None:
        # Counted whatever the status: a fast worker may have started it, or even
        # finished it, already. Only a row still queued loses its "could not
        # send" reason; a finished row's error is the run's own (its skip, its failure).
        TaskRun.objects.filter(pk=run_id).update(
            dispatches=F("dispatches") + 1,
            error=Case(
                When(status=Status.QUEUED, then=Value("")),
                default=F("error"),
                output_field=TextField(),
            ),
        )
        return None
    handed_on().filter(pk=run_id).update(
        dispatched_at=None, error=f"could not send it to the workers: {problem}"
    )
    return problem


def hand_back(run_id: int, reason: str) -> bool:
    """A worker that received run ``run_id`` but will not start it: unsent again, with why.

    The next engine step sends it again (:func:`send_unsent`).
    """
    won = (
        handed_on()
        .filter(pk=run_id)
        .update(dispatched_at=None, error=f"handed back to be sent again: {reason}")
    )
    return bool(won)


def send_unsent(publish: Publish, send_mail: Callable[[Mail], None] | None = None) -> int:
    """Send the rows not (or no longer) sent; give up on those unsent for too long.

    A row never sent gives up once it is older than the timeout; one sent
    ``n`` times and handed back, once older than ``n + 1`` timeouts (each
    earlier send had its own timeout to be started in).
    Stops at the first failure (the broker is still down): the next step tries again.
    """
    limit = timeout()
    sent = 0
    unsent = list(
        handed_on()
        .filter(dispatched_at__isnull=True)
        .order_by("created_at")
        .values_list("pk", "task", "created_at", "error", "dispatches")
    )
    for pk, task, created, error, dispatches in unsent:
        if created < timezone.now() - timedelta(seconds=limit * (dispatches + 1)):
            reason = error or "the broker could not be reached"
            give_up(pk, f"not sent to the workers within {limit:g} s ({reason})", send_mail)
            continue
        if not handed_on().filter(pk=pk, dispatched_at__isnull=True).update(dispatched_at=Now()):
            continue  # another process is sending it
        if send(pk, publish) is not None:
            break
        log.info("sent %s run #%s to the workers (the broker is back)", task, pk)
        sent += 1
    return sent


def expire_dispatched(
    redispatch: Publish | None, send: Callable[[Mail], None] | None = None
) -> None:
    """Handle sent rows no worker started within the timeout: send once more, or give up.

    ``redispatch`` None (an executor that cannot send: ``fork``, mid-switch or
    after a switch back from ``celery``) gives up only on rows twice the
    timeout old, which a clock still on ``celery`` would have sent again by then.
    """
    limit = timeout()
    waited = limit if redispatch is not None else 2 * limit
    expired = handed_on().filter(
        dispatched_at__isnull=False, dispatched_at__lt=Now() - timedelta(seconds=waited)
    )
    for pk, task, dispatches in list(expired.values_list("pk", "task", "dispatches")):
        times = "once" if dispatches == 1 else f"{dispatches} times"
        if redispatch is None or dispatches >= MAX_DISPATCHES:
            give_up(pk, f"no worker started it in {limit:g} s (sent to the workers {times})", send)
            continue
        # The staleness test is the claim: one process re-sends it.
        if not expired.filter(pk=pk).update(dispatched_at=Now()):
            continue
        log.warning("%s run #%s: no worker started it in %g s; sending it again", task, pk, limit)
        problem = redispatch(pk)
        if problem is None:
            TaskRun.objects.filter(pk=pk).update(dispatches=F("dispatches") + 1)
        else:
            give_up(
                pk,
                f"no worker started it in {limit:g} s (sent to the workers {times}), "
                f"and it could not be sent again: {problem}",
                send,
            )
