"""The score table's query: which problems, in which order, with which rank.

Rank is a property of the problem, not of the page: its position among all
active problems ordered by score, highest first, ties broken by code (the
default order of ``/``). Sorting by another column or searching does not
change a problem's rank, so a user who searches for ``PRIME1`` sees the same
rank as on the unfiltered table, and page 2 of the default order holds ranks
101-200.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.db.models import Exists, F, OrderBy, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from core.models import Problem, Tag
from core.web.search import Fold, matches

PAGE_SIZE = 100
# The columns a table row shows; everything else stays in the database.
ROW_FIELDS = ("code", "name", "users", "score", "acceptance")
SORT_KEYS = ("code", "name", "users", "score", "acceptance")
DEFAULT_SORT = "-score"
# Direction of a column's first click: text A-Z, numbers biggest first.
FIRST_DESCENDING = frozenset({"users", "score", "acceptance"})
# Filter values above these are clamped to them (no problem has a billion
# users, and a bigger number could overflow the database's integer).
MAX_MIN_USERS = 10**9
MAX_MIN_ACC = 100.0
# Longer filter values are ignored before any parsing.
MAX_FILTER_LENGTH = 50
# A tag's slug as ``Tag.slug`` stores it; anything else in ``?tag=`` is ignored.
TAG_SLUG = re.compile(r"[a-z0-9_-]{1,64}")


def _parse_number(value: str | None, kind: type[int] | type[float]) -> int | float | None:
    """A finite number >= 0 from a query parameter, or None for anything else."""
    text = (value or "").strip()
    if not text or len(text) > MAX_FILTER_LENGTH:
        return None
    try:
        number = kind(text)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


@dataclass(frozen=True)
class Filters:
    """``?min_users=N``, ``?min_acc=X`` and ``?tag=SLUG``: problems with at least N
    users, an acceptance of at least X percent and the tag SLUG.

    Forgiving like every parameter: anything that is not a number >= 0 (empty,
    text, negative, NaN, infinity, longer than 50 characters) is ignored, too
    big is clamped (users to 10^9, acceptance to 100), and 0 means no filter.
    A tag that is not a slug (``[a-z0-9_-]``, at most 64) is ignored; a slug no
    tag has shows no problem.
    """

    min_users: int = 0
    min_acc: float = 0.0
    tag: str = ""

    @classmethod
    def parse(cls, min_users: str | None, min_acc: str | None, tag: str | None = None) -> Filters:
        users = _parse_number(min_users, int)
        acc = _parse_number(min_acc, float)
        slug = (tag or "").strip().lower()
        return cls(
            min_users=min(int(users or 0), MAX_MIN_USERS),
            min_acc=min(float(acc or 0.0), MAX_MIN_ACC),
            tag=slug if TAG_SLUG.fullmatch(slug) else "",
        )

    def __bool__(self) -> bool:
        return bool(self.min_users or self.min_acc or self.tag)

    @property
    def min_acc_param(self) -> str:
        """``min_acc`` as written in links and the form: ``12.5``, ``100``."""
        return str(self.min_acc).removesuffix(".0") if self.min_acc else ""

    @property
    def min_users_param(self) -> str:
        return str(self.min_users) if self.min_users else ""

    def params(self) -> dict[str, str]:
        """The query parameters that ask for these filters (none for no filter)."""
        params = {}
        if self.min_users:
            params["min_users"] = self.min_users_param
        if self.min_acc:
            params["min_acc"] = self.min_acc_param
        if self.tag:
            params["tag"] = self.tag
        return params

    def condition(self) -> Q:
        condition = Q()
        if self.min_users:
            condition &= Q(users__gte=self.min_users)
        if self.min_acc:
            condition &= Q(acceptance__gte=self.min_acc)
        if self.tag:
            # EXISTS, not a join or IN: the condition may go after the rank window
            # (see ranked_problems), where Django turns it into a column of
            # the inner query; a correlated EXISTS stays one boolean per row.
            tagged = Problem.tags.through.objects.filter(
                problem_id=OuterRef("pk"), tag__slug=self.tag
            )
            condition &= Q(Exists(tagged))
        return condition


NO_FILTERS = Filters()


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


def _shown(query: str, filters: Filters, without: Q | None = None) -> Q:
    """The condition for the problems the table shows: search, filters, and not ``without``."""
    condition = filters.condition()
    if without is not None:
        condition &= ~without
    return condition & matches(query) if query else condition


def active_problems(
    query: str = "", filters: Filters = NO_FILTERS, without: Q | None = None
) -> QuerySet[Problem]:
    """Active problems matching ``query`` (all when empty) and ``filters``, without rank."""
    return Problem.objects.filter(active=True).filter(_shown(query, filters, without))


def ranked_problems(
    query: str, sort: Sort, filters: Filters = NO_FILTERS, without: Q | None = None
) -> QuerySet[Problem]:
    """Active problems matching ``query`` and ``filters``, annotated with ``rank``, in
    ``sort`` order.

    The rank window must see every active problem, so the search cannot go in
    the WHERE clause (which runs before windows). Django moves a filter that
    mentions a window annotation after the window (QUALIFY, emulated with a
    subquery on SQLite and PostgreSQL) and keeps an OR together, so OR-ing the
    search with an impossible condition on the rank puts the search there (the
    filters go with it). ``tests/test_views_score_table.py`` and
    ``tests/test_views_table_filters.py`` pin that a found problem keeps its rank.
    ``without`` (a user's solved problems) leaves problems out the same way,
    after the window, so the rest keep their ranks too.
    """
    problems = Problem.objects.filter(active=True).annotate(rank=score_rank())
    if query or filters or without is not None:
        problems = problems.filter(_shown(query, filters, without) | Q(rank__isnull=True))
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


@dataclass(frozen=True, slots=True)
class TagOption:
    slug: str
    label: str
    selected: bool


def tag_options(selected: str, selected_name: str | None) -> list[TagOption]:
    """The tag filter's choices: every tag some active problem has, by name (one
    query), and the selected one if it is not among them (kept, and said so)."""
    choices = (
        Tag.objects.filter(problems__active=True)
        .distinct()
        .order_by("name", "slug")
        .values_list("slug", "name")
    )
    options = [TagOption(slug, name, slug == selected) for slug, name in choices]
    if selected and not any(option.selected for option in options):
        label = f"{selected_name or selected} (no problem on the table has it)"
        options.append(TagOption(selected, label, True))
    return options


def tag_name(slug: str) -> str | None:
    """The name of the tag ``slug``, None when no tag has it."""
    if not slug:
        return None
    return Tag.objects.filter(slug=slug).values_list("name", flat=True).first()
