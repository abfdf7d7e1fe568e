"""The HTTP boundary against a real local server: decoding, retries, timeouts, politeness."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.spoj.http import USER_AGENT, SpojClient, SpojError
from core.spoj.listing import page_url
from tests.spoj_server import SpojServer, data_set

pytestmark = pytest.mark.any_database  # see tests/conftest.py

# Double-encoded at the source (UTF-8 read as Latin-1), and served so.
HUFFMAN = "Huffman\u00c2\u00b4s Greed"


@pytest.fixture
def client() -> Iterator[SpojClient]:
    with SpojClient(delay=0, timeout=(2.0, 0.5), retries=2, backoff=0.01) as client:
        yield client


def test_it_sends_a_descriptive_user_agent(spoj_server: SpojServer, client: SpojClient) -> None:
    client.get(page_url(spoj_server.base_url, 0))

    assert spoj_server.user_agents == {USER_AGENT}
    assert "spojscore" in USER_AGENT


def test_it_decodes_utf8_whatever_the_page_declares(
    spoj_server: SpojServer, client: SpojClient
) -> None:
    huffman = next(p for p in data_set() if p.name == HUFFMAN)
    spoj_server.set_problems([huffman])

    page = client.get(page_url(spoj_server.base_url, 0))

    assert 'charset=iso-8859-2"' in page.text  # the page lies about its charset
    assert HUFFMAN in page.text  # ...and the text is right anyway
    assert isinstance(page.text, str)


def test_a_byte_that_is_not_utf8_becomes_a_replacement_character(
    spoj_server: SpojServer, client: SpojClient
) -> None:
    spoj_server.serve_raw(start=0, body="<p>Caf\u00e9 ".encode() + b"na\xefve</p>")

    page = client.get(page_url(spoj_server.base_url, 0))

    assert page.text == "<p>Caf\u00e9 na\ufffdve</p>"


def test_it_retries_server_errors_then_succeeds(
    spoj_server: SpojServer, client: SpojClient
) -> None:
    spoj_server.fail(status=503, times=2, start=0)

    page = client.get(page_url(spoj_server.base_url, 0))

    assert page.status == 200
    assert spoj_server.hits(0) == 3


def test_it_gives_up_after_its_retries_with_the_status_and_a_snippet(
    spoj_server: SpojServer, client: SpojClient
) -> None:
    spoj_server.fail(status=500, times=None, start=0)
    url = page_url(spoj_server.base_url, 0)

    with pytest.raises(SpojError) as caught:
        client.get(url)

    assert (caught.value.url, caught.value.status) == (url, 500)
    assert str(caught.value) == f"{url} (HTTP 500): still failing after 2 retries: 'Error 500'"
    assert spoj_server.hits(0) == 3


def test_it_waits_as_long_as_retry_after_says(spoj_server: SpojServer, client: SpojClient) -> None:
    spoj_server.rate_limit(retry_after=1, times=1, start=0)

    began = time.monotonic()
    page = client.get(page_url(spoj_server.base_url, 0))
    waited = time.monotonic() - began

    assert page.status == 200
    assert spoj_server.hits(0) == 2
    # Backoff alone would retry at once (urllib3 does not sleep before the first retry).
    assert waited >= 0.95


def test_a_hanging_server_hits_the_read_timeout(
    spoj_server: SpojServer, client: SpojClient
) -> None:
    spoj_server.hang(seconds=5, times=None, start=0)

    began = time.monotonic()
    with pytest.raises(SpojError, match=r"no answer after 2 retries: read timed out \(0.5 s\)"):
        client.get(page_url(spoj_server.base_url, 0))

    assert spoj_server.hits(0) == 3
    assert time.monotonic() - began < 5  # it did not wait for the server


def test_a_connection_closed_mid_page_is_an_error(
    spoj_server: SpojServer, client: SpojClient
) -> None:
    spoj_server.cut_transfer(start=0)

    with pytest.raises(SpojError, match="connection closed before the whole page arrived"):
        client.get(page_url(spoj_server.base_url, 0))


def test_a_refused_connection_fails_fast() -> None:
    # Port 9 (discard) is closed on 127.0.0.1 in the test environment.
    with SpojClient(delay=0, timeout=(0.5, 0.5), retries=1, backoff=0.01) as client:
        began = time.monotonic()
        with pytest.raises(
            SpojError,
            match=r"^http://127.0.0.1:9/x: no answer after 1 retry: "
            r"Failed to establish a new connection: \[Errno 111\] Connection refused$",
        ):
            client.get("http://127.0.0.1:9/x")
    assert time.monotonic() - began < 5


def test_it_keeps_the_delay_between_requests(spoj_server: SpojServer) -> None:
    with SpojClient(delay=0.3, timeout=(2.0, 2.0), retries=0) as client:
        began = time.monotonic()
        for start in (0, 50, 100):
            client.get(page_url(spoj_server.base_url, start))
        elapsed = time.monotonic() - began

    # Three requests, two gaps of at least 0.3 s; the first goes at once.
    assert elapsed >= 0.6


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="delay"):
        SpojClient(delay=-1)
