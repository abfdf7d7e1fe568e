"""Mail ADMINS once per failure streak and once on recovery; count streaks right."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.test import override_settings

from core.models import Status, Task
from core.scheduling.notify import (
    STREAK_WINDOW,
    claim_failure_notice,
    consecutive_failures,
    run_finished,
)
from tests.ops_helpers import make_run, utc

pytestmark = pytest.mark.django_db
ADMINS = [("Ops", "ops@example.com")]
T0 = utc(2026, 5, 1, 3)


def tick(n: int):
    return T0 + timedelta(hours=n)


def fail(n: int, status: str = Status.FAILED, error: str = "Traceback...\nValueError: boom"):
    run = make_run("nightly", tick(n), status, error=error, exit_code=1)
    run_finished(run)
    return run


def succeed(n: int):
    run = make_run("nightly", tick(n), Status.SUCCEEDED, exit_code=0)
    run_finished(run)
    return run


def test_consecutive_failures_stop_at_the_last_success():
    for n, status in enumerate(["failed", "succeeded", "failed", "timed_out", "abandoned"]):
        make_run("nightly", tick(n), status)
    assert consecutive_failures("nightly") == 3


def test_consecutive_failures_ignore_skipped_missed_queued_and_running_runs():
    statuses = ["succeeded", "failed", "skipped", "interrupted", "missed", "failed", "running"]
    for n, status in enumerate(statuses):
        make_run("nightly", tick(n), status)
    make_run("nightly", tick(9), "queued", trigger="admin")
    assert consecutive_failures("nightly") == 3


def test_consecutive_failures_order_by_tick_then_attempt():
    make_run("nightly", tick(1), "failed", attempt=1)
    make_run("nightly", tick(1), "succeeded", attempt=2)  # the retry fixed tick 1
    make_run("nightly", tick(0), "failed")
    assert consecutive_failures("nightly") == 0
    make_run("nightly", tick(2), "failed")
    assert consecutive_failures("nightly") == 1


def test_consecutive_failures_count_only_the_named_task():
    make_run("nightly", tick(0), "failed")
    make_run("other", tick(1), "succeeded")
    assert consecutive_failures("nightly") == 1
    assert consecutive_failures("other") == 0


def test_consecutive_failures_are_capped_at_the_window():
    for n in range(STREAK_WINDOW + 5):
        make_run("nightly", tick(n), "failed")
    assert consecutive_failures("nightly") == STREAK_WINDOW


@override_settings(ADMINS=ADMINS, SCHEDULED_TASKS_NOTIFY_AFTER=3)
def test_admins_are_mailed_once_when_the_streak_reaches_the_threshold():
    fail(0)
    fail(1)
    assert mail.outbox == []
    fail(2, error="x" * 10_000 + "\nKeyError: 'last line'")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com"]
    assert "nightly" in message.subject
    assert "3 times in a row" in message.subject
    assert "KeyError: 'last line'" in message.body  # the tail of the error is kept
    assert len(message.body) < 4000  # ... but not all 10,000 characters
    assert Task.objects.get(name="nightly").failure_notified_at is not None
    fail(3)
    fail(4)
    assert len(mail.outbox) == 1


@override_settings(ADMINS=ADMINS, SCHEDULED_TASKS_NOTIFY_AFTER=2)
def test_recovery_is_mailed_once_and_a_new_streak_mails_again():
    fail(0)
    fail(1)
    succeed(2)
    assert [m.subject for m in mail.outbox] == [
        "[Django] Task nightly failed 2 times in a row",
        "[Django] Task nightly recovered",
    ]
    assert Task.objects.get(name="nightly").failure_notified_at is None
    succeed(3)
    fail(4)
    assert len(mail.outbox) == 2
    fail(5)
    assert len(mail.outbox) == 3
    assert "failed 2 times" in mail.outbox[2].subject


@override_settings(ADMINS=ADMINS, SCHEDULED_TASKS_NOTIFY_AFTER=1)
def test_a_success_without_a_notified_streak_sends_nothing():
    succeed(0)
    make_run("nightly", tick(1), Status.SKIPPED)
    run_finished(make_run("nightly", tick(2), Status.MISSED))
    assert mail.outbox == []


@override_settings(
    ADMINS=ADMINS,
    SCHEDULED_TASKS_NOTIFY_AFTER=1,
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST="127.0.0.1",
    EMAIL_PORT=9,  # discard: nothing listens, the connection is refused
    EMAIL_TIMEOUT=2,
)
def test_a_mail_server_failure_is_logged_not_raised_and_retried_next_time(caplog):
    fail(0)  # must not raise
    assert "could not mail ADMINS about task nightly" in caplog.text
    # The claim was released so the next failure tries again.
    assert Task.objects.get(name="nightly").failure_notified_at is None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_send_one_mail():
    """Two threads (two database connections) claim the same streak at once."""
    Task.objects.create(name="nightly")
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(claim_failure_notice("nightly"))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    close_old_connections()
    assert sorted(results) == [False, True]


@override_settings(ADMINS=ADMINS, SCHEDULED_TASKS_NOTIFY_AFTER=2)
def test_a_second_process_reporting_the_same_streak_sends_no_second_mail():
    fail(0)
    last = fail(1)
    run_finished(last)  # another engine process reports the same finished run
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
@override_settings(ADMINS=ADMINS, SCHEDULED_TASKS_NOTIFY_AFTER=3)
def test_two_engines_reporting_the_third_failure_at_once_send_one_mail():
    runs = [make_run("nightly", tick(n), Status.FAILED, error="boom") for n in range(3)]
    barrier = threading.Barrier(2)

    def report() -> None:
        try:
            barrier.wait(timeout=10)
            run_finished(runs[-1])
        finally:
            connection.close()

    threads = [threading.Thread(target=report) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    close_old_connections()
    assert len(mail.outbox) == 1
    assert "failed 3 times in a row" in mail.outbox[0].subject
