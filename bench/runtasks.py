"""How much ``runtasks`` costs when nothing is due (the common case: the Heroku
Scheduler starts it every 10 minutes).

1. Whole-process wall time of ``python manage.py runtasks`` vs ``python manage.py
   check`` on the same settings (median of ``--repeat`` runs each, interleaved).
   Goal: within 1.2x.
2. SQL queries of one ``runtasks`` (in-process, CaptureQueriesContext) with a
   handful of past runs and with ``--rows`` (default 1,000,000) past runs.
   Goal: the same count, and no growth of the time.

The declared tasks are the production ones (``scrape_spoj`` at 03:00,
``prune_runs`` daily); each task's latest tick is recorded, so nothing is due.

    .venv/bin/python bench/runtasks.py [--repeat 10] [--rows 1000000] \
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from io import StringIO

from guarantees_common import (
    ROOT,
    bench_env,
    fill,
    manage,
    median,
    seed_latest_ticks,
    setup_django,
)

from tests.support import throwaway_database


def wall(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.perf_counter() - start


def measure_in_process(label: str, repeat: int) -> tuple[int, float]:
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.models import TaskRun

    times, counts = [], set()
    for _ in range(repeat):
        out = StringIO()
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            call_command("runtasks", stdout=out)
            times.append(time.perf_counter() - start)
        assert "nothing due" in out.getvalue(), out.getvalue()
        counts.add(len(queries))
    assert len(counts) == 1, counts
    count = counts.pop()
    total = TaskRun.objects.count()
    print(
        f"  {label}: {total:>9,} TaskRun rows -> {count} queries, "
        f"in-process median {median(times) * 1000:.1f} ms"
    )
    return count, median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server; spoj_bench_runtasks is created and dropped on it "
        "(default: a temporary SQLite file)",
    )
    args = parser.parse_args()
    with throwaway_database(args.database_url, "spoj_bench_runtasks") as url:
        env = bench_env(url)
        manage(["migrate", "-v0"], env)
        setup_django(env)
        from django.db import connection

        from core.models import TaskRun

        seed_latest_ticks()
        assert "nothing due" in manage(["runtasks"], env)
        print(f"database: {connection.vendor} ({url.split('@')[-1]})")

        print(f"1. process wall time, median of {args.repeat} (nothing due):")
        runtasks_t, check_t = [], []
        for _ in range(args.repeat):
            runtasks_t.append(wall(["runtasks"], env))
            check_t.append(wall(["check"], env))
        ratio = median(runtasks_t) / median(check_t)
        print(f"  manage.py runtasks  {median(runtasks_t) * 1000:7.0f} ms")
        print(f"  manage.py check     {median(check_t) * 1000:7.0f} ms")
        print(f"  ratio               {ratio:7.2f}x  (goal <= 1.2x)")

        print("2. SQL queries of one runtasks with nothing due:")
        few, few_t = measure_in_process("few rows ", args.repeat)
        seconds = fill(args.rows)
        print(f"  (filled {args.rows:,} rows in {seconds:.1f} s)")
        many, many_t = measure_in_process("many rows", args.repeat)
        print(
            f"  queries {'unchanged' if few == many else 'CHANGED'} ({few} -> {many}); "
            f"in-process time x{many_t / few_t:.2f}"
        )
        del TaskRun
        connection.close()


if __name__ == "__main__":
    main()
