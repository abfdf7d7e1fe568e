"""The clock process: a thin loop around ``Engine.step()``.

It sleeps until the next tick (waking every ``SCHEDULED_TASKS_POLL`` seconds for
admin requests, and at once when a child ends or a signal arrives), runs one
step, and on SIGTERM/SIGINT stops claiming, interrupts running tasks and
records them, and exits well inside Heroku's 30 seconds.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime
from types import FrameType

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from core.models import Trigger
from core.scheduling.engine import Engine
from core.scheduling.runs import host_name
from core.scheduling.supervisor import Child, Supervisor

log = logging.getLogger("core.scheduling")

MAX_BACKOFF = 30.0


class Clock:
    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or Engine(Trigger.CLOCK)
        self.supervisor = Supervisor(echo=self._echo, stopping=lambda: self.stopping)
        self.stopping = False
        self.poll = float(settings.SCHEDULED_TASKS_POLL)
        self._announced: datetime | None = None

    @staticmethod
    def _echo(child: Child, line: str) -> None:
        log.info("[%s #%s] %s", child.task, child.run_id, line)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only set a flag: the loop notices at once (the wakeup fd interrupts its sleep).
        self.stopping = True

    def run(self, max_steps: int | None = None) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.supervisor.install_wakeup()
        names = ", ".join(f"{spec.name} ({spec.describe()})" for spec in self.engine.specs.values())
        log.info("clock started on %s with tasks: %s", host_name(), names or "none")
        backoff = 1.0
        steps = 0
        try:
            while not self.stopping:
                try:
                    close_old_connections()
                    self.supervisor.tend()
                    since = timezone.now()
                    self.engine.step(self.supervisor, since)
                    wake_at = self._next_wake(since)
                    backoff = 1.0
                except DatabaseError as exc:
                    self._database_down(exc, backoff)
                    wake_at = time.monotonic() + backoff
                    backoff = min(backoff * 2, MAX_BACKOFF)
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    break
                try:
                    self._sleep_until(wake_at)
                except DatabaseError as exc:  # the supervisor contains its own; belt and braces
                    self._database_down(exc, 0)
        finally:
            self.shutdown()

    @staticmethod
    def _database_down(exc: DatabaseError, backoff: float) -> None:
        text = str(exc).strip()
        log.warning(
            "database unavailable (%s); retrying in %.0f s",
            text.splitlines()[0] if text else type(exc).__name__,
            backoff,
        )
        connections.close_all()

    def _next_wake(self, since: datetime) -> float:
        """When to step next: the next tick after the step's own ``since``, not after now.

        A tick that fell due while the step ran (a slow first publish, a slow
        database) is then stepped at once instead of slept past.
        """
        now = timezone.now()
        wakeup = self.engine.next_wakeup(since)
        until_tick = (wakeup - now).total_seconds()
        if wakeup != self._announced:
            self._announced = wakeup
            # Said once per new wake-up; at INFO only when the wait is long
            # enough to wonder about (an every-second task would flood the log).
            log.log(
                logging.INFO if until_tick > 60 else logging.DEBUG,
                "next tick %s (in %.0f s); polling for requests every %g s",
                wakeup.isoformat(),
                until_tick,
                self.poll,
            )
        return time.monotonic() + max(0.0, min(until_tick, self.poll))

    def _sleep_until(self, wake_at: float) -> None:
        while not self.stopping and time.monotonic() < wake_at:
            if self.supervisor.wait(wake_at):
                return  # a run ended: step again (retries, catch-up, a freed task)

    def shutdown(self) -> None:
        """SIGTERM running tasks, SIGKILL them after the grace, record them, and exit.

        The whole shutdown takes at most ``SCHEDULED_TASKS_SHUTDOWN_GRACE`` + 4 s
        (24 s by default; Heroku SIGKILLs 30 s after SIGTERM): the grace for the
        tasks to stop, 3 s to reap and record them, and what is left of 1 more
        (at least 1 s, at most 5) to write outcomes held in memory and let
        pending mails go.
        """
        grace = float(settings.SCHEDULED_TASKS_SHUTDOWN_GRACE)
        began = time.monotonic()
        running = len(self.supervisor.children)
        if running:
            log.info(
                "stopping: interrupting %s running task(s) (SIGTERM now, killed after %g s)",
                running,
                grace,
            )
            self.supervisor.interrupt_all(grace)
            self.supervisor.run_to_end(until=began + grace + 3)
        now = time.monotonic()
        self.supervisor.finish(until=min(max(began + grace + 4, now + 1), now + 5))
        self.supervisor.close()
        log.info("clock stopped")
