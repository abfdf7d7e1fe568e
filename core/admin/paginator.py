"""A paginator for huge admin lists: PostgreSQL's planner estimate instead of COUNT(*)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

# Above this many (estimated) rows the run list shows PostgreSQL's estimate
# instead of running COUNT(*), which would read every matching row.
ESTIMATE_ABOVE = 50_000


class EstimatedCountPaginator(Paginator):
    """Skips the exact COUNT(*) of a huge result on PostgreSQL.

    Counting a million rows reads them all, while the planner's estimate
    (EXPLAIN, about a millisecond) is close enough to number the pages. Results
    the planner expects to be small, and everything on SQLite (whose COUNT(*)
    walks the smallest index quickly), are counted exactly. ``estimated`` tells
    the template to say "about".
    """

    estimated = False

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and connections[qs.db].vendor == "postgresql":
            guess = _planner_rows(qs)
            if guess > ESTIMATE_ABOVE:
                self.estimated = True
                return guess
        return super().count


def _planner_rows(qs: QuerySet[Any]) -> int:
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
