"""``python manage.py scrape_spoj_users`` as a real process: one line per failed user, no traceback.

stdout and stderr go into one file, as a terminal or a dyno's log collects them,
without ``PYTHONUNBUFFERED``: each failure must follow its progress line, and
the count of failures is the last line.
"""

from __future__ import annotations

import pytest

from core.models import SpojUser, Status, TaskRun
from tests.processes import Processes
from tests.spoj_server import SpojServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_failed_user_is_one_line_and_the_count_is_the_last(
    processes: Processes, spoj_server: SpojServer
) -> None:
    # Not a status it retries: the process has the default 4 retries and their backoff.
    spoj_server.fail(status=403, times=None, path="/users/demo_ben/")

    code, output = processes.manage(
        [
            "scrape_spoj_users",
            "nobody_x",
            "kosaksi",
            "demo_ben",
            "--base-url",
            spoj_server.base_url,
            "--delay",
            "0",
        ],
        tasks={},
        PYTHONUNBUFFERED="",
    )

    lines = output.splitlines()
    base = spoj_server.base_url
    assert code == 1
    assert "Traceback" not in output
    assert lines == [
        "user 1 of 3: nobody_x",
        f"nobody_x failed, nothing changed: {base}/users/nobody_x/ (HTTP 200): no such SPOJ "
        "user (the page says 'User nobody_x There is no user with this handle.')",
        "user 2 of 3: kosaksi",
        "  kosaksi: 70 solved (+70 -0), world rank #28304 (0.6 points)",
        "user 3 of 3: demo_ben",
        f"demo_ben failed, nothing changed: {base}/users/demo_ben/ (HTTP 403): bad status: "
        "'Error 403'",
        lines[6],
        "CommandError: scrape_spoj_users: 2 of 3 users failed: nobody_x, demo_ben",
    ]
    assert lines[6].startswith("Fetched 1 of 3 users in ")
    assert lines[6].endswith(" s: 1 new, 0 changed, 0 unchanged, 2 failed.")
    assert list(SpojUser.objects.values_list("handle", flat=True)) == ["kosaksi"]


def test_as_the_declared_task_a_failed_run_is_recorded_with_its_reason(
    processes: Processes, spoj_server: SpojServer
) -> None:
    tasks = {"scrape_spoj_users": {"schedule": "30 */6 * * *", "args": ["--delay", "0"]}}

    code, output = processes.manage(
        ["scrape_spoj_users", "--delay", "0", "nobody_x", "--base-url", spoj_server.base_url],
        tasks=tasks,
    )

    assert code == 1
    run = TaskRun.objects.get(task="scrape_spoj_users")
    assert run.status == Status.FAILED
    # The run record keeps the whole traceback; the terminal gets one line.
    assert run.error.splitlines()[-1].endswith("scrape_spoj_users: 1 of 1 users failed: nobody_x")
    assert "nobody_x failed, nothing changed: " in run.output
    assert output.splitlines()[-1] == (
        f"scrape_spoj_users run #{run.pk} failed: scrape_spoj_users: 1 of 1 users failed: nobody_x"
    )
