"""A failed or implausible scrape writes nothing: the database stays exactly as it was.

Each test stores a first scrape, changes what the server lists (so a write
would show), breaks one page, and compares a dump of every row of the scrape
tables before and after.
"""

from __future__ import annotations

import time

import pytest
from django.core.management.base import CommandError

from core.models import Problem, Scrape
from tests.scraping import database_dump, scrape
from tests.spoj_server import SpojServer, data_set

pytestmark = pytest.mark.django_db

PROBLEMS = 300  # six full pages and an empty seventh


@pytest.fixture
def stored(spoj_server: SpojServer) -> SpojServer:
    """A server whose list was scraped once and has changed since."""
    spoj_server.set_problems(data_set()[:PROBLEMS])
    scrape()
    spoj_server.forget_requests()
    spoj_server.update("TEST", users=221999)
    spoj_server.set_problems([*spoj_server.problems, data_set()[PROBLEMS]])
    return spoj_server


def url(server: SpojServer, start: int) -> str:
    return f"{server.base_url}/problems/classical/sort=0,start={start}"


def fails(*args: str) -> str:
    """Run a scrape that must fail without writing; its error line."""
    before = database_dump()
    with pytest.raises(CommandError) as caught:
        scrape(*args)
    assert database_dump() == before
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("scrape_spoj failed, nothing written: ")
    return message


def test_the_fixture_would_write_if_nothing_failed(stored: SpojServer) -> None:
    # The control for every test below: the same scrape, unbroken, does write.
    before = database_dump()

    scrape()

    assert database_dump() != before
    assert Problem.objects.get(code="TEST").users == 221999


def test_server_errors_then_success_succeed_after_retries(stored: SpojServer) -> None:
    stored.fail(status=500, times=2, start=50)

    scrape()

    assert stored.hits(50) == 3
    assert Problem.objects.get(code="TEST").users == 221999


def test_a_server_that_keeps_failing_writes_nothing(stored: SpojServer) -> None:
    stored.fail(status=500, times=None, start=100)

    message = fails()

    assert message.endswith(
        f"{url(stored, 100)} (HTTP 500): still failing after 2 retries: 'Error 500'"
    )
    assert stored.hits(100) == 3
    assert stored.hits(150) == 0  # it stopped at the broken page


def test_a_429_is_retried_after_retry_after(stored: SpojServer) -> None:
    stored.rate_limit(retry_after=1, times=1, start=50)

    began = time.monotonic()
    scrape()

    assert time.monotonic() - began >= 0.95
    assert stored.hits(50) == 2
    assert Scrape.objects.count() == 2


def test_a_hanging_server_hits_the_read_timeout_and_writes_nothing(stored: SpojServer) -> None:
    stored.hang(seconds=5, times=None, start=150)

    message = fails()

    assert message.endswith(
        f"{url(stored, 150)}: no answer after 2 retries: read timed out (0.5 s)"
    )
    assert stored.hits(150) == 3


def test_a_maintenance_page_is_not_an_empty_list(stored: SpojServer) -> None:
    stored.maintenance(status=200, start=100)

    message = fails()

    assert message.endswith(
        f"{url(stored, 100)} (HTTP 200) has no problem table: \"SPOJ - maintenance We'll be "
        'back soon Sphere Online Judge is down for scheduled maintenance. Please come back later."'
    )


def test_a_maintenance_page_with_status_503_fails_after_retries(stored: SpojServer) -> None:
    stored.maintenance(status=503, start=0)

    message = fails()

    assert f"{url(stored, 0)} (HTTP 503): still failing after 2 retries: " in message
    assert "down for scheduled maintenance" in message


def test_a_page_cut_off_mid_row_writes_nothing(stored: SpojServer) -> None:
    stored.truncate(start=200)

    message = fails()

    assert message.startswith(
        f"scrape_spoj failed, nothing written: {url(stored, 200)} (HTTP 200): "
        "page ends without </html> after "
    )


def test_a_connection_closed_mid_page_writes_nothing(stored: SpojServer) -> None:
    stored.cut_transfer(start=50)

    message = fails()

    assert message.endswith(f"{url(stored, 50)}: connection closed before the whole page arrived")


def test_a_complete_page_with_rows_missing_in_the_middle_writes_nothing(
    stored: SpojServer,
) -> None:
    # Well-formed HTML, the table closed early: the pagers still link pages after it
    # (without pagers, the next page's rows tell: test_scrape_spoj_pager.py).
    stored.short_page(start=100, keep=20)

    message = fails()

    assert message.endswith(
        f"{url(stored, 100)} lists 20 problems, fewer than a full page of 50, yet the pager "
        f"on {url(stored, 0)} links pages up to start=300: rows are missing"
    )
    assert stored.hits(150) == 0


def test_a_row_that_cannot_be_read_names_the_page_and_row(stored: SpojServer) -> None:
    stored.update("ONP", acceptance="n/a")  # ONP is the 4th problem

    message = fails()

    assert message.endswith(
        f"{url(stored, 0)}: cannot read problem row 4: ACC % 'n/a' is not a number"
    )


def test_a_problem_listed_twice_writes_nothing(stored: SpojServer) -> None:
    problems = stored.problems
    stored.set_problems([*problems[:60], problems[10], *problems[60:]])

    message = fails()

    code = problems[10].code
    assert message.endswith(
        f"problem {code} is listed twice, on {url(stored, 0)} and on {url(stored, 50)}: "
        "the list changed while it was read, or pages repeat"
    )


def test_a_list_that_never_ends_stops_at_the_page_cap(stored: SpojServer) -> None:
    message = fails("--max-pages", "3")

    assert message.endswith(
        f"the list had not ended after 3 pages (last {url(stored, 100)}); "
        "raise --max-pages if SPOJ really lists over 150 problems"
    )
    assert stored.hits() == 3


def test_a_first_page_without_problems_writes_nothing(stored: SpojServer) -> None:
    stored.set_problems([])

    message = fails()

    assert message.endswith(f"{url(stored, 0)}: the first page lists no problems at all")
