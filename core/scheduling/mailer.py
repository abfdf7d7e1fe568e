"""Delivering notification mail off a supervisor's heartbeat path.

A supervisor (clock, ``runtasks``, a manual run) must never block between
heartbeats (guarantee 4): a mail server that accepts and never greets would
otherwise freeze heartbeats, timeouts and SIGTERM handling. Each mail is
therefore sent from a short-lived child process, forked like a task run (the
parent's database connections are closed first, so no socket is shared), with
``EMAIL_TIMEOUT`` on the SMTP connection and a hard deadline (``SIGALRM`` in
the child, SIGKILL from the parent) after which it is given up and logged.

A child process rather than a thread: the supervisor forks task children, and
a fork taken while another thread holds a lock (an import, a logging handler)
can deadlock the child. Notifications are rare (once per failure streak and
once per recovery), so a fork each costs nothing that matters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

from core.scheduling.forking import fork, reset_signals
from core.scheduling.notify import Mail, deliver

log = logging.getLogger("core.scheduling")

# Seconds a mail may take beyond EMAIL_TIMEOUT (DNS, TLS, the reset on failure).
MARGIN = 5.0


@dataclass
class _Sending:
    pid: int
    mail: Mail
    kill_at: float


def _deadline() -> float:
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 10.0
    # connect + greeting + each command may each wait up to EMAIL_TIMEOUT.
    return 3 * float(timeout) + MARGIN


class BackgroundMail:
    """Sends each mail from its own child process; ``tend`` reaps them without blocking."""

    def __init__(self) -> None:
        self.sending: dict[int, _Sending] = {}

    def send(self, mail: Mail) -> None:
        deadline = _deadline()
        pid = fork(lambda: _child(mail, deadline))
        self.sending[pid] = _Sending(pid, mail, time.monotonic() + deadline)
        log.info("mailing ADMINS from pid %s: %s", pid, mail.subject)

    def tend(self) -> None:
        """Reap finished senders; kill those past their deadline (never blocks)."""
        now = time.monotonic()
        for pid, sending in list(self.sending.items()):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                del self.sending[pid]
            elif now >= sending.kill_at:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                log.error(
                    "gave up mailing ADMINS about task %s after %.0f s: %s",
                    sending.mail.task,
                    _deadline(),
                    sending.mail.subject,
                )
                sending.kill_at = float("inf")

    def next_wakeup(self) -> float:
        return min((s.kill_at for s in self.sending.values()), default=float("inf"))

    def wait(self, until: float) -> None:
        """Give pending mails until ``until`` (monotonic) to go out, then kill the rest."""
        while self.sending and time.monotonic() < until:
            self.tend()
            time.sleep(0.05)
        for sending in self.sending.values():
            sending.kill_at = 0.0
        self.tend()
        for pid in list(self.sending):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            del self.sending[pid]


def _child(mail: Mail, deadline: float) -> int:
    reset_signals()
    signal.alarm(max(1, int(deadline)))
    try:
        return 0 if deliver(mail) else 1
    finally:
        with contextlib.suppress(Exception):
            connections.close_all()
