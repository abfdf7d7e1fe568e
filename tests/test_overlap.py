"""Guarantee 2 with real processes: a ``forbid`` task never runs twice at once,
across clocks, and its overlapping ticks are ``skipped``; an ``allow`` task overlaps."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from core.models import Status, TaskRun
from tests.processes import Processes, read_records, record_task, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def intervals(records: list[dict[str, Any]], task: str) -> list[tuple[float, float]]:
    """(start, end) of each execution of ``task`` in the file; a run cut short ends never."""
    starts = {r["run"]: r["t"] for r in records if r["task"] == task and r["event"] == "start"}
    ends = {r["run"]: r["t"] for r in records if r["task"] == task and r["event"] == "end"}
    return sorted((t, ends.get(run, float("inf"))) for run, t in starts.items())


def test_a_forbid_task_never_runs_twice_at_once_and_an_allow_task_does(
    processes: Processes, records_file: Path
) -> None:
    # Each run lasts 2.5 ticks.
    tasks = {
        "forbid": record_task(records_file, every=1, sleep=2.5, overlap="forbid"),
        "allow": record_task(records_file, every=1, sleep=2.5, overlap="allow"),
    }
    clocks = [processes.clock(tasks, name=f"clock{i}") for i in range(2)]
    wait_for(
        lambda: TaskRun.objects.filter(task="forbid", status=Status.SUCCEEDED).count() >= 2,
        timeout=40,
        what="two finished runs of the forbid task",
    )
    for clock in clocks:
        clock.signal(15)
    for clock in clocks:
        assert clock.wait(25) == 0, clock.output()[-3000:]

    records = read_records(records_file)
    forbid = intervals(records, "forbid")
    assert len(forbid) >= 2
    for (_, end), (start, _) in itertools.pairwise(forbid):
        assert start >= end, f"forbid runs overlapped: {forbid}"
    # The database agrees: each run started only after the previous one was recorded ended
    # (its claim could only win once that row stopped being ``running``).
    runs = list(
        TaskRun.objects.filter(task="forbid", started_at__isnull=False).order_by("started_at")
    )
    for before, after in itertools.pairwise(runs):
        assert before.finished_at is not None
        assert after.started_at is not None
        assert after.started_at >= before.finished_at
    skipped = TaskRun.objects.filter(task="forbid", status=Status.SKIPPED)
    assert skipped.exists()
    assert all("still running" in run.error for run in skipped)

    allow = intervals(records, "allow")
    assert any(start < end for (_, end), (start, _) in itertools.pairwise(allow))
    assert not TaskRun.objects.filter(task="allow", status=Status.SKIPPED).exists()
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()
