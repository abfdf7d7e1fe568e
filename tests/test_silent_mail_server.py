"""A mail server that accepts connections and never greets must not freeze
supervision (the review's defect 4: with ``ADMINS`` set, two clocks ran an
every-few-seconds failing task 3 times in 75 s, a live run was recorded
``abandoned``, and neither clock exited within 30 s of SIGTERM).

Notification mail goes out from a child process with ``EMAIL_TIMEOUT``, so
heartbeats, claims and SIGTERM handling carry on while the mail hangs.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.models import Status, TaskRun
from tests.processes import Processes, read_records, record_task, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def silent_smtp() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = server.accept()
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def test_a_silent_mail_server_freezes_neither_runs_nor_shutdown(
    processes: Processes, records_file: Path, silent_smtp: int
) -> None:
    tasks = {
        "flaky": record_task(records_file, fail=True, every=2),
        "long": record_task(records_file, sleep=8, every=3600, starting_deadline=3600),
    }
    mail = {
        "ADMINS": "ops@example.com",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(silent_smtp),
        "EMAIL_TIMEOUT": "10",
        "SCHEDULED_TASKS_NOTIFY_AFTER": "1",
    }
    clocks = [processes.clock(tasks, name=f"clock{i}", **mail) for i in range(2)]
    began = time.time()
    wait_for(
        lambda: TaskRun.objects.filter(task="long", status=Status.SUCCEEDED).exists(),
        timeout=30,
        what="the long run to succeed",
    )
    time.sleep(max(0.0, began + 14 - time.time()))

    flaky_starts = [
        r for r in read_records(records_file) if r.get("task") == "flaky" and r["event"] == "start"
    ]
    # Every 2 s for about 14 s: 7 ticks, each run once; a frozen clock ran 1-3.
    assert len(flaky_starts) >= 5, [r["tick"] for r in flaky_starts]
    assert not TaskRun.objects.filter(status=Status.ABANDONED).exists()
    assert TaskRun.objects.filter(task="flaky", status=Status.FAILED).count() >= 5

    stopped = time.monotonic()
    for clock in clocks:
        clock.signal(signal.SIGTERM)
    for clock in clocks:
        assert clock.wait(20) == 0, clock.output()[-3000:]
    assert time.monotonic() - stopped < 15
    logs = "".join(clock.output() for clock in clocks)
    assert "mailing ADMINS from pid" in logs
