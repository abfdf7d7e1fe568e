"""Guarantee 7 against a real database restart: a private PostgreSQL server is
stopped under a running clock, once while it sleeps and once while a task runs.

The clock process survives both outages (no restart), logs the database error,
backs off, and runs later ticks once the server is back. The run that was in
flight when the database went away finished during the outage; the clock keeps
its outcome in memory and writes it when the database returns, so it ends
``succeeded`` (its own clock never reaps it as abandoned).

The server is private to this test (initdb into a temporary directory, a free
port): the shared server other tests use is never touched. This test needs only
the PostgreSQL binaries, not the pass's database, so the two-pass run
(scripts/test.sh) runs it once, in the SQLite pass.

It runs the server as the ``postgres`` user through ``runuser``, which needs
root: as another user it is skipped, saying so. As root (as CI runs), missing
server binaries, ``runuser`` or ``postgres`` user skip it too, except under
CI=true, where they fail it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.processes import Processes
from tests.support import free_port, unavailable, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.any_database]

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


class PrivatePostgres:
    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def init(self) -> None:
        self._as_postgres(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            *("-D", str(self.data), "-o", options, "-l", str(self.root / "server.log")),
            *("-w", "-t", "30", "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"
        )

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url("spoj_restart"), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


def missing_for_a_private_server() -> str | None:
    """What is missing to run a private PostgreSQL server as root, or None."""
    if not PG_BINS:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if not shutil.which("runuser"):
        return "runuser (util-linux) is not installed"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user to run the private server as"
    return None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the private PostgreSQL server runs as postgres via runuser")
    missing = missing_for_a_private_server()
    if missing:
        unavailable(missing)
    root = Path(tempfile.mkdtemp(prefix="spoj-pg-"))
    shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(Path(PG_BINS[-1]).parent, root, free_port())
    try:
        server.init()
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE spoj_restart")
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.stop("immediate")  # fails harmlessly if it is not running
        shutil.rmtree(root, ignore_errors=True)


def test_the_clock_survives_database_restarts_and_records_the_run_in_flight(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    pg = private_postgres
    processes = Processes(tmp_path, pg.url("spoj_restart"))
    tasks = {
        "quick": {"command": "shell", "args": ["-c", "print('tick')"], "every": 2},
        "slow": {
            "command": "shell",
            "args": ["-c", "import time; time.sleep(4)"],
            "schedule": "0 0 1 1 *",
        },
    }

    def succeeded_after(task: str, moment: float) -> bool:
        return bool(
            pg.query(
                "SELECT 1 FROM core_taskrun WHERE task = %s AND status = 'succeeded' "
                "AND scheduled_for > to_timestamp(%s)",
                task,
                moment,
            )
        )

    try:
        code, output = processes.manage(["migrate", "-v0"], tasks)
        assert code == 0, output
        # A lease (stale window) longer than the outages: a run in flight survives
        # them. Shorter outages than the lease are what "survives" means; a
        # longer one costs the run its lease (tests/test_lease.py).
        clock = processes.clock(tasks, SCHEDULED_TASKS_STALE_AFTER="20")
        wait_for(lambda: succeeded_after("quick", 0), timeout=30, what="a first quick run")

        # Outage 1: while the clock sleeps between ticks.
        wait_for(
            lambda: not pg.query("SELECT 1 FROM core_taskrun WHERE status = 'running'"),
            timeout=10,
            what="no run in flight",
        )
        pg.stop()
        time.sleep(4)
        assert clock.popen.poll() is None
        pg.start()
        back = time.time()
        wait_for(
            lambda: succeeded_after("quick", back), timeout=40, what="a tick after the restart"
        )

        # Outage 2: while a task runs (a "run now" request for the 4 s task).
        pg.query(
            "INSERT INTO core_taskrun (task, scheduled_for, attempt, trigger, status, "
            "exclusive, created_at, host, error, output) VALUES "
            "('slow', now(), 1, 'admin', 'queued', true, now(), '', '', '') RETURNING id"
        )
        wait_for(
            lambda: pg.query(
                "SELECT 1 FROM core_taskrun WHERE task = 'slow' AND status = 'running' "
                "AND started_at IS NOT NULL"
            ),
            timeout=20,
            what="the slow run to start",
        )
        pg.stop()
        time.sleep(5)  # the slow run ends while the database is down
        assert clock.popen.poll() is None
        pg.start()
        back = time.time()
        slow = wait_for(
            lambda: pg.query(
                "SELECT status, exit_code FROM core_taskrun "
                "WHERE task = 'slow' AND status <> 'running'"
            ),
            timeout=40,
            what="the slow run to be recorded",
        )
        assert slow == [("succeeded", 0)]
        wait_for(
            lambda: succeeded_after("quick", back), timeout=40, what="a tick after the restart"
        )

        assert clock.popen.poll() is None  # never restarted
        clock.signal(signal.SIGTERM)
        assert clock.wait(25) == 0
        log = clock.output()
        assert "database unavailable" in log
        assert not pg.query("SELECT 1 FROM core_taskrun WHERE status IN ('running', 'queued')")
    finally:
        processes.kill_all()
