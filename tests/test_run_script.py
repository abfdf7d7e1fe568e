"""scripts/run.sh (``make run``) as a real process: migrate, load the snapshot, serve."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port

pytestmark = pytest.mark.any_database  # see tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_run_sh_falls_back_to_the_snapshot_and_serves_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        # A closed local port: "SPOJ is unreachable" without going near the internet.
        "SPOJ_BASE_URL": "http://127.0.0.1:9",
        "PORT": str(port),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("ENVIRONMENT", None)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # runserver's reloader child goes with it
        )
    try:
        body = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.2)
        output = log.read_text()
        assert body == b'{"status": "ok"}', output
        assert "==> http://127.0.0.1:9 is unreachable" in output
        assert "Scraped 3971 problems from 81 pages" in output
        assert "==> Data source: local fake SPOJ at http://127.0.0.1:" in output
        assert (
            "==> Loading users from the local fake SPOJ: kosaksi demo_ana demo_ben demo_chen"
            in output
        )
        assert "could not be loaded" not in output
        # The user pages and the tag filter have something to show.
        with sqlite3.connect(tmp_path / "run.sqlite3") as db:
            users = dict(db.execute("SELECT handle, solved_count FROM core_spojuser"))
            tagged = db.execute(
                "SELECT COUNT(DISTINCT problem_id) FROM core_problem_tags"
            ).fetchone()
            fetched = db.execute(
                "SELECT COUNT(*) FROM core_problem WHERE tags_fetched_at IS NULL"
            ).fetchone()
        assert users == {"kosaksi": 70, "demo_ana": 120, "demo_ben": 77, "demo_chen": 400}
        assert tagged == (70,)  # the 71 problems of demo_tags.json but TOUR, which has none
        assert fetched == (3971 - 71,)  # only the demo's problems are read
        assert "==> Loading the demo's tags of 71 problems from the local fake SPOJ" in output
        # The fake SPOJ it started for the scrape was stopped before serving.
        fake_spoj = subprocess.run(
            ["pgrep", "-s", str(process.pid), "-f", "tests.spoj_server"], capture_output=True
        )
        assert fake_spoj.returncode == 1, fake_spoj.stdout
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
