"""``request_run(task, args=None, *, requested_by="")``: the public way for code to
ask for a run, optionally with arguments that replace the declared ones. It only
records a queued run; the clock or the next ``runtasks`` runs it with those
arguments, and ``TaskRun.args`` records them when they differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from core.models import Status, TaskRun
from core.scheduling.control import RunRequestError, UnknownTaskError
from tests.processes import Processes, read_records, record_task

SHELL = {"command": "shell", "args": ["-c", "print('declared')"], "schedule": "0 0 1 1 *"}


@pytest.fixture
def declared():
    with override_settings(SCHEDULED_TASKS={"say": SHELL}):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("declared")
def test_the_public_request_run_queues_a_run_with_its_args_and_who_asked() -> None:
    from core.scheduling import request_run

    run = request_run("say", ["-c", "print('requested')"], requested_by="alice")
    run.refresh_from_db()
    assert (run.status, run.on_tick, run.requested_by) == (Status.QUEUED, False, "alice")
    assert run.args == ["-c", "print('requested')"]
    assert TaskRun.objects.count() == 1  # nothing ran here


@pytest.mark.django_db
@pytest.mark.usefixtures("declared")
def test_args_equal_to_the_declared_ones_are_not_recorded_and_bad_args_are_refused() -> None:
    from core.scheduling import request_run

    assert request_run("say", list(SHELL["args"])).args is None
    assert request_run("say").args is None
    for bad in ("-c print(1)", ["-c", 3]):
        with pytest.raises(RunRequestError, match="must be a list of strings"):
            request_run("say", bad)
    with pytest.raises(UnknownTaskError):
        request_run("nope", ["x"])
    assert TaskRun.objects.count() == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_requested_run_reaches_the_command_with_its_args(processes: Processes) -> None:
    from core.scheduling import request_run

    with override_settings(SCHEDULED_TASKS={"say": SHELL}):
        request_run("say", ["-c", "print('requested')"])
    code, output = processes.manage(["runtasks"], {"say": SHELL})
    assert code == 0, output
    run = TaskRun.objects.get()
    assert run.status == Status.SUCCEEDED
    assert "requested" in run.output
    assert "declared" not in run.output


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_direct_run_with_extra_options_records_the_args_it_ran_with(
    processes: Processes, records_file: Path
) -> None:
    entry = record_task(records_file, schedule="0 0 1 1 *")
    code, output = processes.manage(["record_run", *entry["args"], "--sleep", "0.1"], {"r": entry})
    assert code == 0, output
    run = TaskRun.objects.get()
    assert run.args == [*entry["args"], "--sleep", "0.1"]
    assert [r["event"] for r in read_records(records_file)] == ["start", "end"]
