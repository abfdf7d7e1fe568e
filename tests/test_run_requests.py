"""request_run / retry_run: they record queued runs, never run anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from core.models import Status, TaskRun, Trigger
from core.scheduling.control import (
    AlreadyRetriedError,
    NotRetryableError,
    UnknownTaskError,
    request_run,
    retry_run,
)
from core.scheduling.state import ensure_task_rows
from tests.ops_helpers import TASKS, make_run, utc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_declared")]


@pytest.fixture
def tasks_declared():
    free = {"command": "check", "every": 60, "overlap": "allow"}
    with override_settings(SCHEDULED_TASKS={**TASKS, "free": free}):
        yield


@time_machine.travel(utc(2026, 5, 1, 12, 0, 7), tick=False)
def test_request_run_queues_one_run_stamped_now():
    run = request_run("nightly")
    run.refresh_from_db()
    assert (run.task, run.status, run.trigger, run.attempt) == ("nightly", "queued", "admin", 1)
    # Stamped now, moved 1 µs off the whole second so it can never take a tick's key.
    assert run.scheduled_for == utc(2026, 5, 1, 12, 0, 7) + timedelta(microseconds=1)
    assert run.on_tick is False
    assert run.started_at is None
    assert run.exclusive is True
    assert TaskRun.objects.count() == 1


def test_request_run_copies_overlap_allow_as_not_exclusive():
    assert request_run("free", trigger=Trigger.MANUAL).exclusive is False


def test_request_run_names_the_known_tasks_for_an_unknown_one():
    with pytest.raises(UnknownTaskError, match=r"'nope'.*free, nightly, often"):
        request_run("nope")
    assert not TaskRun.objects.exists()


@time_machine.travel(utc(2026, 5, 1, 3, 0), tick=False)
def test_request_run_at_the_exact_tick_does_not_collide_with_the_tick():
    make_run("nightly", utc(2026, 5, 1, 3, 0), Status.RUNNING)
    run = request_run("nightly")
    assert run.scheduled_for > utc(2026, 5, 1, 3, 0)
    assert TaskRun.objects.filter(task="nightly").count() == 2


def test_retry_queues_the_next_attempt_at_the_same_tick():
    failed = make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED, error="boom")
    retry = retry_run(failed)
    retry.refresh_from_db()
    assert (retry.scheduled_for, retry.attempt) == (failed.scheduled_for, 2)
    assert (retry.trigger, retry.status) == (Trigger.RETRY, Status.QUEUED)


def test_a_retry_of_a_manual_run_is_no_tick_and_keeps_its_args():
    # Otherwise the queued retry, newer than the last real tick, would be taken
    # for the task's last tick and hide the ticks in between.
    when = utc(2026, 5, 1, 3, 0, 0) + timedelta(minutes=5, microseconds=7)
    failed = make_run(
        "nightly", when, Status.FAILED, trigger=Trigger.MANUAL, on_tick=False, args=["--x"]
    )
    retry = retry_run(failed)
    retry.refresh_from_db()
    assert (retry.on_tick, retry.args, retry.attempt) == (False, ["--x"], 2)
    ensure_task_rows(["nightly"])
    assert TaskRun.objects.latest_per_task(["nightly"], ticks_only=True) == {}
    assert TaskRun.objects.latest_per_task(["nightly"]) == {"nightly": retry}


def test_retry_uses_the_highest_attempt_when_later_ones_failed_too():
    first = make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED)
    make_run("nightly", utc(2026, 5, 1, 3), Status.TIMED_OUT, attempt=2)
    assert retry_run(first).attempt == 3


def test_a_second_retry_of_the_same_run_is_refused():
    failed = make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED)
    retry_run(failed)
    with pytest.raises(AlreadyRetriedError, match="already retried"):
        retry_run(failed)
    assert TaskRun.objects.filter(task="nightly").count() == 2


def test_a_double_click_loses_on_the_unique_constraint():
    """The other click's insert lands between this one's read and its insert."""
    failed = make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED)
    raced: list[bool] = []

    def other_click_first(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not raced and "MAX(" in sql:  # this click has read the highest attempt
            raced.append(True)
            make_run("nightly", utc(2026, 5, 1, 3), Status.QUEUED, attempt=2, trigger="retry")
        return result

    with (
        connection.execute_wrapper(other_click_first),
        pytest.raises(AlreadyRetriedError, match="already retried"),
    ):
        retry_run(failed)
    assert raced
    # The failed insert was rolled back on its own; the winner's row stands.
    assert list(TaskRun.objects.values_list("attempt", "status").order_by("attempt")) == [
        (1, "failed"),
        (2, "queued"),
    ]


@pytest.mark.parametrize("status", ["succeeded", "queued", "running", "skipped", "missed"])
def test_only_failed_runs_can_be_retried(status):
    run = make_run("nightly", utc(2026, 5, 1, 3), status)
    with pytest.raises(NotRetryableError):
        retry_run(run)
    assert TaskRun.objects.count() == 1


def test_retrying_a_run_of_an_undeclared_task_is_refused():
    run = make_run("gone", utc(2026, 5, 1, 3), Status.FAILED)
    with pytest.raises(UnknownTaskError):
        retry_run(run)
