"""Real processes for the Heroku end-to-end tests: environments, databases, servers.

Everything here starts real things (the local SPOJ server, gunicorn, honcho, a
throwaway PostgreSQL database) and guarantees they are gone afterwards, even
when a test fails: each started process gets a unique marker in its
environment, which its children inherit, and the clean-up kills every process
that carries it (``/proc/<pid>/environ``), whatever process group it moved to.

Registered as a pytest plugin in ``tests/conftest.py``; ``bench/web.py`` reuses
the plain functions.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest

from tests.support import free_port, throwaway_database, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MARKER_VARIABLE = "SPOJSCORE_E2E_MARKER"
# What a server that is still starting answers with: the wait for it goes on.
NOT_ANSWERING = (OSError, http.client.HTTPException)

# Variables of the developer's or CI's shell that would change what the started
# processes do. CI=true in particular turns Heroku detection off (settings.py).
_DROPPED = ("CI", "DYNO", "PORT", "WEB_CONCURRENCY", "ENVIRONMENT", "TEST_DATABASE_URL")
_DROPPED_PREFIXES = ("DJANGO_", "DATABASE_", "GUNICORN_", "SPOJ_", "SCHEDULED_TASKS_")


def read_procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """Process name -> command line, parsed the way Heroku reads a Procfile."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(.+)", line.strip())
        if match:
            processes[match.group(1)] = match.group(2).strip()
    return processes


def production_env(**extra: str) -> dict[str, str]:
    """A clean production-like environment: DEBUG off, a fresh secret, no CI, no DYNO.

    The virtualenv's ``bin`` comes first on PATH so the Procfile's bare
    ``gunicorn`` and ``python`` resolve to it, as they do on a dyno.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED and not key.startswith(_DROPPED_PREFIXES)
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="false",
        SPOJ_REQUEST_DELAY="0",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> Response:
    """GET without following redirects; any status comes back as a Response."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(request, timeout=timeout) as reply:
            body = reply.read().decode(errors="replace")
            return Response(reply.status, body, dict(reply.headers))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read().decode(errors="replace"), dict(exc.headers))


def http_get_gzip(url: str, timeout: float = 10) -> tuple[dict[str, str], bytes]:
    """GET a 200 with ``Accept-Encoding: gzip``: its headers and its bytes as sent."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with _opener.open(request, timeout=timeout) as reply:
        assert reply.status == 200, (url, reply.status)
        return dict(reply.headers), reply.read()


# --- Processes -------------------------------------------------------------------------


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker``."""
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != "Z":
            pids.append(int(entry.name))
    return pids


@dataclass
class Started:
    """A process started in its own session, its output going to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class ProcessSet:
    """Starts processes and kills all of them and their descendants on ``close``."""

    log_dir: Path
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: list[Started] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, name: str, argv: list[str] | str, env: dict[str, str]) -> Started:
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("wb")
        self._logs.append(log)
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, MARKER_VARIABLE: self.marker},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            shell=isinstance(argv, str),
            start_new_session=True,
        )
        process = Started(name, popen, log_path)
        self.started.append(process)
        return process

    def leftovers(self) -> list[int]:
        return processes_with_marker(self.marker)

    def close(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for _ in range(50):
            pids = self.leftovers()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=5)
        for log in self._logs:
            log.close()


def run_checked(
    argv: list[str] | str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion in ROOT; fail the test with its output if it fails."""
    result = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        shell=isinstance(argv, str),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    command = argv if isinstance(argv, str) else shlex.join(argv)
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def start_spoj_server(processes: ProcessSet, *users: str) -> str:
    """Start the local SPOJ fixture server; return its base URL once it answers.
    ``users`` are generated users it serves too, as ``HANDLE:SOLVED``."""
    port = free_port()
    env = production_env()
    extra = [arg for user in users for arg in ("--user", user)]
    server = processes.start(
        "spoj", [sys.executable, "-m", "tests.spoj_server", "--port", str(port), *extra], env
    )
    base_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert server.alive(), server.output()
        return http_get(f"{base_url}/problems/classical/sort=0,start=0").status == 200

    wait_for(answers, timeout=30, what="the local SPOJ server", retry_on=NOT_ANSWERING)
    return base_url


def start_web(processes: ProcessSet, env: dict[str, str]) -> tuple[Started, str]:
    """Start the Procfile's ``web`` command on a free port; return it and its URL."""
    port = free_port()
    web = processes.start("web", read_procfile()["web"], {**env, "PORT": str(port)})
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert web.alive(), web.output()
        return http_get(f"{url}/healthz").status == 200

    wait_for(answers, timeout=60, what=f"gunicorn on {url}", retry_on=NOT_ANSWERING)
    return web, url


# --- Databases --------------------------------------------------------------------------


def query(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """Rows of one SQL statement against the e2e database (read-only use)."""
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30)
        try:
            return conn.execute(statement).fetchall()
        finally:
            conn.close()
    with psycopg.connect(database_url) as pg:
        return pg.execute(statement).fetchall()


def task_run_statuses(database_url: str) -> list[tuple[str, str]]:
    """(task, status) of every recorded run; empty before the table exists."""
    try:
        rows = query(database_url, "SELECT task, status FROM core_taskrun ORDER BY id")
    except (sqlite3.Error, psycopg.Error):
        return []
    return [(str(task), str(status)) for task, status in rows]


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture
def e2e_processes(tmp_path: Path) -> Iterator[ProcessSet]:
    """Start processes through this; every one (and its descendants) is killed at the end."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    started = ProcessSet(log_dir)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def e2e_database(tmp_path: Path) -> Iterator[str]:
    """A new database for one test: SQLite, or PostgreSQL on TEST_DATABASE_URL's server."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    with throwaway_database(server_url, prefix="spoj_e2e_", sqlite_dir=tmp_path) as url:
        yield url


@pytest.fixture
def spoj_base_url(tmp_path: Path) -> Iterator[str]:
    """The local SPOJ server's URL; a process set of its own, so the processes a test
    starts through ``processes`` can be checked for leftovers without it."""
    log_dir = tmp_path / "spoj-logs"
    log_dir.mkdir()
    server = ProcessSet(log_dir)
    try:
        yield start_spoj_server(server)
    finally:
        server.close()
