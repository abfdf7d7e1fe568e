"""Geometry of the score-over-time chart, drawn as inline SVG by the problem page.

Everything here is numbers and plain strings; the template writes the SVG and
escapes every string it prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

WIDTH = 640
HEIGHT = 300
# Room for the axis labels around the plot area (the left one grows with the
# score labels, which need many decimals for popular problems).
RIGHT, TOP, BOTTOM = 16, 16, 44
# Width of a digit at the chart's 16px font, with a little to spare.
CHAR_WIDTH = 10.0


@dataclass(frozen=True)
class HistoryPoint:
    recorded_at: datetime
    users: int
    score: float


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    dots: list[Dot]
    line: str  # the polyline's ``points``: the score as a step function of time
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    left: int
    width: int = WIDTH
    height: int = HEIGHT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _nice_step(span: float, count: int) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``count`` intervals."""
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _score_axis(low: float, high: float) -> tuple[float, float, float]:
    """Bounds and step of the score axis, padded so a flat line is not on the edge."""
    if high - low < 1e-12:
        pad = max(abs(high) * 0.1, 1e-4)
        low, high = low - pad, high + pad
    step = _nice_step(high - low, 4)
    low = math.floor(low / step) * step
    high = math.ceil(high / step) * step
    return max(low, 0.0), high, step


def _score_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step)))
    return f"{value:.{decimals}f}"


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment)


def _problem_title(point: HistoryPoint) -> str:
    moment = _local(point.recorded_at)
    return f"{moment:%Y-%m-%d %H:%M %Z}: {point.users:,} users, score {point.score:.5f}"


def score_chart(
    history: Sequence[HistoryPoint],
    until: datetime,
    describe: Callable[[HistoryPoint], str] = _problem_title,
) -> Chart | None:
    """The chart of ``history`` (oldest first), the last score held until ``until``.

    ``describe`` gives a dot's hover text (a problem's users and score by
    default; a user's page draws SPOJ's points, with the solved count in
    ``users``). None when there is nothing to draw. One point is drawn as a dot with a
    flat line up to ``until``; if ``until`` is within the hour of it, the dot is
    centred and the date axis has one label, the moment of the dot.
    """
    if not history:
        return None
    start = history[0].recorded_at
    end = max(until, history[-1].recorded_at)
    single_moment = end - start < timedelta(hours=1)
    if single_moment:
        # A single moment: centre it in a one-day window (the window is only
        # room to draw in; its ends are not labelled, see the x ticks below).
        start, end = start - timedelta(hours=12), end + timedelta(hours=12)
    low, high, step = _score_axis(min(p.score for p in history), max(p.score for p in history))
    span_s = (end - start).total_seconds()
    labels = []
    value = low
    while value <= high + step / 2:
        labels.append((value, _score_label(value, step)))
        value += step
    left = 12 + math.ceil(CHAR_WIDTH * max(len(label) for _, label in labels))

    def x_of(moment: datetime) -> float:
        return round(left + (moment - start).total_seconds() / span_s * (WIDTH - RIGHT - left), 1)

    def y_of(score: float) -> float:
        return round(HEIGHT - BOTTOM - (score - low) / (high - low) * (HEIGHT - BOTTOM - TOP), 1)

    dots = [
        Dot(
            x=x_of(p.recorded_at),
            y=y_of(p.score),
            title=describe(p),
        )
        for p in history
    ]
    corners: list[tuple[float, float]] = []
    for dot in dots:
        if corners:
            corners.append((dot.x, corners[-1][1]))
        corners.append((dot.x, dot.y))
    end_x = x_of(max(until, history[-1].recorded_at))
    if end_x > corners[-1][0]:
        corners.append((end_x, corners[-1][1]))
    line = " ".join(f"{x},{y}" for x, y in corners)

    y_ticks = [Tick(at=y_of(value), label=label) for value, label in labels]
    if single_moment:
        # One label, under the dot: ticks spread over the padding window would
        # put dates on the axis that nothing was seen at, half of them in the future.
        first = history[0].recorded_at
        x_ticks = [Tick(at=x_of(first), label=f"{_local(first):%Y-%m-%d %H:%M}")]
        return Chart(dots=dots, line=line, x_ticks=x_ticks, y_ticks=y_ticks, left=left)
    x_ticks = []
    show_time = (end - start) < timedelta(days=3)
    for i in range(4):
        moment = start + (end - start) * i / 3
        label = f"{_local(moment):%m-%d %H:%M}" if show_time else f"{_local(moment):%Y-%m-%d}"
        x_ticks.append(Tick(at=x_of(moment), label=label))
    return Chart(dots=dots, line=line, x_ticks=x_ticks, y_ticks=y_ticks, left=left)
