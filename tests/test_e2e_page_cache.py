"""Two web dynos share the page cache: a page rendered by one is served by the other.

Two gunicorns, as two dynos would run them (the Procfile's ``web`` line,
production settings, each with its own processes and memory), on one database
after the release phase and a real scrape. The JSON export says when it was
generated, so an answer rendered anew would differ from one served from the
shared cache.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.heroku_e2e import (
    ProcessSet,
    Response,
    http_get,
    http_get_gzip,
    manage,
    production_env,
    query,
    read_procfile,
    run_checked,
    start_web,
)
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_page_rendered_by_one_dyno_is_served_by_the_other_and_changes_with_a_scrape(
    tmp_path: Path, e2e_processes: ProcessSet, e2e_database: str, spoj_base_url: str
) -> None:
    env = production_env(
        DATABASE_URL=e2e_database,
        DJANGO_SETTINGS_MODULE="tests.e2e_settings",
        E2E_STATIC_ROOT=str(tmp_path / "static"),
        SPOJ_BASE_URL=spoj_base_url,
        WEB_CONCURRENCY="1",
    )
    run_checked(manage("collectstatic", "--no-input"), env)
    run_checked(read_procfile()["release"], env)
    run_checked(manage("scrape_spoj"), env)
    _, one = start_web(e2e_processes, env)
    _, other = start_web(e2e_processes, env)

    first = http_get(f"{one}/problems.json")
    assert first.status == 200
    assert "public" in first.headers["Cache-Control"]
    second = http_get(f"{other}/problems.json")
    assert second.status == 200
    assert second.headers["ETag"] == first.headers["ETag"]
    # The same document, generated_at included: not rendered a second time.
    assert json.loads(second.body) == json.loads(first.body)
    assert query(e2e_database, "SELECT count(*) FROM spojscore_cache")[0][0] >= 1
    # Asked for gzip, the other dyno sends the stored gzip bytes of the same document.
    headers, gzipped = http_get_gzip(f"{other}/problems.json")
    assert headers["Content-Encoding"] == "gzip"
    assert headers["ETag"] == "W/" + first.headers["ETag"]
    assert headers["Vary"] == "Accept-Encoding"
    assert int(headers["Content-Length"]) == len(gzipped) < len(first.body.encode()) / 4
    assert json.loads(gzip.decompress(gzipped)) == json.loads(first.body)

    revalidated = http_get(f"{other}/problems.json", {"If-None-Match": first.headers["ETag"]})
    assert (revalidated.status, revalidated.body) == (304, "")

    # A scrape moves the data version: both dynos answer the old ETag with new data,
    # within DATA_VERSION_MAX_AGE (1 s) of its commit.
    run_checked(manage("scrape_spoj"), env)
    for base in (one, other):

        def fresh(base: str = base) -> Response | None:
            reply = http_get(f"{base}/problems.json", {"If-None-Match": first.headers["ETag"]})
            return reply if reply.status == 200 else None

        answer = wait_for(fresh, timeout=3, what=f"new data from {base}")
        assert answer.headers["ETag"] != first.headers["ETag"]
        assert json.loads(answer.body)["last_scrape"] != json.loads(first.body)["last_scrape"]
