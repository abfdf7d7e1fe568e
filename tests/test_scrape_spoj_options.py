"""scrape_spoj's options are checked before anything is fetched."""

from __future__ import annotations

import time

import pytest
from django.core.management.base import CommandError

from core.models import Problem
from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delay", "-1"], "argument --delay: must be 0 or more seconds, not -1"),
        (["--delay", "soon"], "argument --delay: 'soon' is not a number of seconds"),
        (["--delay", "nan"], "argument --delay: must be 0 or more seconds, not nan"),
        (["--max-pages", "0"], "argument --max-pages: must be 1 or more, not 0"),
        (["--max-pages", "2.5"], "argument --max-pages: '2.5' is not a whole number"),
        (["--base-url", "www.spoj.com"], "argument --base-url: 'www.spoj.com' is not an http"),
        (["--base-url", "http://x/" + "a" * 200], "argument --base-url: longer than 200 char"),
    ],
)
def test_a_bad_option_is_a_clear_error(
    spoj_server: SpojServer, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=f"^Error: {message}"):
        scrape(*args)

    assert spoj_server.hits() == 0
    assert not Problem.objects.exists()


def test_delay_zero_is_allowed(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:50])

    scrape("--delay", "0")

    assert Problem.objects.count() == 50


def test_the_delay_option_spaces_the_requests(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:50])  # two pages: one gap

    began = time.monotonic()
    scrape("--delay", "0.4")

    assert time.monotonic() - began >= 0.4
    assert spoj_server.hits() == 2
    assert Problem.objects.count() == 50
