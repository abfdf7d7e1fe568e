"""A supervisor about to exit keeps trying to write the outcomes it holds in
memory (they ended while the database was down) and logs in full those it
still cannot write, instead of dropping them (the review's item 9)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from core.models import Status, TaskRun, Trigger
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Supervisor
from tests.db_faults import FailingStatement


def running_row() -> TaskRun:
    return TaskRun.objects.create(
        task="job",
        scheduled_for=datetime(2030, 1, 7, tzinfo=UTC),
        trigger=Trigger.CLOCK,
        status=Status.RUNNING,
    )


@pytest.mark.django_db(transaction=True)
def test_finish_writes_an_outcome_once_the_database_is_back() -> None:
    run = running_row()
    sup = Supervisor()
    try:
        # The database answers again after two more failed statements.
        with (
            connection.execute_wrapper(FailingStatement(1)),
            connection.execute_wrapper(FailingStatement(1)),
        ):
            sup.record(Outcome(run.pk, "job", Status.SUCCEEDED, 0, 1.0))
        assert sup.unrecorded
        sup.finish(until=time.monotonic() + 5)
    finally:
        sup.close()
    run.refresh_from_db()
    assert (run.status, run.exit_code) == (Status.SUCCEEDED, 0)
    assert not sup.unrecorded


@pytest.mark.django_db(transaction=True)
def test_finish_logs_in_full_what_it_could_not_write(caplog: pytest.LogCaptureFixture) -> None:
    run = running_row()
    sup = Supervisor()
    began = time.monotonic()
    try:
        with connection.execute_wrapper(FailingStatement(1, and_after=True)):
            sup.record(Outcome(run.pk, "job", Status.FAILED, 3, 2.5, "Traceback...\nBoom: no"))
            with caplog.at_level(logging.ERROR, logger="core.scheduling"):
                sup.finish(until=time.monotonic() + 1.5)
    finally:
        sup.close()
    assert 1.0 <= time.monotonic() - began < 5  # it kept trying until its deadline, no longer
    assert f"could not record job run #{run.pk} before exiting: it ended failed (exit code 3)" in (
        caplog.text
    )
    assert "Boom: no" in caplog.text
    run.refresh_from_db()
    assert run.status == Status.RUNNING  # left for the reaper, which marks it abandoned


@pytest.mark.django_db(transaction=True)
def test_a_database_error_while_checking_lost_claims_does_not_escape_the_supervisor(
    make_supervisor,
) -> None:
    """The clock sleeps in ``Supervisor.wait``; a database error there must not end it.

    The heartbeat finds the run finished elsewhere (0 rows renewed), and the
    query that asks which runs were lost fails: the supervisor logs it and
    tries again at the next heartbeat.
    """
    sup = make_supervisor(heartbeat=0.2)
    run = running_row()
    child = sup.start(run, "shell", ["-c", "import time; time.sleep(30)"], timeout=60)
    TaskRun.objects.filter(pk=run.pk).update(status=Status.ABANDONED)
    time.sleep(0.3)
    with connection.execute_wrapper(FailingStatement(2)):
        sup.tend()  # statement 1: the heartbeat (0 rows); 2: the lost-claims query
    assert child.stop_reason is None  # not decided on a failed read
    time.sleep(0.3)
    sup.tend()
    assert child.stop_reason == "lost"
