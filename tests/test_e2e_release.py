"""The release phase prepares a fresh database, and the web process then serves the app.

Runs the Procfile's own command lines (parsed from the file, run through the
shell as Heroku does) against a new database: SQLite, or a throwaway
PostgreSQL database when TEST_DATABASE_URL names a PostgreSQL server.
"""

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.heroku_e2e import (
    ProcessSet,
    http_get,
    manage,
    production_env,
    query,
    read_procfile,
    run_checked,
    start_web,
    task_run_statuses,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def built_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a dyno after the build step (static files collected)."""
    env = production_env(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="tests.e2e_settings",
        E2E_STATIC_ROOT=str(tmp_path / "static"),
        **extra,
    )
    run_checked(manage("collectstatic", "--no-input"), env)
    return env


def gunicorn_pids(e2e_processes: ProcessSet) -> list[int]:
    """Live gunicorn e2e_processes (master and workers) started by this test."""
    pids = []
    for pid in e2e_processes.leftovers():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"/gunicorn") for arg in argv):
            pids.append(pid)
    return pids


def test_the_release_command_migrates_a_fresh_database_that_the_web_process_serves(
    tmp_path, e2e_processes, e2e_database
):
    env = built_env(tmp_path, e2e_database, WEB_CONCURRENCY="2")
    assert task_run_statuses(e2e_database) == []

    run_checked(read_procfile()["release"], env)

    applied = query(e2e_database, "SELECT app, name FROM django_migrations")
    assert ("core", "0001_initial") in {(str(app), str(name)) for app, name in applied}
    assert query(e2e_database, "SELECT count(*) FROM core_taskrun") == [(0,)]
    # The page cache's table comes with the migration (core/apps.py), empty.
    assert query(e2e_database, "SELECT count(*) FROM spojscore_cache") == [(0,)]

    web, url = start_web(e2e_processes, env)
    health = http_get(f"{url}/healthz")
    assert health.status == 200
    assert json.loads(health.body) == {"status": "ok"}
    home = http_get(f"{url}/")
    assert home.status == 200, home.body[:500]
    assert 'name="q"' in home.body  # the score page's search box, on an empty table
    # Static files: hashed names from the manifest, served by WhiteNoise, compressed.
    stylesheets = re.findall(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', home.body)
    assert stylesheets, home.body[:1000]
    css = http_get(f"{url}{stylesheets[0]}", {"Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.headers.get("Content-Encoding") == "gzip"
    assert "max-age=315360000" in css.headers["Cache-Control"]
    # WEB_CONCURRENCY=2: one master and two workers.
    wait_for(lambda: len(gunicorn_pids(e2e_processes)) == 3, timeout=20, what="2 gunicorn workers")

    # Heroku stops a dyno with SIGTERM (to every process) and SIGKILLs 30 s later.
    started = time.monotonic()
    os.killpg(web.pid, signal.SIGTERM)
    web.popen.wait(timeout=30)
    assert time.monotonic() - started < 25
    wait_for(lambda: not gunicorn_pids(e2e_processes), timeout=5, what="gunicorn to exit")
    assert "Shutting down" in web.output()


def test_behind_herokus_router_plain_http_is_redirected_to_https(
    tmp_path, e2e_processes, e2e_database
):
    env = built_env(tmp_path, e2e_database, DYNO="web.1")
    run_checked(read_procfile()["release"], env)
    _, url = start_web(e2e_processes, env)  # /healthz answers over plain HTTP (exempt)

    plain = http_get(f"{url}/admin/login/")
    assert plain.status == 301
    assert plain.headers["Location"].startswith("https://")

    # What the router sends after terminating TLS.
    routed = http_get(f"{url}/admin/login/", {"X-Forwarded-Proto": "https"})
    assert routed.status == 200
    assert "max-age=31536000" in routed.headers["Strict-Transport-Security"]
    assert "Secure" in routed.headers["Set-Cookie"]  # the CSRF cookie
