"""The score table's query: which problems, in which order, with which rank.

Rank is a property of the problem, not of the page: its position among all
active problems ordered by score, highest first, ties broken by code (the
default order of ``/``). Sorting by another column or searching does not
change a problem's rank, so a user who searches for ``PRIME1`` sees the same
rank as on the unfiltered table, and page 2 of the default order holds ranks
101-200.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, OrderBy, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from core.models import Problem
from core.search import Fold, matches

PAGE_SIZE = 100
# The columns a table row shows; everything else stays in the database.
ROW_FIELDS = ("code", "name", "users", "score", "acceptance")
SORT_KEYS = ("code", "name", "users", "score", "acceptance")
DEFAULT_SORT = "-score"
# Direction of a column's first click: text A-Z, numbers biggest first.
FIRST_DESCENDING = frozenset({"users", "score", "acceptance"})


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @classmethod
    def parse(cls, value: str | None) -> Sort:
        """The sort asked for by ``?sort=``; anything unknown means the default."""
        value = (value or "").strip()
        key = value.removeprefix("-")
        if key not in SORT_KEYS:
            return cls.parse(DEFAULT_SORT)
        return cls(key=key, descending=value.startswith("-"))

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def order_by(self) -> list[OrderBy]:
        """ORDER BY terms, with code last so equal values keep a stable order."""
        # Names sort without regard to case, like the search matches them.
        column = Fold("name") if self.key == "name" else F(self.key)
        terms = [column.desc() if self.descending else column.asc()]
        if self.key != "code":
            terms.append(F("code").asc())
        return terms

    def toggled_for(self, key: str) -> Sort:
        """The sort a click on column ``key``'s header asks for."""
        if key == self.key:
            return Sort(key=key, descending=not self.descending)
        return Sort(key=key, descending=key in FIRST_DESCENDING)


def score_rank() -> Window:
    return Window(RowNumber(), order_by=[F("score").desc(), F("code").asc()])


def active_problems(query: str = "") -> QuerySet[Problem]:
    """Active problems matching ``query`` (all when empty), without rank."""
    problems = Problem.objects.filter(active=True)
    return problems.filter(matches(query)) if query else problems


def ranked_problems(query: str, sort: Sort) -> QuerySet[Problem]:
    """Active problems matching ``query``, annotated with ``rank``, in ``sort`` order.

    The rank window must see every active problem, so the search cannot go in
    the WHERE clause (which runs before windows). Django moves a filter that
    mentions a window annotation after the window (QUALIFY, emulated with a
    subquery on SQLite and PostgreSQL) and keeps an OR together, so OR-ing the
    search with an impossible condition on the rank puts the search there.
    ``tests/test_views_score_table.py`` pins that a found problem keeps its rank.
    """
    problems = Problem.objects.filter(active=True).annotate(rank=score_rank())
    if query:
        problems = problems.filter(matches(query) | Q(rank__isnull=True))
    return problems.order_by(*sort.order_by())


@dataclass(frozen=True)
class PageWindow:
    """One page of ``count`` rows: clamps any requested page number into range."""

    number: int
    count: int
    size: int = PAGE_SIZE

    @classmethod
    def parse(cls, value: str | None, count: int, size: int = PAGE_SIZE) -> PageWindow:
        """Page ``?page=``: non-numbers mean 1, too small 1, too big the last page."""
        try:
            number = int(value or "1")
        except ValueError:
            number = 1
        last = cls(number=1, count=count, size=size).num_pages
        return cls(number=min(max(number, 1), last), count=count, size=size)

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        """1-based position of the page's first row (0 on an empty table)."""
        return self.offset + 1 if self.count else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.count)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages
