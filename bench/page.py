"""Benchmark of the score table: how long ``/`` takes to render with SPOJ's 3,971 problems.

Fills a fresh throwaway database with the May 2025 list (and some history),
then requests pages with Django's test Client (the whole middleware stack and
template rendering, no network) for several sorts, searches and pages, and
prints per request: the median and 95th percentile time of a **miss** (the
page cache emptied before each request, so the page is rendered and stored:
what the first request after a scrape costs), the queries of a miss on the
data (besides the data version and the cache's own), and the median time of a
**hit** (served from this process's page cache). The goal: under 50 ms per
render, any sort or search, with the same number of queries on every page.

    .venv/bin/python bench/page.py                       # temporary SQLite file
    .venv/bin/python bench/page.py --database-url postgres://postgres@127.0.0.1:5432/spoj_bench_web

The PostgreSQL database named in the URL is dropped and created afresh, and
dropped at the end; its name must contain "bench" so no real one is touched.
Settings are production ones (DEBUG off, cached templates, the database
cache), except static files, which are served without a manifest so no
``collectstatic`` is needed.
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


def measure(path: str, repeat: int) -> tuple[list[float], list[float], int, int, list[float], int]:
    """Wall and CPU times of misses (ms), data queries of a miss, response size,
    wall times of hits (ms), size of the compressed body in the shared cache.

    CPU time is this process's only (with SQLite that includes the queries;
    with PostgreSQL the server's work is not in it). On a busy machine it
    varies less than the wall time.
    """
    from django.core.cache import caches
    from django.test import Client

    from core.web.caching import local_pages
    from tests.web_data import content, queries

    def empty_caches() -> None:
        local_pages.clear()
        caches["default"].clear()

    client = Client()
    for _ in range(2):  # warm the template cache and the database's
        empty_caches()
        assert client.get(path).status_code == 200
    empty_caches()
    with queries() as done:
        response = client.get(path)
        size = len(content(response))
    query_count = len(done.data)
    stored = caches["default"].get("page:" + response["ETag"].strip('"'))
    stored_size = len(stored[2])
    times, cpu_times, hits = [], [], []
    for _ in range(repeat):
        empty_caches()
        start, cpu_start = time.perf_counter(), time.process_time()
        response = client.get(path)
        content(response)
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu_start) * 1000)
        assert response.status_code == 200, path
        start = time.perf_counter()
        content(client.get(path))
        hits.append((time.perf_counter() - start) * 1000)
    return times, cpu_times, query_count, size, hits, stored_size


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
        f"{'request':<34} {'miss ms':>8} {'p95 ms':>7} {'cpu ms':>7} {'queries':>7} "
        f"{'hit ms':>7} {'kB':>6} {'kB kept':>7}  path"
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
            times, cpu_times, queries, size, hits, stored = measure(
                path, repeat if (label, path) in CASES else max(5, repeat // 4)
            )
            print(
                f"{label:<34} {statistics.median(times):8.1f} {p95(times):7.1f} "
                f"{statistics.median(cpu_times):7.1f} {queries:7d} "
                f"{statistics.median(hits):7.2f} {size / 1024:6.1f} {stored / 1024:7.1f}  "
                f"{path[:40]}"
            )
            if path == "/" or path.startswith("/?"):  # the score table itself
                worst = max(worst, p95(times))
                query_counts.add(queries)
    print(
        f"score table: worst p95 of a miss {worst:.1f} ms (goal < 50 ms), "
        f"data queries per miss {sorted(query_counts)}"
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
