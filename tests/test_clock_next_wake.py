"""The clock's next wake-up counts from the step's own time: a tick that fell due
while the step ran is stepped at once, not slept past (and then recorded missed).

Found by ``bench/executors.py``: under the celery executor the clock's first step
(its first publish sets up the broker connection) took longer than an every-1-s
task's period, and the clock slept to the tick after the one that fell due.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from core.models import Trigger
from core.scheduling.clock import Clock
from core.scheduling.config import get_tasks
from core.scheduling.engine import Engine

pytestmark = pytest.mark.any_database  # see tests/conftest.py

TICK = datetime(2026, 5, 1, 12, 0, 7, tzinfo=UTC)


def make_clock() -> Clock:
    with override_settings(SCHEDULED_TASKS={"often": {"command": "check", "every": 1}}):
        clock = Clock(Engine(Trigger.CLOCK, get_tasks()))
    clock.supervisor.close()
    return clock


def test_a_tick_that_fell_due_during_the_step_wakes_the_clock_at_once() -> None:
    clock = make_clock()
    since = TICK - timedelta(seconds=0.4)  # the step began before the tick...
    with time_machine.travel(TICK + timedelta(seconds=0.3), tick=False):  # ...and ended after it
        wake_at = clock._next_wake(since)
    assert wake_at <= time.monotonic() + 0.01


def test_with_no_tick_during_the_step_the_clock_sleeps_to_the_next_one() -> None:
    clock = make_clock()
    since = TICK + timedelta(seconds=0.1)
    with time_machine.travel(TICK + timedelta(seconds=0.2), tick=False):
        started = time.monotonic()
        wake_at = clock._next_wake(since)
    # The next tick is TICK + 1 s, 0.8 s after "now".
    assert 0.7 <= wake_at - started <= 0.9
