"""Cron ticks around every offset change of every zone, 2025-2030, against Debian cron.

For each zone in ``zoneinfo.available_timezones()`` the offset changes are found
by sampling every week and bisecting to the second (a 1-day step finds the same
2,414 changes; a zone whose offset changed and changed back within a week would
be missed). Around each change a handful of schedules is placed in that zone:
fixed-time jobs inside the wall-clock window that is skipped or repeated, and
wildcard jobs (``30 * * * *``, ``*/15``, ``*/7``). Their ticks are compared with
``debian_runs``, an independent model of Debian cron's main loop (cron.c): a
daemon that has been running all along wakes each real minute, compares the
wall clock with its "virtual time", and

- one minute on: runs every job due at the wall time;
- 2 to 5 minutes on (woke late): runs every job due at each missed wall minute;
- 6 minutes to 3 hours on (clocks went forward): runs wildcard jobs due now, and
  fixed-time jobs due at each missed wall minute (now, at the end of the jump);
- 0 to 3 hours back (clocks went back): runs only wildcard jobs due now, and
  keeps its virtual time until the wall clock catches up, so fixed-time jobs
  do not run twice;
- further either way: treats it as a new time and runs everything due now.

Where Debian would start a fixed-time job twice in the same minute (two of its
times inside one jump), the model, like the ticks, counts one start.

The model reads the zone only forwards (UTC instant -> wall clock); the code
under test goes from wall clock to UTC.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest

from core.scheduling.config import TaskSpec, parse_task

pytestmark = pytest.mark.any_database  # see tests/conftest.py

FROM, UNTIL = datetime(2025, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
SAMPLE = timedelta(days=7)
MINUTE, SECOND = timedelta(minutes=1), timedelta(seconds=1)


@dataclass(frozen=True)
class Change:
    zone: str
    at: datetime  # the first UTC instant with the new offset
    before: timedelta
    after: timedelta

    @property
    def shift(self) -> timedelta:
        return abs(self.after - self.before)


def offset(tz: ZoneInfo, instant: datetime) -> timedelta:
    value = instant.astimezone(tz).utcoffset()
    assert value is not None
    return value


@cache
def changes() -> list[Change]:
    found = []
    for name in sorted(available_timezones()):
        tz = ZoneInfo(name)
        here, off = FROM, offset(tz, FROM)
        while here < UNTIL:
            there = here + SAMPLE
            new = offset(tz, there)
            if new != off:
                lo, hi = here, there
                while hi - lo > SECOND:
                    mid = lo + (hi - lo) // SECOND // 2 * SECOND
                    lo, hi = (mid, hi) if offset(tz, mid) == off else (lo, mid)
                found.append(Change(name, hi, off, new))
            here, off = there, new
    return found


# --- The model of Debian cron -----------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    minute_field: str
    hour_field: str

    @property
    def cron(self) -> str:
        return f"{self.minute_field} {self.hour_field} * * *"

    @property
    def wildcard(self) -> bool:  # cron's MIN_STAR / HR_STAR entry flags
        return self.minute_field.startswith("*") or self.hour_field.startswith("*")

    def due(self, wall: datetime) -> bool:
        return wall.minute in self.minutes and wall.hour in self.hours


def fixed(hours: set[int], minutes: set[int]) -> Schedule:
    def field(values: set[int]) -> str:
        return ",".join(str(v) for v in sorted(values))

    return Schedule(frozenset(minutes), frozenset(hours), field(minutes), field(hours))


ALL_HOURS = frozenset(range(24))
HOURLY_AT_30 = Schedule(frozenset({30}), ALL_HOURS, "30", "*")
EVERY_15 = Schedule(frozenset(range(0, 60, 15)), ALL_HOURS, "*/15", "*")
EVERY_7 = Schedule(frozenset(range(0, 60, 7)), ALL_HOURS, "*/7", "*")


def walls(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """(UTC minute, naive wall time) for each real minute in [start, end]."""
    return [
        (u, u.astimezone(tz).replace(tzinfo=None))
        for u in (start + n * MINUTE for n in range((end - start) // MINUTE + 1))
    ]


def debian_runs(schedule: Schedule, minutes: list[tuple[datetime, datetime]]) -> list[datetime]:
    runs = []
    virtual = minutes[0][1] - MINUTE  # it was running normally before
    for instant, wall in minutes:
        diff = (wall - virtual) // MINUTE
        missed = [virtual + k * MINUTE for k in range(1, diff + 1)]
        if diff == 1:
            due = schedule.due(wall)
        elif 1 < diff <= 5:
            due = any(schedule.due(w) for w in missed)
        elif 5 < diff <= 180:
            due = schedule.due(wall) if schedule.wildcard else any(map(schedule.due, missed))
        elif -180 <= diff <= 0:
            due = schedule.wildcard and schedule.due(wall)
        else:
            due = schedule.due(wall)
        if diff > 0 or diff < -180:
            virtual = wall
        if due:
            runs.append(instant)
    return runs


def schedules_for(change: Change) -> list[Schedule]:
    """Fixed-time jobs at the start, middle and last minute of the skipped or
    repeated wall-clock window, one at four quarter-hours around it, and wildcards."""
    start = (change.at + min(change.before, change.after)).replace(tzinfo=None)
    points = [start, start + change.shift // 2 // MINUTE * MINUTE, start + change.shift - MINUTE]
    daily = [fixed({p.hour}, {p.minute}) for p in points]
    quarters = fixed({points[0].hour, points[-1].hour}, {0, 15, 30, 45})
    return [*daily, quarters, HOURLY_AT_30, EVERY_15, EVERY_7]


def spec(schedule: Schedule, zone: str) -> TaskSpec:
    entry = {"command": "check", "schedule": schedule.cron, "timezone": zone}
    return parse_task("job", entry, "UTC")


def starts(change: Change) -> list[datetime]:
    t, d = change.at, change.shift
    return [
        t - MINUTE,
        t - SECOND,
        t - timedelta(microseconds=1),
        t,
        t + timedelta(microseconds=1),
        t + 30 * SECOND,
        t + d // 2,
        t + d - SECOND,
        t + d,
        t + d + MINUTE + timedelta(milliseconds=500),
    ]


# --- The properties ------------------------------------------------------------------


def test_offset_changes_are_found_in_every_zone_that_has_them() -> None:
    found = changes()
    zones = {c.zone for c in found}
    assert {"America/New_York", "Europe/London", "Australia/Lord_Howe", "Antarctica/Troll"} <= zones
    ny = [c.at for c in found if c.zone == "America/New_York"]
    assert datetime(2026, 11, 1, 6, tzinfo=UTC) in ny
    assert len(ny) == 12  # two a year, 2025-2030
    assert {c.shift for c in found} == {
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
    }
    assert all(c.at.second == 0 for c in found)  # the model steps in whole minutes


def test_cron_ticks_around_every_offset_change_match_debian_cron() -> None:
    """In every zone: next_tick(t) > t, ticks strictly increase, and the ticks in a
    window around each change are exactly the minutes Debian cron would start the job.

    Zones sharing a change (same instant, same offsets before and after) with no
    other change within two days read identical offsets over everything the tick
    code looks at (the window and the day after a start), so they give identical
    ticks: the first such zone is checked in full and the others are counted
    once their isolation is checked.
    """
    problems: list[str] = []
    by_zone: dict[str, list[datetime]] = {}
    for change in changes():
        by_zone.setdefault(change.zone, []).append(change.at)
    isolated = all(
        b - a > timedelta(days=2) for ats in by_zone.values() for a, b in itertools.pairwise(ats)
    )
    assert isolated, "two offset changes within two days in one zone: check those zones in full"
    checked: dict[tuple[datetime, timedelta, timedelta], list[str]] = {}
    for change in changes():
        key = (change.at, change.before, change.after)
        if key in checked:
            checked[key].append(change.zone)
            continue
        checked[key] = [change.zone]
        margin = change.shift + 15 * MINUTE
        first, last = change.at - margin, change.at + margin
        minutes = walls(ZoneInfo(change.zone), first, last)
        for schedule in schedules_for(change):
            expected = debian_runs(schedule, minutes)
            task = spec(schedule, change.zone)
            got = task.ticks_between(first, last)
            where = f"{change.zone} {change.at:%Y-%m-%d %H:%MZ} {schedule.cron!r}"
            if any(b <= a for a, b in itertools.pairwise(got)):
                problems.append(f"{where}: ticks not strictly increasing: {got}")
            if got != [r for r in expected if r > first]:
                problems.append(f"{where}: ticks {got} != Debian {expected}")
            for n, start in enumerate(starts(change)):
                tick = task.next_tick(start)
                want = next((r for r in expected if r > start), None)
                if tick <= start:
                    problems.append(f"{where}: next_tick({start}) = {tick}, not after it")
                elif want is not None and tick != want:
                    problems.append(f"{where}: next_tick({start}) = {tick}, Debian {want}")
                elif want is None and tick <= last:
                    problems.append(f"{where}: next_tick({start}) = {tick}, Debian none by {last}")
                if n not in (1, 6):  # ticks_between from just before and inside the change
                    continue
                between = task.ticks_between(start, last)
                if between != [r for r in expected if r > start]:
                    problems.append(f"{where}: ticks_between({start}) = {between}")
    assert not problems, f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:20])
    assert sum(len(zones) for zones in checked.values()) == len(changes())
    assert len(checked) > 300  # distinct changes actually computed


def test_every_ticks_are_epoch_aligned_and_strictly_after_the_start_around_changes() -> None:
    problems = []
    for change in changes()[::7]:  # ``every`` ignores the zone: a sample of instants is enough
        for seconds in (1, 7, 60, 900, 3600, 5400, 86400):
            task = parse_task(
                "job", {"command": "check", "every": seconds, "timezone": change.zone}, "UTC"
            )
            for start in [*starts(change), change.at + timedelta(seconds=seconds)]:
                tick = task.next_tick(start)
                ok = start < tick <= start + timedelta(seconds=seconds)
                ok = ok and (tick - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(
                    seconds=seconds
                ) == (timedelta(0))
                ticks = task.ticks_between(start, start + timedelta(seconds=3 * seconds))
                steps = {b - a for a, b in itertools.pairwise(ticks)}
                if not ok or len(ticks) != 3 or steps != {timedelta(seconds=seconds)}:
                    problems.append(f"every={seconds} from {start}: {tick}, {ticks}")
    assert not problems, "\n".join(problems[:20])
