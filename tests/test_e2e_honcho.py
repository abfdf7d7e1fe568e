"""The Procfile under a real Procfile runner: web and clock scrape and serve, then stop cleanly.

``honcho start web clock`` reads the Procfile and an ``.env`` file the way
``heroku local`` does, with production settings (DEBUG off, a secret, WhiteNoise
manifest storage; no DYNO, so no HTTPS redirect), the local SPOJ server as
SPOJ_BASE_URL and a 5-second scrape schedule (``tests/e2e_settings.py``), on a
database prepared by the Procfile's release command.

honcho kills what is left 5 s after its first SIGTERM; Heroku waits 30 s
(https://devcenter.heroku.com/articles/dyno-shutdown-behavior), so honcho is
started with that grace period, and the test checks that it never needed it.
"""

import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.heroku_e2e import (
    NOT_ANSWERING,
    ROOT,
    ProcessSet,
    Started,
    free_port,
    http_get,
    manage,
    production_env,
    query,
    read_procfile,
    run_checked,
    task_run_statuses,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HONCHO_WITH_HEROKUS_GRACE = (
    "import sys, honcho.manager; honcho.manager.KILL_WAIT = 30;"
    "from honcho.command import main; sys.argv[0] = 'honcho'; main()"
)


def start_honcho(
    tmp_path: Path,
    e2e_processes: ProcessSet,
    database_url: str,
    spoj_base_url: str,
    delay: str,
    processes: tuple[str, ...] = ("web", "clock"),
    **extra: str,
) -> tuple[Started, str]:
    """Build, release, then ``honcho start web clock`` on a free port; return it and its URL."""
    config = {
        "DJANGO_SECRET_KEY": production_env()["DJANGO_SECRET_KEY"],
        "DJANGO_SETTINGS_MODULE": "tests.e2e_settings",
        "DATABASE_URL": database_url,
        "SPOJ_BASE_URL": spoj_base_url,
        "SPOJ_REQUEST_DELAY": delay,
        "E2E_STATIC_ROOT": str(tmp_path / "static"),
        "WEB_CONCURRENCY": "2",
        **extra,
    }
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in config.items()))
    # The build step and the release phase, as Heroku runs them before the dynos start.
    build_env = production_env(**config)
    run_checked(manage("collectstatic", "--no-input"), build_env)
    run_checked(read_procfile()["release"], build_env)

    # Only the .env file carries the configuration, as with `heroku local`.
    runner_env = production_env()
    del runner_env["DJANGO_SECRET_KEY"]
    port = free_port()
    options = ["-f", str(ROOT / "Procfile"), "-e", str(env_file), "-d", str(ROOT), "-p", str(port)]
    honcho = e2e_processes.start(
        "honcho",
        [sys.executable, "-c", HONCHO_WITH_HEROKUS_GRACE, "start", *options, *processes],
        runner_env,
    )
    return honcho, f"http://127.0.0.1:{port}"


def stop_like_heroku(honcho: Started, e2e_processes: ProcessSet) -> str:
    """SIGTERM to the runner; check everything exits in time without a SIGKILL."""
    started = time.monotonic()
    os.kill(honcho.pid, signal.SIGTERM)
    honcho.popen.wait(timeout=35)
    assert time.monotonic() - started < 30
    wait_for(lambda: not e2e_processes.leftovers(), timeout=5, what="every process to exit")
    output = honcho.output()
    assert "SIGKILL" not in output, output[-3000:]
    assert "web.1 stopped" in output
    assert "clock.1 stopped" in output
    return output


