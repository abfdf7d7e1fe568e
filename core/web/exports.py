"""The whole score table as CSV and JSON, streamed row by row.

Both exports hold the same rows as ``/`` with the same ``q`` and ``sort``,
without pagination. Rows are read with ``QuerySet.iterator`` and written as
they come, so memory stays bounded however long the table grows.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from core.models import Problem

FIELDS = ("rank", "code", "name", "users", "score", "acceptance", "quality", "spoj_id", "url")
CHUNK = 500
# Spreadsheets run a cell starting with one of these as a formula ("CSV
# injection"); OWASP's advice is to make such a cell plain text with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def problem_url(code: str) -> str:
    return f"{settings.SPOJ_BASE_URL}/problems/{code}"


def export_rows(problems: QuerySet[Problem]) -> Iterator[dict[str, Any]]:
    """One dict per problem of a ``ranked_problems`` queryset, in its order."""
    columns = ("rank", "code", "name", "users", "score", "acceptance", "quality", "spoj_id")
    for values in problems.values_list(*columns).iterator(chunk_size=CHUNK):
        row = dict(zip(columns, values, strict=True))
        row["url"] = problem_url(row["code"])
        yield row


def defuse(value: Any) -> Any:
    """A text cell a spreadsheet shows as text, never evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """A write-only file for ``csv.writer`` that hands back what was written."""

    def write(self, value: str) -> str:
        return value


def csv_lines(problems: QuerySet[Problem]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(FIELDS)
    for row in export_rows(problems):
        yield writer.writerow([defuse(row[field]) for field in FIELDS])


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def json_chunks(
    problems: QuerySet[Problem], generated_at: datetime, last_scrape: datetime | None
) -> Iterator[str]:
    """The JSON document, written piece by piece (names verbatim, JSON-escaped).

    ``count`` comes last: it is the number of rows actually written, so it
    cannot disagree with ``problems`` even if a scrape commits meanwhile.
    """
    head = json.dumps({"generated_at": _iso(generated_at), "last_scrape": _iso(last_scrape)})
    yield head[:-1] + ', "problems": ['
    count = 0
    for row in export_rows(problems):
        yield (", " if count else "") + json.dumps(row, ensure_ascii=False)
        count += 1
    yield f'], "count": {count}}}\n'
