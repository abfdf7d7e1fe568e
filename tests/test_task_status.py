"""Task status flags (failing / overdue / missed) at frozen times, and their query cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Status, Task
from core.scheduling.status import task_statuses
from tests.ops_helpers import TASKS, make_run, utc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_declared")]
DAY1 = utc(2026, 5, 1, 3)  # a tick of "nightly" (03:00 UTC daily; deadline 1 hour)
DAY2 = utc(2026, 5, 2, 3)


@pytest.fixture
def tasks_declared():
    with override_settings(SCHEDULED_TASKS=TASKS, SCHEDULED_TASKS_STALE_AFTER=60):
        yield


def status_of(name: str):
    return {s.name: s for s in task_statuses()}[name]


@time_machine.travel(utc(2026, 5, 1, 12), tick=False)
def test_a_task_that_never_ran_has_no_flags_and_shows_its_next_tick():
    status = status_of("nightly")
    assert status.last_run is None
    assert status.next_tick == DAY2
    assert status.schedule == "At 03:00 every day"
    assert status.flags == []
    assert status.ok
    assert status.as_dict()["last_run"] is None


@time_machine.travel(utc(2026, 5, 1, 12), tick=False)
def test_a_task_whose_last_run_failed_is_failing():
    make_run("nightly", DAY1 - timedelta(days=1), Status.SUCCEEDED)
    make_run("nightly", DAY1, Status.FAILED)
    status = status_of("nightly")
    assert status.failing
    assert status.consecutive_failures == 1
    assert status.flags == ["failing"]
    assert status.last_run is not None
    assert status.last_run.status == "failed"


@time_machine.travel(utc(2026, 5, 1, 12), tick=False)
def test_a_failing_task_says_how_its_newest_failure_ended_and_why():
    traceback = 'Traceback (most recent call last):\n  File "x.py"\nValueError: bad page\n'
    make_run("nightly", DAY1 - timedelta(days=1), Status.FAILED, error=traceback)
    make_run("nightly", DAY1, Status.ABANDONED, error="no worker started it in 300 s")
    make_run("nightly", DAY1, Status.SKIPPED, attempt=2, error="still running")  # says nothing
    status = status_of("nightly")
    assert status.problems == (
        "2 consecutive failures",
        "last abandoned: no worker started it in 300 s",
    )
    make_run(
        "nightly", DAY1, Status.FAILED, attempt=3, error="x" * 5000 + "\nValueError: " + "y" * 400
    )
    (count, last) = status_of("nightly").problems
    assert count == "3 consecutive failures"
    assert last.startswith("last failed: ValueError: yyy")
    assert last.endswith("y…")
    assert len(last) == len("last failed: ") + 300


@time_machine.travel(utc(2026, 5, 1, 12), tick=False)
def test_a_successful_retry_clears_failing():
    make_run("nightly", DAY1, Status.FAILED)
    make_run("nightly", DAY1, Status.SUCCEEDED, attempt=2, trigger="retry")
    assert not status_of("nightly").failing


@time_machine.travel(utc(2026, 5, 1, 12), tick=False)
def test_a_skipped_run_after_a_failure_still_shows_failing():
    make_run("nightly", DAY1 - timedelta(days=1), Status.FAILED)
    make_run("nightly", DAY1, Status.SKIPPED)
    assert status_of("nightly").failing


def test_a_tick_with_no_record_once_its_deadline_passed_is_overdue():
    make_run("nightly", DAY1, Status.SUCCEEDED)
    # 03:59 on day 2: the 03:00 tick may still start (deadline 1 hour).
    with time_machine.travel(DAY2 + timedelta(minutes=59), tick=False):
        assert not status_of("nightly").overdue
    with time_machine.travel(DAY2 + timedelta(minutes=61), tick=False):
        status = status_of("nightly")
        assert status.overdue
        assert "tick 2026-05-02 03:00 UTC was never started" in status.problems
    # Once the engine records the tick (any status), it is no longer overdue.
    make_run("nightly", DAY2, Status.MISSED)
    with time_machine.travel(DAY2 + timedelta(minutes=61), tick=False):
        status = status_of("nightly")
        assert not status.overdue
        assert status.missed


def test_a_disabled_task_is_never_overdue():
    make_run("nightly", DAY1, Status.SUCCEEDED)
    Task.objects.create(name="nightly", enabled=False)
    with time_machine.travel(DAY2 + timedelta(hours=5), tick=False):
        status = status_of("nightly")
        assert not status.enabled
        assert not status.overdue


def test_a_run_past_its_timeout_is_overdue():
    hourly = {"command": "check", "schedule": "@hourly", "timeout": 600}
    start = utc(2026, 5, 1, 12)
    with override_settings(SCHEDULED_TASKS={"hourly": hourly}):
        run = make_run("hourly", start, Status.RUNNING)
        with time_machine.travel(start + timedelta(minutes=10), tick=False):
            run.heartbeat_at = timezone.now()
            run.save()
            assert not status_of("hourly").overdue
        # Past timeout (600 s) + SCHEDULED_TASKS_STALE_AFTER (60 s), heartbeat fresh.
        with time_machine.travel(start + timedelta(seconds=600 + 60 + 5), tick=False):
            run.heartbeat_at = timezone.now()
            run.save()
            status = status_of("hourly")
            assert status.overdue
            assert status.problems == ("a run is past its timeout",)


def test_a_running_run_without_a_recent_heartbeat_is_overdue():
    start = utc(2026, 5, 1, 12)
    make_run("often", start, Status.RUNNING, heartbeat_at=start + timedelta(seconds=10))
    with time_machine.travel(start + timedelta(seconds=65), tick=False):
        assert not status_of("often").overdue
    with time_machine.travel(start + timedelta(seconds=75), tick=False):
        assert "a running run stopped heartbeating" in status_of("often").problems


def test_a_queued_request_nobody_picks_up_is_overdue_after_15_minutes():
    requested = utc(2026, 5, 1, 12, 1)
    make_run("nightly", requested, Status.QUEUED, trigger="admin")
    with time_machine.travel(requested + timedelta(minutes=14), tick=False):
        assert not status_of("nightly").overdue
    with time_machine.travel(requested + timedelta(minutes=16), tick=False):
        assert "a queued run has not been picked up" in status_of("nightly").problems


def test_missed_ticks_flag_the_task_for_one_period():
    # "often": period 10 minutes, so the missed window is the minimum of 1 hour.
    make_run("often", utc(2026, 5, 1, 12, 0), Status.MISSED)
    make_run("often", utc(2026, 5, 1, 12, 10), Status.SUCCEEDED)
    with time_machine.travel(utc(2026, 5, 1, 12, 15), tick=False):
        status = status_of("often")
        assert status.missed
        assert not status.failing
    with time_machine.travel(utc(2026, 5, 1, 13, 1), tick=False):
        make_run("often", utc(2026, 5, 1, 13, 0), Status.SUCCEEDED)
        assert not status_of("often").missed


def test_a_newest_run_that_was_missed_flags_the_task_however_old():
    make_run("nightly", DAY1, Status.MISSED)
    with time_machine.travel(DAY1 + timedelta(days=3), tick=False):
        assert status_of("nightly").missed


def test_the_number_of_queries_does_not_grow_with_the_number_of_runs():
    with time_machine.travel(utc(2026, 5, 1, 12), tick=False):
        make_run("nightly", DAY1, Status.FAILED)
        make_run("often", utc(2026, 5, 1, 11, 50), Status.SUCCEEDED)
        task_statuses()  # the first call also creates the Task rows
        with CaptureQueriesContext(connection) as few:
            task_statuses()
        for n in range(1, 60):
            make_run("nightly", DAY1 - timedelta(days=n), Status.FAILED)
            make_run("often", utc(2026, 5, 1, 11, 50) - timedelta(minutes=10 * n), "missed")
        with CaptureQueriesContext(connection) as many:
            statuses = task_statuses()
    assert len(many) == len(few)
    assert statuses[0].consecutive_failures == 50  # nightly: capped window
    assert len(few) <= 8


def test_overdue_looks_back_across_a_weekend_for_a_weekday_schedule():
    weekdays = {"command": "check", "schedule": "0 3 * * 1-5"}
    with override_settings(SCHEDULED_TASKS={"weekdays": weekdays}):
        make_run("weekdays", utc(2026, 5, 7, 3), Status.SUCCEEDED)  # Thursday
        monday_early = utc(2026, 5, 11, 2)  # before Monday's tick
        with time_machine.travel(monday_early, tick=False):
            status = status_of("weekdays")
            assert status.overdue
            assert status.problems == ("tick 2026-05-08 03:00 UTC was never started",)
        make_run("weekdays", utc(2026, 5, 8, 3), Status.SUCCEEDED)  # Friday
        with time_machine.travel(monday_early, tick=False):
            assert not status_of("weekdays").overdue
