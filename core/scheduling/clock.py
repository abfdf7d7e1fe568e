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
from types import FrameType

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from core.models import Trigger
from core.scheduling.engine import Engine
from core.scheduling.runner import Child, Supervisor, host_name

log = logging.getLogger("core.scheduling")

MAX_BACKOFF = 30.0


class Clock:
    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or Engine(Trigger.CLOCK)
        self.supervisor = Supervisor(echo=self._echo)
        self.stopping = False
        self.poll = float(settings.SCHEDULED_TASKS_POLL)

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
                    self.engine.step(self.supervisor)
                    wake_at = self._next_wake()
                    backoff = 1.0
                except DatabaseError as exc:
                    log.warning(
                        "database unavailable (%s); retrying in %.0f s",
                        str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                        backoff,
                    )
                    connections.close_all()
                    wake_at = time.monotonic() + backoff
                    backoff = min(backoff * 2, MAX_BACKOFF)
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    break
                self._sleep_until(wake_at)
        finally:
            self.shutdown()

    def _next_wake(self) -> float:
        now = timezone.now()
        until_tick = (self.engine.next_wakeup(now) - now).total_seconds()
        return time.monotonic() + max(0.0, min(until_tick, self.poll))

    def _sleep_until(self, wake_at: float) -> None:
        while not self.stopping and time.monotonic() < wake_at:
            if self.supervisor.wait(wake_at):
                return  # a run ended: step again (retries, catch-up, a freed task)

    def shutdown(self) -> None:
        grace = float(settings.SCHEDULED_TASKS_SHUTDOWN_GRACE)
        running = len(self.supervisor.children)
        if running:
            log.info(
                "stopping: interrupting %s running task(s), waiting up to %g s", running, grace
            )
            self.supervisor.interrupt_all(grace)
            # SIGKILL comes at the grace; a few seconds more to reap and record.
            self.supervisor.run_to_end(until=time.monotonic() + grace + 3)
        self.supervisor.tend()
        self.supervisor.close()
        log.info("clock stopped")
