"""Guarantees 1 and 3 with real processes: three clocks and ``runtasks`` invocations
race for the same ticks, both sides win some of them, and every tick is executed
exactly once, with no gaps.

The clocks wake on the tick itself, so a ``runtasks`` started at an arbitrary
moment finds the tick taken. Here several ``runtasks`` fire at every raced tick
(``tests/runtasks_at.py``), their steps beginning in its first milliseconds,
and the clocks get a handicap that varies from tick to tick: stopped
(SIGSTOP) just before the tick, they resume (SIGCONT) 0 to 40 ms after it, as a
clock on a stalled machine would. Then both sides run the same step for the
same tick at about the same moment, and the database decides who wins.
"""

from __future__ import annotations

import math
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import parse_task
from tests.processes import (
    Proc,
    Processes,
    latest_tick,
    read_records,
    record_task,
    seed_last_run,
)
from tests.support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each raced tick gets one runtasks per offset, whose step begins that long
# after the tick (seconds).
FIRE_OFFSETS = "0,0.002,0.004,0.008"
# How long after each raced tick the clocks resume, in turn (seconds). With no
# pause the clocks usually win; with 40 ms, runtasks usually do; in between,
# either. The longer pauses are for a slow machine, where a runtasks can take
# more than 40 ms from its fork to its claim: without them a CI run on
# PostgreSQL saw the clocks win all 38 claims of 25 raced ticks.
PAUSES = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
MIN_RACED_TICKS = len(PAUSES)
RACE_LIMIT = 25  # seconds of ticks raced at most, waiting for the race to show


@dataclass
class Race:
    """What the raced ticks show so far."""

    pauses: dict[datetime, float] = field(default_factory=dict)  # raced tick -> clocks' pause
    winners: Counter[str] = field(default_factory=Counter)  # claims of raced ticks, by trigger
    # (task, tick) a clock won although a runtasks had found it due and tried
    # to claim it (and lost: its INSERT came second).
    clock_beat_runtasks: set[tuple[str, datetime]] = field(default_factory=set)
    # (task, tick) a runtasks won after the clocks had resumed.
    runtasks_beat_clocks: set[tuple[str, datetime]] = field(default_factory=set)

    def shown(self) -> bool:
        return (
            len(self.pauses) >= MIN_RACED_TICKS
            and bool(self.clock_beat_runtasks)
            and bool(self.runtasks_beat_clocks)
        )

    def describe(self) -> str:
        def keys(found: set[tuple[str, datetime]]) -> str:
            return ", ".join(f"{task} {tick:%H:%M:%S}" for task, tick in sorted(found)) or "none"

        return (
            f"{len(self.pauses)} raced ticks, claimed by {dict(self.winners)}; "
            f"a clock won after a runtasks tried: {keys(self.clock_beat_runtasks)}; "
            f"a runtasks won after the clocks resumed: {keys(self.runtasks_beat_clocks)}"
        )


def observe(tasks: dict[str, Any], runtasks: Proc, pauses: dict[datetime, float]) -> Race:
    """The race so far, over the raced ticks that are over (a second old)."""
    over = timezone.now() - timedelta(seconds=1)
    race = Race({t: p for t, p in pauses.items() if t < over})
    lost = set()
    for line in runtasks.output().splitlines():
        # "tick 1796113914 pid 4656: every1: lost", from tests.runtasks_at
        words = line.split()
        if line.startswith("tick ") and words[-1] == "lost":
            lost.add((words[-2].rstrip(":"), datetime.fromtimestamp(int(words[1]), UTC)))
    rows = TaskRun.objects.filter(task__in=list(tasks), scheduled_for__in=list(race.pauses))
    for row in rows:
        key = (row.task, row.scheduled_for)
        race.winners[row.trigger] += 1
        if row.trigger == Trigger.CLOCK and key in lost:
            race.clock_beat_runtasks.add(key)
        resumed = row.scheduled_for + timedelta(seconds=race.pauses[row.scheduled_for])
        if row.trigger == Trigger.SCHEDULER and row.created_at > resumed:
            race.runtasks_beat_clocks.add(key)
    return race


