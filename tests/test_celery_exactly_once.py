"""Guarantees 1 and 3 under the celery executor, with real workers on Redis and RabbitMQ.

Two clocks and ``runtasks`` invocations aimed at the first milliseconds of each
tick (``tests/runtasks_at.py``) race to claim an every-2-s task for 40 s; the
claim's winner publishes, three worker processes execute. The clocks are held
back (SIGSTOP/SIGCONT) by 0 to 40 ms at some ticks so that both sides win
claims. Meanwhile the test itself publishes ``execute_run`` for every run twice
more as soon as it sees the row (queued or running), and once more once it has
finished: Celery's at-least-once delivery at its worst.

Executions (side effects in ``record_run``'s file) equal ticks: every tick in
the window has exactly one row, each row one execution to its end, and every
extra message was delivered and ignored. A second test makes the duplicates
race while the run is still queued: three deliveries of one run reach three
idle workers at once.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import parse_task
from tests.brokers import RECEIVED_LINE, host_pid, publish_from_test, signal_session
from tests.processes import Proc, Processes, latest_tick, read_records, record_task, seed_last_run
from tests.support import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.database_server,
    pytest.mark.django_db(transaction=True),
]

WINDOW = 40  # seconds of ticks
FIRE_OFFSETS = "0,0.003"  # one runtasks at each tick, one 3 ms after it
PAUSES = (0.0, 0.02, 0.04)  # how long after a tick the clocks resume, in turn
IGNORED = re.compile(r"execute_run\((\d+)\): .*ignored")


def ignored_per_run(workers: list[Proc]) -> Counter[int]:
    """How many messages each run's id got that the workers ignored (from their logs)."""
    found: Counter[int] = Counter()
    for worker in workers:
        found.update(int(m.group(1)) for m in IGNORED.finditer(worker.output()))
    return found


def starts_per_run(records_file: Path) -> Counter[int]:
    """How many executions each run had (``start`` lines in the file)."""
    return Counter(r["run"] for r in read_records(records_file) if r["event"] == "start")


def test_two_clocks_and_runtasks_dispatch_to_three_workers_and_each_tick_executes_once(
    processes: Processes, records_file: Path, broker: dict[str, str]
) -> None:
    # overlap="allow" and a long starting deadline: no tick may be skipped or
    # missed, so every tick must be executed, and exactly once.
    entry = record_task(records_file, every=2, sleep=0.3, overlap="allow", starting_deadline=30)
    tasks: dict[str, Any] = {"every2": entry}
    spec = parse_task("every2", entry, "UTC")

    # The task last ran at its latest tick: the clocks go on from there.
    seed = latest_tick(spec)
    seed_last_run("every2", seed)
    workers = [processes.worker(tasks, broker, name=f"w{i}") for i in range(3)]
    clocks = [processes.clock(tasks, name=f"clock{i}", **broker) for i in range(2)]
    first = int(time.time()) // 2 * 2 + 4  # the tick after next
    runtasks = processes.start(
        ["-m", "tests.runtasks_at", str(first), FIRE_OFFSETS, str(WINDOW), "2"],
        tasks,
        "runtasks",
        **broker,
    )

    duplicated: Counter[int] = Counter()  # extra messages published per run
    seen_finished: set[int] = set()

    def duplicate_what_is_new() -> None:
        rows = TaskRun.objects.filter(task="every2", scheduled_for__gt=seed)
        for pk, status in rows.values_list("pk", "status"):
            if pk not in duplicated:
                publish_from_test(broker, pk, times=2)  # queued or running by now
                duplicated[pk] += 2
            if status not in (Status.QUEUED, Status.RUNNING) and pk not in seen_finished:
                publish_from_test(broker, pk, times=1)  # a late, replayed message
                duplicated[pk] += 1
                seen_finished.add(pk)

    stops = 0
    for second in range(first, first + WINDOW):
        if runtasks.popen.poll() is not None:
            break
        if second % 2 == 0:  # a tick: hold the clocks back, by a different pause each time
            pause = PAUSES[stops % len(PAUSES)]
            stops += 1
            time.sleep(max(0.0, second - 0.05 - time.time()))
            try:
                for clock in clocks:
                    clock.signal(signal.SIGSTOP)
                time.sleep(max(0.0, second + pause - time.time()))
            finally:
                for clock in clocks:
                    clock.signal(signal.SIGCONT)
        while time.time() < second + 0.85:
            duplicate_what_is_new()
            time.sleep(0.1)
    # It stops by itself after WINDOW seconds (a SIGTERM now could land in its
    # interpreter's exit, where Python has put back the default handler).
    code = runtasks.wait(60)
    if code != 0:
        out = runtasks.output()
        failed = [line for line in out.splitlines() if "exited" in line]
        failed_pids = {line.split()[2] for line in failed}
        detail = [
            line for line in out.splitlines() if any(f"pid {p}:" in line for p in failed_pids)
        ]
        raise AssertionError(
            f"exit code {code}\n" + ("\n".join(failed + detail[-60:]) or out[-3000:])
        )

    # Stop the clocks between ticks, once the latest tick is claimed and every run has ended.
    def caught_up() -> bool:
        if not 0.6 < time.time() % 2 < 1.4:
            return False
        rows = TaskRun.objects.filter(task="every2")
        return (
            rows.filter(scheduled_for=latest_tick(spec)).exists()
            and not rows.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists()
        )

    wait_for(caught_up, timeout=30, what="the runs to catch up, between two ticks", interval=0.05)
    stop_requested = timezone.now()
    for clock in clocks:
        clock.signal(signal.SIGTERM)
    for clock in clocks:
        assert clock.wait(25) == 0, clock.output()[-3000:]
    duplicate_what_is_new()  # the last runs' replays
    # Every extra message reached a worker and was ignored there.
    wait_for(
        lambda: ignored_per_run(workers) == duplicated,
        timeout=30,
        what=f"the workers to ignore {sum(duplicated.values())} duplicate messages",
    )
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(25) == 0, worker.output()[-3000:]

    rows = list(TaskRun.objects.filter(task="every2", scheduled_for__gt=seed))
    rows.sort(key=lambda r: r.scheduled_for)
    # No holes, nothing extra: one row per tick since the seed, each attempt 1.
    assert [r.scheduled_for for r in rows] == spec.ticks_between(seed, stop_requested)
    assert len(rows) >= WINDOW // 2 - 1
    records = read_records(records_file)
    starts = starts_per_run(records_file)
    ends = Counter(r["run"] for r in records if r["event"] == "end")
    twice = {pk: n for pk, n in starts.items() if n > 1}
    assert not twice, f"runs executed more than once: {twice}"
    assert set(starts) == set(ends) == {r.pk for r in rows}
    pids = {r["run"]: r["pid"] for r in records if r["event"] == "start"}
    for row in rows:
        assert row.status == Status.SUCCEEDED, (row, row.error)
        assert (row.attempt, row.executor, row.dispatches) == (1, "celery", 1), row
        assert host_pid(row) == pids[row.pk]
        assert duplicated[row.pk] == 3
    # Both sides dispatched, and the runs spread over the workers.
    triggers = Counter(r.trigger for r in rows)
    assert set(triggers) == {Trigger.CLOCK, Trigger.SCHEDULER}, triggers
    executed = {w.name: w.output().count("started every2 run #") for w in workers}
    assert sum(executed.values()) == len(rows)
    assert sum(1 for n in executed.values() if n) >= 2, executed
    print(f"{len(rows)} ticks, triggers {dict(triggers)}, executed by {executed}")


