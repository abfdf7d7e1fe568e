"""Benchmark: prune_runs deleting ~a million old runs in batches.

    python bench/prune.py [--rows 1000000]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]

Fills a throwaway database (a temporary SQLite file, or spoj_bench_ops on the
given PostgreSQL server, created and dropped), then times
``prune_runs --days 30``. Prints rows deleted per second and the longest
single statement and batch transaction, measured around the database calls.
"""

from __future__ import annotations

import time
from io import StringIO

from ops_common import PG_BENCH_DB, arguments, describe_database, fill, setup_django

from tests.support import throwaway_database


def main() -> None:
    args = arguments(__doc__ or "")
    with throwaway_database(args.database_url, PG_BENCH_DB) as url:
        setup_django(url)
        from django.core.management import call_command
        from django.db import connection

        from core.models import TaskRun

        print(f"database: {describe_database()}")
        print(f"filled {args.rows} runs in {fill(args.rows):.1f} s")
        before = TaskRun.objects.count()
        statements: list[tuple[str, float]] = []

        def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            started = time.monotonic()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append((sql.split()[0], time.monotonic() - started))

        out = StringIO()
        started = time.monotonic()
        with connection.execute_wrapper(timed):
            call_command("prune_runs", "--days", "30", "--batch-size", "5000", stdout=out)
        elapsed = time.monotonic() - started
        after = TaskRun.objects.count()
        deleted = before - after
        summary = out.getvalue().strip().splitlines()[-1]
        print(summary)
        longest = {
            kind: max(t for k, t in statements if k == kind) * 1000
            for kind in sorted({k for k, _ in statements})
        }
        print(
            f"deleted {deleted} of {before} rows in {elapsed:.1f} s = {deleted / elapsed:,.0f} "
            f"rows/s; {after} rows left; {len(statements)} statements, longest: "
            + ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in longest.items())
        )


if __name__ == "__main__":
    main()
