"""Benchmark: how long ``make run``'s offline demo takes to serve, and each of its steps.

Runs ``scripts/run.sh`` of the project at ``--root`` (default: this one) as a
real process on a fresh SQLite file, with SPOJ pointed at a closed local port
(no internet: the demo loads the list, the users and the tags from the fake
SPOJ), and prints the seconds from its start to each ``==>`` line and to the
first 200 from ``/healthz``. Then it stops the process group it started.

    python bench/run_sh.py [--rounds 3] [--root PATH]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port  # noqa: E402 - needs ROOT


def one_round(root: Path) -> tuple[float, list[tuple[float, str]]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'run.sqlite3'}",
            "SPOJ_BASE_URL": "http://127.0.0.1:9",
            "PORT": str(port),
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.pop("ENVIRONMENT", None)
        began = time.monotonic()
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        steps: list[tuple[float, str]] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("==>"):
                    steps.append((time.monotonic() - began, line.strip()[:90]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = began + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        return time.monotonic() - began, steps
                except OSError:
                    time.sleep(0.05)
            raise SystemExit(f"no /healthz within 120 s; steps: {steps}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT, help="the project to run")
    args = parser.parse_args()
    totals = []
    for number in range(1, args.rounds + 1):
        total, steps = one_round(args.root)
        totals.append(total)
        print(f"round {number}: /healthz answered after {total:.1f} s")
        for seconds, line in steps:
            print(f"  {seconds:5.1f} s  {line}")
    print(
        f"median {statistics.median(totals):.1f} s, best {min(totals):.1f} s over "
        f"{args.rounds} rounds; load average {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
