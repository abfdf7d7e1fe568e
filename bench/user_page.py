"""Benchmark of the user pages: ``/users/<handle>/`` with 3,971 problems and 1,000 solved.

Same method as ``bench/page.py`` (whose ``measure`` it reuses): a throwaway
database with SPOJ's May 2025 list, Django's test Client, production
settings, and per request the median and p95 of a **miss** (page cache
emptied first: rendered and stored), the data queries of a miss, and the
median of a **hit**. The user ``many`` has solved 1,000 problems of the
table (every third by score, the first 3,000 ranks),
``few`` 10; both have 30 history rows. The goal: a miss under 50 ms, the
same queries for both users.

    .venv/bin/python bench/user_page.py
    .venv/bin/python bench/user_page.py --database-url postgres://postgres@127.0.0.1:5432/spoj_bench_users
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from page import configure, measure, p95  # noqa: E402 - bench/page.py, beside this file

from tests.support import database_name, throwaway_database  # noqa: E402

CASES = [
    ("user, 1,000 solved, page 1", "/users/many/"),
    ("user, 1,000 solved, page 20", "/users/many/?page=20"),
    ("user, 1,000 solved, by name", "/users/many/?sort=name"),
    ("user, 1,000 solved, search 'e'", "/users/many/?q=e"),
    ("user, 1,000 solved, min filters", "/users/many/?min_users=10&min_acc=20"),
    ("user, 1,000 solved, tag", "/users/many/?tag=demo"),
    ("user, 10 solved, page 1", "/users/few/"),
    ("compare 1,000 vs 10 solved", "/compare/many/few/"),
]
EXPORTS = [("user JSON, 1,000 solved", "/users/many.json")]


def populate() -> None:
    from django.utils import timezone

    from core.models import Problem, SolvedProblem, SpojUser, SpojUserHistory, Tag
    from tests.web_data import load_spoj_problems

    load_spoj_problems(history_every=10, history_points=5)
    now = timezone.now()
    by_score = list(Problem.objects.order_by("-score", "code").values_list("code", flat=True))
    tag = Tag.objects.create(slug="demo", name="Demo")
    tag.problems.add(*list(Problem.objects.values_list("pk", flat=True))[::7])
    Problem.objects.update(tags_fetched_at=now)
    for handle, codes in (("many", by_score[::3][:1000]), ("few", by_score[5:15])):
        user = SpojUser.objects.create(
            handle=handle,
            name=handle,
            world_rank=1000,
            spoj_points=Decimal("100.5"),
            solved_count=len(codes),
            first_seen=now,
            fetched_at=now,
        )
        SolvedProblem.objects.bulk_create(
            SolvedProblem(user=user, code=code, first_seen=now) for code in codes
        )
        SpojUserHistory.objects.bulk_create(
            SpojUserHistory(
                user=user,
                world_rank=1000 + i,
                spoj_points=Decimal(100 - i),
                solved_count=max(0, len(codes) - i),
                recorded_at=now - timedelta(days=i),
            )
            for i in range(30)
        )
    assert SolvedProblem.objects.filter(user__handle="many").count() == 1000


def run(repeat: int) -> None:
    import django
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from core.models import Problem

    call_command("migrate", verbosity=0)
    populate()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"{connection.vendor}, {Problem.objects.count()} problems; Python "
        f"{platform.python_version()}, Django {django.get_version()}, {os.cpu_count()} CPUs; "
        f"{repeat} requests per line through django.test.Client, DEBUG off"
    )
    print(
        f"{'request':<34} {'miss ms':>8} {'p95 ms':>7} {'cpu ms':>7} {'queries':>7} "
        f"{'hit ms':>7} {'kB':>6}  path"
    )
    plain = {
        "STORAGES": {
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        }
    }
    worst, counts = 0.0, {}
    with override_settings(**plain):
        for label, path in CASES + EXPORTS:
            times, cpu, queries, size, hits, _ = measure(
                path, repeat if (label, path) in CASES else max(5, repeat // 4)
            )
            print(
                f"{label:<34} {statistics.median(times):8.1f} {p95(times):7.1f} "
                f"{statistics.median(cpu):7.1f} {queries:7d} {statistics.median(hits):7.2f} "
                f"{size / 1024:6.1f}  {path}"
            )
            if path.startswith("/users/") and not path.endswith(".json"):
                worst = max(worst, p95(times))
                counts[path] = queries
    print(
        f"user page: worst p95 of a miss {worst:.1f} ms (goal < 50 ms); data queries per "
        f"miss: 1,000 solved {counts['/users/many/']}, 10 solved {counts['/users/few/']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a PostgreSQL URL (database named *bench*)")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    args = parser.parse_args()
    name = database_name(args.database_url) if args.database_url else None
    with throwaway_database(args.database_url, name) as url:
        configure(url)
        run(args.repeat)


if __name__ == "__main__":
    main()
