"""Forking a child from a supervisor: the one place that knows how to do it safely.

Task runs (``supervisor.py``) and notification mail (``mailer.py``) both run in
children forked from the loaded Django process. The parent closes its
database connections first, so parent and child never share a socket; the
child drops the parent's signal handlers and wake-up fd, which belong to the
supervisor's loop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable

from django.db import connections

# Signals whose handlers belong to the supervisor, not to its children.
SUPERVISOR_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP, signal.SIGALRM)


def fork(body: Callable[[], int]) -> int:
    """Fork a child that runs ``body`` and exits with its return code; return its pid."""
    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    return pid


def reset_signals() -> None:
    """In a child: default signal dispositions, no wake-up fd."""
    for sig in SUPERVISOR_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
