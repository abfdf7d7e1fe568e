"""Admin for the periodic tasks: read-only run records (``runs``), task switches (``tasks``);
and SPOJ users and tags (``users``: read-only but a user's ``tracked`` switch).

Importing the package registers both (Django's admin autodiscovery imports
``core.admin``). Nothing here runs a task: "Run now" and "Retry" insert
``queued`` runs that the clock or the next ``runtasks`` starts.
"""

from core.admin import runs, tasks, users

__all__ = ["runs", "tasks", "users"]
