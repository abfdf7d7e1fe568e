"""Real brokers for the celery executor's tests: Redis and RabbitMQ on 127.0.0.1, real workers.

The machine's Redis (6379) and RabbitMQ (5672, guest/guest) are shared by
every test: each test gets its own queue (``CELERY_QUEUE``), so workers of one
test never take another's messages (run ids repeat across test databases).
A test that must stop its broker starts a private ``redis-server`` on a free
port (:class:`PrivateRedis`) and stops and restarts that one.

A broker that is not there skips its tests, except under CI=true, where it
fails them (``tests.support.unavailable``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import session_members
from tests.support import unavailable, wait_for

REDIS_URL = "redis://127.0.0.1:6379/7"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
BROKERS = {"redis": REDIS_URL, "rabbitmq": AMQP_URL}

# Worker processes without the chatter a test does not need (as in the Procfile).
WORKER_FLAGS = ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_broker(name: str) -> str:
    """The URL of broker ``name``; skips (fails under CI=true) if it does not answer."""
    url = BROKERS[name]
    port = 6379 if name == "redis" else 5672
    if not listening(port):
        unavailable(f"{name} is not running on 127.0.0.1:{port} (start it: see .ci/run)")
    return url


def purge(url: str, queue: str) -> int:
    """Delete every message waiting in ``queue`` on broker ``url`` (lost messages); how many."""
    from kombu import Connection

    with Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        try:
            return int(channel.queue_purge(queue) or 0)
        except Exception:  # the queue does not exist yet: nothing to purge
            return 0


@pytest.fixture(params=["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def broker(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each broker in turn: the environment a clock and its workers share (own queue)."""
    url = require_broker(request.param)
    return celery_env(url)


@pytest.fixture
def redis_broker() -> dict[str, str]:
    return celery_env(require_broker("redis"))


@pytest.fixture
def rabbitmq_broker() -> dict[str, str]:
    return celery_env(require_broker("rabbitmq"))


def celery_env(url: str) -> dict[str, str]:
    return {
        "SCHEDULED_TASKS_EXECUTOR": "celery",
        "CELERY_BROKER_URL": url,
        "CELERY_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
    }


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, that the test may stop and start."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        # The port stays ours while the server is down: a socket bound to it (with
        # SO_REUSEADDR, never listening, as redis-server binds with it too) keeps
        # the kernel from handing it to another test's free_port() -- whose own
        # server this test's clients would then reach, "sending" into the outage.
        self._hold = socket.socket()
        self._hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._hold.bind(("127.0.0.1", 0))
        self.port = int(self._hold.getsockname()[1])
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: listening(self.port), timeout=10, what=f"redis on port {self.port}")

    def release(self) -> None:
        """Give the port back (once the test is done with the server)."""
        self._hold.close()

    def stop(self) -> None:
        """Stop the server at once (its messages are gone: it keeps nothing on disk)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        deadline = time.monotonic() + 5
        while listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.release()


def worker_argv(concurrency: int, name: str, *extra: str) -> list[str]:
    """``celery -A spojscore worker`` as the Procfile runs it, for ``Processes.start``."""
    return [
        "-m",
        "celery",
        "-A",
        "spojscore",
        "worker",
        "--concurrency",
        str(concurrency),
        "-n",
        f"{name}@%h",
        *WORKER_FLAGS,
        *extra,
    ]


def ready(proc: Any) -> bool:
    """Whether a worker started with ``worker_argv`` says it is ready."""
    return " ready." in proc.output()


def publish_from_test(broker: dict[str, str], run_id: int, times: int = 1) -> None:
    """Publish ``execute_run(run_id)`` as a clock would (a forced duplicate), ``times`` times."""
    from celery import Celery

    app = Celery("test-publisher", broker=broker["CELERY_BROKER_URL"])
    app.conf.task_default_queue = broker["CELERY_QUEUE"]
    try:
        for _ in range(times):
            app.send_task("core.scheduling.execute_run", args=[run_id], ignore_result=True)
    finally:
        app.close()


# --- Who runs what: a worker's processes ------------------------------------------------
#
# ``celery worker`` (the session leader the test started) forks its pool
# processes; a pool process executing ``execute_run`` forks the run's child
# (its own process group, same session), which stamps ``host`` with its pid.


def host_pid(run: Any) -> int:
    """The pid the run's child stamped in ``host`` ("host:pid")."""
    return int(run.host.rsplit(":", 1)[1])


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def session_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])


def worker_of(workers: list[Any], child: int) -> Any:
    """The worker (a ``Proc``) whose session the run's ``child`` pid belongs to."""
    session = session_of(child)
    return next(worker for worker in workers if worker.pid == session)


def signal_session(leader: int, sig: int) -> list[int]:
    """Send ``sig`` to every process of session ``leader`` at once (a dyno stopped); the pids."""
    pids = session_members({leader})
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


# A worker's log line for each message it takes from the broker.
RECEIVED_LINE = re.compile(r"execute_run\[\S+\] received")
