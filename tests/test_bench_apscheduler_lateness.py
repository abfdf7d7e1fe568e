"""bench/apscheduler_lateness.py measures true lateness: start minus scheduled run time."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.any_database  # see tests/conftest.py

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "apscheduler_lateness.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("apscheduler_lateness", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_a_run_more_than_a_second_late_counts_in_full(bench: ModuleType) -> None:
    # Taken modulo 1 s (the start's fraction of a second), this was 250 ms.
    scheduled = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
    started = (scheduled + timedelta(seconds=1.25)).timestamp()
    assert bench.lateness_ms(started, scheduled) == pytest.approx(1250, abs=0.01)


def test_a_run_that_starts_early_counts_as_negative(bench: ModuleType) -> None:
    # Modulo 1 s, a start 1 ms before the second was 999 ms late.
    scheduled = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
    started = (scheduled - timedelta(milliseconds=1)).timestamp()
    assert bench.lateness_ms(started, scheduled) == pytest.approx(-1, abs=0.01)


def test_a_short_real_measurement_times_its_ticks_against_their_schedule(
    bench: ModuleType,
) -> None:
    result = bench.measure(ticks=3, interval=0.2)
    assert result.scheduled == 3
    assert result.errors == []
    assert 1 <= len(result.late_ms) <= 3
    # APScheduler runs a tick at most its 1 s misfire grace late, never much early.
    assert all(-50 < late < 1100 for late in result.late_ms), result.late_ms
