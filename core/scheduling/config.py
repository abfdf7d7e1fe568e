"""Parsing and validating ``settings.SCHEDULED_TASKS``, and computing ticks.

A tick is the moment a task is due, in UTC. Cron ticks are evaluated in the
task's timezone with cronsim (Debian cron semantics, DST-correct); ``every``
ticks are aligned to the Unix epoch so every process computes the same ones.
Iteration only ever goes forward and yields ticks strictly after its start.
"""

from __future__ import annotations

import difflib
import heapq
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import get_commands

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
OPTIONS = {
    "command",
    "args",
    "schedule",
    "every",
    "timezone",
    "timeout",
    "retries",
    "retry_delay",
    "overlap",
    "catchup",
    "starting_deadline",
    "enabled",
}
OVERLAP_CHOICES = ("forbid", "allow")
CATCHUP_CHOICES = ("latest", "all", "none")
DEFAULT_TIMEOUT = 3600.0
DEFAULT_RETRY_DELAY = 60.0
MAX_STARTING_DEADLINE = 3600.0


@dataclass(frozen=True)
class TaskSpec:
    """One validated entry of ``SCHEDULED_TASKS``."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    schedule: str | None = None  # normalised 5-field cron (nicknames expanded)
    every: int | None = None  # seconds
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    timeout: float = DEFAULT_TIMEOUT
    retries: int = 0
    retry_delay: float = DEFAULT_RETRY_DELAY
    overlap: str = "forbid"
    catchup: str = "latest"
    starting_deadline: float | None = None  # None: min(one period, 1 hour)
    enabled: bool = True
    raw_schedule: str | None = None  # as written, for display

    @property
    def exclusive(self) -> bool:
        return self.overlap == "forbid"

    def ticks_after(self, start: datetime) -> Iterator[datetime]:
        """Ticks strictly after ``start`` (aware), in UTC, strictly increasing, for ever."""
        if self.every is not None:
            n = self.every
            elapsed = (start - EPOCH) // timedelta(seconds=1)  # floor, exact
            first = (elapsed // n + 1) * n
            while True:
                yield EPOCH + timedelta(seconds=first)
                first += n
        else:
            assert self.schedule is not None
            for tick in _cron_ticks(self.schedule, self.timezone, start):
                if tick > start:
                    yield tick

    def next_tick(self, after: datetime) -> datetime:
        return next(self.ticks_after(after))

    def ticks_between(self, after: datetime, until: datetime) -> list[datetime]:
        """Ticks ``t`` with ``after < t <= until``."""
        out = []
        for tick in self.ticks_after(after):
            if tick > until:
                break
            out.append(tick)
        return out

    def deadline_for(self, tick: datetime) -> timedelta:
        """How late ``tick`` may start before it counts as missed."""
        if self.starting_deadline is not None:
            return timedelta(seconds=self.starting_deadline)
        period = (self.next_tick(tick) - tick).total_seconds()
        return timedelta(seconds=min(period, MAX_STARTING_DEADLINE))

    def describe(self) -> str:
        """The schedule in words."""
        if self.every is not None:
            return "every " + _seconds_in_words(self.every)
        assert self.schedule is not None
        words = CronSim(self.schedule, datetime.now(self.timezone)).explain()
        tz = str(self.timezone)
        return words if tz == "UTC" else f"{words} ({tz})"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _is_wildcard(schedule: str) -> bool:
    """Debian cron's MIN_STAR/HR_STAR: the minute or the hour field starts with ``*``."""
    minute, hour = schedule.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant the clocks jumped over the nonexistent local time ``wall``."""
    # PEP 495: in a gap fold=1 reads the offset after the jump (an instant before it),
    # fold=0 the offset before (an instant at or after it). Bisect to the second.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    after = hi.astimezone(tz).utcoffset()
    second = timedelta(seconds=1)
    while hi - lo > second:
        mid = lo + (hi - lo) // second // 2 * second
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def _cron_ticks(schedule: str, tz: ZoneInfo, start: datetime) -> Iterator[datetime]:
    """The cron ticks in UTC, increasing, from somewhat before ``start`` on.

    cronsim walks naive local wall-clock times (no time zone, so no DST cases
    inside it); each wall time is then placed in UTC with Debian cron's rules:

    - a time that happens once is that instant;
    - a time that happens twice (clocks went back) runs at its first occurrence
      for a fixed-time job, and at both for a wildcard job (minute or hour field
      starting with ``*``), which follows the wall clock;
    - a time that never happens (clocks went forward) runs at the first moment
      after the jump for a fixed-time job and not at all for a wildcard job.

    Several skipped times collapse into one tick. The set of ticks depends only
    on the schedule and the zone, never on ``start``: the caller keeps those
    after it.
    """
    wildcard = _is_wildcard(schedule)
    # The earliest wall time that can map after ``start``: the wall clock may be
    # behind ``start``'s own if the clocks go back within the next day.
    lowest = min(
        (start + timedelta(hours=h)).astimezone(tz).utcoffset() or timedelta()
        for h in (0, 6, 12, 18, 24)
    )
    wall_start = (start.astimezone(UTC) + lowest).replace(tzinfo=None)
    second_copies: list[datetime] = []  # later copies of repeated wall times
    last: datetime | None = None
    walls = CronSim(schedule, wall_start)
    while True:
        try:
            wall = next(walls)
        except StopIteration:
            break
        first = wall.replace(tzinfo=tz, fold=0)
        second = wall.replace(tzinfo=tz, fold=1)
        instants: list[datetime] = []
        if first.utcoffset() == second.utcoffset():
            instants.append(first.astimezone(UTC))
        elif first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:  # repeated
            instants.append(first.astimezone(UTC))
            if wildcard:
                heapq.heappush(second_copies, second.astimezone(UTC))
        elif not wildcard:  # skipped by the clocks going forward
            instants.append(_gap_end(wall, tz))
        for instant in instants:
            while second_copies and second_copies[0] < instant:
                yield (last := heapq.heappop(second_copies))
            if last is None or instant > last:
                yield (last := instant)
    while second_copies:
        yield heapq.heappop(second_copies)


def _seconds_in_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "") if count != 1 else unit
    return f"{seconds} seconds" if seconds != 1 else "second"


class TaskConfigError(Exception):
    """One problem with one option of one task."""

    def __init__(self, name: str, option: str, message: str, hint: str, id: str):
        super().__init__(f"SCHEDULED_TASKS[{name!r}]: {message}")
        self.name, self.option, self.message, self.hint, self.id = name, option, message, hint, id


class TaskConfigErrors(Exception):
    """Every problem of one task entry (``errors``), raised by ``parse_task``."""

    def __init__(self, errors: list[TaskConfigError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


# A fitting example value for each numeric option, for hints.
EXAMPLES = {
    "every": "every=600",
    "timeout": "timeout=600",
    "retries": "retries=3",
    "retry_delay": "retry_delay=60",
    "starting_deadline": "starting_deadline=300",
}


def _number(
    errors: list[TaskConfigError],
    name: str,
    option: str,
    value: Any,
    *,
    integer: bool = False,
    positive: bool = False,
) -> float | None:
    """``value`` as a float, or ``None`` after recording why it is not acceptable."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer and not float(value).is_integer():
        ok = False
    if ok and (value <= 0 if positive else value < 0):
        ok = False
    if ok:
        return float(value)
    kind = "a whole number" if integer else "a number of seconds"
    bound = "> 0" if positive else ">= 0"
    errors.append(
        TaskConfigError(
            name,
            option,
            f"{option}={value!r} must be {kind} {bound}.",
            f"Set {option} to {kind} {bound}, e.g. {EXAMPLES[option]}.",
            "core.E007",
        )
    )
    return None


