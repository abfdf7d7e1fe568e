"""``/users/``: the lookup form, validation, queueing (never a scrape in the request)
and the rate limit."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.models import Status, TaskRun
from core.web import lookup
from tests.support import free_port
from tests.test_views_users import make_user
from tests.web_data import parse, record_scrape


@pytest.fixture(autouse=True)
def one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request of a test falls in the same rate-limit window."""
    monkeypatch.setattr(lookup, "_window", lambda: 1_000_000)


@pytest.fixture
def scraped(db: None) -> None:
    record_scrape(timezone.now() - timedelta(hours=1), 0)


def runs() -> list[tuple[str, list[str] | None, str, str]]:
    return [(r.task, r.args, r.status, r.requested_by) for r in TaskRun.objects.order_by("id")]


def test_the_form_carries_a_csrf_token_and_is_not_cached(client: Client, scraped: None) -> None:
    response = client.get("/users/")
    assert response.status_code == 200
    form = parse(response).select_one("form.lookup")
    assert form["method"] == "post"
    assert form.select_one("input[name=csrfmiddlewaretoken]")["value"]
    assert "no-cache" in response["Cache-Control"]
    assert not response.has_header("ETag")


def test_a_post_without_the_csrf_token_is_refused(scraped: None) -> None:
    response = Client(enforce_csrf_checks=True).post("/users/", {"handle": "newbie"})
    assert response.status_code == 403
    assert runs() == []


def test_a_known_handle_redirects_to_its_page(client: Client, scraped: None) -> None:
    make_user("kosaksi", ["AAA"])
    response = client.post("/users/", {"handle": "  KoSaKsi "})
    assert (response.status_code, response["Location"]) == (302, "/users/kosaksi/")
    assert runs() == []


def test_an_unknown_handle_is_queued_once_and_its_page_refreshes_itself(
    client: Client, scraped: None
) -> None:
    response = client.post("/users/", {"handle": "newbie_42"})
    assert (response.status_code, response["Location"]) == (302, "/users/newbie_42/")
    assert runs() == [("scrape_spoj_users", ["newbie_42"], Status.QUEUED, "web")]
    page = client.get("/users/newbie_42/")
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert not page.has_header("ETag")
    refresh = parse(page).select_one('meta[http-equiv="refresh"]')
    assert refresh["content"] == "5"
    assert "being fetched" in page.content.decode()
    # Asked again (and while running): no second run.
    client.post("/users/", {"handle": "newbie_42"})
    TaskRun.objects.update(status=Status.RUNNING)
    again = client.post("/users/", {"handle": "NEWBIE_42"})
    assert again["Location"] == "/users/newbie_42/"
    assert len(runs()) == 1
    # Failed: the page is a 404 offering the lookup again, without a refresh.
    TaskRun.objects.update(status=Status.FAILED, finished_at=timezone.now())
    missing = client.get("/users/newbie_42/")
    assert missing.status_code == 404
    assert parse(missing).select_one('meta[http-equiv="refresh"]') is None
    assert "last lookup of newbie_42 failed" in missing.content.decode()
    client.post("/users/", {"handle": "newbie_42"})
    assert len(runs()) == 2


@pytest.mark.parametrize(
    "handle",
    ["", "a", "x" * 33, "bad-handle", "semi;colon", "<script>", "ünï", "a b", "ab\x00"],
)
def test_bad_handles_are_refused_without_queueing(
    client: Client, scraped: None, handle: str
) -> None:
    response = client.post("/users/", {"handle": handle})
    assert response.status_code == 400
    assert "2 to 32 letters, digits or underscores" in response.content.decode()
    assert "<script>" not in parse(response).select_one("main").decode_contents()
    assert runs() == []


def test_the_longest_and_shortest_handles_are_accepted(client: Client, scraped: None) -> None:
    for handle in ("ab", "z" * 32):
        assert client.post("/users/", {"handle": handle}).status_code == 302
    assert [r[1] for r in runs()] == [["ab"], ["z" * 32]]


def test_a_client_gets_a_few_new_lookups_a_minute(
    client: Client, scraped: None, settings: object
) -> None:
    settings.USER_LOOKUPS_PER_CLIENT_PER_MINUTE = 3  # type: ignore[attr-defined]
    settings.USER_LOOKUPS_PER_MINUTE = 100  # type: ignore[attr-defined]
    codes = [client.post("/users/", {"handle": f"user_{i}"}).status_code for i in range(5)]
    assert codes == [302, 302, 302, 429, 429]
    assert len(runs()) == 3
    refused = client.post("/users/", {"handle": "user_9"})
    assert refused["Retry-After"] == "60"
    # Another client still may; known handles and queued ones are not counted.
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post("/users/", {"handle": "user_7"}).status_code == 302
    assert client.post("/users/", {"handle": "user_0"}).status_code == 302
    assert len(runs()) == 4


def test_everyone_together_gets_a_limited_number(scraped: None, settings: object) -> None:
    settings.USER_LOOKUPS_PER_CLIENT_PER_MINUTE = 3  # type: ignore[attr-defined]
    settings.USER_LOOKUPS_PER_MINUTE = 4  # type: ignore[attr-defined]
    codes = [
        Client(REMOTE_ADDR=f"10.0.1.{i}").post("/users/", {"handle": f"many_{i}"}).status_code
        for i in range(6)
    ]
    assert codes == [302, 302, 302, 302, 429, 429]
    assert len(runs()) == 4


def test_the_limit_resets_in_the_next_minute(
    client: Client, scraped: None, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.USER_LOOKUPS_PER_CLIENT_PER_MINUTE = 1  # type: ignore[attr-defined]
    assert client.post("/users/", {"handle": "first"}).status_code == 302
    assert client.post("/users/", {"handle": "second"}).status_code == 429
    monkeypatch.setattr(lookup, "_window", lambda: 1_000_001)
    assert client.post("/users/", {"handle": "second"}).status_code == 302


def test_on_heroku_the_client_is_the_routers_last_forwarded_address(
    scraped: None, settings: object
) -> None:
    settings.IS_HEROKU_APP = True  # type: ignore[attr-defined]
    settings.USER_LOOKUPS_PER_CLIENT_PER_MINUTE = 1  # type: ignore[attr-defined]
    # The client may send any X-Forwarded-For; the router appends the real address.
    spoofing = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
    assert spoofing.post("/users/", {"handle": "one"}).status_code == 302
    again = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="2.2.2.2, 203.0.113.7")
    assert again.post("/users/", {"handle": "two"}).status_code == 429


def test_a_failing_cache_refuses_new_lookups_and_says_so(
    client: Client, scraped: None, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    make_user("known", [])
    settings.CACHES = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with caplog.at_level(logging.WARNING, logger="core.web.lookup"):
        refused = client.post("/users/", {"handle": "newcomer"})
    assert refused.status_code == 429
    assert runs() == []
    assert any("rate-limit counters failed" in r.getMessage() for r in caplog.records)
    assert client.post("/users/", {"handle": "known"})["Location"] == "/users/known/"
