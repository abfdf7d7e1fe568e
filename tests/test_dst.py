"""Cron ticks across daylight-saving change-overs, pinned as exact UTC instants (2026).

Debian cron semantics (through cronsim): a job at a fixed local time runs once
on the day the clocks go back, even though that time happens twice; a job whose
time is skipped when the clocks go forward runs at the first moment after the
gap. Jobs with a wildcard hour follow the wall clock, so they do run in both
copies of the repeated hour. Lord Howe Island moves its clocks by 30 minutes
(+10:30 / +11:00). ``every`` ticks are epoch-aligned and ignore time zones.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from core.scheduling.config import TaskSpec, parse_task

pytestmark = pytest.mark.any_database  # see tests/conftest.py

NY, LONDON, LORD_HOWE = "America/New_York", "Europe/London", "Australia/Lord_Howe"


def cron(schedule: str, tz: str) -> TaskSpec:
    return parse_task("job", {"command": "check", "schedule": schedule, "timezone": tz}, "UTC")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def day_ticks(spec: TaskSpec, around: datetime) -> list[datetime]:
    """Ticks in the 24 hours centred on ``around``."""
    return spec.ticks_between(around - timedelta(hours=12), around + timedelta(hours=12))


@pytest.mark.parametrize(
    ("tz", "schedule", "change", "expected"),
    [
        # Clocks go back: the fixed-time job runs once, at the first occurrence.
        (NY, "30 1 * * *", utc(2026, 11, 1, 6), utc(2026, 11, 1, 5, 30)),  # 01:30 EDT
        (LONDON, "30 1 * * *", utc(2026, 10, 25, 1), utc(2026, 10, 25, 0, 30)),  # 01:30 BST
        (LORD_HOWE, "45 1 * * *", utc(2026, 4, 4, 15), utc(2026, 4, 4, 14, 45)),  # 01:45 +11
        # Clocks go forward: a skipped time runs when the gap ends.
        (NY, "30 2 * * *", utc(2026, 3, 8, 7), utc(2026, 3, 8, 7)),  # 03:00 EDT
        (LONDON, "30 1 * * *", utc(2026, 3, 29, 1), utc(2026, 3, 29, 1)),  # 02:00 BST
        (LORD_HOWE, "15 2 * * *", utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 15, 30)),  # 02:30 +11
        # Times outside the gap are not moved.
        (LORD_HOWE, "30 2 * * *", utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 15, 30)),
        (NY, "30 3 * * *", utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30)),
    ],
)
def test_a_daily_job_runs_exactly_once_on_a_change_over_day(
    tz: str, schedule: str, change: datetime, expected: datetime
) -> None:
    assert day_ticks(cron(schedule, tz), change) == [expected]


@pytest.mark.parametrize(
    ("tz", "start", "expected"),
    [
        # New York, autumn: 01:00 and 01:30 happen twice (EDT, then EST).
        (
            NY,
            utc(2026, 11, 1, 4, 45),
            [
                utc(2026, 11, 1, 5),
                utc(2026, 11, 1, 5, 30),
                utc(2026, 11, 1, 6),
                utc(2026, 11, 1, 6, 30),
                utc(2026, 11, 1, 7),
            ],
        ),
        # New York, spring: from 01:30 EST straight to 03:00 EDT.
        (
            NY,
            utc(2026, 3, 8, 5, 45),
            [
                utc(2026, 3, 8, 6),
                utc(2026, 3, 8, 6, 30),
                utc(2026, 3, 8, 7),
                utc(2026, 3, 8, 7, 30),
                utc(2026, 3, 8, 8),
            ],
        ),
        # Lord Howe, autumn: 01:30 happens twice, 30 minutes apart.
        (
            LORD_HOWE,
            utc(2026, 4, 4, 13, 45),
            [
                utc(2026, 4, 4, 14),
                utc(2026, 4, 4, 14, 30),
                utc(2026, 4, 4, 15),
                utc(2026, 4, 4, 15, 30),
                utc(2026, 4, 4, 16),
            ],
        ),
        # Lord Howe, spring: 01:30 +10:30, then 02:30 +11:00 (02:00 never happens).
        (
            LORD_HOWE,
            utc(2026, 10, 3, 14, 15),
            [
                utc(2026, 10, 3, 14, 30),
                utc(2026, 10, 3, 15),
                utc(2026, 10, 3, 15, 30),
                utc(2026, 10, 3, 16),
                utc(2026, 10, 3, 16, 30),
            ],
        ),
    ],
)
def test_a_wildcard_hour_job_follows_the_wall_clock_through_the_change(
    tz: str, start: datetime, expected: list[datetime]
) -> None:
    spec = cron("*/30 * * * *", tz)
    assert spec.ticks_between(start, expected[-1]) == expected


def test_local_times_of_the_lord_howe_ticks_show_the_30_minute_shift() -> None:
    spec = cron("*/30 * * * *", LORD_HOWE)
    ticks = spec.ticks_between(utc(2026, 4, 4, 14, 15), utc(2026, 4, 4, 15, 15))
    local = [t.astimezone(spec.timezone).strftime("%H:%M%z") for t in ticks]
    assert local == ["01:30+1100", "01:30+1030"]


@pytest.mark.parametrize("tz", [NY, LONDON, LORD_HOWE])
@pytest.mark.parametrize("change", [utc(2026, 3, 8, 7), utc(2026, 10, 3, 15, 30)])
def test_every_ticks_are_epoch_aligned_whatever_the_time_zone(tz: str, change: datetime) -> None:
    spec = parse_task("job", {"command": "check", "every": 5400, "timezone": tz}, "UTC")
    ticks = spec.ticks_between(change - timedelta(hours=6), change + timedelta(hours=6))
    assert len(ticks) == 8
    assert all(t.timestamp() % 5400 == 0 for t in ticks)
    assert {b - a for a, b in itertools.pairwise(ticks)} == {timedelta(seconds=5400)}


@pytest.mark.parametrize(
    ("tz", "schedule", "start", "expected"),
    [
        # Started at 01:10 EST, inside the repeated hour: 01:30 EDT (05:30Z) already ran.
        (NY, "30 1 * * *", utc(2026, 11, 1, 6, 10), utc(2026, 11, 2, 6, 30)),
        # Lord Howe, 01:35 +10:30 (the repeated half hour): 01:45 +11 (14:45Z) already ran.
        (LORD_HOWE, "45 1 * * *", utc(2026, 4, 4, 15, 5), utc(2026, 4, 5, 15, 15)),
        # Same starts, a job later in the night is not moved.
        (NY, "15 2 * * *", utc(2026, 11, 1, 6, 10), utc(2026, 11, 1, 7, 15)),
        (LORD_HOWE, "15 2 * * *", utc(2026, 4, 4, 15, 5), utc(2026, 4, 4, 15, 45)),
    ],
)
def test_a_clock_started_in_the_repeated_hour_gets_a_tick_after_its_start(
    tz: str, schedule: str, start: datetime, expected: datetime
) -> None:
    spec = cron(schedule, tz)
    assert spec.next_tick(start) == expected
    assert spec.ticks_between(start, expected) == [expected]


def test_a_two_hourly_job_in_lord_howe_runs_at_two_after_the_half_hour_goes_back() -> None:
    # 01:40 +11:00, then at 02:00 +11:00 (15:00Z) the clocks go back to 01:30 +10:30;
    # 02:00 +10:30 (15:30Z) is the next even hour on the wall clock.
    spec = cron("0 */2 * * *", LORD_HOWE)
    assert spec.next_tick(utc(2026, 4, 4, 14, 40)) == utc(2026, 4, 4, 15, 30)
