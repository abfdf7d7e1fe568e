"""The ``celery`` executor: the claiming process only dispatches; Celery workers execute.

A claim writes the run ``queued`` for ``celery`` and, once it has committed,
publishes ``core.scheduling.execute_run(run_id)``. A worker starts the run
only by winning ``queued -> running`` (``core.scheduling.worker``), so a
message delivered twice, late or replayed starts nothing.

A broker that is down never stops the clock: publishing gives up after a
few short tries (``CELERY_BROKER_CONNECTION_TIMEOUT``, two quick retries),
the row keeps the reason in ``error``, and every later step sends it again
until the broker is back (the clock steps at least every
``SCHEDULED_TASKS_POLL`` seconds). What no worker starts within
``SCHEDULED_TASKS_DISPATCH_TIMEOUT`` is sent once more, then recorded
``abandoned`` (:mod:`.dispatch`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.core.management.base import BaseCommand

from core.models import Status, TaskRun
from core.scheduling.config import TaskSpec
from core.scheduling.executors import dispatch
from core.scheduling.executors.base import Executor
from core.scheduling.notify import Mail
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Supervisor

log = logging.getLogger("core.scheduling")

TASK_NAME = "core.scheduling.execute_run"

# Publishing must not hold a clock up: a refused connection fails at once, a
# silent broker after the connection timeout; two quick retries cover a
# connection the broker dropped while it restarted.
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def celery_app() -> Any:
    from spojscore.celery import app

    return app


def publish(run_id: int) -> str | None:
    """Send ``execute_run(run_id)`` to the workers; None, or the reason it failed."""
    try:
        celery_app().send_task(
            TASK_NAME, args=[run_id], retry=True, retry_policy=RETRY_POLICY, ignore_result=True
        )
    except Exception as exc:  # kombu's OperationalError, socket errors, a broken URL
        text = " ".join(str(exc).split()) or type(exc).__name__
        log.warning("could not send run #%s to the workers: %s", run_id, text)
        return text
    return None


class CeleryExecutor(Executor):
    name = "celery"
    claim_status = Status.QUEUED

    def __init__(self, publish: Callable[[int], str | None] = publish) -> None:
        self.publish = publish

    def start(
        self,
        supervisor: Supervisor,
        spec: TaskSpec,
        run: TaskRun,
        args: Sequence[str],
        *,
        command: str | BaseCommand | None = None,
        options: dict[str, Any] | None = None,
    ) -> Outcome | None:
        if command is not None or options is not None:
            raise ValueError("a run with its own command object executes in this process (fork)")
        # The worker reads the arguments from the row (TaskRun.args).
        # The claim committed with dispatched_at stamped; a failure to send
        # unstamps it and the next step sends it again (dispatch.send_unsent).
        if dispatch.send(run.pk, self.publish) is None:
            log.info("sent %s run #%s to the workers", spec.name, run.pk)
        return None

    def tend(self, send: Callable[[Mail], None] | None = None) -> None:
        dispatch.send_unsent(self.publish, send)
        dispatch.expire_dispatched(self.publish, send)
