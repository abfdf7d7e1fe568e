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
