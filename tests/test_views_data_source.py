"""The line above the score table says where the data comes from and how old it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.web_data import parse, record_scrape


def updated(client: Client) -> str:
    """The line's text, spaces (also timesince's no-break ones) collapsed."""
    return " ".join(parse(client.get("/")).select_one(".updated").get_text(" ").split())


def test_a_scrape_of_spoj_names_spoj_and_links_it(client: Client, db: None) -> None:
    record_scrape(timezone.now() - timedelta(hours=3), 8, base_url="https://www.spoj.com")
    line = parse(client.get("/")).select_one(".updated")
    text = updated(client)
    assert "from www.spoj.com" in text
    assert "(3 hours ago)" in text
    assert line.select_one("a")["href"] == "https://www.spoj.com"
    assert "snapshot" not in text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_a_scrape_of_a_local_fake_says_so_and_that_the_time_is_the_scrape_s(
    client: Client, db: None, host: str
) -> None:
    # The offline demo: SPOJ's May 2025 list, scraped a minute ago from the local fake.
    url = f"http://{host}:18765"
    record_scrape(timezone.now() - timedelta(minutes=1), 8, base_url=url)
    text = updated(client)
    assert f"from a local fake SPOJ at {url}" in text
    assert "the time it was scraped, not the age of its data" in text
    assert "May 2025" in text
    assert "www.spoj.com" not in text


def test_a_scrape_of_another_server_names_it_and_does_not_vouch_for_its_age(
    client: Client, db: None
) -> None:
    record_scrape(datetime(2025, 5, 2, 3, 4, tzinfo=UTC), 8, base_url="https://mirror.example")
    text = updated(client)
    assert "Last updated 2025-05-02 03:04 UTC" in text
    assert "from https://mirror.example" in text
    assert "not www.spoj.com" in text
    assert "the time it was scraped, not the age of its data" in text


def test_the_source_is_the_newest_scrape_s(client: Client, db: None) -> None:
    record_scrape(datetime(2025, 5, 1, tzinfo=UTC), 8, base_url="https://www.spoj.com")
    record_scrape(datetime(2025, 5, 3, tzinfo=UTC), 8, base_url="http://127.0.0.1:9")
    record_scrape(datetime(2025, 5, 2, tzinfo=UTC), 8, base_url="https://www.spoj.com")
    assert "local fake SPOJ at http://127.0.0.1:9" in updated(client)


def test_a_hostile_base_url_is_escaped(client: Client, db: None) -> None:
    record_scrape(timezone.now(), 8, base_url='https://x.example/"><script>alert(1)</script>')
    body = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body
