"""An empty or short page is the end of the list only when no pager seen so far points past it.

Each page's pager (``a.pager_link``: neighbouring pages, Next, and ``&gt;`` to
the last page) says how far the list goes. A page with no rows, or fewer than
a full page, while a pager still links later pages is a broken listing: the
scrape refuses and writes nothing. Every test here starts from the whole May
2025 list stored once (3,971 problems, 80 pages and the empty 81st), then
changes what the server lists, so a write would show in the dump.
"""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from core.models import Problem, Scrape
from tests.scraping import database_dump, scrape
from tests.spoj_server import OLD_LAYOUT_PAGE, SpojServer, data_set

pytestmark = pytest.mark.django_db

PROBLEMS = 3971  # pages start=0 ... start=3950 (21 rows), then the empty start=4000


@pytest.fixture
def stored(spoj_server: SpojServer) -> SpojServer:
    """The whole list scraped once; TEST has gained solvers since."""
    scrape()
    assert Problem.objects.filter(active=True).count() == PROBLEMS
    spoj_server.forget_requests()
    spoj_server.update("TEST", users=221999)
    return spoj_server


def url(server: SpojServer, start: int) -> str:
    return f"{server.base_url}/problems/classical/sort=0,start={start}"


def refused(message_end: str) -> None:
    """Run a scrape that must fail with one line ending so, writing nothing."""
    before = database_dump()

    with pytest.raises(CommandError) as caught:
        scrape()

    assert database_dump() == before
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("scrape_spoj failed, nothing written: ")
    assert message.endswith(message_end), message


def test_the_whole_list_ends_at_the_empty_page_after_the_short_last_one(
    stored: SpojServer,
) -> None:
    # The control for the tests below: pagers on every page, nothing broken.
    scrape()

    assert Problem.objects.get(code="TEST").users == 221999
    assert Scrape.objects.latest("pk").pages == 81
    assert stored.requests[-2:] == [
        "/problems/classical/sort=0,start=3950",  # 21 rows, the pager's last page
        "/problems/classical/sort=0,start=4000",  # no rows, no pager links past it
    ]


def test_a_list_whose_last_page_is_full_ends_at_the_empty_page_after_it(
    stored: SpojServer,
) -> None:
    stored.set_problems(data_set()[:3950])  # 79 full pages

    out = scrape()

    assert out.splitlines()[-1].endswith(": 0 new, 0 changed, 3950 unchanged, 21 gone.")
    assert stored.requests[-1] == "/problems/classical/sort=0,start=3950"


def test_an_empty_page_inside_the_list_writes_nothing(stored: SpojServer) -> None:
    # The defect: taken for the end, it marked the 71 problems after it inactive.
    stored.empty_page(start=3900)

    refused(
        f"{url(stored, 3900)} lists no problems, yet the pager on {url(stored, 0)} links "
        "pages up to start=3950: the listing is broken, not ended"
    )
    assert stored.hits(3950) == 0  # it stopped at the broken page


def test_an_empty_page_early_in_the_list_writes_nothing(stored: SpojServer) -> None:
    # Far past the 10% the shrink guard allows: refused here before it gets there.
    stored.empty_page(start=50)

    refused(
        f"{url(stored, 50)} lists no problems, yet the pager on {url(stored, 0)} links "
        "pages up to start=3950: the listing is broken, not ended"
    )


def test_a_short_page_in_the_middle_writes_nothing(stored: SpojServer) -> None:
    stored.short_page(start=1000, keep=20)

    refused(
        f"{url(stored, 1000)} lists 20 problems, fewer than a full page of 50, yet the pager "
        f"on {url(stored, 0)} links pages up to start=3950: rows are missing"
    )
    assert stored.hits(1050) == 0


def test_a_short_page_just_before_the_last_writes_nothing(stored: SpojServer) -> None:
    stored.short_page(start=3900, keep=49)

    refused(
        f"{url(stored, 3900)} lists 49 problems, fewer than a full page of 50, yet the pager "
        f"on {url(stored, 0)} links pages up to start=3950: rows are missing"
    )


def test_the_last_page_the_pager_links_served_empty_writes_nothing(stored: SpojServer) -> None:
    # The pagers say start=3950 is a page of the list; with no rows it drops 21 problems.
    stored.empty_page(start=3950)

    refused(
        f"{url(stored, 3950)} lists no problems, yet the pager on {url(stored, 0)} links "
        "pages up to start=3950: the listing is broken, not ended"
    )


def test_a_listing_without_pagers_still_ends_at_the_empty_page(stored: SpojServer) -> None:
    stored.pager = False

    scrape()

    assert Problem.objects.get(code="TEST").users == 221999
    assert Problem.objects.filter(active=True).count() == PROBLEMS
    assert stored.hits() == 81


def test_without_pagers_a_short_page_in_the_middle_still_writes_nothing(
    stored: SpojServer,
) -> None:
    # Only the page sizes tell: the next page lists more.
    stored.pager = False
    stored.short_page(start=1000, keep=20)

    refused(
        f"{url(stored, 1000)} has 20 problems, fewer than the 50 of the first page, "
        f"yet {url(stored, 1050)} lists more: rows are missing"
    )


def test_the_saved_2014_page_with_its_pager_is_not_a_one_page_list(
    stored: SpojServer,
) -> None:
    # Its pager links start=50 ... 500 and, as the last page, start=2950.
    stored.old_layout = True  # the pages after the first have no rows
    stored.serve_raw(start=0, body=OLD_LAYOUT_PAGE.read_bytes())

    refused(
        f"{url(stored, 50)} lists no problems, yet the pager on {url(stored, 0)} links "
        "pages up to start=2950: the listing is broken, not ended"
    )
