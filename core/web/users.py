"""A SPOJ user's numbers from the score table: points, solved, unsolved, comparisons.

A user's points are the sum of the *current* scores of the solved problems
that are on the score table (active), as SPOJ would count them today; codes
the table does not list (not scraped yet, or gone from the classical list)
are shown as such and add nothing. ``math.fsum`` sums exactly, then the page
rounds to 3 decimals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from core.models import Problem, SolvedProblem, SpojUser


@dataclass(frozen=True)
class SolvedEntry:
    """One solved code: its problem's score and name when the table lists it."""

    code: str
    name: str | None
    score: float | None  # None: not an active problem of the table

    @property
    def in_table(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class Solved:
    entries: list[SolvedEntry]  # best (highest score) first, then the codes not in the table

    @property
    def points(self) -> float:
        return math.fsum(e.score for e in self.entries if e.score is not None)

    @property
    def in_table(self) -> list[SolvedEntry]:
        return [e for e in self.entries if e.in_table]

    @property
    def not_in_table(self) -> list[str]:
        return [e.code for e in self.entries if not e.in_table]

    def codes(self) -> set[str]:
        return {e.code for e in self.entries}


def solved_of(user: SpojUser) -> Solved:
    """The user's solved codes with their problems' scores, in two queries."""
    codes = list(SolvedProblem.objects.filter(user=user).values_list("code", flat=True))
    listed = {
        code: (name, score)
        for code, name, score in Problem.objects.filter(
            active=True, code__in=SolvedProblem.objects.filter(user=user).values("code")
        ).values_list("code", "name", "score")
    }
    entries = [
        SolvedEntry(code, listed[code][0], listed[code][1])
        if code in listed
        else SolvedEntry(code, None, None)
        for code in codes
    ]
    entries.sort(key=lambda e: (e.score is None, -(e.score or 0.0), e.code))
    return Solved(entries)


def solved_by(user: SpojUser) -> Q:
    """The problems ``user`` solved, as a condition on ``Problem`` (a correlated EXISTS)."""
    return Q(Exists(SolvedProblem.objects.filter(user=user, code=OuterRef("code"))))


def format_points(points: float) -> str:
    return f"{points:,.3f}"


@dataclass(frozen=True)
class Comparison:
    both: list[SolvedEntry]
    only_a: list[SolvedEntry]
    only_b: list[SolvedEntry]  # best first: what b solved that a should try

    @staticmethod
    def points(entries: list[SolvedEntry]) -> float:
        return math.fsum(e.score for e in entries if e.score is not None)


def compare(a: Solved, b: Solved) -> Comparison:
    a_codes, b_codes = a.codes(), b.codes()
    return Comparison(
        both=[e for e in a.entries if e.code in b_codes],
        only_a=[e for e in a.entries if e.code not in b_codes],
        only_b=[e for e in b.entries if e.code not in a_codes],
    )
