"""The Celery app, in Celery's Django layout: ``celery -A spojscore worker``.

Workers execute the runs a clock or ``runtasks`` claims when
``SCHEDULED_TASKS_EXECUTOR=celery`` (``core.scheduling.executors.celery``).
Configured from the Django settings' ``CELERY_*`` names, themselves read from
the environment (``CELERY_BROKER_URL``, else ``REDIS_URL``). The only task is
``core.scheduling.execute_run``; the app is not imported by Django itself, so
the web and the fork executor never load Celery.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from spojscore.env import start

# .env (local work only), then the settings: a bad variable is one line, exit 2.
start(Path(__file__).resolve().parent.parent)

app = Celery("spojscore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ("core.scheduling.worker",)
# A worker fetches a message only when one of its processes is free (Redis;
# RabbitMQ ignores this). Messages are acknowledged early (core.scheduling.worker),
# so with the prefetch of one that CELERY_WORKER_PREFETCH_MULTIPLIER allows, a
# worker busy with a long run would take the next message as well and sit on it
# until the long run ends (or SCHEDULED_TASKS_DISPATCH_TIMEOUT sends it again),
# while other workers are idle.
app.conf.worker_disable_prefetch = str(app.conf.broker_url or "").startswith(
    ("redis://", "rediss://")
)
