"""``runtasks`` invocations fired at the first milliseconds of ticks, to race the clocks.

``python -m tests.runtasks_at FIRST OFFSETS [LIMIT [EVERY]]``

From the whole second ``FIRST`` (Unix time), every second (every ``EVERY``
seconds: the ticks of an every-N-s task), start one ``manage.py runtasks``
process per offset in ``OFFSETS`` (comma-separated seconds, e.g.
``0,0.002,0.004``), whose step begins that long after the tick; until SIGTERM
(or ``LIMIT`` seconds, 60 by default). Then wait for them all, and exit 1 if
any of them did not exit 0.

A fresh ``python manage.py runtasks`` spends hundreds of milliseconds, and a
very variable amount on a loaded machine, starting Python and Django: it cannot
be aimed at the first milliseconds of a tick, where the clocks claim it. So
this process loads everything once and forks each ``runtasks`` from that warm
state a little before its tick. Each child opens its own database connection,
warms up (``runtasks --dry-run``, which only reads, measuring how long the
command takes to reach its step), sleeps until its moment, then runs
``manage.py runtasks --skip-checks`` exactly as ``manage.py`` would (the system
checks would add tens of very variable milliseconds) and exits with its status:
an invocation of its own, as on a Heroku Scheduler dyno, minus the start-up.

Prints ``racing tick T`` for each second it fires at; each child prints its
output afterwards in one block, every line starting ``tick T pid P:``.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

from spojscore.env import start

FORK_AHEAD = 0.6  # seconds before its moment a child is forked, to warm up
RUNTASKS = ["manage.py", "runtasks", "--skip-checks"]


def measure_prologue() -> float:
    """Seconds from ``runtasks``' command line to the start of its step (the best of 3)."""
    from core.models import Trigger
    from core.scheduling.engine import Engine
    from core.scheduling.manual import execute_from_command_line

    dry, plan = [], []
    for _ in range(3):
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            execute_from_command_line([*RUNTASKS, "--dry-run"])
        dry.append(time.perf_counter() - began)
        began = time.perf_counter()
        Engine(Trigger.SCHEDULER).plan()
        plan.append(time.perf_counter() - began)
    return max(0.0, min(dry) - min(plan))


def child(tick: int, offset: float) -> None:
    """In a forked child: warm up, run ``runtasks`` so its step begins ``offset`` after ``tick``."""
    from django.db import connection

    from core.scheduling.manual import execute_from_command_line

    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        connection.ensure_connection()
        # Measured here, not inherited: a forked child is slower than its parent
        # at first (copy-on-write), and the warm-up pays for that.
        prologue = measure_prologue()
        time.sleep(max(0.0, tick + offset - prologue - time.time()))
        began = time.time()
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output):
                execute_from_command_line(RUNTASKS)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        lines = [
            f"started {1000 * (began - tick):+.1f} ms from the tick, "
            f"{1000 * prologue:.1f} ms before its step"
        ]
        lines += output.getvalue().splitlines()
        mark = f"tick {tick} pid {os.getpid()}:"
        sys.stdout.write("".join(f"{mark} {line}\n" for line in lines))
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    first = int(sys.argv[1])
    offsets = [float(x) for x in sys.argv[2].split(",")]
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    start(Path(__file__).resolve().parent.parent)
    import django

    django.setup()
    from django.db import connections

    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    measure_prologue()  # loads and warms up what the children will run
    connections.close_all()  # never share a connection with the children
    children: set[int] = set()
    failed = 0

    def reap(block: bool) -> None:
        nonlocal failed
        for pid in list(children):
            done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                if code:
                    print(f"runtasks pid {pid} exited {code}", flush=True)
                failed += code != 0
                children.discard(pid)

    tick = first
    while not stopping and tick < first + limit:
        while not stopping and time.time() < tick - FORK_AHEAD:
            time.sleep(0.02)
            reap(block=False)
        if stopping:
            break
        print(f"racing tick {tick}", flush=True)
        for offset in offsets:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                child(tick, offset)
            children.add(pid)
        tick += every
    reap(block=True)
    print(f"done: {failed} runtasks failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
