"""Fixtures for tests that start real processes (clocks, runtasks, manage.py <task>).

Every process is started in its own session, so that ``kill_all`` (always run
by the fixture's finalizer) can SIGKILL it *and* every process it forked — task
children put themselves in their own process group but stay in the session.
Waits are bounded polls (``wait_for``); nothing here depends on how fast the
machine is, only on generous upper bounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import TaskSpec
from tests.support import wait_for

# Short timings for the processes: heartbeats, stale runs, polls and graces in seconds.
FAST_TIMINGS = {
    "SCHEDULED_TASKS_HEARTBEAT": "0.5",
    "SCHEDULED_TASKS_STALE_AFTER": "3",
    "SCHEDULED_TASKS_POLL": "0.5",
    "SCHEDULED_TASKS_KILL_GRACE": "1",
    "SCHEDULED_TASKS_SHUTDOWN_GRACE": "3",
}


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for the database ``settings_dict`` describes (the test database)."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def started_run(task: str) -> Any:
    """Wait for a run of ``task`` whose child has stamped ``started_at``; return it."""
    from core.models import Status, TaskRun

    return wait_for(
        lambda: TaskRun.objects.filter(
            task=task, status=Status.RUNNING, started_at__isnull=False
        ).first(),
        timeout=30,
        what=f"a started run of {task}",
    )


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def session_members(sessions: set[int]) -> list[int]:
    """Pids of live processes in any of ``sessions``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, session.
        if fields[0] != "Z" and int(fields[3]) in sessions:
            pids.append(int(entry.name))
    return pids


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines ``record_run`` appended (none if the file does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def record_task(path: Path, **options: Any) -> dict[str, Any]:
    """A SCHEDULED_TASKS entry running ``record_run`` with ``path`` (plus record_run flags)."""
    args = ["--file", str(path)]
    for flag in ("sleep", "tag"):
        if flag in options:
            args += [f"--{flag}", str(options.pop(flag))]
    for flag in ("fail", "ignore_term", "beat", "grandchild"):
        if options.pop(flag, False):
            args.append("--" + flag.replace("_", "-"))
    return {"command": "record_run", "args": args, **options}


def latest_tick(spec: TaskSpec) -> datetime:
    """The latest tick of ``spec`` now (its interval must be 3 s or less)."""
    now = timezone.now()
    return spec.ticks_between(now - timedelta(seconds=3), now)[-1]


def seed_last_run(task: str, tick: datetime) -> TaskRun:
    """A clock run of ``task`` that succeeded at ``tick``: clocks started now go on from
    there rather than catch up on the ticks of the starting deadline."""
    return TaskRun.objects.create(
        task=task,
        scheduled_for=tick,
        trigger=Trigger.CLOCK,
        status=Status.SUCCEEDED,
        started_at=tick,
        finished_at=tick,
    )


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """The exit code; fails the test (with the log) if it has not exited in ``timeout`` s."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} (pid {self.pid}) still running after {timeout:g} s; "
                f"its log:\n{self.output()[-4000:]}"
            ) from None


class Processes:
    """Starts processes against the test database; kills them all at the end."""

    def __init__(self, workdir: Path, db_url: str) -> None:
        self.workdir = workdir
        self.db_url = db_url
        self.started: list[Proc] = []

    def env(self, tasks: dict[str, Any], **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DYNO", "DATABASE_URL")}
        env.update(FAST_TIMINGS)
        env.update(
            DJANGO_SETTINGS_MODULE="tests.proc_settings",
            DJANGO_SECRET_KEY="tests-only-not-a-secret",
            TEST_PROC_DATABASE_URL=self.db_url,
            TEST_SCHEDULED_TASKS=json.dumps(tasks),
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env

    def start(self, argv: list[str], tasks: dict[str, Any], name: str, **env: str) -> Proc:
        log = self.workdir / f"{name}-{len(self.started)}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *argv],
                cwd=settings.BASE_DIR,
                env=self.env(tasks, **env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def clock(self, tasks: dict[str, Any], name: str = "clock", **env: str) -> Proc:
        """``python clock.py``, the clock dyno's command."""
        return self.start(["clock.py"], tasks, name, **env)

    def worker(
        self,
        tasks: dict[str, Any],
        broker: dict[str, str],
        *,
        concurrency: int = 1,
        name: str = "worker",
        wait: bool = True,
        **env: str,
    ) -> Proc:
        """A Celery worker (``celery -A spojscore worker``, as the Procfile's ``worker``).

        ``broker``: the celery environment from ``tests.brokers`` (its own queue).
        Waits until the worker says it is ready, unless ``wait`` is false.
        """
        from tests.brokers import ready, worker_argv

        # The node name names the worker's pidbox queue, exclusive on RabbitMQ: unique to
        # this test's queue, or two tests starting "worker-0" at once collide (RESOURCE_LOCKED).
        node = f"{name}-{len(self.started)}.{broker.get('CELERY_QUEUE', 'celery')}"
        argv = worker_argv(concurrency, node)
        proc = self.start(argv, tasks, name, **broker, **env)
        if wait:
            wait_for(lambda: ready(proc) or proc.popen.poll() is not None, 60, f"{name} ready")
            if proc.popen.poll() is not None:
                raise AssertionError(f"{name} exited at start; its log:\n{proc.output()[-4000:]}")
        return proc

    def manage(
        self, args: list[str], tasks: dict[str, Any], timeout: float = 60, **env: str
    ) -> tuple[int, str]:
        """Run ``python manage.py ARGS`` to the end; its exit code and output."""
        proc = self.start(["manage.py", *args], tasks, args[0], **env)
        code = proc.wait(timeout)
        return code, proc.output()

    def kill_all(self) -> None:
        sessions = {proc.pid for proc in self.started}
        for _ in range(50):
            pids = session_members(sessions)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        for proc in self.started:
            if proc.popen.poll() is None:
                proc.popen.wait(5)


@pytest.fixture
def processes(transactional_db: None, tmp_path: Path) -> Iterator[Processes]:
    """Start clocks and commands against the test database (needs transaction=True tests)."""
    procs = Processes(tmp_path, database_url(connection.settings_dict))
    try:
        yield procs
    finally:
        procs.kill_all()


@pytest.fixture
def records_file(tmp_path: Path) -> Path:
    return tmp_path / "runs.jsonl"


@pytest.fixture
def make_supervisor() -> Iterator[Callable[..., Any]]:
    """Build in-process ``Supervisor``s with timing settings; their children are killed after."""
    from django.test import override_settings

    from core.scheduling.supervisor import Supervisor

    made: list[Supervisor] = []

    def make(*, wakeup: bool = False, **timings: float) -> Supervisor:
        with override_settings(**{f"SCHEDULED_TASKS_{k.upper()}": v for k, v in timings.items()}):
            sup = Supervisor()
        if wakeup:
            sup.install_wakeup()
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup.interrupt_all(0, sig=signal.SIGKILL)
        sup.run_to_end(time.monotonic() + 10)
        sup.close()
