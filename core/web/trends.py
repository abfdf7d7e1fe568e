"""``/trends/``'s queries: the problems whose users grew most, and the new problems.

Everything is measured back from the **last update** (the newest scrape's
finish), not from the wall clock: the page is a function of the data, and a
week without scrapes does not make every problem look as if nobody solved it.

* A problem's users **as of** moment t are those of its newest history row at
  or before t (a row is written when it is first seen and whenever its users
  change, so every problem seen by t has one).
* **Growth over a window** of d days: its users now minus its users as of
  ``last update - d``. When the history is younger than the window (the first
  scrape came later), the window starts at the first scrape instead, and the
  page says so. Only active problems that were already listed at the window's
  start and gained users are ranked: most users gained first, ties by code.
* **New problems**: first seen in the 30 days before the last update, and after
  the first scrape (everything the first scrape found was first seen then, but
  only became known to us, not new on SPOJ). Newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, OuterRef, QuerySet, Subquery

from core.models import Problem, ProblemHistory, Scrape, score_for
from core.web.exports import problem_url

WINDOWS = (7, 30)
NEW_DAYS = 30
# Rows per list: the page is for choosing a problem, not a full report.
LIMIT = 25


@dataclass(frozen=True)
class Grower:
    code: str
    name: str
    users_before: int
    users: int

    @property
    def gained(self) -> int:
        return self.users - self.users_before

    @property
    def score(self) -> float:
        return score_for(self.users)

    @property
    def spoj_url(self) -> str:
        return problem_url(self.code)

    @property
    def score_change(self) -> float:
        """What the score lost over the window (negative: it falls as users grow)."""
        return self.score - score_for(self.users_before)


@dataclass(frozen=True)
class Window:
    days: int
    since: datetime  # the moment growth is counted from
    shortened: bool  # the history starts later than ``days`` before the last update
    growers: list[Grower]


def first_scrape() -> datetime | None:
    return Scrape.objects.order_by("finished_at").values_list("finished_at", flat=True).first()


def _users_as_of(moment: datetime) -> Subquery:
    rows = ProblemHistory.objects.filter(problem=OuterRef("pk"), recorded_at__lte=moment)
    # The index history_problem_time (problem, recorded_at) serves this per problem.
    return Subquery(rows.order_by("-recorded_at", "-id").values("users")[:1])


def growers(since: datetime, limit: int = LIMIT) -> list[Grower]:
    """Active problems listed at ``since`` that gained users after it, most first."""
    rows = (
        Problem.objects.filter(active=True)
        .annotate(users_before=_users_as_of(since))
        .filter(users_before__isnull=False, users__gt=F("users_before"))
        .annotate(gained=F("users") - F("users_before"))
        .order_by("-gained", "code")
        .values_list("code", "name", "users_before", "users")[:limit]
    )
    return [Grower(code, name, before, users) for code, name, before, users in rows]


def window(days: int, last_update: datetime, history_starts: datetime) -> Window:
    since = last_update - timedelta(days=days)
    shortened = since < history_starts
    since = max(since, history_starts)
    return Window(days=days, since=since, shortened=shortened, growers=growers(since))


def new_problems(
    last_update: datetime, history_starts: datetime, limit: int = LIMIT
) -> QuerySet[Problem]:
    """Active problems first seen in the ``NEW_DAYS`` before ``last_update``, after the first
    scrape, newest first."""
    return (
        Problem.objects.filter(
            active=True,
            first_seen__gt=history_starts,
            first_seen__gte=last_update - timedelta(days=NEW_DAYS),
            first_seen__lte=last_update,
        )
        .order_by("-first_seen", "code")
        .only("code", "name", "users", "score", "first_seen")[:limit]
    )
