"""The periodic-task toolkit: turns management commands into scheduled tasks.

``request_run(task, args=None, *, requested_by="")`` is the public way for code
to ask for a run (see ``core.scheduling.control``); ``execute_run`` is the
Celery task that workers execute runs with (``core.scheduling.worker``). Both
are imported lazily: ``manage.py`` imports this package before Django is set
up, and only workers need Celery.
"""

from __future__ import annotations

from typing import Any

__all__ = ["execute_run", "request_run"]


def __getattr__(name: str) -> Any:
    if name == "request_run":
        from core.scheduling.control import request_run

        return request_run
    if name == "execute_run":
        from core.scheduling.worker import execute_run

        return execute_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
