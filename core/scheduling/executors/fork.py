"""The ``fork`` executor (the default): the claiming process forks the run and supervises it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.core.management.base import BaseCommand

from core.models import Status, TaskRun
from core.scheduling.config import TaskSpec
from core.scheduling.executors.base import Executor
from core.scheduling.executors.dispatch import expire_dispatched
from core.scheduling.notify import Mail
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Supervisor

log = logging.getLogger("core.scheduling")


class ForkExecutor(Executor):
    name = "fork"
    claim_status = Status.RUNNING

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
        try:
            supervisor.start(
                run,
                spec.command if command is None else command,
                args,
                timeout=spec.timeout,
                options=options,
            )
        except OSError as exc:  # fork or pipe failed: out of processes, memory, fds
            log.error("could not start %s run #%s: %s", spec.name, run.pk, exc)
            error = f"could not start the task: {exc}"
            outcome = Outcome(run.pk, spec.name, Status.FAILED, None, 0.0, error)
            supervisor.record(outcome)
            return outcome
        return None

    def tend(self, send: Callable[[Mail], None] | None = None) -> None:
        # Runs handed to workers before the app was switched back to fork still
        # end in a record once their dispatch times out (none are re-sent).
        expire_dispatched(redispatch=None, send=send)