def parse_task(name: str, entry: Any, default_tz: str) -> TaskSpec:
    """Validate one entry; raise ``TaskConfigErrors`` listing every problem."""
    errors: list[TaskConfigError] = []
    spec = _parse_task(name, entry, default_tz, errors)
    if errors or spec is None:
        raise TaskConfigErrors(errors)
    return spec


def _parse_task(
    name: str, entry: Any, default_tz: str, errors: list[TaskConfigError]
) -> TaskSpec | None:
    def error(option: str, message: str, hint: str, id: str) -> None:
        errors.append(TaskConfigError(name, option, message, hint, id))

    if not isinstance(entry, Mapping):
        error(
            "",
            f"must be a dict of options, not {type(entry).__name__}.",
            'Declare tasks as {"name": {"schedule": "0 3 * * *"}}.',
            "core.E001",
        )
        return None
    for option in sorted(set(entry) - OPTIONS, key=str):
        close = difflib.get_close_matches(str(option), sorted(OPTIONS), n=1)
        error(
            str(option),
            f"unknown option {option!r}.",
            (f"Did you mean {close[0]!r}? " if close else "")
            + "Known options: "
            + ", ".join(sorted(OPTIONS))
            + ".",
            "core.E002",
        )
    command = entry.get("command", name)
    if not isinstance(command, str) or command not in get_commands():
        error(
            "command",
            f"command {command!r} is not an installed management command.",
            "Set 'command' to a command listed by `python manage.py help`.",
            "core.E005",
        )
    args = entry.get("args", [])
    if not isinstance(args, list | tuple) or not all(isinstance(a, str) for a in args):
        error(
            "args",
            "args must be a list of strings.",
            'For example "args": ["--days", "30"].',
            "core.E009",
        )
    has_schedule, has_every = "schedule" in entry, "every" in entry
    if has_schedule == has_every:
        error(
            "schedule",
            "give exactly one of 'schedule' (cron) or 'every' (seconds), not "
            + ("both." if has_schedule else "neither."),
            'For example "schedule": "0 3 * * *" or "every": 600.',
            "core.E003",
        )
    tz_name = entry.get("timezone", default_tz)
    try:
        tz = ZoneInfo(tz_name) if isinstance(tz_name, str) and tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    if tz is None:
        error(
            "timezone",
            f"timezone {tz_name!r} is not a known IANA time zone.",
            'Use a name like "UTC" or "Europe/London".',
            "core.E006",
        )
    schedule = every = raw_schedule = None
    if has_schedule:
        raw_schedule = entry["schedule"]
        schedule = _parse_cron(name, raw_schedule, errors)
    if has_every:
        value = _number(errors, name, "every", entry["every"], integer=True, positive=True)
        every = None if value is None else int(value)
    choices = {}
    for option, allowed in (("overlap", OVERLAP_CHOICES), ("catchup", CATCHUP_CHOICES)):
        choice = entry.get(option, allowed[0])
        if choice not in allowed:
            error(
                option,
                f"{option}={choice!r} is not one of {', '.join(allowed)}.",
                f"Use {option}={allowed[0]!r} (the default) or another listed value.",
                "core.E008",
            )
        choices[option] = choice
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        error(
            "enabled",
            f"enabled={enabled!r} must be True or False.",
            "Use enabled=False or enabled=True.",
            "core.E009",
        )
    timeout = _number(errors, name, "timeout", entry.get("timeout", DEFAULT_TIMEOUT), positive=True)
    retries = _number(errors, name, "retries", entry.get("retries", 0), integer=True)
    retry_delay = _number(
        errors, name, "retry_delay", entry.get("retry_delay", DEFAULT_RETRY_DELAY)
    )
    deadline = entry.get("starting_deadline")
    if deadline is not None:
        deadline = _number(errors, name, "starting_deadline", deadline)
    if errors:
        return None
    assert tz is not None
    assert timeout is not None
    assert retries is not None
    assert retry_delay is not None
    assert isinstance(command, str)
    return TaskSpec(
        name=name,
        command=command,
        args=tuple(args),
        schedule=schedule,
        every=every,
        timezone=tz,
        timeout=timeout,
        retries=int(retries),
        retry_delay=retry_delay,
        overlap=choices["overlap"],
        catchup=choices["catchup"],
        starting_deadline=deadline,
        enabled=enabled,
        raw_schedule=raw_schedule,
    )


