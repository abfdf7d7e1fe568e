"""The shrink guard: a list under 90% of the active problems is refused unless allowed."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from core.models import Problem
from tests.scraping import database_dump, scrape
from tests.spoj_server import SpojServer, data_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(spoj_server: SpojServer) -> SpojServer:
    spoj_server.set_problems(data_set()[:300])
    scrape()
    return spoj_server


def test_a_list_under_90_percent_is_refused(stored: SpojServer) -> None:
    stored.set_problems(data_set()[:269])
    before = database_dump()

    with pytest.raises(CommandError) as caught:
        scrape()

    assert database_dump() == before
    assert str(caught.value) == (
        "scrape_spoj failed, nothing written: the list has 269 problems, under 90% of the "
        "300 active ones (pass --allow-shrink if this is real)"
    )


def test_allow_shrink_stores_the_short_list(stored: SpojServer) -> None:
    stored.set_problems(data_set()[:269])

    out = scrape("--allow-shrink")

    assert out.splitlines()[-1].endswith(": 0 new, 0 changed, 269 unchanged, 31 gone.")
    assert Problem.objects.filter(active=True).count() == 269
    assert Problem.objects.count() == 300  # never deleted


def test_a_shrink_of_at_most_10_percent_is_stored(stored: SpojServer) -> None:
    stored.set_problems(data_set()[:270])

    out = scrape()

    assert out.splitlines()[-1].endswith(": 0 new, 0 changed, 270 unchanged, 30 gone.")
    assert Problem.objects.filter(active=False).count() == 30


def test_inactive_problems_do_not_count_towards_the_limit(stored: SpojServer) -> None:
    stored.set_problems(data_set()[:270])
    scrape()  # 270 active, 30 inactive
    stored.set_problems(data_set()[:243])  # 90% of 270

    scrape()

    assert Problem.objects.filter(active=True).count() == 243
