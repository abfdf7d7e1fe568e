"""Load benchmark of the web process with wrk: requests/s, p50 and the ratio to two anchors.

    .venv/bin/python bench/web.py [--postgres URL] [--seconds 8] [--connections 8]
                                  [--threads 2] [--workers 2] [--rounds 1]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Starts everything it measures
and stops it again: the local SPOJ server, a fresh database (SQLite in a
temporary folder, or a throwaway PostgreSQL database on the server named by
``--postgres``), filled by a real scrape (``runtasks scrape_spoj --force``,
3,971 problems), then gunicorn exactly as the Procfile's ``web`` line starts it
with the project's production settings (DEBUG off, WhiteNoise manifest storage,
the page cache as configured: the database cache unless ``REDIS_URL`` is set;
``tests/e2e_settings.py`` only moves STATIC_ROOT).

Every URL is driven by ``wrk -t2 -c8 -d8s --latency`` in turn, on the same
machine (wrk's two threads take CPU from gunicorn: the figures are a floor for
what the server alone would do). Each URL is measured right after the anchor
it is compared with, so that a change in the machine's load (other jobs on a
shared machine) hits both sides of a ratio alike:

* the static file: the same bytes as ``/problems.json``, written into
  STATIC_ROOT before gunicorn starts and served by WhiteNoise (no Django view,
  no database) -- what serving the export can at best cost;
* ``/healthz``: the Django floor (every middleware, a URL, a view, one query);
* the static file gzipped (its ``.gz`` beside it, which WhiteNoise serves to a
  client that accepts gzip): the anchor of the gzipped export.

The ``gzip`` lines send ``Accept-Encoding: gzip`` and get the stored gzip bytes
(checked once before each run: ``Content-Encoding: gzip``); every other line
sends no ``Accept-Encoding`` and gets the plain page, as wrk does by default.

Beside requests/s it prints gunicorn's CPU time per request (its processes'
user and system time over the run, from /proc), which the other jobs on a
shared machine disturb far less. With ``--rounds N`` every pair is measured N
times and the medians are printed.

Users are scraped from the local SPOJ too: ``bench_many``, a generated user
who solved 1,000 problems (every third by score), and ``kosaksi`` (the saved
real page, 70 solved); ``/compare/bench_many/kosaksi/`` compares them.

The goals (issue 9, "Fast, and cheap to serve"): the exports >= 0.5x the
static file's requests/s; ``/``, ``/?q=prime``, a problem page and the user
page >= 0.5x ``/healthz``; conditional requests answered 304 >= 0.8x ``/healthz``; no
errors (``/trends/`` and the comparison are measured, with no goal). An error is a socket error, an
answer that is not 2xx/3xx (wrk counts them), or, for the conditional requests,
any answer but 304 (counted by a wrk Lua script; the ``/healthz`` run a 304 is
compared with runs the same script, counting answers that are not 200, so both
sides pay the same client cost). Before each run the URL is fetched once and
must answer 200 (or 304). Exits 1 on any error or missed goal.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.heroku_e2e import (  # noqa: E402 - needs ROOT on sys.path
    ProcessSet,
    manage,
    production_env,
    query,
    read_procfile,
    run_checked,
    start_spoj_server,
    start_web,
)
from tests.support import is_postgres, throwaway_database  # noqa: E402

STATIC_NAME = "bench/problems.json"
SERVER_PID = [0]  # the web command's process group (started in a session of its own)
PROBLEM = "/problems/TEST/"
# A generated user who solved 1,000 problems (every third by score), served by the
# local SPOJ and scraped like any user; the comparison is with the saved real page.
USER_SOLVED = 1000
USER = "/users/bench_many/"
COMPARE = "/compare/bench_many/kosaksi/"

# Counts the answers whose status is not the one expected (wrk only counts
# those outside 2xx/3xx). Only used where bodies are empty: with a response()
# callback wrk copies every body into Lua.
STATUS_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) expected = tonumber(args[1]); wrong = 0 end
function response(status, headers, body)
  if status ~= expected then wrong = wrong + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("wrong") end
  io.write(string.format("wrong-status %d\\n", total))
end
"""


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    anchor: str = ""  # "static" or "healthz": what the goal compares with
    goal: float = 0.0  # minimum ratio to the anchor; 0 for none
    conditional: bool = False  # sent with If-None-Match: the page's ETag
    gzip: bool = False  # sent with Accept-Encoding: gzip


