"""The executor interface: start a claimed run somewhere, and look after what was handed on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from django.core.management.base import BaseCommand

from core.models import Status, TaskRun
from core.scheduling.config import TaskSpec
from core.scheduling.notify import Mail
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Supervisor


class Executor(ABC):
    """Where claimed runs execute.

    ``claim_status`` is the status a claim writes. ``running`` means the
    claiming process starts the run itself, at once (its supervisor holds the
    lease from the claim on). ``queued`` means the claim hands the run on: the
    row is marked with the executor's ``name`` and whoever executes it must
    win the conditional ``queued -> running`` transition first, so a run
    handed on twice still starts once.
    """

    name: ClassVar[str]
    claim_status: ClassVar[str] = Status.RUNNING

    @abstractmethod
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
        """Start (or hand on) the claimed ``run``; return its outcome if it could not start.

        ``command``/``options``: a manual run's own parsed command (only an
        executor that runs in this process can take them).

        A run that cannot be started must be recorded before this returns (or
        be left where the executor's :meth:`tend` will find it): nothing
        claimed may be left without a process or a record.
        """

    def tend(self, send: Callable[[Mail], None] | None = None) -> None:  # noqa: B027
        """Once per engine step: look after runs handed on earlier (nothing for ``fork``)."""

    def next_wakeup(self) -> datetime | None:
        """When :meth:`tend` next has something to do, if the executor knows (app time)."""
        return None
