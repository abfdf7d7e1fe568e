"""``python manage.py scrape_spoj`` run by hand: a failure's reason is the last line it prints.

A real process, its stdout and stderr into one file as a terminal log or a
dyno's log collects them, and no ``PYTHONUNBUFFERED``: the progress lines
must not come out after the reason. No task is declared, so the command runs
as itself, not as a recorded task.
"""

from __future__ import annotations

import pytest

from core.models import Problem
from tests.processes import Processes
from tests.spoj_server import SpojServer

pytestmark = pytest.mark.django_db(transaction=True)


def run(processes: Processes, server: SpojServer) -> tuple[int, list[str]]:
    code, output = processes.manage(
        ["scrape_spoj", "--base-url", server.base_url, "--delay", "0"],
        tasks={},
        PYTHONUNBUFFERED="",  # empty: as if unset
    )
    return code, output.splitlines()


def test_a_failed_scrape_ends_its_output_with_the_reason(
    processes: Processes, spoj_server: SpojServer
) -> None:
    spoj_server.empty_page(start=3900)

    code, lines = run(processes, spoj_server)

    assert code == 1
    assert lines[-2].endswith("/problems/classical/sort=0,start=3900")  # the last progress
    assert lines[-1] == (
        f"CommandError: scrape_spoj failed, nothing written: {spoj_server.base_url}"
        "/problems/classical/sort=0,start=3900 lists no problems, yet the pager on "
        f"{spoj_server.base_url}/problems/classical/sort=0,start=0 links pages up to "
        "start=3950: the listing is broken, not ended"
    )
    assert not Problem.objects.exists()


def test_a_page_without_the_table_ends_the_output_with_the_reason_too(
    processes: Processes, spoj_server: SpojServer
) -> None:
    spoj_server.maintenance(status=200, start=3900)

    code, lines = run(processes, spoj_server)

    assert code == 1
    assert lines[-2].endswith("/problems/classical/sort=0,start=3900")
    assert lines[-1].startswith(
        f"CommandError: scrape_spoj failed, nothing written: {spoj_server.base_url}"
        "/problems/classical/sort=0,start=3900 (HTTP 200) has no problem table: "
    )


def test_a_successful_scrape_ends_its_output_with_the_summary(
    processes: Processes, spoj_server: SpojServer
) -> None:
    code, lines = run(processes, spoj_server)

    assert code == 0
    assert lines[0].startswith("page 1 (first scrape, size unknown): ")
    assert lines[-1].startswith("Scraped 3971 problems from 81 pages in ")
    assert Problem.objects.count() == 3971
