"""Two scrapes at once: the second waits for the first to commit, then builds on it."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone

from core.models import Problem, Scrape
from core.spoj.parse import parse_problem_list
from core.spoj.store import save_scrape
from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set


@pytest.mark.django_db(transaction=True)
def test_a_second_scrape_waits_for_the_first_and_sees_what_it_wrote(
    spoj_server: SpojServer,
) -> None:
    spoj_server.set_problems(data_set()[:100])
    rows = [
        row for start in (0, 50) for row in parse_problem_list(spoj_server.page(start).decode())
    ]
    outcome: dict[str, object] = {}

    def second_scrape() -> None:
        try:
            outcome["output"] = scrape()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    with transaction.atomic():
        # The first scrape, in the middle of its write transaction.
        save_scrape(rows, pages=3, base_url=spoj_server.base_url, started_at=timezone.now())
        second = threading.Thread(target=second_scrape)
        second.start()
        deadline = time.monotonic() + 10
        while spoj_server.hits() < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        second.join(timeout=0.5)  # time to reach the store and queue behind us
        assert spoj_server.hits() == 3
        assert second.is_alive()  # waiting for this transaction
    second.join(timeout=30)

    assert not second.is_alive()
    assert "error" not in outcome, outcome
    # Without the wait, it would have inserted the same 100 problems again and failed.
    assert (
        str(outcome["output"])
        .splitlines()[-1]
        .endswith(": 0 new, 0 changed, 100 unchanged, 0 gone.")
    )
    assert Problem.objects.count() == 100
    assert Scrape.objects.count() == 2
