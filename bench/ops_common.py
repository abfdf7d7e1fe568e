"""Shared by bench/prune.py and bench/admin.py: a throwaway database with a million runs.

Rows are generated inside the database (generate_series on PostgreSQL, a
recursive CTE on SQLite), so filling a million takes seconds, not minutes.
Row i (1..N) is due i minutes before now (about 700 days for 10^6), belongs to
heartbeat (70 %), scrape_spoj, prune_runs or report (10 % each), and
succeeded (95 %), failed (3 %), missed (1 %) or skipped (1 %); each ran 30 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# For ``tests.support`` (the throwaway database) and the project's modules.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PG_BENCH_DB = "spoj_bench_ops"

TASK_SQL = (
    "CASE WHEN x %% 10 < 7 THEN 'heartbeat' WHEN x %% 10 = 7 THEN 'scrape_spoj' "
    "WHEN x %% 10 = 8 THEN 'prune_runs' ELSE 'report' END"
)
STATUS_SQL = (
    "CASE WHEN x %% 100 < 95 THEN 'succeeded' WHEN x %% 100 < 98 THEN 'failed' "
    "WHEN x %% 100 = 98 THEN 'missed' ELSE 'skipped' END"
)


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions (admin)")
    parser.add_argument(
        "--database-url",
        help=f"a PostgreSQL server URL; the benchmark creates and drops {PG_BENCH_DB} on it "
        "(default: a temporary SQLite file)",
    )
    return parser.parse_args()


def setup_django(database_url: str) -> None:
    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ops_settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def fill(rows: int) -> float:
    """Insert ``rows`` finished runs; return the seconds it took."""
    from django.db import connection, transaction

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status,
                    exclusive, created_at, started_at, finished_at, host, error, output)
                SELECT {TASK_SQL}, t, 1, 'clock', {STATUS_SQL}, true, t, t,
                       t + interval '30 seconds', 'bench.1', '', ''
                FROM (SELECT x, date_trunc('minute', now()) - x * interval '1 minute' AS t
                      FROM generate_series(1, %s) AS x) AS g
                """,
                [rows],
            )
        else:
            cursor.execute(
                f"""
                WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %s)
                INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status,
                    exclusive, created_at, started_at, finished_at, host, error, output)
                SELECT {TASK_SQL}, t, 1, 'clock', {STATUS_SQL}, 1, t, t,
                       datetime(t, '+30 seconds'), 'bench.1', '', ''
                FROM (SELECT x, datetime(strftime('%%Y-%%m-%%d %%H:%%M:00', 'now'),
                                         '-' || x || ' minutes') AS t FROM g)
                """,
                [rows],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def describe_database() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]} (WAL, file on local disk)"
