"""The score chart's geometry (``core.web.chart.score_chart``), without a page around it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from core.models import score_for
from core.web.chart import Chart, HistoryPoint, score_chart

pytestmark = pytest.mark.any_database  # see tests/conftest.py

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def point(day: float, users: int) -> HistoryPoint:
    return HistoryPoint(recorded_at=T0 + timedelta(days=day), users=users, score=score_for(users))


def corners(chart: Chart) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in chart.line.split())]


def inside(chart: Chart, x: float, y: float) -> bool:
    return chart.left <= x <= chart.right and chart.top <= y <= chart.bottom


def test_no_history_draws_no_chart() -> None:
    assert score_chart([], until=T0) is None


def test_one_point_sits_inside_the_plot_with_a_flat_line_to_the_end() -> None:
    chart = score_chart([point(0, 10)], until=T0 + timedelta(days=5))
    assert chart is not None
    (dot,) = chart.dots
    assert inside(chart, dot.x, dot.y)
    assert corners(chart) == [(dot.x, dot.y), (chart.right, dot.y)]


def test_one_point_seen_only_once_is_centred_not_divided_by_zero() -> None:
    chart = score_chart([point(0, 10)], until=T0)
    assert chart is not None
    (dot,) = chart.dots
    assert dot.x == pytest.approx((chart.left + chart.right) / 2, abs=1)
    assert chart.top < dot.y < chart.bottom
    assert len(chart.y_ticks) >= 2


def test_many_points_make_a_step_line_through_every_dot() -> None:
    history = [point(0, 0), point(10, 1), point(30, 5), point(31, 40)]
    chart = score_chart(history, until=T0 + timedelta(days=40))
    assert chart is not None
    line = corners(chart)
    assert len(line) == 2 * len(history)  # two corners per change, plus the tail to "until"
    for i, dot in enumerate(chart.dots):
        assert line[2 * i] == (dot.x, dot.y)
        assert inside(chart, dot.x, dot.y)
    # Horizontal then vertical: the score holds until the next change.
    for (x1, y1), (x2, y2) in itertools.pairwise(line):
        assert x1 == x2 or y1 == y2
    assert line[-1] == (chart.right, chart.dots[-1].y)


def test_the_score_axis_covers_every_score_with_distinct_labels() -> None:
    history = [point(0, 0), point(100, 100_000)]  # 2.0 down to 0.0008
    chart = score_chart(history, until=T0 + timedelta(days=100))
    assert chart is not None
    values = [float(t.label) for t in chart.y_ticks]
    assert values[0] <= score_for(100_000)
    assert values[-1] >= 2.0
    assert len({t.label for t in chart.y_ticks}) == len(chart.y_ticks)
    assert 2 <= len(chart.y_ticks) <= 8


def test_tiny_changes_of_a_popular_problem_still_get_readable_distinct_labels() -> None:
    history = [point(0, 221_560), point(10, 221_566)]
    chart = score_chart(history, until=T0 + timedelta(days=10))
    assert chart is not None
    labels = [t.label for t in chart.y_ticks]
    assert len(set(labels)) == len(labels) >= 2
    # The margin grows with the labels so they are not cut off on the left.
    assert chart.left >= 9 * max(len(label) for label in labels)
    assert chart.dots[0].y < chart.dots[1].y


def test_the_dates_axis_shows_times_for_a_short_history() -> None:
    chart = score_chart([point(0, 1), point(0.5, 2)], until=T0 + timedelta(days=1))
    assert chart is not None
    assert chart.x_ticks[0].label == "01-01 00:00"
    long = score_chart([point(0, 1), point(90, 2)], until=T0 + timedelta(days=90))
    assert long is not None
    assert [t.label for t in long.x_ticks][::3] == ["2025-01-01", "2025-04-01"]


@pytest.mark.parametrize("later", [timedelta(0), timedelta(minutes=20)])
def test_one_moment_gets_one_date_label_under_its_dot_and_none_in_the_future(
    later: timedelta,
) -> None:
    # Before: four labels from 12 hours before to 12 hours after the only sighting.
    chart = score_chart([point(0.25, 10)], until=T0 + timedelta(hours=6) + later)
    assert chart is not None
    (dot,) = chart.dots
    assert [t.label for t in chart.x_ticks] == ["2025-01-01 06:00"]
    assert chart.x_ticks[0].at == dot.x
