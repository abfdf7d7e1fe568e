"""Executors: where a claimed run executes (``SCHEDULED_TASKS_EXECUTOR``).

The engine decides and claims every run in the database (guarantees 1-3); an
executor only starts a claimed run somewhere:

* ``fork`` (the default, :mod:`.fork`): in a child forked by the process that
  claimed it (the clock, ``runtasks``), which supervises it;
* ``celery`` (:mod:`.celery`): the claim is handed to Celery workers, and a
  worker starts it by winning ``queued -> running`` (``core.scheduling.worker``).

A further executor (Django's task framework, Heroku one-off dynos through the
Platform API) is one more :class:`~.base.Executor` subclass registered in
``EXECUTORS``; the README's "Executors" section says how.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.scheduling.executors.base import Executor

# name -> "module:Class", imported on first use (the celery one imports Celery).
EXECUTORS = {
    "fork": "core.scheduling.executors.fork:ForkExecutor",
    "celery": "core.scheduling.executors.celery:CeleryExecutor",
}

__all__ = ["EXECUTORS", "Executor", "get_executor"]


def get_executor(name: str | None = None) -> Executor:
    """A new executor named ``name`` (default: ``settings.SCHEDULED_TASKS_EXECUTOR``)."""
    name = name or settings.SCHEDULED_TASKS_EXECUTOR
    try:
        path = EXECUTORS[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"SCHEDULED_TASKS_EXECUTOR={name!r} is not an executor; use one of "
            f"{', '.join(sorted(EXECUTORS))}."
        ) from None
    module, _, cls = path.partition(":")
    executor: Executor = getattr(import_module(module), cls)()
    return executor
