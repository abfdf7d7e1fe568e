"""Cached pages go out gzipped to a client that accepts it: the stored bytes as they are.

The same page in both encodings: the same document, two ETags (the gzipped one
weak), ``Vary: Accept-Encoding`` on both, one rendering for both, 304s either
way; never a page that carries a visitor's CSRF token (BREACH).
"""

from __future__ import annotations

import gzip

import pytest
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from core.web import caching
from core.web.caching import GZIP_MIN_BYTES, DataVersion, StoredPage, accepts_gzip, local_pages
from tests.test_http_caching import PAGES, no_params
from tests.web_data import record_scrape, templates_rendered

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),  # what Chromium sends
        ("GZIP;Q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("deflate, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # gzip named and refused: the star does not bring it back
        ("gzip;q=nonsense", False),
        ("gzipped", False),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(rf, header: str, takes: bool) -> None:
    assert accepts_gzip(rf.get("/", HTTP_ACCEPT_ENCODING=header)) is takes


@given(st.text(max_size=80))
def test_no_accept_encoding_header_breaks_the_parser(header: str) -> None:
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.META["HTTP_ACCEPT_ENCODING"] = header
    assert accepts_gzip(request) in (True, False)


@pytest.mark.parametrize("url", PAGES)
def test_every_page_and_export_is_the_same_document_in_both_encodings(
    client: Client, spoj_table, url: str
) -> None:
    plain = client.get(url)
    packed = client.get(url, headers=GZIP)
    assert (plain.status_code, packed.status_code) == (200, 200)
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / (3 if len(plain.content) > 10_000 else 1)
    assert packed["ETag"] == "W/" + plain["ETag"]
    assert plain["Vary"] == packed["Vary"] == "Accept-Encoding"
    assert packed["Content-Type"] == plain["Content-Type"]
    assert packed.get("Content-Disposition") == plain.get("Content-Disposition")
    assert int(packed["Content-Length"]) == len(packed.content)
    assert packed["Cache-Control"] == plain["Cache-Control"]


@pytest.mark.parametrize("first", ["plain", "gzip"])
def test_one_rendering_serves_both_encodings(client: Client, spoj_table, first: str) -> None:
    order = [{}, GZIP] if first == "plain" else [GZIP, {}]
    with templates_rendered() as rendered:
        client.get("/?q=prime", headers=order[0])
    assert rendered
    with templates_rendered() as again:
        second = client.get("/?q=prime", headers=order[1])
    assert second.status_code == 200
    assert again == []


def test_the_bytes_sent_are_the_bytes_stored_not_compressed_again(
    client: Client, spoj_table
) -> None:
    plain = client.get("/problems.json")
    stored = caches["default"].get("page:" + plain["ETag"].strip('"'))
    local_pages.clear()  # as another process would: from the shared cache
    packed = client.get("/problems.json", headers=GZIP)
    assert packed.content == stored[2]
    assert packed["ETag"] == "W/" + plain["ETag"]


@pytest.mark.parametrize(
    ("sent", "given"),
    [("gzip", "gzip"), ("gzip", "plain"), ("plain", "gzip"), ("plain", "plain")],
)
def test_either_etag_revalidates_either_encoding(
    client: Client, spoj_table, sent: str, given: str
) -> None:
    # If-None-Match compares weakly: W/"x" and "x" are the same page.
    etag = client.get("/", headers=GZIP if given == "gzip" else {})["ETag"]
    answer = client.get("/", headers={"If-None-Match": etag, **(GZIP if sent == "gzip" else {})})
    assert answer.status_code == 304
    assert answer.content == b""
    assert answer["ETag"] == (
        etag.removeprefix("W/") if sent == "plain" else "W/" + etag.removeprefix("W/")
    )
    assert answer["Vary"] == "Accept-Encoding"


def test_a_stale_gzip_etag_gets_the_new_page_gzipped(client: Client, spoj_table) -> None:
    old = client.get("/", headers=GZIP)["ETag"]
    record_scrape(timezone.now(), len(spoj_table))  # a newer scrape: a new data version
    caching.forget_recent_reads()
    answer = client.get("/", headers={"If-None-Match": old, **GZIP})
    assert answer.status_code == 200
    assert answer["ETag"] != old
    assert b"Bill of Fare" in gzip.decompress(answer.content)


def test_a_page_with_the_visitors_csrf_token_is_never_gzipped(client: Client, spoj_table) -> None:
    response = client.get("/users/", headers=GZIP)
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert b"csrfmiddlewaretoken" in response.content
    missing = client.get("/users/nobody_here/", headers=GZIP)
    assert missing.status_code == 404
    assert "Content-Encoding" not in missing
    assert b"csrfmiddlewaretoken" in missing.content


def test_a_small_body_goes_out_plain(rf, spoj_table) -> None:
    body = b"x" * (GZIP_MIN_BYTES - 1)

    def render(request: HttpRequest, version: DataVersion) -> HttpResponse:
        return HttpResponse(body)

    view = caching.cached_page("small", no_params)(render)
    response = view(rf.get("/small/", HTTP_ACCEPT_ENCODING="gzip"))
    assert isinstance(response, HttpResponse)
    assert response.content == body
    assert "Content-Encoding" not in response
    assert response["Vary"] == "Accept-Encoding"
    page = StoredPage.of(HttpResponse(b"y" * GZIP_MIN_BYTES))
    assert page.response(gzip=True)["Content-Encoding"] == "gzip"
    assert gzip.decompress(page.response(gzip=True).content) == b"y" * GZIP_MIN_BYTES


def test_the_gzip_bytes_are_the_same_for_the_same_page(spoj_table) -> None:
    # No timestamp in the gzip header: two dynos storing one page store the same bytes.
    first = StoredPage.of(HttpResponse(b"<p>same</p>" * 100)).gzip_body
    second = StoredPage.of(HttpResponse(b"<p>same</p>" * 100)).gzip_body
    assert first == second
