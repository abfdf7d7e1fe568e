"""Shared by bench/runtasks.py and bench/clock.py: process and statistics helpers.

Importing it puts the project root on ``sys.path``, so the scripts can then
import ``tests.support`` (their throwaway database) and, after ``setup_django``,
the project's modules.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SETTINGS = "bench.guarantees_settings"


def bench_env(db_url: str, tasks: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DYNO", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DJANGO_SECRET_KEY="bench-only-not-a-secret",
        BENCH_DATABASE_URL=db_url,
        PYTHONUNBUFFERED="1",
    )
    if tasks is not None:
        env["BENCH_SCHEDULED_TASKS"] = json.dumps(tasks)
    env.update(extra)
    return env


def manage(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run ``python manage.py ARGS``; its output (fails loudly on a non-zero exit)."""
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process with ``env`` (for in-process measurements)."""
    os.environ.update(env)
    import django

    django.setup()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values)


def seed_latest_ticks() -> None:
    """Record each declared task's newest tick, so that nothing is due now."""
    from django.utils import timezone

    from core.models import Status, TaskRun, Trigger
    from core.scheduling.config import get_tasks

    now = timezone.now()
    for spec in get_tasks().values():
        tick = spec.ticks_between(now - timedelta(days=3), now)[-1]
        TaskRun.objects.create(
            task=spec.name,
            scheduled_for=tick,
            trigger=Trigger.CLOCK,
            status=Status.SUCCEEDED,
            started_at=tick,
            finished_at=tick + timedelta(seconds=30),
        )


def fill(rows: int) -> float:
    """Add ``rows`` past runs of the declared tasks, generated inside the database."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                """
                INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status,
                    exclusive, created_at, started_at, finished_at, host, error, output)
                SELECT CASE WHEN x %% 2 = 0 THEN 'scrape_spoj' ELSE 'prune_runs' END,
                    now() - interval '4 days' - x * interval '1 minute', 1, 'clock',
                    'succeeded', true, now(), now(), now(), 'bench', '', ''
                FROM generate_series(1, %s) AS x
                """,
                [rows],
            )
            cursor.execute("ANALYZE core_taskrun")
        else:
            cursor.execute(
                """
                WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < %s)
                INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status,
                    exclusive, created_at, started_at, finished_at, host, error, output)
                SELECT CASE WHEN x %% 2 = 0 THEN 'scrape_spoj' ELSE 'prune_runs' END,
                    strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-4 days', '-' || x || ' minutes'),
                    1, 'clock', 'succeeded', 1, datetime('now'), datetime('now'),
                    datetime('now'), 'bench', '', ''
                FROM s
                """,
                [rows],
            )
            cursor.execute("ANALYZE")
    return time.perf_counter() - start
