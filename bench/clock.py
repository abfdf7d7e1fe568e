"""What an idle clock costs, and how late it starts a task.

(a) RSS of an idle ``python clock.py`` vs a bare ``python manage.py shell -c
    "import time; time.sleep(...)"`` on the same settings (goal: within 10 MB);
(b) CPU (utime + stime from /proc/<pid>/stat) of both over ``--duration``
    idle seconds (goal: the clock under 0.5 % of a core);
(c) start lateness (``started_at - scheduled_for``, stamped by the task's child
    once its own database connection is up, just before the command begins) of
    an every-1-second task over ``--ticks`` ticks:
    median and p95 (goals: 50 ms and 200 ms).

Idle means the production tasks (``scrape_spoj`` at 03:00, ``prune_runs``
daily) with their latest ticks recorded, and the default timings
(SCHEDULED_TASKS_POLL=5 s). Run on a temporary SQLite file, or with
``--database-url`` on a throwaway PostgreSQL database (created and dropped).

    .venv/bin/python bench/clock.py [--duration 60] [--ticks 60] \
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from guarantees_common import (
    ROOT,
    bench_env,
    fill,
    manage,
    median,
    percentile,
    seed_latest_ticks,
    setup_django,
)

from tests.support import throwaway_database

CLK_TCK = os.sysconf("SC_CLK_TCK")


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat; 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def idle(env: dict[str, str], duration: float) -> None:
    clock = start(["clock.py"], env)
    sleeper = start(["manage.py", "shell", "-c", f"import time; time.sleep({duration + 60})"], env)
    try:
        time.sleep(5)  # both finish starting up
        if clock.poll() is not None or sleeper.poll() is not None:
            raise SystemExit("a process died during start-up")
        cpu0 = {p.pid: cpu_seconds(p.pid) for p in (clock, sleeper)}
        time.sleep(duration)
        if clock.poll() is not None:
            raise SystemExit("the clock died")
        cpu = {p.pid: cpu_seconds(p.pid) - cpu0[p.pid] for p in (clock, sleeper)}
        rss = {p.pid: rss_mb(p.pid) for p in (clock, sleeper)}
    finally:
        stop(clock)
        stop(sleeper)
    print(f"(a) RSS after {duration:g} s idle:")
    print(f"  clock.py                   {rss[clock.pid]:6.1f} MB")
    print(f"  manage.py shell (sleeping) {rss[sleeper.pid]:6.1f} MB")
    diff = rss[clock.pid] - rss[sleeper.pid]
    print(f"  difference                 {diff:+6.1f} MB  (goal <= 10 MB)")
    print(f"(b) CPU over {duration:g} s idle:")
    for name, proc in (("clock.py", clock), ("manage.py shell", sleeper)):
        share = cpu[proc.pid] / duration * 100
        print(f"  {name:26} {cpu[proc.pid]:6.2f} s = {share:.3f} % of a core")
    print("  (goal: clock < 0.5 % of a core)")


def lateness(db_url: str, ticks: int) -> None:
    tasks = {"tick": {"command": "shell", "args": ["-c", "pass"], "every": 1}}
    env = bench_env(db_url, tasks)
    clock = start(["clock.py"], env)
    try:
        time.sleep(ticks + 4)
    finally:
        stop(clock)
    from core.models import Status, TaskRun

    runs = list(
        TaskRun.objects.filter(task="tick", started_at__isnull=False).order_by("scheduled_for")
    )
    statuses = TaskRun.objects.filter(task="tick").values_list("status", flat=True)
    # The first run is the tick already under way when the clock started (up
    # to one period late by design); the rest show the steady state.
    first, steady = runs[0], runs[1 : ticks + 1]
    late_ms = [(r.started_at - r.scheduled_for).total_seconds() * 1000 for r in steady]  # type: ignore[operator]
    print(f"(c) start lateness of an every-1-s task over {len(late_ms)} ticks:")
    print(f"  median {median(late_ms):6.1f} ms  (goal < 50 ms)")
    print(f"  p95    {percentile(late_ms, 95):6.1f} ms  (goal < 200 ms)")
    print(f"  max    {max(late_ms):6.1f} ms")
    first_late = (first.started_at - first.scheduled_for).total_seconds() * 1000  # type: ignore[operator]
    print(f"  (first run, a tick already due at start-up: {first_late:.0f} ms)")
    counts = {s: list(statuses).count(s) for s in set(statuses)}
    print(f"  statuses: {counts}; succeeded {counts.get(Status.SUCCEEDED, 0)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="idle seconds measured")
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument(
        "--rows", type=int, default=0, help="past runs to add before the idle measurement"
    )
    parser.add_argument("--idle-only", action="store_true", help="skip the lateness run")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server; spoj_bench_clock is created and dropped on it "
        "(default: a temporary SQLite file)",
    )
    args = parser.parse_args()
    with throwaway_database(args.database_url, "spoj_bench_clock") as url:
        env = bench_env(url)
        manage(["migrate", "-v0"], env)
        setup_django(env)
        from django.db import connection

        print(f"database: {connection.vendor}; {os.cpu_count()} CPUs; load {os.getloadavg()}")
        seed_latest_ticks()
        if args.rows:
            print(f"{args.rows:,} past runs added in {fill(args.rows):.1f} s")
        idle(env, args.duration)
        if not args.idle_only:
            lateness(url, args.ticks)
        connection.close()


if __name__ == "__main__":
    main()
