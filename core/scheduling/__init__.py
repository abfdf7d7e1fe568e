"""The periodic-task toolkit: turns management commands into scheduled tasks.

``request_run(task, args=None, *, requested_by="")`` is the public way for code
to ask for a run (see ``core.scheduling.control``). It is imported lazily:
``manage.py`` imports this package before Django is set up.
"""

from __future__ import annotations

from typing import Any

__all__ = ["request_run"]


def __getattr__(name: str) -> Any:
    if name == "request_run":
        from core.scheduling.control import request_run

        return request_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
