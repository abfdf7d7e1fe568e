"""``scrape_spoj_tags``: tags through real HTTP from the local fake SPOJ, a problem at a time.

Incremental (never fetched first, the newest first among those, then the
stalest), resumable (each problem saved on its own: an interrupted run goes on
from where it stopped), and a page that fails is recorded on its problem and
skipped.
"""

from __future__ import annotations

import re
import signal
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone

from core.management.commands.scrape_spoj_tags import MAX_FAILURES_IN_A_ROW
from core.models import Problem, Tag
from core.spoj.problem_page import TagLink
from core.spoj.tags import queue, save_tags
from tests.db_faults import FailingStatement
from tests.processes import Processes
from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set
from tests.support import wait_for

pytestmark = pytest.mark.django_db

PROBLEMS = 60
YODANESS = ["bitmasks", "graph-theory", "number-theory", "shortest-path", "sorting", "tree"]


def tags(*args: str) -> tuple[str, str]:
    """Run ``scrape_spoj_tags`` with ``args``; its stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command("scrape_spoj_tags", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def tags_of(code: str) -> list[str]:
    return sorted(Problem.objects.get(code=code).tags.values_list("slug", flat=True))


def problem_paths(server: SpojServer) -> list[str]:
    return [path for path in server.requests if not path.startswith("/problems/classical/")]


def newest_first() -> list[str]:
    """The order of a first run: every problem never fetched, the newest (highest id) first."""
    return [f"/problems/{p.code}/" for p in sorted(small_list(), key=lambda p: -p.spoj_id)]


def small_list() -> list[Any]:
    """60 problems of the list, YODANESS (tags) and TOUR (none) among them."""
    problems = data_set()
    wanted = {"YODANESS", "TOUR"}
    others = [p for p in problems if p.code not in wanted]
    return [p for p in problems if p.code in wanted] + others[: PROBLEMS - len(wanted)]


@pytest.fixture
def listed(spoj_server: SpojServer) -> SpojServer:
    """The fake serving 60 problems, listed in the score table."""
    spoj_server.set_problems(sorted(small_list(), key=lambda p: p.spoj_id))
    scrape()
    spoj_server.forget_requests()
    return spoj_server


def test_it_stores_each_problems_tags(listed: SpojServer) -> None:
    out, err = tags()

    assert tags_of("YODANESS") == YODANESS
    assert tags_of("TOUR") == []
    assert tags_of("TEST") == ["ad-hoc", "implementation"]  # the demo's tags
    assert Tag.objects.get(slug="graph-theory").name == "graph-theory"
    assert not Problem.objects.filter(tags_fetched_at__isnull=True).exists()
    assert set(Problem.objects.values_list("tags_error", flat=True)) == {""}
    assert problem_paths(listed) == newest_first()
    lines = out.splitlines()
    assert lines[0].startswith(f"problem 1 of {PROBLEMS}: ")
    assert f"problem {PROBLEMS} of {PROBLEMS}: TEST: ad-hoc, implementation" in lines
    assert any(line.endswith(": TOUR: no tags") for line in lines)
    tagged = Problem.objects.filter(tags__isnull=False).distinct().count()
    assert lines[-1].startswith(f"Read the tags of {PROBLEMS} of {PROBLEMS} problems in ")
    assert lines[-1].endswith(
        f" s: {tagged} with tags, {PROBLEMS - tagged} without, 0 failed "
        "(recorded on the problem, retried after the others)."
    )
    assert err == ""


def test_a_new_fetch_makes_the_problems_tags_what_the_page_shows(listed: SpojServer) -> None:
    tags()
    listed.set_tags("YODANESS", "tree", "dfs")

    tags()

    assert tags_of("YODANESS") == ["dfs", "tree"]
    assert Tag.objects.filter(slug="bitmasks").exists()  # tags are kept, only unlinked


def test_inactive_problems_are_not_fetched(listed: SpojServer) -> None:
    Problem.objects.filter(code="TOUR").update(active=False)

    tags()

    assert "/problems/TOUR/" not in listed.requests
    assert len(problem_paths(listed)) == PROBLEMS - 1


def test_limit_reads_at_most_n_pages(listed: SpojServer) -> None:
    out, _ = tags("--limit", "7")

    assert problem_paths(listed) == newest_first()[:7]
    assert Problem.objects.filter(tags_fetched_at__isnull=False).count() == 7
    assert out.splitlines()[0].startswith("problem 1 of 7: ")


def test_a_limited_run_resumes_where_the_last_one_stopped(listed: SpojServer) -> None:
    tags("--limit", "20")
    listed.forget_requests()

    tags()

    # The 40 never fetched, in the order the first run would have gone on in,
    # then the 20 fetched before (the stalest now).
    assert problem_paths(listed) == newest_first()[20:] + newest_first()[:20]


def test_new_problems_come_first_then_the_stalest(listed: SpojServer) -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=14), tick=False):
        tags("--limit", "30")
    with time_machine.travel(now - timedelta(days=7), tick=False):
        tags("--limit", "30")
    # A problem added to the list since: the newest of all.
    newcomer = data_set()[PROBLEMS + 10]
    listed.set_problems([*listed.problems, newcomer])
    scrape()
    listed.forget_requests()

    tags("--limit", "3")

    first_run = newest_first()[:30]
    assert problem_paths(listed) == [f"/problems/{newcomer.code}/", *first_run[:2]]


def test_named_codes_read_only_those_problems_in_the_usual_order(listed: SpojServer) -> None:
    tags("TOUR", "--limit", "1")
    listed.forget_requests()

    tags("TOUR", "YODANESS", "TEST", "YODANESS")

    assert problem_paths(listed) == ["/problems/YODANESS/", "/problems/TEST/", "/problems/TOUR/"]
    assert Problem.objects.filter(tags_fetched_at__isnull=False).count() == 3


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (["TEST", "NOSUCH", "GONE"], "not active problems of the score table: NOSUCH, GONE"),
        (["TEST", "../etc"], "'../etc' is not a problem code"),
        (["X" * 33], "is not a problem code"),
    ],
)
def test_a_code_that_is_not_an_active_problem_is_refused_before_any_fetch(
    listed: SpojServer, codes: list[str], message: str
) -> None:
    Problem.objects.filter(code="TOUR").update(active=False)
    codes = [code.replace("GONE", "TOUR") for code in codes]
    message = message.replace("GONE", "TOUR")

    with pytest.raises(CommandError, match=re.escape(message)):
        tags(*codes)

    assert listed.requests == []


def test_no_active_problems_is_said_and_nothing_fetched(spoj_server: SpojServer) -> None:
    out, _ = tags()

    assert out == "No active problems: run scrape_spoj first.\n"
    assert spoj_server.requests == []


# --- failures: recorded on the problem and skipped -------------------------------------


def test_a_failing_page_is_recorded_and_skipped(listed: SpojServer) -> None:
    tags()
    fetched_at = Problem.objects.get(code="YODANESS").tags_fetched_at
    assert fetched_at is not None
    listed.set_tags("YODANESS")  # would remove every tag, if it were read
    listed.fail(status=500, times=None, path="/problems/YODANESS/")

    out, err = tags()

    yodaness = Problem.objects.get(code="YODANESS")
    assert tags_of("YODANESS") == YODANESS
    assert yodaness.tags_fetched_at == fetched_at
    url = f"{listed.base_url}/problems/YODANESS/"
    assert yodaness.tags_error == f"{url} (HTTP 500): still failing after 2 retries: 'Error 500'"
    assert yodaness.tags_error_at is not None
    assert yodaness.tags_error_at > fetched_at
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        f": YODANESS failed (recorded, skipped): {url} (HTTP 500): still failing after 2 "
        "retries: 'Error 500'"
    )
    assert out.splitlines()[-1].endswith(
        " 1 failed (recorded on the problem, retried after the others)."
    )
    # Every other problem was read again.
    assert Problem.objects.exclude(code="YODANESS").filter(
        tags_fetched_at__gt=fetched_at
    ).count() == (PROBLEMS - 1)


def test_a_failed_problem_goes_behind_the_others_and_a_success_clears_its_error(
    listed: SpojServer,
) -> None:
    order = newest_first()
    failing = listed.fail(status=503, times=None, path=order[0])
    tags("--limit", "2")  # the first fails, the second is read
    code = order[0].split("/")[2]
    assert Problem.objects.get(code=code).tags_error.startswith(
        f"{listed.base_url}{order[0]} (HTTP 503): "
    )
    failing.times = 0
    listed.forget_requests()

    tags()

    # Never fetched first; then the two tried before, by when: the failed one first.
    assert problem_paths(listed) == order[2:] + order[:2]
    failed = Problem.objects.get(code=code)
    assert (failed.tags_error, failed.tags_error_at) == ("", None)
    assert failed.tags_fetched_at is not None


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (
            lambda server: server.maintenance(status=200, path="/problems/YODANESS/"),
            '(HTTP 200): no div#problem-tags on the page: "SPOJ - maintenance',
        ),
        (
            lambda server: server.truncate(path="/problems/YODANESS/"),
            "(HTTP 200): page ends without </html> after ",
        ),
        (
            lambda server: server.cut_transfer(path="/problems/YODANESS/"),
            ": connection closed before the whole page arrived",
        ),
        (
            lambda server: server.hang(seconds=5, times=None, path="/problems/YODANESS/"),
            ": no answer after 2 retries: read timed out (0.5 s)",
        ),
        (
            lambda server: server.serve_raw(
                path="/problems/YODANESS/",
                body=server.problem_page("TOUR") or b"",
            ),
            "(HTTP 200): the page is problem TOUR's, not YODANESS's",
        ),
        (lambda server: server.remove("YODANESS"), "(HTTP 404): bad status: 'Not found'"),
    ],
    ids=["maintenance", "truncated", "cut transfer", "hang", "another problem", "gone"],
)
def test_a_page_that_does_not_read_keeps_the_tags_and_records_why(
    listed: SpojServer, break_it: Any, reason: str
) -> None:
    tags()
    listed.set_tags("YODANESS")
    break_it(listed)

    tags()

    yodaness = Problem.objects.get(code="YODANESS")
    assert tags_of("YODANESS") == YODANESS
    assert yodaness.tags_error.startswith(f"{listed.base_url}/problems/YODANESS/")
    assert reason in yodaness.tags_error
    assert "\n" not in yodaness.tags_error


def test_a_run_stops_when_spoj_looks_down(listed: SpojServer) -> None:
    listed.fail(status=500, times=None)

    with pytest.raises(CommandError) as caught:
        tags()

    n = MAX_FAILURES_IN_A_ROW
    assert str(caught.value) == (
        f"scrape_spoj_tags stopped: {n} problem pages failed in a row (SPOJ down?); "
        f"0 of {n} read before, each one saved"
    )
    assert Problem.objects.exclude(tags_error="").count() == n
    assert len(problem_paths(listed)) == n * 3  # each tried with its 2 retries, no more


def test_failures_apart_do_not_stop_a_run(listed: SpojServer) -> None:
    for path in newest_first()[: 2 * MAX_FAILURES_IN_A_ROW : 2]:
        listed.fail(status=500, times=None, path=path)

    _, err = tags()

    assert len(err.splitlines()) == MAX_FAILURES_IN_A_ROW
    assert Problem.objects.filter(tags_fetched_at__isnull=False).count() == (
        PROBLEMS - MAX_FAILURES_IN_A_ROW
    )


def test_a_run_whose_every_page_failed_fails(listed: SpojServer) -> None:
    listed.fail(status=500, times=None)

    with pytest.raises(CommandError) as caught:
        tags("--limit", "3")

    assert str(caught.value) == "scrape_spoj_tags: every one of the 3 problem pages failed"
    assert Problem.objects.exclude(tags_error="").count() == 3


def test_every_statement_of_a_save_can_fail_without_leaving_half_a_problem(
    listed: SpojServer,
) -> None:
    tags()
    yodaness = Problem.objects.get(code="YODANESS")
    new = [TagLink("tree", "tree"), TagLink("brand-new", "brand-new")]
    counting = FailingStatement(None)
    with connection.execute_wrapper(counting):
        save_tags(yodaness.pk, new)
    save_tags(yodaness.pk, [TagLink(slug, slug) for slug in YODANESS])
    Tag.objects.filter(slug="brand-new").delete()
    before = (tags_of("YODANESS"), list(Problem.objects.filter(pk=yodaness.pk).values()))
    assert counting.seen >= 6

    for k in range(1, counting.seen + 1):
        failing = FailingStatement(k)
        with pytest.raises(OperationalError), connection.execute_wrapper(failing):
            save_tags(yodaness.pk, new)
        after = (tags_of("YODANESS"), list(Problem.objects.filter(pk=yodaness.pk).values()))
        assert after == before, f"statement {k} ({failing.failed_sql}) left a change"
        assert not Tag.objects.filter(slug="brand-new").exists()


def test_the_queue_is_one_query(listed: SpojServer, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        assert len(queue()) == PROBLEMS


# --- a real interruption -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_run_goes_on_from_the_problem_it_was_reading(
    processes: Processes, spoj_server: SpojServer
) -> None:
    spoj_server.set_problems(sorted(small_list(), key=lambda p: p.spoj_id))
    scrape()
    order = newest_first()
    # The 31st page never comes: the run is killed while it waits for it.
    spoj_server.hang(seconds=60, times=1, path=order[30])
    spoj_server.forget_requests()
    run = processes.start(
        ["manage.py", "scrape_spoj_tags", "--base-url", spoj_server.base_url, "--delay", "0"],
        tasks={},
        name="tags",
    )
    wait_for(lambda: order[30] in spoj_server.requests, timeout=60, what="the request for page 31")
    run.popen.send_signal(signal.SIGKILL)
    assert run.wait(10) == -signal.SIGKILL
    fetched = set(
        Problem.objects.filter(tags_fetched_at__isnull=False).values_list("code", flat=True)
    )
    assert fetched == {path.split("/")[2] for path in order[:30]}
    assert not Problem.objects.exclude(tags_error="").exists()
    spoj_server.forget_requests()

    tags()

    # From page 31 on, then the 30 read before the kill, now the stalest.
    assert problem_paths(spoj_server) == order[30:] + order[:30]
    assert tags_of("YODANESS") == YODANESS
