"""Running claimed task runs in child processes, and watching over them (the supervisor).

Every run executes in its own child, forked from the already-loaded Django
process (a fresh interpreter would cost ~0.4 s of lateness per start). The
parent — a clock, ``runtasks`` or a manual ``manage.py`` invocation — is the
supervisor: it heartbeats the run rows, enforces timeouts, collects output and
records how each run ended. A crashing, leaking or hanging task cannot take the
supervisor down (guarantee 6).

Fork safety: the parent closes its database connections before forking, so
parent and child never share a socket, and the supervisor is single-threaded.
The child becomes the leader of its own process group (timeouts kill the whole
group) and asks the kernel to SIGKILL it if the supervisor dies, so a killed
clock never leaves an orphan running the task while the row is reaped as
abandoned.

Supervision is a lease (guarantee 4). Each heartbeat renews it in database
time; any process may reap a run whose heartbeat is older than
``SCHEDULED_TASKS_STALE_AFTER`` and start the task again. A run's lease
therefore ends ``STALE_AFTER - HEARTBEAT`` seconds after the supervisor *sent*
the last heartbeat that succeeded (no later than the database's heartbeat_at),
and the run must be dead by then. The child enforces this itself: a fence
thread in the child reads each new lease end (CLOCK_MONOTONIC, shared by
parent and child) from a pipe the supervisor writes after every successful
heartbeat, and SIGKILLs the child's whole process group when the lease runs
out. So ``overlap="forbid"`` holds when the supervisor is partitioned from the
database, stuck in a database call, or stopped outright (SIGSTOP, a frozen
dyno): the fence needs nothing from it. The supervisor also kills such a run
itself when it notices, and records it ``abandoned``. A supervisor whose
heartbeat finds its row already finished elsewhere stops its child too.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import errno
import logging
import os
import select
import selectors
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import DatabaseError, connection, connections
from django.db.models.functions import Now
from django.utils import timezone

from core.models import Status, TaskRun
from core.scheduling.forking import fork, reset_signals
from core.scheduling.mailer import BackgroundMail
from core.scheduling.runs import Outcome, host_name, record_outcome, retry_once

log = logging.getLogger("core.scheduling")

OUTPUT_TAIL = 64 * 1024
ERROR_MAX = 256 * 1024
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    run_id: int
    task: str
    pid: int
    out_fd: int
    err_fd: int
    timeout: float
    started: float = field(default_factory=time.monotonic)
    output: bytearray = field(default_factory=bytearray)
    error: bytearray = field(default_factory=bytearray)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )
    pending_line: str = ""
    stop_reason: str | None = None  # "timeout", "shutdown", "lost" or "lease", once signalled
    kill_at: float | None = None
    exit_status: int | None = None  # raw waitpid status once reaped
    # When the last heartbeat that renewed this run's lease was sent (monotonic);
    # the claim, just before the fork, is the first.
    lease_from: float = field(default_factory=time.monotonic)
    lease_fd: int = -1  # the pipe on which the child's fence learns each new lease end

    @property
    def deadline(self) -> float:
        return self.started + self.timeout


def _tell_lease(fd: int, ends: float) -> None:
    """Tell a child's fence its lease now ends at ``ends`` (monotonic); never blocks."""
    with contextlib.suppress(OSError):
        os.write(fd, struct.pack("d", ends))


def _fence(lease_r: int, ends: float, err_w: int) -> None:
    """The child's lease fence (a daemon thread): SIGKILL the run when its lease ends."""
    pending = b""
    while True:
        left = ends - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([lease_r], [], [], left)
        if not ready:
            continue
        data = os.read(lease_r, 4096)
        if not data:  # the supervisor is gone (PR_SET_PDEATHSIG should already have killed us)
            break
        pending += data
        while len(pending) >= 8:
            (ends,) = struct.unpack("d", pending[:8])
            pending = pending[8:]
    with contextlib.suppress(OSError):
        os.write(
            err_w,
            b"killed: its lease ran out (its supervisor wrote no heartbeat in time: stopped, "
            b"partitioned from the database or gone), so another process may run the task now\n",
        )
    os.killpg(0, signal.SIGKILL)


