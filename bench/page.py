"""Benchmark of the score table: how long ``/`` takes to render with SPOJ's 3,971 problems.

Fills a fresh throwaway database with the May 2025 list (and some history),
then renders pages with Django's test Client (the whole middleware stack and
template rendering, no network) for several sorts, searches and pages, and
prints the median and 95th percentile time per request and the number of
queries each took. The goal: under 50 ms per render, any sort or search, with
the same number of queries on every page.

    .venv/bin/python bench/page.py                       # temporary SQLite file
    .venv/bin/python bench/page.py --database-url postgres://postgres@127.0.0.1:5432/spoj_bench_web

The PostgreSQL database named in the URL is dropped and created afresh, and
dropped at the end; its name must contain "bench" so no real one is touched.
Settings are production ones (DEBUG off, cached templates), except static
files, which are served without a manifest so no ``collectstatic`` is needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import database_name, throwaway_database  # noqa: E402 - needs ROOT

CASES = [
    ("default order, page 1", "/"),
    ("default order, page 2", "/?page=2"),
    ("default order, last page", "/?page=40"),
    ("sort by name", "/?sort=name"),
    ("sort by -users, page 20", "/?sort=-users&page=20"),
    ("sort by acceptance", "/?sort=acceptance"),
    ("sort by -code, page 39", "/?sort=-code&page=39"),
    ("search 'prime' (70 rows)", "/?q=prime"),
    ("search 'e' (most rows)", "/?q=e"),
    ("search 'e', by name, page 10", "/?q=e&sort=name&page=10"),
    ("search without match", "/?q=zzzzqq"),
    ("search, 100 characters", "/?q=" + "x" * 100),
    ("problem page (5 history points)", "/problems/TEST/"),
    ("problem page (no history)", "/problems/PRIME1/"),
]
# Not part of the 50 ms goal: the exports hold the whole table.
EXPORTS = [
    ("CSV export, all rows", "/problems.csv"),
    ("JSON export, all rows", "/problems.json"),
]


def configure(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "spojscore.settings"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["LOG_LEVEL"] = "WARNING"
    # WhiteNoise's note that collectstatic has not run: irrelevant here.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers")
    import django

    django.setup()


def measure(path: str, repeat: int) -> tuple[list[float], list[float], int, int]:
    """Wall and CPU times per request (ms), queries of one request, response size.

    CPU time is this process's only (with SQLite that includes the queries;
    with PostgreSQL the server's work is not in it). On a busy machine it
    varies less than the wall time.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.web_data import content

    client = Client()
    for _ in range(2):  # warm the template cache and the database's
        assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        size = len(content(client.get(path)))
    # Read now: the log is cleared when the next request starts.
    query_count = len(queries.captured_queries)
    times, cpu_times = [], []
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        response = client.get(path)
        content(response)
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu_start) * 1000)
        assert response.status_code == 200, path
    return times, cpu_times, query_count, size


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def run(repeat: int, history_every: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from core.models import Problem, ProblemHistory
    from tests.web_data import load_spoj_problems

    call_command("migrate", verbosity=0)
    load_spoj_problems(history_every=history_every, history_points=5)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version"
        )
        version = cursor.fetchone()[0]
    import django

    print(
        f"{connection.vendor} {version}, {Problem.objects.count()} problems, "
        f"{ProblemHistory.objects.count()} history rows; Python {platform.python_version()}, "
        f"Django {django.get_version()}, {os.cpu_count()} CPUs; {repeat} requests per line "
        "through django.test.Client, DEBUG off"
    )
    print(
        f"{'request':<34} {'median ms':>9} {'p95 ms':>8} {'cpu ms':>7} {'queries':>7} "
        f"{'kB':>6}  path"
    )
    worst = 0.0
    query_counts = set()
    plain = {
        "STORAGES": {
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        }
    }
    with override_settings(**plain):
        for label, path in CASES + EXPORTS:
            times, cpu_times, queries, size = measure(
                path, repeat if (label, path) in CASES else max(5, repeat // 4)
            )
            print(
                f"{label:<34} {statistics.median(times):9.1f} {p95(times):8.1f} "
                f"{statistics.median(cpu_times):7.1f} {queries:7d} {size / 1024:6.1f}  {path[:40]}"
            )
            if path == "/" or path.startswith("/?"):  # the score table itself
                worst = max(worst, p95(times))
                query_counts.add(queries)
    print(
        f"score table: worst p95 {worst:.1f} ms (goal < 50 ms), "
        f"queries per request {sorted(query_counts)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", help="a PostgreSQL URL whose database (named *bench*) is recreated"
    )
    parser.add_argument(
        "--repeat", type=int, default=40, help="timed requests per page (default 40)"
    )
    parser.add_argument(
        "--history-every",
        type=int,
        default=10,
        help="give every Nth problem 5 history rows (default 10)",
    )
    args = parser.parse_args()
    name = database_name(args.database_url) if args.database_url else None
    with throwaway_database(args.database_url, name) as url:
        configure(url)
        run(args.repeat, args.history_every)


if __name__ == "__main__":
    main()
