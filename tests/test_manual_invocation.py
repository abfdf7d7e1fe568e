"""Only a task's declared invocation is recorded when run directly: the task's
command with arguments that begin with its ``args``. Any other use of the same
command is plain Django (``manage.py shell`` stays a shell although a task runs
``shell -c ...``), and a failed recorded run ends with one line naming why."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import Status, TaskRun
from core.scheduling.manual import task_for_invocation
from tests.processes import Processes, record_task

YEARLY = {"schedule": "0 0 1 1 *"}
SHELL_ARGS = ["-c", "print('heartbeat')"]
SHELL_TASK = {"command": "shell", "args": SHELL_ARGS, "every": 600}


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("shell", [], None),  # the interactive shell is not the task
        ("shell", ["-c", "print(1)"], None),  # other code is not the task either
        ("shell", ["-c", "print('heartbeat')"], "heartbeat"),
        ("shell", ["-c", "print('heartbeat')", "--no-startup"], "heartbeat"),  # extras may follow
        ("prune_runs", ["--days", "30"], "prune_runs"),
        ("prune_runs", ["--days", "30", "--dry-run"], "prune_runs"),
        ("prune_runs", ["--days", "7"], None),
        ("prune_runs", [], None),
        ("scrape_spoj", [], "scrape_spoj"),
        ("scrape_spoj", ["--delay", "0"], "scrape_spoj"),
        ("migrate", [], None),
    ],
)
def test_only_the_declared_invocation_belongs_to_a_task(command, args, expected) -> None:
    declared = {
        "heartbeat": SHELL_TASK,
        "prune_runs": {"schedule": "@daily", "args": ["--days", "30"]},
        "scrape_spoj": {"schedule": "0 3 * * *"},
    }
    assert task_for_invocation(command, args, declared) == expected


def test_the_task_with_the_longest_matching_args_wins_and_a_tie_is_ambiguous() -> None:
    declared = {
        "short": {"command": "prune_runs", "args": ["--days"], "every": 60},
        "long": {"command": "prune_runs", "args": ["--days", "30"], "every": 60},
        "twin": {"command": "prune_runs", "args": ["--days", "30"], "every": 60},
    }
    assert task_for_invocation("prune_runs", ["--days", "30"], declared) is None
    del declared["twin"]
    assert task_for_invocation("prune_runs", ["--days", "30"], declared) == "long"
    assert task_for_invocation("prune_runs", ["--days", "9"], declared) == "short"
    declared["prune_runs"] = {"args": ["--days", "30"], "every": 60}
    declared["long"] = {"command": "prune_runs", "args": ["--days", "30"], "every": 60}
    assert task_for_invocation("prune_runs", ["--days", "30"], declared) == "prune_runs"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_manage_py_shell_stays_a_plain_shell_while_a_task_runs_shell(
    processes: Processes,
) -> None:
    tasks = {"heartbeat": SHELL_TASK}
    code, output = processes.manage(["shell", "-c", "print('just a shell')"], tasks)
    assert code == 0, output
    assert output.strip().splitlines()[-1] == "just a shell"
    assert "core.scheduling" not in output  # no claim, no supervision
    assert not TaskRun.objects.exists()

    code, output = processes.manage(["shell", *SHELL_ARGS], tasks)
    assert code == 0, output
    run = TaskRun.objects.get()
    assert (run.task, run.status, run.on_tick) == ("heartbeat", Status.SUCCEEDED, False)
    assert "heartbeat" in run.output


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failed_direct_run_ends_with_one_line_naming_the_reason(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"rec": record_task(records_file, **YEARLY)}
    code, output = processes.manage(["record_run", "--file", str(records_file), "--fail"], tasks)
    assert code == 1
    run = TaskRun.objects.get()
    assert output.rstrip().splitlines()[-1] == f"rec run #{run.pk} failed: asked to fail (--fail)"
