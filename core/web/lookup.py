"""``/users/``'s lookups: which handles are being fetched, and how many new ones a minute.

A lookup of a handle we do not have queues one ``scrape_spoj_users <handle>``
run (``core.scheduling.request_run``); the clock, ``runtasks`` or a worker runs
it. Nothing here talks to SPOJ. New lookups are counted per client and overall
in fixed one-minute windows in the ``default`` cache (shared by every web
process and dyno), so a burst cannot queue hundreds of fetches.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from core.models import Status, TaskRun

log = logging.getLogger(__name__)

TASK = "scrape_spoj_users"
# New lookups a minute, per client (IP address) and for everyone together.
PER_CLIENT_PER_MINUTE = 3
OVERALL_PER_MINUTE = 20
PENDING = (Status.QUEUED, Status.RUNNING)


def limits() -> tuple[int, int]:
    return (
        getattr(settings, "USER_LOOKUPS_PER_CLIENT_PER_MINUTE", PER_CLIENT_PER_MINUTE),
        getattr(settings, "USER_LOOKUPS_PER_MINUTE", OVERALL_PER_MINUTE),
    )


def client_ip(request: HttpRequest) -> str:
    """The client's address: on Heroku the router appends it to X-Forwarded-For
    (the last entry is the one it saw; earlier ones are the client's word)."""
    if getattr(settings, "IS_HEROKU_APP", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def pending_run(handle: str) -> TaskRun | None:
    """A queued or running fetch of exactly this handle, if any."""
    return (
        TaskRun.objects.filter(task=TASK, status__in=PENDING, args=[handle]).order_by("-id").first()
    )


def last_run(handle: str) -> TaskRun | None:
    return TaskRun.objects.filter(task=TASK, args=[handle]).order_by("-id").first()


def _window() -> int:
    return int(time.time() // 60)


def _count(key: str) -> int:
    cache = caches["default"]
    cache.add(key, 0, 120)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 120)
        return 1


def allow_new_lookup(ip: str) -> bool:
    """Count one new lookup; False when the client's or everyone's minute is used up.

    A client past its own limit is refused before the overall counter is
    touched, so one client cannot use up everyone's minute. A cache that fails
    (Redis down) refuses every new lookup, logged: without counts nothing bounds
    the fetches queued (known and queued handles still work).
    """
    per_client, overall = limits()
    window = _window()
    try:
        if _count(f"lookup:ip:{ip}:{window}") > per_client:
            return False
        return _count(f"lookup:all:{window}") <= overall
    except Exception:
        log.warning("user lookups: the rate-limit counters failed; refusing", exc_info=True)
        return False
