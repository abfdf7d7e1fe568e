"""scrape_spoj end to end through the local SPOJ server: what a successful scrape stores."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from core.models import Problem, ProblemHistory, Scrape, score_for
from core.spoj.parse import parse_problem_list
from core.spoj.store import save_scrape
from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set, render_page

pytestmark = pytest.mark.django_db


def test_a_first_scrape_stores_every_problem_with_its_score(spoj_server: SpojServer) -> None:
    out = scrape()

    assert Problem.objects.count() == 3971
    test = Problem.objects.get(code="TEST")
    assert (test.spoj_id, test.users) == (1, 221566)
    assert test.name == "Life, the Universe, and Everything"
    assert test.score == 80 / 221606
    assert (test.acceptance, test.quality, test.active) == (33.15, 303, True)
    unsolved = Problem.objects.filter(users=0)
    assert unsolved.exists()
    assert {p.score for p in unsolved} == {2.0}
    assert Problem.objects.get(code="EXPR1").quality is None
    # Double-encoded at the source ("HuffmanA-circumflex-acute s"): stored as shown.
    assert Problem.objects.get(name="Huffman\u00c2\u00b4s Greed").users > 0
    # Every score is the formula's, to the last bit, on SQLite and PostgreSQL alike.
    assert [p.code for p in Problem.objects.all() if p.score != score_for(p.users)] == []
    assert ProblemHistory.objects.count() == 3971  # each problem's first chart point
    assert "Scraped 3971 problems from 81 pages" in out


def test_it_prints_progress_and_a_summary(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:120])
    scrape()

    out = scrape()

    lines = out.splitlines()
    first_url = f"{spoj_server.base_url}/problems/classical/sort=0,start=0"
    assert lines[0] == f"page 1 of about 4: {first_url}"
    assert lines[3].startswith("page 4 of about 4: ")
    assert re.fullmatch(
        r"Scraped 120 problems from 4 pages in \d+\.\d s: "
        r"0 new, 0 changed, 120 unchanged, 0 gone\.",
        lines[-1],
    )
    assert len(lines) == 5


def test_a_first_scrape_says_the_size_is_unknown(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:60])

    out = scrape()

    assert out.splitlines()[0].startswith("page 1 (first scrape, size unknown): ")
    assert out.splitlines()[-1].endswith(": 60 new, 0 changed, 0 unchanged, 0 gone.")


def test_verbosity_zero_prints_nothing(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:60])

    assert scrape("--verbosity", "0") == ""
    assert Problem.objects.count() == 60


def test_an_unchanged_scrape_writes_no_history(spoj_server: SpojServer) -> None:
    scrape()
    first_seen = dict(Problem.objects.values_list("code", "first_seen"))

    out = scrape()

    assert ProblemHistory.objects.count() == 3971
    assert out.splitlines()[-1].endswith(": 0 new, 0 changed, 3971 unchanged, 0 gone.")
    assert dict(Problem.objects.values_list("code", "first_seen")) == first_seen
    latest = Scrape.objects.latest()
    assert set(Problem.objects.values_list("last_seen", flat=True)) == {latest.finished_at}


def test_a_changed_users_count_writes_one_history_row_and_the_new_score(
    spoj_server: SpojServer,
) -> None:
    spoj_server.set_problems(data_set()[:100])
    scrape()
    spoj_server.update("TEST", users=221570)
    spoj_server.update("PRIME1", name="Prime Generator (renamed)")

    out = scrape()

    test = Problem.objects.get(code="TEST")
    assert (test.users, test.score) == (221570, 80 / 221610)
    history = list(test.history.values_list("users", "score"))
    assert history == [(221566, 80 / 221606), (221570, 80 / 221610)]
    # A rename changes the row but adds no chart point.
    assert Problem.objects.get(code="PRIME1").name == "Prime Generator (renamed)"
    assert ProblemHistory.objects.count() == 101
    assert out.splitlines()[-1].endswith(": 0 new, 2 changed, 98 unchanged, 0 gone.")


def test_a_problem_that_left_the_list_becomes_inactive_and_comes_back(
    spoj_server: SpojServer,
) -> None:
    spoj_server.set_problems(data_set()[:100])
    scrape()
    before = Problem.objects.get(code="ONP")
    spoj_server.remove("ONP", "PALIN")

    out = scrape()

    onp = Problem.objects.get(code="ONP")
    assert onp.active is False
    assert onp.last_seen == before.last_seen  # last seen by the first scrape
    assert Problem.objects.filter(active=True).count() == 98
    assert out.splitlines()[-1].endswith(": 0 new, 0 changed, 98 unchanged, 2 gone.")

    spoj_server.set_problems(data_set()[:100])
    out = scrape()

    onp.refresh_from_db()
    assert onp.active is True
    assert onp.last_seen == Scrape.objects.latest().finished_at
    assert Problem.objects.filter(active=True).count() == 100
    assert out.splitlines()[-1].endswith(": 0 new, 2 changed, 98 unchanged, 0 gone.")
    assert onp.history.count() == 1  # users did not change while it was away


def test_new_problems_are_added_to_the_stored_ones(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:100])
    scrape()
    spoj_server.set_problems(data_set()[:130])

    out = scrape()

    assert Problem.objects.count() == 130
    assert ProblemHistory.objects.count() == 130
    assert out.splitlines()[-1].endswith(": 30 new, 0 changed, 100 unchanged, 0 gone.")


def test_it_records_the_scrape(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:100])

    scrape()

    record = Scrape.objects.get()
    assert (record.base_url, record.pages, record.problems) == (spoj_server.base_url, 3, 100)
    assert (record.new, record.changed, record.unchanged, record.gone) == (100, 0, 0, 0)
    assert record.started_at <= record.finished_at


def test_it_reads_the_2014_layout_too(spoj_server: SpojServer) -> None:
    spoj_server.old_layout = True

    scrape()

    assert Problem.objects.count() == 50
    assert Problem.objects.get(code="TEST").users == 52250
    assert Problem.objects.get(code="JULKA").score == 80 / 7548
    assert not Problem.objects.filter(quality__isnull=False).exists()


def test_the_base_url_option_overrides_the_setting(
    spoj_server: SpojServer, settings: object
) -> None:
    spoj_server.set_problems(data_set()[:10])
    settings.SPOJ_BASE_URL = "http://127.0.0.1:9"  # type: ignore[attr-defined]

    scrape("--base-url", spoj_server.base_url + "/")

    assert Problem.objects.count() == 10
    assert Scrape.objects.get().base_url == spoj_server.base_url


def test_the_store_refuses_rows_with_repeated_codes() -> None:
    row = parse_problem_list(render_page(data_set()[:1], 0, 1))[0]

    with pytest.raises(ValueError, match="distinct codes"):
        save_scrape([row, row], pages=2, base_url="http://x", started_at=timezone.now())

    assert not Problem.objects.exists()