def _child_main(
    run_id: int,
    command: str | BaseCommand,
    args: Sequence[str],
    options: dict[str, Any] | None,
    out_w: int,
    err_w: int,
    lease_r: int,
    lease_ends: float,
) -> int:
    """Body of the forked child. Returns the exit code (the caller ``os._exit``s)."""
    os.setpgid(0, 0)
    threading.Thread(target=_fence, args=(lease_r, lease_ends, err_w), daemon=True).start()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    reset_signals()
    if os.getppid() == 1:  # the supervisor died between fork and prctl
        return 137
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(out_w)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    code = 0
    try:
        # The child stamps started_at as the command begins, once its own
        # connection is up: lateness includes the fork and the connect.
        connection.ensure_connection()
        TaskRun.objects.filter(pk=run_id).update(
            started_at=timezone.now(), host=host_name(), heartbeat_at=Now()
        )
        if isinstance(command, BaseCommand):
            assert options is not None
            # The command object was built before the fork, around the old streams.
            command.stdout = OutputWrapper(sys.stdout)
            command.stderr = OutputWrapper(sys.stderr)
            command.execute(*args, **options)
        else:
            call_command(command, *args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CommandError as exc:
        sys.stderr.write(f"CommandError: {exc}\n")
        os.write(err_w, traceback.format_exc().encode("utf-8", "replace")[-ERROR_MAX:])
        code = exc.returncode or 1
    except BaseException:
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        os.write(err_w, tb.encode("utf-8", "replace")[-ERROR_MAX:])
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(Exception):
            connections.close_all()
    return code


class Supervisor:
    """Starts runs in child processes and watches them until they end.

    ``echo`` receives each complete line a child prints (the clock prefixes
    and logs them; a manual run writes them straight to the terminal).
    ``stopping`` tells whether the process was asked to stop: on Heroku every
    process of a dyno gets the SIGTERM, the children too, and one may die of it
    before the supervisor has interrupted it; it is recorded ``interrupted``,
    not ``failed``.
    """

    def __init__(
        self,
        *,
        echo: Callable[[Child, str], None] | None = None,
        stopping: Callable[[], bool] | None = None,
    ) -> None:
        self.children: dict[int, Child] = {}
        self.echo = echo
        self.stopping = stopping
        self.selector = selectors.DefaultSelector()
        self.heartbeat_every = float(settings.SCHEDULED_TASKS_HEARTBEAT)
        self.kill_grace = float(settings.SCHEDULED_TASKS_KILL_GRACE)
        # How long a run's lease outlives its last renewal here (see the module docstring).
        self.lease_for = float(settings.SCHEDULED_TASKS_STALE_AFTER) - self.heartbeat_every
        self.mailer = BackgroundMail()
        self.next_heartbeat = time.monotonic() + self.heartbeat_every
        # Outcomes not yet written because the database was unreachable.
        self.unrecorded: list[Outcome] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._old_wakeup_fd: int | None = None
        self._old_sigchld: Any = None

    # -- signals ------------------------------------------------------------------
    def install_wakeup(self) -> None:
        """Wake ``wait`` on any handled signal (SIGCHLD, SIGTERM...) without polling."""
        self._old_wakeup_fd = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._old_sigchld = signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    def uninstall_wakeup(self) -> None:
        if self._old_wakeup_fd is not None:
            signal.set_wakeup_fd(self._old_wakeup_fd)
            signal.signal(signal.SIGCHLD, self._old_sigchld)
            self._old_wakeup_fd = None

    def close(self) -> None:
        self.uninstall_wakeup()
        self.selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def own_run_ids(self) -> list[int]:
        """Runs this supervisor answers for: live children and outcomes not yet written."""
        return [c.run_id for c in self.children.values()] + [o.run_id for o in self.unrecorded]

    # -- starting -----------------------------------------------------------------
    def start(
        self,
        run: TaskRun,
        command: str | BaseCommand,
        args: Sequence[str] = (),
        *,
        timeout: float,
        options: dict[str, Any] | None = None,
    ) -> Child:
        """Fork a child that runs ``command`` for the already-claimed ``run``."""
        lease_from = time.monotonic()  # the claim has just been written
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        lease_r, lease_w = os.pipe()
        ends = lease_from + self.lease_for

        def body() -> int:  # pragma: no cover - runs in the child
            os.close(out_r)
            os.close(err_r)
            os.close(lease_w)
            for other in self.children.values():  # not this run's business
                for fd in (other.out_fd, other.err_fd, other.lease_fd):
                    with contextlib.suppress(OSError):
                        os.close(fd)
            return _child_main(run.pk, command, args, options, out_w, err_w, lease_r, ends)

        try:
            pid = fork(body)  # closes our database connections first (module docstring)
        except OSError:
            for fd in (out_r, out_w, err_r, err_w, lease_r, lease_w):
                os.close(fd)
            raise
        os.close(out_w)
        os.close(err_w)
        os.close(lease_r)
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        os.set_blocking(lease_w, False)
        child = Child(
            run.pk, run.task, pid, out_r, err_r, timeout, lease_from=lease_from, lease_fd=lease_w
        )
        self.selector.register(out_r, selectors.EVENT_READ, (child, "out"))
        self.selector.register(err_r, selectors.EVENT_READ, (child, "err"))
        self.children[pid] = child
        log.info("started %s run #%s in pid %s", run.task, run.pk, pid)
        return child

    # -- waiting ------------------------------------------------------------------
    def next_wakeup(self) -> float:
        """The monotonic time by which ``wait`` must run again (heartbeat, timeouts)."""
        times = [self.next_heartbeat] if self.children or self.unrecorded else []
        for child in self.children.values():
            times.append(child.kill_at if child.kill_at is not None else child.deadline)
            if child.stop_reason != "lease":
                times.append(child.lease_from + self.lease_for)
        times.append(self.mailer.next_wakeup())
        return min(times, default=float("inf"))

    def wait(self, until: float) -> list[Outcome]:
        """Block until ``until`` (monotonic), a signal, or a child's end; return endings.

        Reads child output, heartbeats, enforces timeouts and records outcomes.
        """
        timeout = max(0.0, min(until, self.next_wakeup()) - time.monotonic())
        for key, _ in self.selector.select(timeout):
            if key.data is None:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 512):
                        pass
            else:
                child, stream = key.data
                self._read(child, stream)
        return self.tend()

    def tend(self) -> list[Outcome]:
        """Housekeeping without blocking: reap, time out, heartbeat, record.

        Database errors are contained here (logged, retried on the next call),
        so a database outage never stops a supervisor from timing out, fencing
        or reaping its children.
        """
        self._enforce_timeouts()
        finished = self._reap()
        if time.monotonic() >= self.next_heartbeat:
            self._heartbeat()
        self._enforce_leases()
        if self.unrecorded:
            self._flush_unrecorded()
        self.mailer.tend()
        return finished

    def _read(self, child: Child, stream: str) -> None:
        fd = child.out_fd if stream == "out" else child.err_fd
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise
            data = b""
        if not data:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
            return
        self._take(child, stream, data)

    def _take(self, child: Child, stream: str, data: bytes) -> None:
        """Keep the error in full (capped) and the output's tail; echo whole lines."""
        if stream == "err":
            child.error += data
            del child.error[:-ERROR_MAX]
            return
        child.output += data
        del child.output[:-OUTPUT_TAIL]
        if self.echo is not None:
            text = child.pending_line + child.decoder.decode(data)
            *lines, child.pending_line = text.split("\n")
            for line in lines:
                self.echo(child, line)

    def _drain(self, child: Child) -> None:
        for stream, fd in (("out", child.out_fd), ("err", child.err_fd)):
            while True:
                try:
                    data = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self._take(child, stream, data)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
            os.close(fd)
        with contextlib.suppress(OSError):
            os.close(child.lease_fd)
        if self.echo is not None and child.pending_line:
            self.echo(child, child.pending_line)
            child.pending_line = ""

    # -- stopping -----------------------------------------------------------------
    def _signal(self, child: Child, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            if child.kill_at is not None and now >= child.kill_at:
                self._signal(child, signal.SIGKILL)
                child.kill_at = float("inf")
            elif child.stop_reason is None and now >= child.deadline:
                log.warning(
                    "%s run #%s passed its timeout of %ss; terminating",
                    child.task,
                    child.run_id,
                    f"{child.timeout:g}",
                )
                child.stop_reason = "timeout"
                self._signal(child, signal.SIGTERM)
                child.kill_at = now + self.kill_grace

    def _enforce_leases(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            if child.stop_reason == "lease" or now < child.lease_from + self.lease_for:
                continue
            log.error(
                "%s run #%s lost its lease: no heartbeat written for %.1f s "
                "(the database is unreachable or slow); killing it so that no other "
                "process runs it beside this one",
                child.task,
                child.run_id,
                now - child.lease_from,
            )
            child.stop_reason = "lease"
            self._signal(child, signal.SIGKILL)
            child.kill_at = float("inf")

    def interrupt_all(self, grace: float, sig: int = signal.SIGTERM) -> None:
        """Ask every child to stop; SIGKILL those still running after ``grace`` s."""
        kill_at = time.monotonic() + grace
        for child in self.children.values():
            if child.stop_reason is None:
                child.stop_reason = "shutdown"
            self._signal(child, sig)
            child.kill_at = min(child.kill_at or kill_at, kill_at)

    # -- ending -------------------------------------------------------------------
    def _reap(self) -> list[Outcome]:
        finished = []
        for pid, child in list(self.children.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0x7F00  # reaped elsewhere: unknown exit, treat as failure
            if done == 0:
                continue
            child.exit_status = status
            if child.stop_reason is None and self.stopping is not None and self.stopping():
                child.stop_reason = "shutdown"  # signalled with us, before we interrupted it
            self._drain(child)
            del self.children[pid]
            # Kill leftovers of the task's process group (daemonised grandchildren).
            self._signal(child, signal.SIGKILL)
            outcome = self._outcome(child, status)
            finished.append(outcome)
            self.record(outcome)
        return finished

    def _outcome(self, child: Child, status: int) -> Outcome:
        seconds = time.monotonic() - child.started
        output = child.output.decode("utf-8", "replace")
        error = child.error.decode("utf-8", "replace")
        exit_code: int | None
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            exit_code = -sig
            name = signal.Signals(sig).name
            if child.stop_reason == "timeout":
                result = Status.TIMED_OUT
                error = error or f"timed out after {child.timeout:g} s; stopped with {name}"
            elif child.stop_reason == "shutdown":
                result = Status.INTERRUPTED
                error = error or f"interrupted by shutdown ({name})"
            elif child.stop_reason == "lost":
                result = Status.ABANDONED
                error = error or f"stopped ({name}): its run was recorded finished elsewhere"
            elif child.stop_reason == "lease":
                result = Status.ABANDONED
                error = error or (
                    f"killed ({name}) after its supervisor could not renew its lease "
                    f"(no heartbeat written for {self.lease_for:g} s)"
                )
            elif sig == signal.SIGKILL:
                # Killed from outside (OOM killer, an operator): the process
                # vanished without a word, which is what "abandoned" records.
                result = Status.ABANDONED
                error = error or "the task's process was killed by SIGKILL"
            else:
                result = Status.FAILED
                error = error or f"the task's process died of {name}"
        else:
            exit_code = os.WEXITSTATUS(status)
            if exit_code == 0:
                result = Status.SUCCEEDED
            elif child.stop_reason == "timeout":
                result = Status.TIMED_OUT
                error = error or f"timed out after {child.timeout:g} s"
            elif child.stop_reason == "shutdown":
                result = Status.INTERRUPTED
                error = error or "interrupted by shutdown"
            elif child.stop_reason in ("lost", "lease"):
                result = Status.ABANDONED
                error = error or f"stopped after losing its claim (exit code {exit_code})"
            else:
                result = Status.FAILED
                error = error or _last_lines(output) or f"exit code {exit_code}"
        return Outcome(child.run_id, child.task, result, exit_code, seconds, error, output)

    def record(self, outcome: Outcome) -> None:
        """Write ``outcome``; if the database is unreachable, keep it and retry later."""
        try:
            retry_once(
                lambda: record_outcome(outcome, self.mailer.send),
                f"recording run #{outcome.run_id}",
            )
        except DatabaseError as exc:
            log.error(
                "could not record %s run #%s as %s (%s); will retry",
                outcome.task,
                outcome.run_id,
                outcome.status,
                exc,
            )
            self.unrecorded.append(outcome)

    def _flush_unrecorded(self) -> None:
        pending, self.unrecorded = self.unrecorded, []
        for outcome in pending:
            self.record(outcome)

    def flush(self, until: float) -> None:
        """Keep trying to write outcomes held in memory until ``until`` (monotonic).

        What still cannot be written is logged in full: the row stays
        ``running`` and is reaped as ``abandoned``, and the log line is the record.
        """
        backoff = 0.2
        while self.unrecorded and time.monotonic() < until:
            time.sleep(min(backoff, max(0.0, until - time.monotonic())))
            backoff = min(backoff * 2, 2.0)
            connections.close_all()
            self._flush_unrecorded()
        for outcome in self.unrecorded:
            log.error(
                "could not record %s run #%s before exiting: it ended %s (exit code %s) "
                "after %.1f s; its row stays running until it is reaped as abandoned. "
                "Error: %s",
                outcome.task,
                outcome.run_id,
                outcome.status,
                outcome.exit_code,
                outcome.seconds,
                outcome.summary or "-",
            )

    def _heartbeat(self) -> None:
        self.next_heartbeat = time.monotonic() + self.heartbeat_every
        if not self.children:
            return
        ids = [child.run_id for child in self.children.values()]
        sent = time.monotonic()
        try:
            updated = retry_once(
                lambda: TaskRun.objects.filter(pk__in=ids, status=Status.RUNNING).update(
                    heartbeat_at=Now()
                ),
                "heartbeat",
            )
        except DatabaseError as exc:
            log.warning("heartbeat failed (%s); will try again", exc)
            return
        renewed = set(ids)
        if updated < len(ids):
            try:
                renewed = self._drop_lost_claims(ids)
            except DatabaseError as exc:
                log.warning("could not check which runs lost their claim (%s)", exc)
                return
        for child in self.children.values():
            if child.run_id in renewed:
                child.lease_from = sent
                _tell_lease(child.lease_fd, sent + self.lease_for)

    def _drop_lost_claims(self, ids: list[int]) -> set[int]:
        """Stop children whose row is no longer ``running`` (reaped as abandoned elsewhere).

        Another process may already run the task again; ours must not overlap
        it. Returns the runs that are still ours.
        """
        still = set(
            TaskRun.objects.filter(pk__in=ids, status=Status.RUNNING).values_list("pk", flat=True)
        )
        for child in self.children.values():
            if child.run_id not in still and child.stop_reason is None:
                log.warning(
                    "%s run #%s lost its claim (marked finished elsewhere); stopping it",
                    child.task,
                    child.run_id,
                )
                child.stop_reason = "lost"
                self._signal(child, signal.SIGTERM)
                child.kill_at = time.monotonic() + self.kill_grace
        return still

    def finish(self, until: float) -> None:
        """Before exiting: write outcomes held in memory, let pending mails go (until ``until``)."""
        self.tend()
        self.flush(until)
        self.mailer.wait(until)

    def run_to_end(self, until: float = float("inf")) -> list[Outcome]:
        """Wait for every child to end (or ``until``); the caller handles signals."""
        outcomes: list[Outcome] = []
        while self.children and time.monotonic() < until:
            outcomes += self.wait(until)
        return outcomes


def _last_lines(text: str, n: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])
