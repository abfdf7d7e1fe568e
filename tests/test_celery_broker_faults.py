"""The broker fails, the clock does not: a broker down for 20 s while ticks fall
due loses and doubles nothing, and lost messages (a purged queue) are sent once
more, then recorded ``abandoned`` with the reason, which ``tasks --check`` reports.

The outage uses a ``redis-server`` of the test's own (``private_redis``): the
machine's Redis and RabbitMQ serve every other test and are never stopped.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from core.models import Status, TaskRun
from core.scheduling.config import parse_task
from tests.brokers import PrivateRedis, celery_env, purge
from tests.processes import Processes, latest_tick, read_records, record_task, seed_last_run
from tests.support import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.database_server,
    pytest.mark.django_db(transaction=True),
]

OUTAGE = 20  # seconds


def test_ticks_due_while_the_broker_is_down_are_each_sent_and_executed_once_when_it_is_back(
    processes: Processes, records_file: Path, private_redis: PrivateRedis
) -> None:
    broker = celery_env(private_redis.url)
    entry = record_task(records_file, every=2, sleep=0.1, overlap="allow", starting_deadline=30)
    tasks = {"every2": entry}
    spec = parse_task("every2", entry, "UTC")

    seed = latest_tick(spec)
    seed_last_run("every2", seed)
    rows = TaskRun.objects.filter(task="every2", scheduled_for__gt=seed)
    worker = processes.worker(tasks, broker, concurrency=2)
    clock = processes.clock(tasks, **broker)
    wait_for(
        lambda: rows.filter(status=Status.SUCCEEDED).count() >= 2,
        timeout=30,
        what="two runs executed before the outage",
    )

    # Stop it between ticks, with nothing in flight (a message inside a broker
    # that dies with it is the lost-message case, below).
    def quiet() -> bool:
        return 0.5 < time.time() % 2 < 1.5 and not rows.filter(status=Status.QUEUED).exists()

    wait_for(quiet, timeout=10, what="a moment between ticks", interval=0.02)
    private_redis.stop()
    down_at = timezone.now()
    time.sleep(OUTAGE)
    # The clock went on claiming every tick; the rows say why they wait.
    unsent = list(rows.filter(scheduled_for__gt=down_at))
    assert len(unsent) >= OUTAGE // 2 - 1, unsent
    for run in unsent:
        assert (run.status, run.dispatched_at, run.dispatches) == (Status.QUEUED, None, 0), run
        assert run.error.startswith("could not send it to the workers: "), run.error
    assert clock.popen.poll() is None
    assert "could not send run #" in clock.output()

    private_redis.start()
    up_at = timezone.now()

    def caught_up() -> bool:
        if not 0.5 < time.time() % 2 < 1.5:
            return False
        return rows.filter(scheduled_for=latest_tick(spec), status=Status.SUCCEEDED).exists() and (
            not rows.exclude(status=Status.SUCCEEDED).exists()
        )

    wait_for(caught_up, timeout=60, what="every tick to be executed once the broker is back")
    stop_requested = timezone.now()
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0, clock.output()[-3000:]
    worker.signal(signal.SIGTERM)
    assert worker.wait(25) == 0, worker.output()[-3000:]

    runs = sorted(rows, key=lambda r: r.scheduled_for)
    # Nothing lost: a row for every tick, each executed; nothing doubled.
    assert [r.scheduled_for for r in runs] == spec.ticks_between(seed, stop_requested)
    starts = Counter(r["run"] for r in read_records(records_file) if r["event"] == "start")
    assert starts == Counter({r.pk: 1 for r in runs})
    for run in runs:
        assert (run.status, run.attempt, run.dispatches, run.error) == (
            Status.SUCCEEDED,
            1,
            1,
            "",
        ), run
    # The ticks of the outage were executed only once the broker was back.
    during = [r for r in runs if down_at < r.scheduled_for < up_at]
    assert len(during) >= OUTAGE // 2 - 1
    assert all(r.started_at is not None and r.started_at > up_at for r in during)
    assert "(the broker is back)" in clock.output()


def test_lost_messages_are_sent_once_more_then_abandoned_and_tasks_check_reports_why(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    # No worker runs: every message sent is purged (lost) before anyone can take it.
    timeout = 2
    tasks = {"hourly": record_task(records_file, every=3600, starting_deadline=3600)}
    clock = processes.clock(tasks, SCHEDULED_TASKS_DISPATCH_TIMEOUT=str(timeout), **redis_broker)
    queue = redis_broker["CELERY_QUEUE"]
    url = redis_broker["CELERY_BROKER_URL"]
    sent = wait_for(
        lambda: TaskRun.objects.filter(task="hourly", dispatches=1).first(),
        timeout=30,
        what="the run to be sent",
    )
    assert purge(url, queue) == 1
    resent = wait_for(
        lambda: TaskRun.objects.filter(pk=sent.pk, dispatches=2).first(),
        timeout=timeout + 10,
        what="the run to be sent again",
    )
    # Sent again once the timeout had passed (both stamps in database time), not before.
    assert sent.dispatched_at is not None
    assert resent.dispatched_at is not None
    assert (resent.dispatched_at - sent.dispatched_at).total_seconds() >= timeout
    assert purge(url, queue) == 1  # the second message, lost as well
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=sent.pk, status=Status.ABANDONED).first(),
        timeout=timeout + 10,
        what="the run to be given up",
    )
    assert run.finished_at is not None
    # (finished_at is the clock's time, on this machine; SQLite keeps milliseconds.)
    assert (run.finished_at - resent.dispatched_at).total_seconds() >= timeout - 0.01
    reason = f"no worker started it in {timeout} s (sent to the workers 2 times)"
    assert run.error == reason
    assert run.started_at is None
    assert "sending it again" in clock.output()
    time.sleep(timeout + 1)
    assert purge(url, queue) == 0  # nothing sent a third time
    assert TaskRun.objects.count() == 1  # and nothing else claimed
    assert not read_records(records_file)  # never executed

    code, out = processes.manage(["tasks", "--check"], tasks, 60, **redis_broker)
    assert code != 0, out
    assert "hourly" in out
    assert reason in out, out
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0


def test_a_lost_message_sent_again_reaches_a_worker_started_since(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    timeout = 3
    tasks = {"hourly": record_task(records_file, every=3600, starting_deadline=3600)}
    clock = processes.clock(tasks, SCHEDULED_TASKS_DISPATCH_TIMEOUT=str(timeout), **redis_broker)
    sent = wait_for(
        lambda: TaskRun.objects.filter(task="hourly", dispatches=1).first(),
        timeout=30,
        what="the run to be sent",
    )
    assert purge(redis_broker["CELERY_BROKER_URL"], redis_broker["CELERY_QUEUE"]) == 1
    worker = processes.worker(tasks, redis_broker)
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=sent.pk, status=Status.SUCCEEDED).first(),
        timeout=timeout + 20,
        what="the run sent again to be executed",
    )
    assert (run.dispatches, run.error) == (2, "")
    assert [r["run"] for r in read_records(records_file) if r["event"] == "start"] == [run.pk]
    assert f"started hourly run #{run.pk}" in worker.output()
    for proc in (clock, worker):
        proc.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
    assert worker.wait(25) == 0