def _parse_cron(name: str, raw: Any, errors: list[TaskConfigError]) -> str | None:
    expr = raw.strip() if isinstance(raw, str) else raw
    if isinstance(expr, str) and expr.lower() in NICKNAMES:
        return NICKNAMES[expr.lower()]
    problem = None
    if not isinstance(expr, str) or len(expr.split()) != 5:
        problem = "a cron expression has 5 fields (minute hour day month weekday)"
    else:
        try:
            next(iter(CronSim(expr, datetime.now(UTC))))
        except (CronSimError, StopIteration) as exc:
            problem = str(exc) or "it never matches"
    if problem:
        errors.append(
            TaskConfigError(
                name,
                "schedule",
                f"schedule {raw!r} is not a valid cron expression: {problem}.",
                'Use 5-field cron ("0 3 * * *") or @hourly/@daily/@weekly/@monthly/@yearly.',
                "core.E004",
            )
        )
        return None
    return expr


def parse_tasks(raw: Any, default_tz: str) -> tuple[dict[str, TaskSpec], list[TaskConfigError]]:
    if not isinstance(raw, Mapping):
        return {}, [
            TaskConfigError(
                "*",
                "",
                "SCHEDULED_TASKS must be a dict of task name to options.",
                'For example {"scrape_spoj": {"schedule": "0 3 * * *"}}.',
                "core.E001",
            )
        ]
    specs: dict[str, TaskSpec] = {}
    errors: list[TaskConfigError] = []
    for name, entry in raw.items():
        if not isinstance(name, str) or not name or len(name) > 100:
            errors.append(
                TaskConfigError(
                    str(name),
                    "",
                    "task names must be non-empty strings of at most 100 characters.",
                    "Rename the task.",
                    "core.E001",
                )
            )
            continue
        entry_errors: list[TaskConfigError] = []
        spec = _parse_task(name, entry, default_tz, entry_errors)
        if spec is not None and not entry_errors:
            specs[name] = spec
        errors.extend(entry_errors)
    return specs, errors


