"""Supervision is a lease, in database time (guarantee 4), and a run whose
lease ran out is dead before any other process may run its task again — so
``overlap="forbid"`` holds when a supervisor stalls or loses the database.

The attacks: the app server's clock hours off the database's; a clock frozen
with SIGSTOP while its task runs (a stalled dyno) and a second clock taking
over; a supervisor whose every statement fails (the database unreachable).
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from django.db import connection
from django.db.models.functions import Now

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import parse_task
from core.scheduling.engine import Engine
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Supervisor
from tests.db_faults import FailingStatement
from tests.processes import (
    Processes,
    process_alive,
    read_records,
    record_task,
    started_run,
    wait_for,
)
from tests.stall_proxy import StallProxy

# A 20 s run of an hourly task, retried at once if it fails: another clock may take it over.
LONG_RETRIED = {
    "sleep": 20,
    "beat": True,
    "every": 3600,
    "starting_deadline": 3600,
    "retries": 1,
    "retry_delay": 0,
}


def assert_dead_before_the_takeover(records_file: Path, child: int) -> None:
    """Wait for another clock's retry (attempt 2) to start; ``child`` must be dead before it."""
    retry = wait_for(
        lambda: [r for r in read_records(records_file) if r.get("attempt") == 2],
        timeout=30,
        what="the other clock's retry to start",
    )[0]
    last_beat = max(r["t"] for r in read_records(records_file) if r["pid"] == child)
    assert last_beat < retry["t"], (
        f"the first run beat {last_beat - retry['t']:.2f} s after the retry started"
    )
    assert not process_alive(child)


def database_now() -> datetime:
    return TaskRun.objects.annotate(now=Now()).values_list("now", flat=True).first() or (
        datetime.now(UTC)
    )


@pytest.mark.django_db
def test_the_claim_starts_the_lease_in_database_time_not_the_app_servers() -> None:
    job = parse_task("job", {"command": "check", "every": 60}, "UTC")
    engine = Engine(Trigger.CLOCK, {"job": job})
    tick = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    # This app server's clock runs two hours ahead of the database's.
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
        run = engine.claim_tick(job, tick, 1, Trigger.CLOCK).run
    assert run is not None
    run.refresh_from_db()
    assert run.heartbeat_at is not None
    assert abs((run.heartbeat_at - database_now()).total_seconds()) < 30


@pytest.fixture
def supervisor(make_supervisor) -> Supervisor:
    return make_supervisor(heartbeat=1, stale_after=4)


@pytest.mark.django_db(transaction=True)
def test_a_supervisor_that_cannot_heartbeat_kills_its_run_before_the_lease_ends(
    supervisor: Supervisor,
) -> None:
    sleeper = {"command": "shell", "args": ["-c", "import time; time.sleep(30)"], "every": 3600}
    spec = parse_task("job", sleeper, "UTC")
    engine = Engine(Trigger.CLOCK, {"job": spec})
    claimed = engine.claim_tick(spec, datetime(2030, 1, 7, tzinfo=UTC), 1, Trigger.CLOCK)
    assert claimed.run is not None
    began = time.monotonic()
    child = supervisor.start(claimed.run, spec.command, spec.args, timeout=spec.timeout)
    # From now on every statement of this process fails: the database is gone.
    with connection.execute_wrapper(FailingStatement(1, and_after=True)):
        outcomes: list[Outcome] = []
        while not outcomes and time.monotonic() - began < 10:
            outcomes += supervisor.wait(time.monotonic() + 0.2)
        dead_after = time.monotonic() - began
    assert outcomes, "the run outlived its lease"
    # Its lease: STALE_AFTER (4 s) - HEARTBEAT (1 s) from the claim; stale (others may
    # take over) only at 4 s. The time includes our own noticing, so it errs long.
    assert 2.9 < dead_after < 4.0, f"killed after {dead_after:.2f} s"
    assert not process_alive(child.pid)
    (outcome,) = outcomes
    assert outcome.status == Status.ABANDONED
    assert "lease" in outcome.error


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_frozen_clocks_run_is_dead_before_another_clock_runs_the_task_again(
    processes: Processes, records_file: Path
) -> None:
    tasks = {
        "lease": record_task(
            records_file,
            sleep=20,
            beat=True,
            every=3600,
            starting_deadline=3600,
            retries=1,
            retry_delay=0,
        )
    }
    first = processes.clock(tasks, name="frozen")
    run = started_run("lease")
    wait_for(lambda: read_records(records_file), timeout=10, what="the first run's start line")
    frozen_child = read_records(records_file)[0]["pid"]
    first.signal(signal.SIGSTOP)  # the dyno freezes: no heartbeat, no fencing from it
    try:
        processes.clock(tasks, name="other")
        assert_dead_before_the_takeover(records_file, frozen_child)
    finally:
        first.signal(signal.SIGCONT)
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    assert TaskRun.objects.filter(task="lease", attempt=2).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_clock_cut_off_from_the_database_loses_its_run_before_another_clock_runs_it(
    processes: Processes, records_file: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a network between a clock and its database needs PostgreSQL (its pass)")
    proxy = StallProxy(int(connection.settings_dict.get("PORT") or 5432))
    try:
        proxied = urlsplit(processes.db_url)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}")
        tasks = {"lease": record_task(records_file, **LONG_RETRIED)}
        first = processes.clock(tasks, name="cut-off", TEST_PROC_DATABASE_URL=urlunsplit(proxied))
        run = started_run("lease")
        wait_for(lambda: read_records(records_file), timeout=10, what="the first run's start")
        cut_off_child = read_records(records_file)[0]["pid"]
        # The network goes silent: the clock's heartbeat is sent and never answered.
        proxy.stall()
        processes.clock(tasks, name="other")
        assert_dead_before_the_takeover(records_file, cut_off_child)
        assert first.popen.poll() is None  # the clock itself lives on, waiting for an answer
        proxy.resume()
        wait_for(
            lambda: "already recorded as abandoned" in first.output(),
            timeout=30,
            what="the cut-off clock to learn its run was taken over",
        )
        first.signal(signal.SIGTERM)
        assert first.wait(30) == 0, first.output()[-3000:]
    finally:
        proxy.close()
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
