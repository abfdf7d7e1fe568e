"""Load benchmark of the web process: requests/s and latency percentiles per URL.

    .venv/bin/python bench/web.py [--postgres URL] [--seconds 10] [--clients 8] [--workers 2]

Starts everything it measures and stops it again: the local SPOJ server, a
fresh database (SQLite in a temporary folder, or a throwaway PostgreSQL
database on the server named by ``--postgres``), filled by a real scrape
(``runtasks scrape_spoj --force``), then gunicorn exactly as the Procfile's
``web`` line starts it, with production settings (DEBUG off, WhiteNoise
manifest storage; ``tests/e2e_settings.py`` only moves STATIC_ROOT).

For each URL, ``--clients`` threads each keep one HTTP/1.1 connection to
127.0.0.1 and send requests back to back for ``--seconds`` seconds (at most
``--max-requests`` in all). Every non-200 answer or connection error counts as
an error, is printed, and makes the script exit 1. The clients run in this
Python process on the same machine as gunicorn, so they take CPU from it: the
figures are a floor for what the server alone would do.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.heroku_e2e import (  # noqa: E402 - needs ROOT on sys.path
    ProcessSet,
    manage,
    production_env,
    query,
    read_procfile,
    run_checked,
    start_spoj_server,
    start_web,
)
from tests.support import is_postgres, throwaway_database  # noqa: E402

URLS = ["/", "/?q=prime", "/problems.json"]


@dataclass
class Result:
    path: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())


def hammer(base_url: str, path: str, clients: int, seconds: float, max_requests: int) -> Result:
    result = Result(path)
    budget = threading.Semaphore(max_requests)
    deadline = time.monotonic() + seconds

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline and budget.acquire(blocking=False):
                started = time.perf_counter()
                try:
                    reply = session.get(base_url + path, timeout=30)
                    reply.content  # noqa: B018 - read the whole body
                    error = None if reply.status_code == 200 else f"HTTP {reply.status_code}"
                except requests.RequestException as exc:
                    error = type(exc).__name__
                elapsed = time.perf_counter() - started
                with result.lock:
                    if error:
                        result.errors[error] += 1
                    else:
                        result.latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def percentile(latencies: list[float], p: int) -> float:
    if len(latencies) < 2:
        return latencies[0] if latencies else float("nan")
    return statistics.quantiles(latencies, n=100, method="inclusive")[p - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (default: SQLite)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per URL (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (default 2)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per URL cap")
    args = parser.parse_args()
    if args.postgres and not is_postgres(args.postgres):
        parser.error("--postgres needs a postgres:// URL")

    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        tmp_path = Path(tmp)
        processes = ProcessSet(tmp_path)
        try:
            with throwaway_database(args.postgres, sqlite_dir=tmp_path) as database_url:
                spoj_url = start_spoj_server(processes)
                env = production_env(
                    DJANGO_SETTINGS_MODULE="tests.e2e_settings",
                    DATABASE_URL=database_url,
                    SPOJ_BASE_URL=spoj_url,
                    E2E_STATIC_ROOT=str(tmp_path / "static"),
                    WEB_CONCURRENCY=str(args.workers),
                    LOG_LEVEL="WARNING",
                    GUNICORN_CMD_ARGS="--access-logfile /dev/null",
                )
                run_checked(manage("collectstatic", "--no-input"), env)
                run_checked(read_procfile()["release"], env)
                run_checked(manage("runtasks", "scrape_spoj", "--force"), env, timeout=600)
                problems = query(database_url, "SELECT count(*) FROM core_problem")[0][0]
                _, base_url = start_web(processes, env)
                for path in URLS:  # warm up: imports, connections, caches
                    hammer(base_url, path, clients=2, seconds=1, max_requests=20)

                print(
                    f"spojscore web benchmark: {problems} problems, "
                    f"{'PostgreSQL' if is_postgres(database_url) else 'SQLite'}, "
                    f"gunicorn {args.workers} workers x 4 threads (gthread), "
                    f"{args.clients} keep-alive clients on 127.0.0.1, {args.seconds:g} s per URL, "
                    f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
                )
                print(
                    f"{'URL':<16}{'requests':>9}{'errors':>8}{'req/s':>9}"
                    f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                )
                for path in URLS:
                    result = hammer(base_url, path, args.clients, args.seconds, args.max_requests)
                    lat = [1000 * s for s in result.latencies]
                    print(
                        f"{path:<16}{result.requests:>9}{sum(result.errors.values()):>8}"
                        f"{result.requests / result.seconds:>9.1f}"
                        f"{percentile(lat, 50):>9.1f}{percentile(lat, 95):>9.1f}"
                        f"{percentile(lat, 99):>9.1f}"
                    )
                    for error, count in result.errors.items():
                        print(f"    error on {path}: {error} x {count}")
                        failed = True
        finally:
            processes.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