def test_runtasks_and_three_clocks_race_for_each_tick_both_win_and_each_runs_once(
    processes: Processes, records_file: Path
) -> None:
    # overlap="allow" and a long starting deadline: no tick may be skipped or
    # missed, so every tick must be executed, and exactly once.
    tasks: dict[str, Any] = {
        "every1": record_task(records_file, every=1, overlap="allow", starting_deadline=30),
        "every2": record_task(records_file, every=2, overlap="allow", starting_deadline=30),
    }
    specs = {name: parse_task(name, entry, "UTC") for name, entry in tasks.items()}

    # Each task last ran at its latest tick: the clocks go on from there rather
    # than run every tick of the last 30 s.
    seeds = {name: latest_tick(spec) for name, spec in specs.items()}
    for name, tick in seeds.items():
        seed_last_run(name, tick)
    clocks = [processes.clock(tasks, name=f"clock{i}") for i in range(3)]
    wait_for(
        lambda: TaskRun.objects.filter(task="every1", scheduled_for__gt=seeds["every1"]).exists(),
        timeout=30,
        what="the clocks to claim a tick",
    )

    # The race, from the second after next, until it has shown both sides
    # winning contested claims.
    first = math.ceil(time.time()) + 2
    args = [str(first), FIRE_OFFSETS, str(RACE_LIMIT)]
    runtasks = processes.start(["-m", "tests.runtasks_at", *args], tasks, "runtasks")
    pauses: dict[datetime, float] = {}
    for i, second in enumerate(range(first, first + RACE_LIMIT)):
        if runtasks.popen.poll() is not None or observe(tasks, runtasks, pauses).shown():
            break
        pause = PAUSES[i % len(PAUSES)]
        pauses[datetime.fromtimestamp(second, UTC)] = pause
        time.sleep(max(0.0, second - 0.05 - time.time()))
        try:
            for clock in clocks:
                clock.signal(signal.SIGSTOP)
            time.sleep(max(0.0, second + pause - time.time()))
        finally:
            for clock in clocks:
                clock.signal(signal.SIGCONT)
    runtasks.signal(signal.SIGTERM)
    assert runtasks.wait(60) == 0, runtasks.output()[-5000:]

    # Stop the clocks between ticks, once the latest tick is claimed and every
    # run has ended, so that no run is cut short by the stop.
    def caught_up() -> bool:
        if not 0.3 < time.time() % 1 < 0.7:
            return False
        rows = TaskRun.objects.filter(task__in=list(tasks))
        latest = [(name, latest_tick(spec)) for name, spec in specs.items()]
        claimed = all(rows.filter(task=n, scheduled_for=t).exists() for n, t in latest)
        return claimed and not rows.filter(status=Status.RUNNING).exists()

    wait_for(caught_up, timeout=30, what="the clocks to catch up, between two ticks", interval=0.02)
    stop_requested = timezone.now()
    for clock in clocks:
        clock.signal(signal.SIGTERM)
    for clock in clocks:
        assert clock.wait(25) == 0, clock.output()[-3000:]

    rows = list(TaskRun.objects.filter(task__in=list(tasks)).order_by("task", "scheduled_for"))
    ticks = [r for r in rows if r.scheduled_for > seeds[r.task]]
    assert all(r.attempt == 1 and r.on_tick for r in ticks)
    records = read_records(records_file)
    starts = Counter((s["task"], s["tick"]) for s in records if s["event"] == "start")
    ends = Counter((s["task"], s["tick"]) for s in records if s["event"] == "end")
    twice = {key: n for key, n in starts.items() if n > 1}
    assert not twice, f"ticks executed more than once: {twice}"

    # Executions (side effects) == ticks: every tick since the seed has one
    # row, and each was executed once, to its end, by the process that claimed it.
    for name, spec in specs.items():
        mine = [r.scheduled_for for r in ticks if r.task == name]
        assert mine == spec.ticks_between(seeds[name], stop_requested)
    assert set(starts) == set(ends) == {(r.task, r.scheduled_for.isoformat()) for r in ticks}
    pids = {(s["task"], s["tick"]): s["pid"] for s in records if s["event"] == "start"}
    for row in ticks:
        assert row.status == Status.SUCCEEDED, (row, row.error)
        assert row.host.endswith(f":{pids[(row.task, row.scheduled_for.isoformat())]}")

    # Both sides won some of the raced ticks, and some of them against the other
    # side trying at the same time.
    race = observe(tasks, runtasks, pauses)
    assert set(race.winners) == {Trigger.CLOCK, Trigger.SCHEDULER}, race.describe()
    assert race.clock_beat_runtasks, race.describe()
    assert race.runtasks_beat_clocks, race.describe()
    print(race.describe())
