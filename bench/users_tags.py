"""Benchmark: scrape_spoj_users and scrape_spoj_tags against the local fake SPOJ.

The fake SPOJ (tests/spoj_server.py) runs in its own process. Each round is a
fresh child process on a fresh database (SQLite file, or a PostgreSQL database
created and dropped here) that migrates, loads the list (scrape_spoj), then
times, with ``--delay 0`` and DEBUG off:

* ``scrape_spoj_users`` for the fake's four users (kosaksi, 70 solved, and the
  generated demo_ana 120, demo_ben 77, demo_chen 400), first fetch and again;
* ``scrape_spoj_tags`` for every one of the 3,971 problems, first run and again.

It prints wall-clock seconds, milliseconds per page and SQL statements per page
(a connection execute wrapper; on SQLite they include ``BEGIN IMMEDIATE``).
Against spoj.com the politeness delay decides: 3,971 pages at one a second is
3,971 s of waiting however fast the rest is.

    python bench/users_tags.py                       # SQLite
    python bench/users_tags.py --database-url postgres://postgres@127.0.0.1:5432/spoj_bench_tags

The PostgreSQL database is dropped and created every round: its name must contain "bench".
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scrape import rounds_main  # noqa: E402 - bench/scrape.py, beside this file

HANDLES = ["kosaksi", "demo_ana", "demo_ben", "demo_chen"]


def run_round(base_url: str) -> dict[str, Any]:
    """In the child: migrate, load the list, time the users and the tags, twice each."""
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from core.models import Problem, SolvedProblem

    call_command("migrate", verbosity=0)
    call_command("scrape_spoj", "--base-url", base_url, "--delay", "0", stdout=StringIO())
    results: dict[str, Any] = {"vendor": connection.vendor}

    def timed(*args: str) -> dict[str, float]:
        statements = 0

        def count(execute: Callable[..., Any], sql: str, *rest: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(sql, *rest)

        with connection.execute_wrapper(count):
            began = time.perf_counter()
            call_command(*args, "--base-url", base_url, "--delay", "0", stdout=StringIO())
            seconds = time.perf_counter() - began
        return {"seconds": seconds, "statements": statements}

    for label in ("users_first", "users_again"):
        results[label] = timed("scrape_spoj_users", *HANDLES)
    for label in ("tags_first", "tags_again"):
        results[label] = timed("scrape_spoj_tags")
    results["problems"] = Problem.objects.count()
    results["solved"] = SolvedProblem.objects.count()
    results["tagged"] = Problem.objects.filter(tags__isnull=False).distinct().count()
    return results


def main() -> None:
    done = rounds_main(__doc__.splitlines()[0], __file__, run_round)
    if done is None:
        return
    rounds = done[0]

    first = rounds[0]
    load = os.getloadavg()[0]
    print(
        f"{first['vendor']}: {len(rounds)} rounds; {len(HANDLES)} users ({first['solved']} solved "
        f"codes), {first['problems']} problem pages ({first['tagged']} with tags); "
        f"median of the rounds; load average {load:.1f} at the end"
    )
    print(f"{'run':<28} {'seconds':>8} {'best':>8} {'ms/page':>8} {'statements/page':>16}")
    for label, pages, what in (
        ("users_first", len(HANDLES), "scrape_spoj_users (new)"),
        ("users_again", len(HANDLES), "scrape_spoj_users (again)"),
        ("tags_first", first["problems"], "scrape_spoj_tags (first)"),
        ("tags_again", first["problems"], "scrape_spoj_tags (again)"),
    ):
        seconds = [r[label]["seconds"] for r in rounds]
        median = statistics.median(seconds)
        statements = statistics.median(r[label]["statements"] for r in rounds) / pages
        print(
            f"{what:<28} {median:>8.2f} {min(seconds):>8.2f} {1000 * median / pages:>8.2f} "
            f"{statements:>16.1f}"
        )


if __name__ == "__main__":
    main()