def test_web_and_clock_scrape_serve_and_stop_cleanly_on_sigterm(
    tmp_path, e2e_processes, e2e_database, spoj_base_url
):
    honcho, url = start_honcho(tmp_path, e2e_processes, e2e_database, spoj_base_url, delay="0")

    def scraped_and_served() -> bool:
        assert honcho.alive(), honcho.output()
        found = http_get(f"{url}/?q=PRIME1")
        return (
            ("scrape_spoj", "succeeded") in task_run_statuses(e2e_database)
            and found.status == 200
            and "Prime Generator" in found.body
        )

    wait_for(
        scraped_and_served,
        timeout=90,
        interval=1,
        what="a scrape by the clock",
        retry_on=NOT_ANSWERING,
    )
    assert http_get(f"{url}/healthz").status == 200
    assert "gunicorn method=GET" in honcho.output()  # access log on stdout
    assert len(e2e_processes.leftovers()) >= 4  # honcho, gunicorn master + workers, clock

    stop_like_heroku(honcho, e2e_processes)
    assert ("scrape_spoj", "running") not in task_run_statuses(e2e_database)


def test_sigterm_during_a_scrape_records_it_interrupted_and_stops_in_time(
    tmp_path, e2e_processes, e2e_database, spoj_base_url
):
    # A 0.5 s pause between list pages: the scrape takes about 40 s, so it is
    # running when the dyno is told to stop.
    honcho, _ = start_honcho(tmp_path, e2e_processes, e2e_database, spoj_base_url, delay="0.5")
    wait_for(
        lambda: ("scrape_spoj", "running") in task_run_statuses(e2e_database),
        timeout=60,
        what="a running scrape",
    )

    stop_like_heroku(honcho, e2e_processes)
    statuses = task_run_statuses(e2e_database)
    assert ("scrape_spoj", "running") not in statuses
    assert ("scrape_spoj", "interrupted") in statuses
    assert ("scrape_spoj", "succeeded") not in statuses
    # All or nothing: the interrupted scrape wrote no problem.
    assert query(e2e_database, "SELECT count(*) FROM core_problem") == [(0,)]


def test_web_clock_and_a_celery_worker_fill_the_table_and_stop_cleanly(
    tmp_path, e2e_processes, e2e_database, spoj_base_url
):
    # What a deployed app switched to workers runs: the executor set to celery,
    # REDIS_URL from a Key-Value Store add-on, and `worker` in the formation.
    from tests.brokers import REDIS_URL, require_broker

    require_broker("redis")
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    honcho, url = start_honcho(
        tmp_path,
        e2e_processes,
        e2e_database,
        spoj_base_url,
        delay="0",
        processes=("web", "clock", "worker"),
        SCHEDULED_TASKS_EXECUTOR="celery",
        REDIS_URL=REDIS_URL,
        CELERY_QUEUE=queue,
        CELERY_CONCURRENCY="1",
    )

    def filled_and_served() -> bool:
        assert honcho.alive(), honcho.output()
        found = http_get(f"{url}/?q=PRIME1")
        return (
            ("scrape_spoj", "succeeded") in task_run_statuses(e2e_database)
            and found.status == 200
            and "Prime Generator" in found.body
        )

    wait_for(
        filled_and_served,
        timeout=120,
        interval=1,
        what="a scrape executed by the worker",
        retry_on=NOT_ANSWERING,
    )
    (run_id,) = query(
        e2e_database,
        "SELECT min(id) FROM core_taskrun WHERE task = 'scrape_spoj' AND status = 'succeeded'",
    )[0]
    output = honcho.output()
    # The clock sent it; the worker's child ran it; the clock ran nothing itself.
    assert re.search(rf"clock\.1 .*sent scrape_spoj run #{run_id} to the workers", output)
    assert re.search(rf"worker\.1 .*started scrape_spoj run #{run_id} in pid", output)
    assert not re.search(r"clock\.1 .*started scrape_spoj run", output)
    assert query(e2e_database, "SELECT count(*) FROM core_problem")[0][0] > 3000

    output = stop_like_heroku(honcho, e2e_processes)
    assert "worker.1 stopped" in output
    assert ("scrape_spoj", "running") not in task_run_statuses(e2e_database)