ANCHORS = {
    "static": Target("static file (WhiteNoise)", "/static/" + STATIC_NAME),
    "healthz": Target("/healthz", "/healthz"),
    "static gz": Target("static file, gzip", "/static/" + STATIC_NAME, gzip=True),
}
TARGETS = [
    Target("/problems.json", "/problems.json", "static", 0.5),
    Target("/problems.csv", "/problems.csv", "static", 0.5),
    Target("/", "/", "healthz", 0.5),
    Target("/?q=prime", "/?q=prime", "healthz", 0.5),
    Target(PROBLEM, PROBLEM, "healthz", 0.5),
    Target(USER, USER, "healthz", 0.5),
    Target(COMPARE, COMPARE, "healthz"),
    Target("/trends/", "/trends/", "healthz"),
    Target("gzip /problems.json", "/problems.json", "static gz", 0.5, gzip=True),
    Target("gzip /", "/", "healthz", 0.5, gzip=True),
    Target(f"gzip {USER}", USER, "healthz", 0.5, gzip=True),
    Target("304 /", "/", "healthz", 0.8, conditional=True),
    Target("304 /?q=prime", "/?q=prime", "healthz", 0.8, conditional=True),
    Target("304 /problems.json", "/problems.json", "healthz", 0.8, conditional=True),
    Target(f"304 {PROBLEM}", PROBLEM, "healthz", 0.8, conditional=True),
    Target(f"304 {USER}", USER, "healthz", 0.8, conditional=True),
]


