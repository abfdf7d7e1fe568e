"""Benchmark: a full SPOJ refresh (81 pages, 3,971 problems) through scrape_spoj.

The fake SPOJ (tests/spoj_server.py) runs in its own process on 127.0.0.1 and
serves the bundled May 2025 list. Each round runs in a fresh child process on a
fresh database (a new SQLite file, or a PostgreSQL database created and dropped
here), migrates it, then times two runs of ``scrape_spoj --delay 0``: the first
scrape (every problem new) and an unchanged re-scrape. Timings are wall clock
around ``call_command``, with DEBUG off; statements are counted with a
connection execute wrapper (no query log); on SQLite they include the
``BEGIN IMMEDIATE`` that opens the write transaction.

    python bench/scrape.py                       # SQLite
    python bench/scrape.py --database-url postgres://postgres@127.0.0.1:5432/spoj_bench_scraper

The PostgreSQL database named in the URL is dropped and created for every
round, so its name must contain "bench".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import database_name, throwaway_database  # noqa: E402 - needs ROOT

GOAL_SECONDS = 1.5


def run_round(base_url: str) -> dict[str, Any]:
    """In the child: migrate the fresh database, time the two scrapes."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from core.models import Problem, Scrape

    call_command("migrate", verbosity=0)
    results: dict[str, Any] = {"vendor": connection.vendor}
    for label in ("first", "unchanged"):
        statements = 0

        def count(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(sql, *args)

        with connection.execute_wrapper(count):
            began = time.perf_counter()
            call_command("scrape_spoj", "--base-url", base_url, "--delay", "0", stdout=StringIO())
            seconds = time.perf_counter() - began
        scrape = Scrape.objects.latest()
        results[label] = {
            "seconds": seconds,
            "pages": scrape.pages,
            "problems": scrape.problems,
            "new": scrape.new,
            "unchanged": scrape.unchanged,
            "statements": statements,
        }
    results["stored"] = Problem.objects.count()
    return results


def start_fake_spoj() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.spoj_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()  # "Fake SPOJ with N problems at http://127.0.0.1:PORT"
    if "http://" not in line:
        server.kill()
        raise SystemExit(f"the fake SPOJ did not start: {line!r}")
    return server, line.rsplit(" ", 1)[1].strip()


def child_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="spojscore.settings",
        DJANGO_DEBUG="false",  # DEBUG keeps a log of every query: not production behaviour
        DJANGO_SECRET_KEY="bench-only-not-a-secret",
        LOG_LEVEL="WARNING",
    )
    env.pop("ENVIRONMENT", None)
    return env


def run_rounds(
    script: str, database_url: str | None, count: int
) -> tuple[list[dict[str, Any]], str]:
    """Run ``script --round BASE_URL`` ``count`` times, each in its own process on a fresh
    database, against one fake SPOJ; the JSON line each round printed last, and the
    fake's URL. (Also used by bench/users_tags.py.)"""
    name = database_name(database_url) if database_url else None
    server, base_url = start_fake_spoj()
    rounds: list[dict[str, Any]] = []
    try:
        for _ in range(count):
            with throwaway_database(database_url, name) as url:
                output = subprocess.run(
                    [sys.executable, script, "--round", base_url],
                    cwd=ROOT,
                    env=child_env(url),
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            rounds.append(json.loads(output.strip().splitlines()[-1]))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return rounds, base_url


def rounds_main(
    description: str, script: str, one_round: Callable[[str], dict[str, Any]]
) -> tuple[list[dict[str, Any]], str, str | None] | None:
    """The command line of a benchmark made of rounds (this one, bench/users_tags.py).

    In a ``--round BASE_URL`` child: run ``one_round`` and print its JSON (None).
    Else: every round (``run_rounds``), the fake SPOJ's URL and ``--database-url``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh databases to run (3)")
    parser.add_argument("--round", dest="child", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_round(args.child)))
        return None
    rounds, base_url = run_rounds(script, args.database_url, args.rounds)
    return rounds, base_url, args.database_url


def main() -> None:
    done = rounds_main(__doc__.splitlines()[0], __file__, run_round)
    if done is not None:
        report(*done)


def report(rounds: list[dict[str, Any]], base_url: str, database_url: str | None) -> None:
    first = rounds[0]["first"]
    where = "PostgreSQL, a fresh database" if database_url else "SQLite, a fresh file"
    print(
        f"scrape_spoj --delay 0: {first['problems']} problems, {first['pages']} pages "
        f"from the fake SPOJ at {base_url} (own process)"
    )
    print(f"database: {where} per round; {len(rounds)} rounds; {os.cpu_count()} CPUs")
    print(f"{'':20}{'best':>9}{'median':>9}{'pages/s':>9}{'rows/s':>9}{'queries':>9}")
    for label, title in (("first", "first scrape"), ("unchanged", "unchanged re-scrape")):
        runs = [r[label] for r in rounds]
        times = [run["seconds"] for run in runs]
        best = min(times)
        median = statistics.median(times)
        queries = sorted({run["statements"] for run in runs})
        print(
            f"{title:20}{best:>8.3f}s{median:>8.3f}s{runs[0]['pages'] / median:>9.0f}"
            f"{runs[0]['problems'] / median:>9.0f}{','.join(map(str, queries)):>9}"
        )
    for r in rounds:
        assert r["stored"] == first["problems"], r
        assert r["first"]["new"] == first["problems"], r
        assert r["unchanged"]["unchanged"] == first["problems"], r
    worst = max(max(r["first"]["seconds"], r["unchanged"]["seconds"]) for r in rounds)
    verdict = "met" if worst < GOAL_SECONDS else "NOT met"
    print(f"goal, a full refresh under {GOAL_SECONDS} s: {verdict} (slowest run {worst:.3f} s)")


if __name__ == "__main__":
    main()