def get_tasks() -> dict[str, TaskSpec]:
    """The declared tasks; raises ``ImproperlyConfigured`` listing every invalid option."""
    specs, errors = parse_tasks(getattr(settings, "SCHEDULED_TASKS", {}), settings.TIME_ZONE)
    if errors:
        count = f"{len(errors)} error" + ("s" if len(errors) != 1 else "")
        raise ImproperlyConfigured(
            f"SCHEDULED_TASKS has {count}: " + "; ".join(str(e) for e in errors)
        )
    return specs


def check_scheduled_tasks(**kwargs: Any) -> list[checks.CheckMessage]:
    """System check: every SCHEDULED_TASKS entry is valid (ids core.E001-E009), and
    the heartbeat is well inside the stale age (core.E010). Every error is reported."""
    _, errors = parse_tasks(getattr(settings, "SCHEDULED_TASKS", {}), settings.TIME_ZONE)
    messages: list[checks.CheckMessage] = [
        checks.Error(
            f"SCHEDULED_TASKS[{e.name!r}]: {e.message}",
            hint=e.hint,
            obj="settings.SCHEDULED_TASKS",
            id=e.id,
        )
        for e in errors
    ]
    messages.extend(check_lease_timing())
    return messages


def check_lease_timing() -> list[checks.CheckMessage]:
    """A run's lease must survive one late heartbeat: heartbeat < stale_after / 2."""
    heartbeat = getattr(settings, "SCHEDULED_TASKS_HEARTBEAT", None)
    stale_after = getattr(settings, "SCHEDULED_TASKS_STALE_AFTER", None)
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (heartbeat, stale_after)
    )
    if not numbers:
        return []  # the settings readers already refuse non-numbers
    assert isinstance(heartbeat, int | float)
    assert isinstance(stale_after, int | float)
    if heartbeat < stale_after / 2:
        return []
    return [
        checks.Error(
            f"SCHEDULED_TASKS_HEARTBEAT={heartbeat:g} s is not below half of "
            f"SCHEDULED_TASKS_STALE_AFTER={stale_after:g} s: one late heartbeat would let "
            "another process take a run that is still alive as abandoned.",
            hint=(
                f"Lower SCHEDULED_TASKS_HEARTBEAT below {stale_after / 2:g} or raise "
                f"SCHEDULED_TASKS_STALE_AFTER above {2 * heartbeat:g} (defaults 15 and 60)."
            ),
            obj="settings.SCHEDULED_TASKS_HEARTBEAT",
            id="core.E010",
        )
    ]
