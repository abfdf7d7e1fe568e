"""Conditional requests and the page cache: ETag, Last-Modified, 304 without rendering,
Cache-Control, and pages that change when a scrape changes the data."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client
from django.utils.http import http_date, parse_http_date

from core.models import Problem
from core.web import caching
from core.web.caching import LocalPages, StoredPage, code_version, data_version, local_pages
from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set
from tests.support import free_port
from tests.web_data import (
    content,
    make_problem,
    parse,
    queries,
    record_scrape,
    spoj_problems,
    templates_rendered,
)

SCRAPED = datetime(2025, 5, 2, 3, 4, 5, tzinfo=UTC)
PAGES = [
    "/",
    "/?q=prime",
    "/?sort=-users&page=2",
    "/problems/PRIME1/",
    "/problems.csv",
    "/problems.csv?q=prime",
    "/problems.json",
    "/problems.json?min_users=1000",
]
CACHE_CONTROL = {"public", "max-age=60", "stale-while-revalidate=600"}


@pytest.fixture
def table(db: None) -> list[Problem]:
    """The May 2025 list, scraped at a known moment."""
    problems = Problem.objects.bulk_create(spoj_problems(), batch_size=500)
    record_scrape(SCRAPED, len(problems))
    return problems


def directives(response) -> set[str]:
    return {part.strip() for part in response["Cache-Control"].split(",")}


@pytest.mark.parametrize("url", PAGES)
def test_every_page_and_export_has_validators_and_may_be_cached_publicly(
    client: Client, table, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    assert response["ETag"].endswith('"')
    assert len(response["ETag"]) == 34
    if url.startswith("/?") or url == "/":
        # The score table says how long ago the scrape was; see the age tests.
        assert parse_http_date(response["Last-Modified"]) >= SCRAPED.timestamp()
    else:
        assert response["Last-Modified"] == http_date(SCRAPED.timestamp())
    assert directives(response) == CACHE_CONTROL
    # Nothing ties the page to a visitor, so a shared cache may keep it.
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize("url", PAGES)
def test_a_matching_if_none_match_is_answered_304_from_one_query_without_rendering(
    client: Client, table, url: str
) -> None:
    etag = client.get(url)["ETag"]
    local_pages.clear()  # not even a cached body may be needed
    with queries() as done, templates_rendered() as rendered:
        response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    # Tags change without a scrape: a problem page also reads its problem's last
    # tag fetch (it shows them), a table page the newest one (its tag filter
    # offers them), an export neither. Still no rendering.
    extra = 1 if url.startswith("/problems/") and url.endswith("/") else 0
    tags = 1 if url.startswith("/?") or url == "/" else 0
    assert (done.total, len(done.version), len(done.tags), rendered) == (
        1 + extra + tags,
        1,
        tags,
        [],
    )
    assert response["ETag"] == etag
    assert directives(response) == CACHE_CONTROL  # a 304 repeats what the 200 said
    assert len(local_pages) == 0


@pytest.mark.parametrize(
    "if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*", '"other", W/{etag}']
)
def test_weak_lists_and_star_match_too(client: Client, table, if_none_match: str) -> None:
    # A CDN that compresses may weaken the ETag it passes on (RFC 9110 8.8.3.2).
    etag = client.get("/problems.json")["ETag"]
    header = if_none_match.format(etag=etag)
    assert client.get("/problems.json", headers={"If-None-Match": header}).status_code == 304


@pytest.mark.parametrize("if_none_match", ['"0000"', "", "garbage", 'W/"', '"' + "x" * 5000 + '"'])
def test_another_or_a_malformed_etag_gets_the_page(
    client: Client, table, if_none_match: str
) -> None:
    response = client.get("/problems/PRIME1/", headers={"If-None-Match": if_none_match})
    assert response.status_code == 200
    assert "Prime Generator" in response.content.decode()


def test_if_modified_since_alone_is_answered_from_last_modified(client: Client, table) -> None:
    last_modified = client.get("/problems.csv")["Last-Modified"]
    assert (
        client.get("/problems.csv", headers={"If-Modified-Since": last_modified}).status_code == 304
    )
    earlier = http_date(SCRAPED.timestamp() - 1)
    assert client.get("/problems.csv", headers={"If-Modified-Since": earlier}).status_code == 200
    assert (
        client.get("/problems.csv", headers={"If-Modified-Since": "yesterday"}).status_code == 200
    )


def test_if_none_match_wins_over_if_modified_since(client: Client, table) -> None:
    response = client.get("/problems.csv")
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": response["Last-Modified"]}
    assert client.get("/problems.csv", headers=headers).status_code == 200


def test_the_etag_is_the_page_s_own_and_ignores_what_does_not_change_it(
    client: Client, table
) -> None:
    def etag(url: str) -> str:
        return client.get(url)["ETag"]

    pages = [
        "/",
        "/?q=prime",
        "/?q=tree",
        "/?page=2",
        "/?min_acc=10",
        "/problems.json",
        "/problems.csv",
    ]
    assert len({etag(url) for url in pages}) == len(pages)
    # Parameters are normalised before they key anything.
    assert etag("/?q=prime&junk=1") == etag("/?q=prime") == etag("/?q=%20prime%20%20")
    assert etag("/?sort=DROP") == etag("/?sort=-score") == etag("/")
    assert etag("/?page=abc") == etag("/?page=1") == etag("/")
    assert etag("/?page=99999999") == etag("/?page=10000")  # bounded: one key for them all
    assert etag("/problems/PRIME1/") != etag("/problems/TEST/")


def test_a_page_is_rendered_once_then_served_from_the_cache(client: Client, table) -> None:
    first = client.get("/?q=prime")
    with queries() as done, templates_rendered() as rendered:
        again = client.get("/?q=prime")
    assert (len(done.version), len(done.tags), done.total, rendered) == (1, 1, 2, [])
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]


def test_another_process_is_served_from_the_shared_cache(client: Client, table) -> None:
    first = client.get("/problems.json")
    local_pages.clear()  # another process (or dyno) has none of this one's memory
    with queries() as done:
        again = client.get("/problems.json")
    assert (len(done.version), len(done.data)) == (1, 0)
    assert [sql for sql in done.cache if "spojscore_cache" in sql]  # read from the table
    # generated_at is the render's: the same document, not a second rendering.
    assert json.loads(content(again)) == json.loads(content(first))


def test_the_shared_cache_keeps_bodies_compressed(client: Client, table) -> None:
    response = client.get("/problems.json")
    stored = caches["default"].get("page:" + response["ETag"].strip('"'))
    content_type, _headers, compressed = stored
    assert content_type == "application/json"
    assert gzip.decompress(compressed) == response.content
    assert len(compressed) < len(response.content) / 4


def test_the_csv_keeps_its_download_name_when_served_from_the_cache(client: Client, table) -> None:
    client.get("/problems.csv")
    local_pages.clear()
    response = client.get("/problems.csv")
    assert response["Content-Disposition"] == 'attachment; filename="spojscore-problems.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert content(response).startswith(b"rank,code,name,")


def test_a_scrape_that_changes_the_data_changes_every_page(
    client: Client, db: None, spoj_server: SpojServer
) -> None:
    spoj_server.set_problems(data_set()[:120])
    scrape()
    code = spoj_server.problems[0].code
    urls = ["/", f"/problems/{code}/", "/problems.csv", "/problems.json"]
    before = {url: client.get(url) for url in urls}
    users = spoj_server.problems[0].users
    spoj_server.update(code, users=users + 1000)
    scrape()
    for url in urls:
        old = before[url]
        response = client.get(url, headers={"If-None-Match": old["ETag"]})
        assert response.status_code == 200, url
        assert response["ETag"] != old["ETag"], url
        assert content(response) != content(old), url
    page = parse(client.get(f"/problems/{code}/")).get_text(" ", strip=True)
    assert f"{users + 1000:,}" in page
    csv_row = next(
        line
        for line in content(client.get("/problems.csv")).decode().splitlines()
        if f",{code}," in line
    )
    assert f",{users + 1000}," in csv_row


def test_a_scrape_that_changes_nothing_still_moves_the_version(
    client: Client, db: None, spoj_server: SpojServer
) -> None:
    # "Last updated" moves with every scrape, so the pages do too.
    spoj_server.set_problems(data_set()[:60])
    scrape()
    etag = client.get("/problems.json")["ETag"]
    scrape()
    assert client.get("/problems.json", headers={"If-None-Match": etag}).status_code == 200


def test_a_scrape_row_with_an_older_finish_still_moves_the_version(client: Client, table) -> None:
    # A scrape on a machine whose clock runs behind: its id is still the newest.
    etag = client.get("/problems.csv")["ETag"]
    record_scrape(SCRAPED - timedelta(seconds=30), len(table))
    assert client.get("/problems.csv", headers={"If-None-Match": etag}).status_code == 200


def test_before_the_first_scrape_nothing_is_cached(client: Client, db: None) -> None:
    Problem.objects.bulk_create([make_problem("ALONE", "Alone", 3)])
    response = client.get("/")
    assert "ETag" not in response
    assert "Cache-Control" not in response
    with queries() as done:
        client.get("/")
    assert done.cache == []  # neither read nor written


def test_a_404_is_not_cached(client: Client, table) -> None:
    response = client.get("/problems/NOSUCHCODE/")
    assert response.status_code == 404
    assert "ETag" not in response
    assert "public" not in response.get("Cache-Control", "")
    assert len(local_pages) == 0


def test_a_lower_case_code_still_redirects_to_the_upper_case_page(client: Client, table) -> None:
    response = client.get("/problems/prime1/")
    assert (response.status_code, response["Location"]) == (301, "/problems/PRIME1/")


def test_the_health_check_is_never_cached(client: Client, table) -> None:
    response = client.get("/healthz")
    assert "ETag" not in response
    assert {"no-cache", "no-store", "must-revalidate", "private"} <= directives(response)
    again = client.get("/healthz", headers={"If-None-Match": "*"})
    assert again.status_code == 200


def test_the_admin_is_never_cached(admin_client: Client, table) -> None:
    for url in ("/admin/", "/admin/core/taskrun/", "/admin/core/task/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "ETag" not in response, url
        assert "private" in directives(response), url
        assert "public" not in directives(response), url


def test_settings_the_pages_print_are_part_of_the_etag(client: Client, table, settings) -> None:
    etag = client.get("/problems.csv")["ETag"]
    settings.SPOJ_BASE_URL = "https://mirror.example"
    response = client.get("/problems.csv", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "https://mirror.example/problems/" in content(response).decode()


def test_the_code_version_covers_the_web_package(monkeypatch, tmp_path, settings) -> None:
    # A deploy that changes a template or view changes every ETag and key.
    (tmp_path / "templates").mkdir()
    page = tmp_path / "templates" / "page.html"
    page.write_text("<p>one</p>")
    monkeypatch.setattr(caching, "WEB_ROOT", tmp_path)
    caching._cached_digest.cache_clear()
    one = code_version()
    page.write_text("<p>two</p>")
    assert code_version() == one  # computed once per process...
    caching._cached_digest.cache_clear()
    two = code_version()
    assert two != one  # ...from the files
    # With DEBUG on (runserver), an edited template counts at once.
    settings.DEBUG = True
    page.write_text("<p>three</p>")
    assert code_version() not in (one, two)
    caching._cached_digest.cache_clear()


def test_a_failing_shared_cache_is_logged_and_skipped(
    client: Client, table, settings, caplog
) -> None:
    # A real Redis client against a port nothing listens on: every call fails.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with caplog.at_level(logging.WARNING, logger="core.web.caching"):
        response = client.get("/problems/PRIME1/")
        local_pages.clear()
        again = client.get("/problems/PRIME1/", headers={"If-None-Match": '"stale"'})
    assert (response.status_code, again.status_code) == (200, 200)
    assert "Prime Generator" in again.content.decode()
    assert any("reading" in r.getMessage() for r in caplog.records)
    assert any("writing" in r.getMessage() for r in caplog.records)


def test_an_unreadable_shared_entry_is_ignored(client: Client, table) -> None:
    etag = client.get("/problems/TEST/")["ETag"]
    caches["default"].set("page:" + etag.strip('"'), ("text/html", (), b"not gzip"))
    local_pages.clear()
    response = client.get("/problems/TEST/")
    assert response.status_code == 200
    assert "Life, the Universe, and Everything" in response.content.decode()


# --- the score table's "(3 hours ago)" --------------------------------------------------


@pytest.mark.parametrize(
    ("age", "shown", "since"),
    [
        (timedelta(0), "less than an hour", timedelta(0)),
        (timedelta(minutes=59, seconds=59), "less than an hour", timedelta(0)),
        (timedelta(hours=1), "1\u00a0hour", timedelta(hours=1)),
        (timedelta(hours=47, minutes=59), "47\u00a0hours", timedelta(hours=47)),
        (timedelta(days=2), "2\u00a0days", timedelta(days=2)),
        (timedelta(days=400, hours=5), "400\u00a0days", timedelta(days=400)),
        (timedelta(seconds=-30), "less than an hour", timedelta(0)),  # a clock behind
    ],
)
def test_the_age_is_shown_in_one_unit_rounded_down(
    age: timedelta, shown: str, since: timedelta
) -> None:
    from core.web.views.score_table import shown_age

    assert shown_age(SCRAPED, SCRAPED + age) == (shown, SCRAPED + since)


def test_the_table_changes_when_its_age_text_does_and_not_before(client: Client, table) -> None:
    with time_machine.travel(SCRAPED + timedelta(hours=3, minutes=10), tick=False):
        first = client.get("/")
        assert "(3\u00a0hours ago)" in first.content.decode()
        assert first["Last-Modified"] == http_date((SCRAPED + timedelta(hours=3)).timestamp())
    with time_machine.travel(SCRAPED + timedelta(hours=3, minutes=59), tick=False):
        same = client.get("/", headers={"If-None-Match": first["ETag"]})
        assert same.status_code == 304
    with time_machine.travel(SCRAPED + timedelta(hours=4), tick=False):
        later = client.get("/", headers={"If-None-Match": first["ETag"]})
        assert later.status_code == 200
        assert "(4\u00a0hours ago)" in later.content.decode()
        stale = {"If-Modified-Since": first["Last-Modified"]}
        assert client.get("/", headers=stale).status_code == 200


# --- this process's layer --------------------------------------------------------------


def page(size: int) -> StoredPage:
    return StoredPage("text/plain", (), b"x" * size, b"")  # counted: body + gzip_body


def test_the_local_layer_keeps_at_most_its_limit_dropping_the_least_recently_used() -> None:
    layer = LocalPages(limit=100)
    layer.put("a", page(40))
    layer.put("b", page(40))
    assert layer.get("a") is not None  # a is now the most recently used
    layer.put("c", page(40))
    assert (layer.get("a") is not None, layer.get("b"), layer.get("c") is not None) == (
        True,
        None,
        True,
    )
    assert layer.size == 80
    layer.put("a", page(10))  # replacing an entry counts its new size only
    assert layer.size == 50


def test_the_local_layer_refuses_a_page_bigger_than_itself() -> None:
    layer = LocalPages(limit=10)
    layer.put("big", page(11))
    assert (layer.get("big"), layer.size, len(layer)) == (None, 0, 0)


def test_a_zero_limit_keeps_nothing() -> None:
    layer = LocalPages(limit=0)
    layer.put("a", page(1))
    assert len(layer) == 0


def test_the_data_version_is_the_highest_scrape_id_and_the_newest_finish(db: None) -> None:
    empty = data_version()
    assert (empty.scrape_id, empty.finished_at, empty.base_url, empty.token) == (
        None,
        None,
        None,
        "none",
    )
    record_scrape(SCRAPED, 1, base_url="https://a.example")
    newest = record_scrape(SCRAPED + timedelta(days=1, microseconds=123), 1, "https://b.example")
    behind = record_scrape(SCRAPED + timedelta(hours=1), 1, base_url="https://c.example")
    version = data_version()
    assert version.scrape_id == behind.pk
    assert version.finished_at == newest.finished_at  # aware, to the microsecond
    assert version.finished_at.utcoffset() == timedelta(0)
    assert version.base_url == "https://b.example"


def test_a_process_reuses_the_data_version_it_read_for_a_second(
    client: Client, table, settings
) -> None:
    settings.DATA_VERSION_MAX_AGE = 1.0
    with time_machine.travel(SCRAPED + timedelta(days=1), tick=False) as traveller:
        etag = client.get("/problems.csv")["ETag"]
        with queries() as done:
            again = client.get("/problems.csv", headers={"If-None-Match": etag})
        assert (again.status_code, done.total) == (304, 0)  # not even the version query
        record_scrape(SCRAPED + timedelta(hours=1), len(table))  # a scrape commits
        traveller.shift(0.9)
        assert client.get("/problems.csv", headers={"If-None-Match": etag}).status_code == 304
        traveller.shift(0.1)  # a second after the version was read: read again
        with queries() as done:
            fresh = client.get("/problems.csv", headers={"If-None-Match": etag})
        assert (fresh.status_code, len(done.version)) == (200, 1)
        assert fresh["ETag"] != etag
        newer = fresh["ETag"]
        traveller.shift(-10)  # a clock set back: the remembered read is not trusted
        record_scrape(SCRAPED + timedelta(hours=2), len(table))
        assert client.get("/problems.csv", headers={"If-None-Match": newer}).status_code == 200


def test_a_process_reuses_a_users_and_a_problems_key_for_a_second(
    client: Client, table, settings
) -> None:
    from core.models import SpojUser

    settings.DATA_VERSION_MAX_AGE = 1.0
    at = SCRAPED + timedelta(days=1)
    user = SpojUser.objects.create(handle="ivan", first_seen=SCRAPED, fetched_at=SCRAPED)
    with time_machine.travel(at, tick=False) as traveller:
        etags = {url: client.get(url)["ETag"] for url in ("/users/ivan/", "/problems/TEST/")}
        for url, etag in etags.items():
            with queries() as done:
                again = client.get(url, headers={"If-None-Match": etag})
            assert (again.status_code, done.total) == (304, 0)  # neither version nor key
        # A fetch of the user and of the problem's tags commit (neither writes a Scrape).
        SpojUser.objects.filter(pk=user.pk).update(fetched_at=at, solved_count=3)
        Problem.objects.filter(code="TEST").update(tags_fetched_at=at)
        traveller.shift(0.9)
        for url, etag in etags.items():
            assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        traveller.shift(0.1)  # a second after the keys were read: read again
        for url, etag in etags.items():
            fresh = client.get(url, headers={"If-None-Match": etag})
            assert fresh.status_code == 200, url
            assert fresh["ETag"] != etag
        assert parse(fresh).select_one("title") is not None
        newer = client.get("/users/ivan/")["ETag"]
        traveller.shift(-10)  # a clock set back: the remembered read is not trusted
        SpojUser.objects.filter(pk=user.pk).update(fetched_at=at + timedelta(hours=1))
        assert client.get("/users/ivan/", headers={"If-None-Match": newer}).status_code == 200


def test_recent_reads_keep_at_most_their_size_and_read_again_what_left(settings) -> None:
    settings.DATA_VERSION_MAX_AGE = 60.0
    reads: list[str] = []

    def read(key: str) -> str:
        reads.append(key)
        return key.upper()

    recent = caching.RecentReads[str, str](size=2)
    assert [recent.get(k, read) for k in ("a", "b", "a", "c", "a", "b")] == list("ABACAB")
    # "a" was read again before "c" came in, so "b" was the least recent and left.
    assert reads == ["a", "b", "c", "b"]
    settings.DATA_VERSION_MAX_AGE = 0.0
    recent.get("a", read)
    assert reads[-1] == "a"  # 0: every get reads


def test_with_no_reuse_every_request_reads_the_version(client: Client, table, settings) -> None:
    settings.DATA_VERSION_MAX_AGE = 0.0
    etag = client.get("/problems.csv")["ETag"]
    record_scrape(SCRAPED + timedelta(hours=1), len(table))
    assert client.get("/problems.csv", headers={"If-None-Match": etag}).status_code == 200


def no_params(request, version) -> dict:
    return {}


@pytest.mark.parametrize("uses", ["session", "csrf token", "cookie", "vary"])
def test_a_page_that_belongs_to_its_visitor_is_neither_stored_nor_public(
    rf, table, uses: str
) -> None:
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import get_token

    def render(request, version):
        response = HttpResponse("<p>yours</p>")
        if uses == "session":
            request.session.get("anything")  # what reading request.user does
        elif uses == "csrf token":
            get_token(request)  # what {% csrf_token %} does
        elif uses == "cookie":
            response.set_cookie("seen", "1")
        else:
            response["Vary"] = "Accept-Encoding, Cookie"
        return response

    view = caching.cached_page("personal", no_params)(render)
    request = rf.get("/personal/")
    request.session = SessionStore()
    response = view(request)
    assert response.status_code == 200
    assert "public" not in response.get("Cache-Control", "")
    assert "ETag" not in response
    assert len(local_pages) == 0


def test_an_anonymous_page_is_stored(rf, table) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    def render(request, version):
        return HttpResponse("<p>everyone's</p>")

    view = caching.cached_page("plain", no_params)(render)
    request = rf.get("/plain/")
    request.session = SessionStore()  # there, but not used
    response = view(request)
    assert "public" in response["Cache-Control"]
    assert len(local_pages) == 1