def test_three_deliveries_of_a_queued_run_race_on_three_workers_and_it_starts_once(
    processes: Processes, records_file: Path, broker: dict[str, str]
) -> None:
    tasks = {"rec": record_task(records_file, sleep=0.5, schedule="0 0 1 1 *")}
    workers = [processes.worker(tasks, broker, name=f"w{i}") for i in range(3)]
    # Frozen, each worker still takes one message (its prefetch of one), and no
    # worker can start anything: the run stays queued while its messages arrive.
    for worker in workers:
        signal_session(worker.pid, signal.SIGSTOP)
    try:
        code, out = processes.manage(["runtasks", "--force", "rec"], tasks, 60, **broker)
        assert code == 0, out
        run = TaskRun.objects.get(task="rec")
        publish_from_test(broker, run.pk, times=2)  # two more while it is queued
        time.sleep(0.5)
        run.refresh_from_db()
        assert (run.status, run.dispatches) == (Status.QUEUED, 1)
    finally:
        for worker in workers:
            signal_session(worker.pid, signal.SIGCONT)
    # Three workers wake with one delivery each: three claims race.
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.SUCCEEDED).first(),
        timeout=30,
        what="the run to succeed",
    )
    wait_for(
        lambda: ignored_per_run(workers)[run.pk] == 2,
        timeout=30,
        what="the workers to ignore the two other deliveries",
    )
    # RabbitMQ pushes one message to each frozen worker; a Redis worker takes one
    # only if it was waiting in BRPOP when frozen. Either way, several raced.
    received = {w.name: len(RECEIVED_LINE.findall(w.output())) for w in workers}
    assert sum(received.values()) == 3
    assert sum(1 for n in received.values() if n) >= 2, received
    if broker["CELERY_BROKER_URL"].startswith("amqp"):
        assert sorted(received.values()) == [1, 1, 1], received
    publish_from_test(broker, run.pk, times=1)  # and once after it finished
    wait_for(
        lambda: ignored_per_run(workers)[run.pk] == 3,
        timeout=30,
        what="the workers to ignore the late delivery",
    )
    assert starts_per_run(records_file) == {run.pk: 1}
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(25) == 0
    run.refresh_from_db()
    assert (run.status, run.dispatches) == (Status.SUCCEEDED, 1)