@dataclass
class Measured:
    target: Target
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    detail: str
    cpu_us: float = float("nan")  # gunicorn's CPU time (all its processes) per request


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> tuple[int, float, float, float, int, str]:
    """(requests, req/s, p50 ms, p99 ms, errors, what the errors were) from wrk's output."""
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors, details = 0, []
    socket = re.search(r"Socket errors: (.*)", output)
    if socket:
        counts = dict(re.findall(r"(\w+) (\d+)", socket.group(1)))
        errors += sum(int(n) for n in counts.values())
        details.append(f"socket errors: {socket.group(1)}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
        details.append(f"{non_2xx.group(1)} answers not 2xx/3xx")
    wrong = re.search(r"wrong-status (\d+)", output)
    if wrong and int(wrong.group(1)):
        errors += int(wrong.group(1))
        details.append(f"{wrong.group(1)} answers not 304")
    return requests_done, rate, p50, p99, errors, "; ".join(details)


def encoding(target: Target) -> dict[str, str]:
    """The Accept-Encoding wrk sends for ``target`` (requests would send gzip by default)."""
    return {"Accept-Encoding": "gzip" if target.gzip else "identity"}


def check_once(base_url: str, target: Target, etags: dict[str, str]) -> str:
    """Fetch the URL once as wrk will; '' if it answers as expected, else what went wrong."""
    headers = encoding(target)
    if target.conditional:
        headers["If-None-Match"] = etags[target.path]
    reply = requests.get(base_url + target.path, headers=headers, allow_redirects=False, timeout=60)
    expected = 304 if target.conditional else 200
    if reply.status_code != expected:
        return f"answered {reply.status_code}, not {expected}"
    if (
        reply.status_code == 200
        and (reply.headers.get("Content-Encoding") == "gzip") != target.gzip
    ):
        return f"Content-Encoding {reply.headers.get('Content-Encoding')!r} with {headers}"
    return ""


_TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(group: int) -> float:
    """CPU seconds (user + system) used so far by the processes of process group
    ``group``: the web command's, so gunicorn's master and its workers."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, pgrp, ..., utime (14th field of the line), stime.
        if int(fields[2]) == group:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def run_wrk(
    base_url: str,
    target: Target,
    etags: dict[str, str],
    args: argparse.Namespace,
    script: Path,
    *,
    counted: bool = False,
) -> Measured:
    """One wrk run. Conditional requests are sent with the page's current ETag and
    counted by the status script; ``counted`` runs it on another URL too (expecting
    200), so that an anchor compared with them pays the same client cost."""
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if target.conditional:  # the ETag as of now (the table's moves with its age text)
        reply = requests.get(base_url + target.path, headers=encoding(target), timeout=60)
        etags[target.path] = reply.headers["ETag"]
        command += ["-H", f"If-None-Match: {etags[target.path]}"]
    if target.gzip:
        command += ["-H", "Accept-Encoding: gzip"]
    if target.conditional or counted:
        command += ["-s", str(script)]
    command.append(base_url + target.path)
    if target.conditional or counted:
        command += ["--", "304" if target.conditional else "200"]
    problem = check_once(base_url, target, etags)
    if problem:
        return Measured(target, 0, 0.0, float("nan"), float("nan"), 1, problem)
    cpu_before = server_cpu(SERVER_PID[0])
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = server_cpu(SERVER_PID[0]) - cpu_before
    done, rate, p50, p99, errors, detail = parse_wrk(output)
    cpu_us = 1e6 * cpu / done if done else float("nan")
    return Measured(target, done, rate, p50, p99, errors, detail, cpu_us)


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} x {model}, load average {load} at the start"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (default: SQLite)")
    parser.add_argument("--seconds", type=int, default=8, help="per URL (default 8)")
    parser.add_argument("--connections", type=int, default=8, help="wrk -c (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure every pair this many times (default 1)"
    )
    args = parser.parse_args()
    if args.postgres and not is_postgres(args.postgres):
        parser.error("--postgres needs a postgres:// URL")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")

    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        tmp_path = Path(tmp)
        script = tmp_path / "status.lua"
        script.write_text(STATUS_SCRIPT)
        processes = ProcessSet(tmp_path)
        try:
            with throwaway_database(args.postgres, sqlite_dir=tmp_path) as database_url:
                spoj_url = start_spoj_server(processes, f"bench_many:{USER_SOLVED}")
                static_root = tmp_path / "static"
                env = production_env(
                    DJANGO_SETTINGS_MODULE="tests.e2e_settings",
                    DATABASE_URL=database_url,
                    SPOJ_BASE_URL=spoj_url,
                    E2E_STATIC_ROOT=str(static_root),
                    WEB_CONCURRENCY=str(args.workers),
                    LOG_LEVEL="WARNING",
                    GUNICORN_CMD_ARGS="--access-logfile /dev/null",
                )
                run_checked(manage("collectstatic", "--no-input"), env)
                run_checked(read_procfile()["release"], env)
                run_checked(manage("runtasks", "scrape_spoj", "--force"), env, timeout=600)
                problems = query(database_url, "SELECT count(*) FROM core_problem")[0][0]
                run_checked(manage("scrape_spoj_users", "bench_many", "kosaksi"), env, timeout=120)
                solved = query(
                    database_url,
                    "SELECT count(*) FROM core_solvedproblem s JOIN core_spojuser u"
                    " ON s.user_id = u.id WHERE u.handle = 'bench_many'",
                )[0][0]
                assert solved == USER_SOLVED, f"bench_many has {solved} solved problems"

                # The static anchor: /problems.json's bytes, in STATIC_ROOT before
                # gunicorn starts (WhiteNoise indexes the folder at start-up).
                web, base_url = start_web(processes, env)
                export = requests.get(base_url + "/problems.json", timeout=60).content
                os.killpg(web.pid, 15)
                web.popen.wait(timeout=30)
                (static_root / STATIC_NAME).parent.mkdir(parents=True, exist_ok=True)
                (static_root / STATIC_NAME).write_bytes(export)
                gz_name = STATIC_NAME + ".gz"
                (static_root / gz_name).write_bytes(gzip.compress(export, mtime=0))
                web, base_url = start_web(processes, env)
                SERVER_PID[0] = web.pid

                etags: dict[str, str] = {}
                for target in [*ANCHORS.values(), *TARGETS]:  # warm up; the ETags to send
                    for _ in range(3):
                        reply = requests.get(
                            base_url + target.path, headers=encoding(target), timeout=60
                        )
                    if "ETag" in reply.headers:
                        etags[target.path] = reply.headers["ETag"]
                missing = [t.path for t in TARGETS if t.conditional and t.path not in etags]

                database = "PostgreSQL" if is_postgres(database_url) else "SQLite"
                print(
                    f"spojscore web benchmark, {started_at:%Y-%m-%d %H:%M} UTC: "
                    f"{problems} problems, a user with {solved:,} solved, "
                    f"{database}; gunicorn {args.workers} workers x 4 threads (gthread), "
                    f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s on 127.0.0.1; "
                    f"static file {len(export):,} bytes; {machine()}; "
                    f"Python {platform.python_version()}"
                )
                pairs: dict[Target, list[tuple[Measured, Measured]]] = {t: [] for t in TARGETS}
                for _ in range(args.rounds):
                    for target in TARGETS:
                        anchor = ANCHORS[target.anchor]
                        counted = target.conditional  # the anchor on equal terms
                        measured_anchor = run_wrk(
                            base_url, anchor, etags, args, script, counted=counted
                        )
                        if target.conditional and target.path in missing:
                            nan = float("nan")
                            measured = Measured(target, 0, 0.0, nan, nan, 1, "no ETag")
                        else:
                            measured = run_wrk(base_url, target, etags, args, script)
                        pairs[target].append((measured_anchor, measured))
        finally:
            processes.close()
    return report(pairs)


def report(pairs: dict[Target, list[tuple[Measured, Measured]]]) -> int:
    """One line per URL: its medians over the rounds, and the ratio to its anchor
    measured right before it (the median of those ratios). ``cpu us`` is
    gunicorn's CPU time per request (master and workers, user and system), which
    other jobs on the machine disturb far less than requests/s."""
    median = statistics.median
    print(
        f"{'URL':<24}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'cpu us':>8}{'anchor':>9}"
        f"{'req/s':>9}{'cpu us':>8}{'ratio':>7}{'goal':>13}{'errors':>7}"
    )
    failed = False
    anchors: dict[str, list[float]] = {name: [] for name in ANCHORS}
    for target, runs in pairs.items():
        anchor_name = target.anchor
        anchors[anchor_name] += [a.rate for a, _ in runs]
        rate = median(t.rate for _, t in runs)
        ratio = median(t.rate / a.rate for a, t in runs)
        errors = sum(t.errors + a.errors for a, t in runs)
        goal = ""
        if target.goal:
            met = ratio >= target.goal and errors == 0
            goal = f"{'met' if met else 'MISSED'} {target.goal:g}x"
            failed |= not met
        print(
            f"{target.label:<24}{rate:>9.1f}{median(t.p50_ms for _, t in runs):>8.2f}"
            f"{median(t.p99_ms for _, t in runs):>8.2f}{median(t.cpu_us for _, t in runs):>8.0f}"
            f"{anchor_name:>9}{median(a.rate for a, _ in runs):>9.1f}"
            f"{median(a.cpu_us for a, _ in runs):>8.0f}{ratio:>7.3f}{goal:>13}{errors:>7}"
        )
        for a, t in runs:
            for measured in (a, t):
                if measured.errors:
                    print(f"    errors on {measured.target.label}: {measured.detail}")
                    failed = True
    for name, rates in anchors.items():
        if not rates:
            continue
        print(
            f"anchor {name}: {len(rates)} runs, {min(rates):.0f}-{max(rates):.0f} req/s, "
            f"median {median(rates):.0f}"
        )
    print("all goals met, no errors" if not failed else "GOALS MISSED OR ERRORS (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"({time.monotonic() - started:.0f} s)")
    sys.exit(status)
