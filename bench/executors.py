"""Fork vs Celery workers, side by side: start lateness, makespan of a burst, queries per run.

Everything runs for real on 127.0.0.1: ``python clock.py`` processes, and for
``celery`` separate ``celery -A spojscore worker --concurrency 1`` processes (N
workers x concurrency 1 = total concurrency N; N = 1, 2, 4 by default) on the
local Redis (``redis://127.0.0.1:6379/0``), and with ``--rabbitmq`` on the local
RabbitMQ too. Each worker set gets a queue of its own (``CELERY_QUEUE``, unique to
the run), deleted at the end. The database is a throwaway: a temporary SQLite
file, or a database created and dropped on the PostgreSQL server given with
``--database-url`` (``--postgres``: the local one).

1. Start lateness: an every-1-s task (``shell -c pass``) for ``--ticks`` ticks
   under a real clock: ``fork`` (the clock forks each run) and ``celery`` (the
   clock claims and publishes; a worker wins ``queued -> running`` and forks the
   run). Lateness is ``started_at - scheduled_for``; ``started_at`` is stamped by
   the run's child once its own connection is up, as in bench/clock.py. The ticks
   are taken in ``--windows`` (3) windows of 20, the set-ups in turn, each window
   under a fresh clock (and workers), so that a change in the shared machine's
   load falls on every set-up alike; each window's first run (the tick already
   under way when its clock starts) is left out. Also shown: the claim
   (``created_at - tick``), claim-to-start (``started_at - created_at``), and
   missed ticks that were a window's second tick (see the README: a tick falling
   due during a clock step is skipped).
2. Makespan: ``--runs`` (100) runs of a task sleeping ``--sleep`` (1) s, all due
   at the same tick, from the tick to the last ``finished_at``. The 100 runs are
   100 declared tasks with the same schedule, each with its previous tick
   recorded: that is what a clock meets when many tasks share a schedule (a tick
   is claimed once per task, so one task cannot have 100 runs at one tick, and 100
   ``request_run`` calls would be requests, not a tick). The schedule is ``every
   P`` seconds with P chosen (at least 3 x the longest expected makespan) so that
   its next epoch-aligned tick falls a few seconds after the workers and the
   clock are up: they wait, idle, for the tick, and no second tick comes during
   the burst.
3. Queries per dispatched run, with a history of 0 and of ``--rows``
   (1,000,000) TaskRun rows of the same tasks (generated inside the database):
   dispatching side in this process (``Engine.step`` with the celery executor,
   publishing to the real broker, counted with ``CaptureQueriesContext``) for a
   step with nothing due, 1 due and 10 due (the worker paused meanwhile, so the
   step's time is the dispatcher's own); worker side in a real worker process
   that executes those runs, counted with ``BENCH_QUERY_LOG``
   (bench/executors_settings.py) per process: the pool process (claim, record,
   notification) and the run's child (its start stamp; ``shell -c pass`` itself
   runs none). The steps are given their ``now`` (a tick an hour ago, then the
   next ones) so that exactly the intended tasks are due. SQL statements are
   counted without transaction control (BEGIN/COMMIT), which the two counting
   methods and the two databases see differently.

Goals (issue 8): celery lateness median <= 2x fork's and p95 < 250 ms; makespan
with 4 workers <= 0.3x that with 1; the same number of queries per run whatever
the history size.

It takes about 9 minutes with the defaults on a quiet 2-core machine, 17-19 with
``--rabbitmq`` on a busy one (most of it the 60 lateness ticks of each set-up and
the celery x1 burst, ~105 s). Every wait is bounded. Every process it starts is in
its own session and SIGKILLed with its children at the end, whatever happens
(SIGTERM and SIGINT unwind through the same cleanup); if the benchmark itself is
SIGKILLed, they die with it (PR_SET_PDEATHSIG), leaving only temporary files and
the broker's bindings.

    .venv/bin/python bench/executors.py [--ticks 60] [--runs 100] [--workers 1,2,4] \
        [--rows 1000000] [--rabbitmq] [--postgres | --database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from guarantees_common import ROOT, bench_env, manage, median, percentile, setup_django

from tests.brokers import WORKER_FLAGS, listening
from tests.processes import session_members
from tests.support import throwaway_database

SETTINGS = "bench.executors_settings"
BROKERS = {
    "redis": ("redis://127.0.0.1:6379/0", 6379),
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", 5672),
}
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "spoj_bench_executors"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
RUN_ID = uuid.uuid4().hex[:8]
# The tasks of part 3: q00 alone (1 due), q01..q10 together (10 due).
QUERY_ONE = ["q00"]
QUERY_TEN = [f"q{i:02d}" for i in range(1, 11)]
QUERY_PERIOD = 60
PR_SET_PDEATHSIG = 1


# --- processes ---------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    kind: str  # "clock" or "worker"
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None


class Stopped(BaseException):
    """SIGTERM or SIGINT: unwind (every ``finally`` stops what it started) and exit."""


def on_signal(signum: int, frame: Any) -> None:
    raise Stopped(f"stopped by {signal.Signals(signum).name}")


def die_with_parent() -> None:
    """In a started process, before its exec: be SIGKILLed when this benchmark dies, however."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Fleet:
    """The processes this benchmark starts, each in its own session (so its children too)."""

    logdir: Path
    started: list[Proc] = field(default_factory=list)
    queues: list[tuple[str, str]] = field(default_factory=list)  # (broker URL, queue)

    def start(self, name: str, kind: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.logdir / f"{len(self.started):02d}-{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        proc = Proc(name, kind, popen, log)
        self.started.append(proc)
        return proc

    def clock(self, env: dict[str, str], name: str) -> Proc:
        return self.start(name, "clock", ["clock.py"], env)

    def workers(self, count: int, env: dict[str, str], name: str) -> list[Proc]:
        """``count`` worker processes of concurrency 1 (not waited for: see :func:`ready`)."""
        return [
            self.start(
                f"{name}-w{i}",
                "worker",
                [
                    "-m",
                    "celery",
                    "-A",
                    "spojscore",
                    "worker",
                    "--concurrency",
                    "1",
                    "-n",
                    f"bench-{RUN_ID}-{name}-{i}@%h",
                    *WORKER_FLAGS,
                ],
                env,
            )
            for i in range(count)
        ]

    def stop(self, procs: list[Proc], timeout: float = 30) -> None:
        """SIGTERM ``procs``, wait up to ``timeout`` s, then SIGKILL their sessions."""
        for proc in procs:
            if proc.alive():
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
        self._kill({proc.popen.pid for proc in procs})

    def kill_all(self) -> None:
        self._kill({proc.popen.pid for proc in self.started})

    def _kill(self, sessions: set[int]) -> None:
        for _ in range(100):
            pids = session_members(sessions)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        for proc in self.started:
            if proc.popen.pid in sessions and proc.alive():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(5)

    def delete_queues(self) -> None:
        from kombu import Connection

        for url, queue in self.queues:
            try:
                with Connection(url, connect_timeout=5) as conn:
                    channel = conn.channel()
                    if url.startswith("redis://"):
                        # A fresh channel knows no bindings, so kombu's queue_delete would
                        # leave the keys: the queue's list (and its priority lists), bindings.
                        keys = [queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9))]
                        keys += [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
                        channel.client.delete(*keys)
                    else:
                        channel.queue_delete(queue)
            except Exception as exc:
                print(f"  (could not delete queue {queue}: {exc})")


def wait(condition: Callable[[], Any], timeout: float, what: str, procs: list[Proc]) -> Any:
    """Poll ``condition`` until truthy; fail with the logs if it times out or a process dies."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        dead = [p for p in procs if not p.alive()]
        if dead or time.monotonic() > deadline:
            why = f"{dead[0].name} exited" if dead else f"timed out after {timeout:g} s"
            tail = "\n".join(f"--- {p.name}:\n{p.output()[-3000:]}" for p in (dead or procs)[:3])
            raise SystemExit(f"{why} waiting for {what}\n{tail}")
        time.sleep(0.1)


def ready(procs: list[Proc]) -> bool:
    """Whether every worker says it is ready and every clock has started its loop."""
    return all(
        (" ready." in p.output()) if p.kind == "worker" else ("clock started on" in p.output())
        for p in procs
    )


# --- set-ups -----------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    executor: str  # "fork" or "celery"
    workers: int = 0
    broker: str = ""

    @property
    def key(self) -> str:
        return "fork" if self.executor == "fork" else f"{self.broker}{self.workers}"

    @property
    def label(self) -> str:
        if self.executor == "fork":
            return "fork"
        return f"celery/{self.broker} x{self.workers}"

    @property
    def concurrency(self) -> int | None:
        return self.workers if self.executor == "celery" else None

    def env(
        self, fleet: Fleet, db_url: str, tasks: dict[str, Any], phase: str, queue: str = ""
    ) -> dict[str, str]:
        env = bench_env(
            db_url,
            tasks,
            DJANGO_SETTINGS_MODULE=SETTINGS,
            SCHEDULED_TASKS_EXECUTOR=self.executor,
            LOG_LEVEL="INFO",
        )
        env.pop("BENCH_QUERY_LOG", None)
        if self.executor == "celery":
            url = BROKERS[self.broker][0]
            if not queue:
                queue = f"bench-executors-{RUN_ID}-{phase}-{self.key}"
                fleet.queues.append((url, queue))
            env.update(CELERY_BROKER_URL=url, CELERY_QUEUE=queue)
        return env


def ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# --- 1. start lateness ---------------------------------------------------------------


@dataclass
class Lateness:
    setup: Setup
    late: list[float] = field(default_factory=list)
    claim: list[float] = field(default_factory=list)
    to_start: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    holes: int = 0
    # Missed ticks that came right after a window's first run (the clock's first step).
    missed_second: int = 0
    loads: list[float] = field(default_factory=list)  # 1-min load average after each window

    @property
    def p50(self) -> float:
        return median(self.late)

    @property
    def p95(self) -> float:
        return percentile(self.late, 95)


def measure_lateness(
    fleet: Fleet, db_url: str, setup: Setup, ticks: int, window: int, into: Lateness
) -> None:
    """One window of ``ticks`` ticks under a fresh clock (and workers); added to ``into``."""
    from core.models import Status, TaskRun

    task = f"tick_{setup.key}_{window}"
    tasks = {task: {"command": "shell", "args": ["-c", "pass"], "every": 1}}
    env = setup.env(fleet, db_url, tasks, f"late{window}")
    workers = fleet.workers(setup.workers, env, f"late{window}-{setup.key}")
    wait(lambda: ready(workers), 90, "the workers", workers)
    clock = fleet.clock(env, f"late{window}-{setup.key}-clock")
    procs = [clock, *workers]
    runs = TaskRun.objects.filter(task=task)
    try:
        wait(
            lambda: runs.filter(started_at__isnull=False).count() > ticks,
            ticks + 90,
            f"{ticks + 1} started runs of {task}",
            procs,
        )
    finally:
        # Stopped between two runs (a run under way would be interrupted), then the workers
        # once the last runs have ended.
        with contextlib.suppress(SystemExit):
            wait(lambda: not runs.filter(status=Status.RUNNING).exists(), 5, "a pause", [])
        fleet.stop([clock])
        with contextlib.suppress(SystemExit):
            wait(
                lambda: not runs.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists(),
                20,
                "the last runs",
                [],
            )
        fleet.stop(workers)
    started = list(runs.filter(started_at__isnull=False).order_by("scheduled_for"))
    steady = started[1 : ticks + 1]
    first, last = steady[0].scheduled_for, steady[-1].scheduled_for
    rows = runs.filter(scheduled_for__gte=first, scheduled_for__lte=last).count()
    into.holes += int((last - first).total_seconds()) + 1 - rows
    into.statuses.update(runs.values_list("status", flat=True))
    second = started[0].scheduled_for + timedelta(seconds=1)
    into.missed_second += runs.filter(status=Status.MISSED, scheduled_for=second).count()
    into.late += [ms(r.started_at - r.scheduled_for) for r in steady]  # type: ignore[operator]
    into.claim += [ms(r.created_at - r.scheduled_for) for r in steady]
    into.to_start += [ms(r.started_at - r.created_at) for r in steady]  # type: ignore[operator]
    into.loads.append(os.getloadavg()[0])


def print_lateness(results: list[Lateness], windows: int) -> None:
    ticks = len(results[0].late)
    print(
        f"\n1. start lateness of an every-1-s task, {ticks} ticks in {windows} windows taken in "
        "turn by the set-ups (ms; each window's first run left out)"
    )
    print(
        f"  {'set-up':22} {'p50':>7} {'p95':>7} {'max':>7}   {'claim p50':>9} "
        f"{'claim->start p50/p95':>21}  runs  statuses / ticks without a row / load"
    )
    for r in results:
        loads = f"{min(r.loads):.1f}-{max(r.loads):.1f}"
        print(
            f"  {r.setup.label:22} {r.p50:7.1f} {r.p95:7.1f} {max(r.late):7.1f}   "
            f"{median(r.claim):9.1f} {median(r.to_start):10.1f} /{percentile(r.to_start, 95):8.1f}"
            f"  {len(r.late):4}  {dict(r.statuses)} / {r.holes} / {loads}"
        )
    missed = [f"{r.setup.label} {r.missed_second}" for r in results if r.statuses["missed"]]
    if missed:
        print(
            "  missed ticks that were a window's second tick (the one after its clock's first "
            "step): " + ", ".join(missed)
        )


# --- 2. makespan -------------------------------------------------------------------


@dataclass
class Makespan:
    setup: Setup
    runs: int
    sleep: float
    makespan: float
    claimed_within: float
    last_start: float
    statuses: dict[str, int]
    per_worker: list[int]
    load: str

    @property
    def ideal(self) -> float:
        slots = self.setup.concurrency or self.runs
        return math.ceil(self.runs / slots) * self.sleep


def up_or_past(procs: list[Proc], when: datetime) -> bool:
    return ready(procs) or datetime.now(UTC) > when


def burst_tick(lead: float, min_period: int) -> tuple[int, datetime]:
    """The smallest period >= ``min_period`` whose next epoch-aligned tick is ``lead`` to
    ``lead`` + 8 s away, and that tick.

    A tick is a whole multiple of the period, so the period must divide one of the
    whole seconds of that window: 8 of them leave plenty of divisors to find.
    """
    now = time.time()
    for period in range(min_period, min_period + 10_000_000):
        tick = math.ceil((now + lead) / period) * period
        if tick - now <= lead + 8:
            return period, datetime.fromtimestamp(tick, UTC)
    raise SystemExit(f"no period >= {min_period} s ticks {lead:g} to {lead + 8:g} s from now")


def measure_makespan(fleet: Fleet, db_url: str, setup: Setup, runs: int, sleep: float) -> Makespan:
    from core.models import FINISHED, Status, TaskRun, Trigger

    slots = setup.concurrency or runs
    expected = math.ceil(runs / slots) * sleep
    min_period = int(3 * expected + 120)
    for attempt in (1, 2):
        names = [f"burst_{setup.key}_{attempt}_{i:03d}" for i in range(runs)]
        lead = attempt * (5.0 + 2.0 * setup.workers)
        period, tick = burst_tick(lead, min_period)
        body = f"import time; time.sleep({sleep})"
        tasks = {n: {"command": "shell", "args": ["-c", body], "every": period} for n in names}
        # Each task ran at its previous tick: nothing is due before ``tick``.
        TaskRun.objects.bulk_create(
            TaskRun(
                task=n,
                scheduled_for=tick - timedelta(seconds=period),
                trigger=Trigger.CLOCK,
                status=Status.SUCCEEDED,
                started_at=tick - timedelta(seconds=period),
                finished_at=tick - timedelta(seconds=period - sleep),
            )
            for n in names
        )
        env = setup.env(fleet, db_url, tasks, f"burst{attempt}")
        procs = fleet.workers(setup.workers, env, f"burst-{setup.key}")
        procs.append(fleet.clock(env, f"burst-{setup.key}-clock"))
        up_by = tick - timedelta(seconds=1.5)
        wait(
            partial(up_or_past, procs, up_by),
            lead + 30,
            "the workers and the clock",
            procs,
        )
        if datetime.now(UTC) <= up_by:
            break
        print(f"  ({setup.label}: not all up 1.5 s before the tick; again with a longer lead)")
        fleet.stop(procs)
    else:
        raise SystemExit(f"{setup.label}: the processes did not start in time, twice")
    burst = TaskRun.objects.filter(task__in=names, scheduled_for=tick)
    try:
        wait(
            lambda: burst.filter(status__in=FINISHED).count() >= runs,
            lead + expected * 2 + 120,
            f"{runs} finished runs",
            procs,
        )
    finally:
        fleet.stop(procs)
    later = TaskRun.objects.filter(task__in=names, scheduled_for__gt=tick).count()
    assert later == 0, f"{later} runs of a later tick: the period is too short"
    rows = list(burst)
    started = [r.started_at for r in rows if r.started_at is not None]
    per_worker = [p.output().count("started burst_") for p in procs if p.kind == "worker"]
    return Makespan(
        setup,
        runs,
        sleep,
        (max(r.finished_at for r in rows if r.finished_at) - tick).total_seconds(),
        (max(r.created_at for r in rows) - tick).total_seconds(),
        (max(started) - tick).total_seconds() if started else float("nan"),
        dict(Counter(r.status for r in rows)),
        per_worker,
        load(),
    )


def print_makespan(results: list[Makespan]) -> None:
    r0 = results[0]
    print(
        f"\n2. makespan of {r0.runs} runs of a {r0.sleep:g}-s sleeping task due at the same "
        "tick (s, from the tick)"
    )
    print(
        f"  {'set-up':22} {'makespan':>8} {'ideal':>6} {'claimed by':>10} {'last start':>10}"
        "  statuses / runs per worker / load"
    )
    for r in results:
        per = "/".join(map(str, r.per_worker)) or "-"
        print(
            f"  {r.setup.label:22} {r.makespan:8.2f} {r.ideal:6.0f} {r.claimed_within:10.2f} "
            f"{r.last_start:10.2f}  {r.statuses} / {per} / {r.load}"
        )
    print(
        "  (ideal: ceil(runs / concurrency) x sleep; fork runs them all at once. claimed by: "
        "the last row's created_at)"
    )


# --- 3. queries per dispatched run ---------------------------------------------------


# Transaction control is not counted: Django logs BEGIN/COMMIT in its captured queries
# (and sends SQLite's BEGIN IMMEDIATE through the cursor), PostgreSQL's driver begins
# implicitly; without them the figures compare across databases and counting methods.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if not sql.lstrip().upper().startswith(CONTROL)]


@dataclass
class Step:
    queries: list[str]
    seconds: float
    dispatched: list[int]


@dataclass
class QueryBlock:
    history: int  # TaskRun rows when the block began
    idle: list[Step] = field(default_factory=list)
    one: list[Step] = field(default_factory=list)
    ten: list[Step] = field(default_factory=list)
    pool_per_run: list[float] = field(default_factory=list)  # worker pool process, each round
    child: list[int] = field(default_factory=list)  # queries of each run's child
    runs: int = 0
    fill_seconds: float = 0.0

    def per_run(self) -> set[float]:
        """Dispatch queries per run, each round: (1 due - none due) and (10 due - none due) / 10."""
        out: set[float] = set()
        for idle, one, ten in zip(self.idle, self.one, self.ten, strict=True):
            out.add(len(one.queries) - len(idle.queries))
            out.add((len(ten.queries) - len(idle.queries)) / 10)
        return out


def shape(queries: list[str]) -> str:
    """``SELECT core_taskrun x3, INSERT core_taskrun x1, ...`` for a list of statements."""
    kinds: Counter[str] = Counter()
    for sql in queries:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        table = re.search(r'"(core_\w+)"', sql)
        kinds[f"{verb} {table.group(1) if table else ''}".strip()] += 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))


def fill_history(rows: int, names: list[str], newest: datetime) -> float:
    """``rows`` runs of ``names`` (97 % succeeded) on every-60-s ticks before ``newest``."""
    from django.db import connection, transaction

    count = len(names)
    case = " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(names))
    status = "CASE WHEN x %% 100 < 97 THEN 'succeeded' ELSE 'failed' END"
    began = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status,
                    exclusive, created_at, started_at, finished_at, host, error, output,
                    on_tick, requested_by, executor, dispatches)
                SELECT CASE x %% {count} {case} END, t, 1, 'clock', {status}, true, t, t,
                       t + interval '1 second', 'bench:1', '', '', true, '', 'celery', 1
                FROM (SELECT x, to_timestamp(%s) - (x / {count} + 1) * interval '1 minute' AS t
                      FROM generate_series(0, %s - 1) AS x) AS g
                """,
                [newest.timestamp(), rows],
            )
        else:
            cursor.execute(
                f"""
                WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < %s - 1)
                INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status,
                    exclusive, created_at, started_at, finished_at, host, error, output,
                    on_tick, requested_by, executor, dispatches)
                SELECT CASE x %% {count} {case} END, t, 1, 'clock', {status}, 1, t, t,
                       datetime(t, '+1 second'), 'bench:1', '', '', 1, '', 'celery', 1
                FROM (SELECT x, datetime(%s, 'unixepoch', '-' || (x / {count} + 1) || ' minutes')
                      AS t FROM g)
                """,
                [rows, int(newest.timestamp())],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.monotonic() - began


def measure_queries(
    fleet: Fleet, db_url: str, rows: int, rounds: int, queue: str
) -> list[QueryBlock]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.models import Status, TaskRun, Trigger
    from core.scheduling.engine import ClaimResult, Engine
    from core.scheduling.executors import get_executor
    from core.scheduling.supervisor import Supervisor

    # The earlier parts' rows go: "history 0" means the table holds only this part's runs.
    TaskRun.objects.all().delete()
    log_file = fleet.logdir / "queries.log"
    log_file.touch()
    tasks = json.loads(os.environ["BENCH_SCHEDULED_TASKS"])
    setup = Setup("celery", 1, "redis")
    # The worker takes the queue this process publishes to (its settings' CELERY_QUEUE).
    env = setup.env(fleet, db_url, tasks, "queries", queue)
    env.update(BENCH_QUERY_LOG=str(log_file))
    [worker] = fleet.workers(1, env, "queries")
    wait(lambda: ready([worker]), 90, "the worker", [worker])

    executor = get_executor("celery")
    one = Engine(Trigger.CLOCK, only=QUERY_ONE, executor=executor)
    ten = Engine(Trigger.CLOCK, only=QUERY_TEN, executor=executor)
    supervisor = Supervisor()
    now = time.time()
    base = datetime.fromtimestamp((now // QUERY_PERIOD) * QUERY_PERIOD - 3600, UTC)
    ticks = (base + timedelta(seconds=QUERY_PERIOD * i) for i in range(1, 10_000))
    for engine in (one, ten):
        engine.plan(base)  # its Task rows, once per engine, out of the counts

    # Warm up: this process's broker connection and the worker, with a message it ignores.
    from core.scheduling.executors.celery import publish

    assert publish(0) is None, "could not publish to the broker"
    wait(lambda: "no such run" in worker.output(), 60, "the worker's first message", [worker])
    executed = 1  # tasks the worker has logged as ended (the ignored one returns None)

    def step(engine: Engine, at: datetime) -> Step:
        nonlocal executed
        # The worker is paused while the step runs, so that the step's time is the
        # dispatcher's own (on SQLite the worker's writes would queue its INSERTs
        # behind the write lock); it takes the messages once resumed.
        os.kill(worker.popen.pid, signal.SIGSTOP)
        try:
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                claimed = engine.step(supervisor, at)
                seconds = time.perf_counter() - began
        finally:
            os.kill(worker.popen.pid, signal.SIGCONT)
        ids = [c.run.pk for c in claimed if c.result == ClaimResult.STARTED and c.run]
        if ids:
            # Celery logs a task's end once it has returned: its last query is written.
            executed += len(ids)
            wait(
                lambda: worker.output().count("] succeeded in ") >= executed,
                60,
                f"runs {ids} to be executed by the worker",
                [worker],
            )
            done = TaskRun.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count()
            assert done == len(ids), f"{len(ids) - done} of runs {ids} did not succeed"
        sqls = [q["sql"] for q in captured.captured_queries]
        return Step(statements(sqls), seconds, ids)

    def block() -> QueryBlock:
        blk = QueryBlock(TaskRun.objects.count())
        for _ in range(rounds):
            tick = next(ticks)
            log_file.write_text("")
            one_step = step(one, tick + timedelta(milliseconds=50))
            ten_step = step(ten, tick + timedelta(milliseconds=50))
            blk.one.append(one_step)
            blk.ten.append(ten_step)
            blk.idle.append(step(ten, tick + timedelta(seconds=30)))
            ids = one_step.dispatched + ten_step.dispatched
            hosts = TaskRun.objects.filter(pk__in=ids).values_list("host", flat=True)
            children = {int(host.rsplit(":", 1)[1]) for host in hosts}
            per_pid: Counter[int] = Counter()
            for line in log_file.read_text().splitlines():
                pid, _, sql = line.partition("\t")
                if statements([sql]):
                    per_pid[int(pid)] += 1
            blk.child += [per_pid.get(pid, 0) for pid in sorted(children)]
            pool = sum(n for pid, n in per_pid.items() if pid not in children)
            blk.pool_per_run.append(pool / len(ids))
            blk.runs += len(ids)
        return blk

    try:
        blocks = [block()]
        if rows:
            # Older than every tick the steps use: the newest rows stay the steps' own.
            seconds = fill_history(rows, QUERY_ONE + QUERY_TEN, newest=base)
            blocks.append(block())
            blocks[-1].fill_seconds = seconds
    finally:
        supervisor.close()
        fleet.stop([worker])
    return blocks


def print_queries(blocks: list[QueryBlock], vendor: str) -> None:
    print(
        f"\n3. queries per dispatched run ({vendor}; SQL statements, BEGIN/COMMIT not counted; "
        "[the values seen over the rounds], median time)"
    )
    for blk in blocks:
        fill = f" (the history filled in {blk.fill_seconds:.1f} s)" if blk.fill_seconds else ""
        print(f"  {blk.history:,} TaskRun rows{fill}:")
        for label, steps in (("nothing due", blk.idle), ("1 due", blk.one), ("10 due", blk.ten)):
            counts = sorted({len(s.queries) for s in steps})
            secs = median([s.seconds for s in steps]) * 1000
            print(f"    step, {label:11}: {counts} queries, {secs:6.1f} ms")
            if steps is not blk.ten:
                print(f"      {shape(steps[0].queries)}")
        extra = median([t.seconds - i.seconds for t, i in zip(blk.ten, blk.idle, strict=True)])
        print(
            f"    -> dispatching side, per dispatched run: {sorted(blk.per_run())} queries, "
            f"{extra * 100:.1f} ms ((10 due - nothing due) / 10)"
        )
        pool = sorted(set(blk.pool_per_run))
        child = sorted(set(blk.child))
        print(
            f"    -> worker side, {blk.runs} runs: pool process {pool} per run "
            f"(claim, record, notification), each run's child {child} (its start stamp)"
        )


# --- main --------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def goals(late: list[Lateness], spans: list[Makespan], blocks: list[QueryBlock]) -> None:
    print("\nGoals")
    fork = next((r for r in late if r.setup.executor == "fork"), None)
    for r in late:
        if r.setup.executor != "celery" or fork is None:
            continue
        ratio = r.p50 / fork.p50
        print(
            f"  {verdict(ratio <= 2)}  {r.setup.label}: lateness median {r.p50:.1f} ms = "
            f"{ratio:.2f}x fork's {fork.p50:.1f} ms (goal <= 2x)"
        )
        print(
            f"  {verdict(r.p95 < 250)}  {r.setup.label}: lateness p95 {r.p95:.1f} ms (goal < 250)"
        )
    for broker in BROKERS:
        by_n = {r.setup.workers: r for r in spans if r.setup.broker == broker}
        if 1 in by_n and 4 in by_n:
            ratio = by_n[4].makespan / by_n[1].makespan
            print(
                f"  {verdict(ratio <= 0.3)}  celery/{broker}: makespan x4 {by_n[4].makespan:.1f} s"
                f" = {ratio:.2f}x of x1's {by_n[1].makespan:.1f} s (goal <= 0.3x)"
            )
    if blocks:
        dispatch = set().union(*(b.per_run() for b in blocks))
        pool = set().union(*(set(b.pool_per_run) for b in blocks))
        child = set().union(*(set(b.child) for b in blocks))
        sizes = " and ".join(f"{b.history:,}" for b in blocks)
        print(
            f"  {verdict(len(dispatch) == 1)}  queries per dispatched run, {sizes} TaskRun rows: "
            f"dispatching side {sorted(dispatch)} (goal: one value)"
        )
        print(
            f"  {verdict(len(pool) == 1 and len(child) == 1)}  queries per run, worker side: "
            f"pool process {sorted(pool)}, child {sorted(child)} (goal: one value each)"
        )


@contextlib.contextmanager
def fleet_of(logdir: Path, keep_logs: bool) -> Iterator[Fleet]:
    """A fleet whose processes (SIGKILL), broker queues and logs go at the end, whatever happens."""
    fleet = Fleet(logdir)
    try:
        yield fleet
    finally:
        fleet.kill_all()
        fleet.delete_queues()
        if keep_logs:
            print(f"logs: {logdir}")
        else:
            shutil.rmtree(logdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=60, help="lateness ticks per set-up")
    parser.add_argument(
        "--windows", type=int, default=3, help="the lateness ticks are taken in this many turns"
    )
    parser.add_argument("--runs", type=int, default=100, help="runs due at the burst's tick")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each burst run sleeps")
    parser.add_argument("--workers", default="1,2,4", help="worker processes (concurrency 1)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="history for part 3")
    parser.add_argument("--rounds", type=int, default=5, help="steps of each kind in part 3")
    parser.add_argument("--rabbitmq", action="store_true", help="celery on RabbitMQ too")
    parser.add_argument(
        "--parts", default="1,2,3", help="which parts to run (1 lateness, 2 makespan, 3 queries)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    db = parser.add_mutually_exclusive_group()
    db.add_argument(
        "--database-url",
        help=f"a PostgreSQL server on 127.0.0.1; {PG_BENCH_DB} is created and dropped on it "
        "(default: a temporary SQLite file)",
    )
    db.add_argument("--postgres", action="store_true", help=f"--database-url {LOCAL_POSTGRES}")
    args = parser.parse_args()
    server = LOCAL_POSTGRES if args.postgres else args.database_url
    if server and urlsplit(server).hostname not in LOCAL_HOSTS:
        parser.error("the database server must be on 127.0.0.1")
    workers = sorted({int(n) for n in args.workers.split(",")})
    parts = {int(p) for p in args.parts.split(",")}
    brokers = ["redis", "rabbitmq"] if args.rabbitmq else ["redis"]
    for name in brokers:
        if not listening(BROKERS[name][1]):
            raise SystemExit(f"{name} is not running on 127.0.0.1:{BROKERS[name][1]}")
    setups = [Setup("fork")] + [Setup("celery", n, b) for b in brokers for n in workers]

    # Also when started in the background (SIGINT ignored): both unwind through the cleanup.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    began = time.monotonic()
    logdir = Path(tempfile.mkdtemp(prefix="bench-executors-"))
    query_queue = f"bench-executors-{RUN_ID}-queries"
    query_tasks = {
        n: {"command": "shell", "args": ["-c", "pass"], "every": QUERY_PERIOD}
        for n in QUERY_ONE + QUERY_TEN
    }
    with (
        throwaway_database(server, PG_BENCH_DB) as url,
        fleet_of(logdir, args.keep_logs) as fleet,
    ):
        env = bench_env(
            url,
            query_tasks,
            DJANGO_SETTINGS_MODULE=SETTINGS,
            CELERY_BROKER_URL=BROKERS["redis"][0],
            CELERY_QUEUE=query_queue,
            LOG_LEVEL="WARNING",  # this process's own engine steps (part 3) say nothing
        )
        manage(["migrate", "-v0"], env)
        setup_django(env)
        from django.db import connection
        from ops_common import describe_database

        fleet.queues.append((BROKERS["redis"][0], query_queue))
        print(
            f"bench/executors.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {describe_database()}; "
            f"{os.cpu_count()} CPUs; load {load()}"
        )
        print(
            "celery xN = N worker processes (celery -A spojscore worker --concurrency 1), "
            "total concurrency N; brokers on 127.0.0.1: " + ", ".join(brokers)
        )
        late: list[Lateness] = []
        spans: list[Makespan] = []
        blocks: list[QueryBlock] = []
        if 1 in parts:
            # In turns, so that a change of the machine's load falls on every set-up alike.
            late = [Lateness(setup) for setup in setups]
            per = math.ceil(args.ticks / args.windows)
            for window in range(args.windows):
                turn = window % len(late)
                for result in late[turn:] + late[:turn]:
                    measure_lateness(fleet, url, result.setup, per, window, result)
                print(f"  (lateness window {window + 1}/{args.windows} done, load {load()})")
            print_lateness(late, args.windows)
        if 2 in parts:
            for setup in setups:
                spans.append(measure_makespan(fleet, url, setup, args.runs, args.sleep))
                print(f"  ({setup.label}: makespan {spans[-1].makespan:.2f} s, load {load()})")
            print_makespan(spans)
        if 3 in parts:
            blocks = measure_queries(fleet, url, args.rows, args.rounds, query_queue)
            print_queries(blocks, connection.vendor)
        goals(late, spans, blocks)
        connection.close()
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
