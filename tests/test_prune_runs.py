"""prune_runs: old finished runs go in batches; each task's latest and active rows stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Status, TaskRun
from tests.ops_helpers import make_run, utc

pytestmark = pytest.mark.django_db
NOW = utc(2026, 6, 1, 12)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_runs", *args, stdout=out)
    return out.getvalue()


def days_ago(days: float):
    return NOW - timedelta(days=days)


def remaining() -> set[tuple[str, str]]:
    return {(r.task, r.status) for r in TaskRun.objects.all()}


def test_it_deletes_finished_runs_older_than_days_and_keeps_newer_ones():
    old = [make_run("a", days_ago(40 - i), Status.SUCCEEDED) for i in range(3)]
    young = make_run("a", days_ago(5), Status.FAILED)
    output = prune("--days", "30")
    assert "Deleted 3 runs finished more than 30 days ago" in output
    assert set(TaskRun.objects.values_list("id", flat=True)) == {young.id}
    assert not TaskRun.objects.filter(id__in=[r.id for r in old]).exists()


def test_it_always_keeps_each_tasks_latest_finished_run():
    make_run("a", days_ago(100), Status.SUCCEEDED)
    latest_a = make_run("a", days_ago(90), Status.FAILED)
    latest_b = make_run("b", days_ago(200), Status.MISSED)
    prune("--days", "0")
    assert set(TaskRun.objects.values_list("id", flat=True)) == {latest_a.id, latest_b.id}


def test_latest_means_highest_attempt_of_the_newest_tick():
    make_run("a", days_ago(50), Status.FAILED, attempt=1)
    retry = make_run("a", days_ago(50), Status.SUCCEEDED, attempt=2)
    prune("--days", "1")
    assert list(TaskRun.objects.values_list("id", flat=True)) == [retry.id]


def test_it_never_touches_queued_or_running_runs():
    make_run("a", days_ago(60), Status.SUCCEEDED)
    make_run("a", days_ago(59), Status.SUCCEEDED)
    running = make_run("a", days_ago(58), Status.RUNNING)
    queued = make_run("a", days_ago(57), Status.QUEUED, trigger="admin")
    prune("--days", "0")
    kept = set(TaskRun.objects.values_list("id", flat=True))
    assert {running.id, queued.id} <= kept
    # The newest finished run stays although newer active rows exist.
    assert len(kept) == 3


def test_rows_without_finished_at_are_aged_by_their_tick():
    make_run("a", days_ago(40), Status.MISSED, finished_at=None)
    make_run("a", days_ago(10), Status.SKIPPED, finished_at=None)
    make_run("a", days_ago(1), Status.SUCCEEDED)
    prune("--days", "30")
    assert remaining() == {("a", "skipped"), ("a", "succeeded")}


def test_age_is_measured_by_finished_at_not_by_the_tick():
    # A run due 40 days ago that finished 20 days ago is only 20 days old.
    make_run("a", days_ago(40), Status.SUCCEEDED, finished_at=days_ago(20))
    make_run("a", days_ago(1), Status.SUCCEEDED)
    prune("--days", "30")
    assert TaskRun.objects.count() == 2


def test_it_deletes_in_several_batches_with_a_fixed_number_of_queries_per_batch():
    TaskRun.objects.bulk_create(
        TaskRun(
            task="a",
            scheduled_for=days_ago(100) + timedelta(minutes=i),
            trigger="clock",
            status="succeeded",
            finished_at=days_ago(100) + timedelta(minutes=i),
        )
        for i in range(251)
    )
    with CaptureQueriesContext(connection) as queries:
        output = prune("--days", "30", "--batch-size", "100")
    assert "Deleted 250 runs finished more than 30 days ago in 3 batches" in output
    assert [line for line in output.splitlines() if line.startswith("batch")] == [
        "batch 1: 100 runs, 100 so far",
        "batch 2: 100 runs, 200 so far",
        "batch 3: 50 runs, 250 so far",
    ]
    assert TaskRun.objects.count() == 1
    selects = [q for q in queries if q["sql"].startswith("SELECT")]
    deletes = [q for q in queries if q["sql"].startswith("DELETE")]
    # One select and one delete per batch (plus the select that finds nothing left),
    # however many rows each batch deletes; and, up front, the task names and
    # each task's latest run (one task here).
    assert len(deletes) == 3
    assert len([q for q in selects if q["sql"].endswith("LIMIT 100")]) == 4
    assert len(selects) == 4 + 2


def test_dry_run_counts_and_deletes_nothing():
    for i in range(5):
        make_run("a", days_ago(40 + i), Status.SUCCEEDED)
    assert "Would delete 4 runs" in prune("--days", "30", "--dry-run", "--batch-size", "2")
    assert TaskRun.objects.count() == 5


@pytest.mark.parametrize("days", ["-1", "1.5", "x", ""])
def test_days_must_be_a_whole_number_of_at_least_zero(days):
    with pytest.raises(CommandError, match="argument --days"):
        call_command("prune_runs", "--days", days)


def test_days_is_required():
    with pytest.raises(CommandError, match="--days"):
        call_command("prune_runs")


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="argument --batch-size"):
        call_command("prune_runs", "--days", "1", "--batch-size", "0")
