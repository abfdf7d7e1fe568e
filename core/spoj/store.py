"""Write a complete, checked scrape to the database: all of it, or nothing.

A constant number of statements whatever the number of problems (six at most,
plus a table lock on PostgreSQL): read the stored problems, insert the new
ones, update the ones seen again, add history rows, mark the ones that left
the list inactive, add the ``Scrape`` row. The rows travel as ONE JSON
parameter per statement, unpacked by the database (``json_each`` on SQLite,
``jsonb_to_recordset`` on PostgreSQL).

Why not ``bulk_create``/``bulk_update``: Django caps every SQLite statement at
999 parameters (``features.max_query_params``), so the first scrape alone
would take 41 INSERTs of 99 problems and 16 history INSERTs, and
``bulk_update`` builds a ``CASE WHEN`` per field per row in Python; the count
would grow with the list and differ between the two databases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from core.models import Problem, ProblemHistory, Scrape, score_for
from core.spoj.parse import ProblemRow

# A list under this share of the active problems is refused unless allowed:
# SPOJ does not lose a tenth of its problems overnight; a broken page does.
SHRINK_LIMIT = 0.9

# Columns written from a scraped row, with their PostgreSQL types for jsonb_to_recordset.
_ROW_COLUMNS = {
    "code": "text",
    "name": "text",
    "spoj_id": "integer",
    "users": "integer",
    "score": "double precision",
    "acceptance": "double precision",
    "quality": "integer",
}


class ShrinkRefused(Exception):
    """The list is much shorter than the stored one; nothing was written."""


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    name: str
    spoj_id: int
    users: int
    acceptance: float
    quality: int | None
    active: bool

    def differs_from(self, row: ProblemRow) -> bool:
        return (
            not self.active
            or self.users != row.users
            or self.name != row.name
            or self.spoj_id != row.spoj_id
            or self.acceptance != row.acceptance
            or self.quality != row.quality
        )


def save_scrape(
    rows: Sequence[ProblemRow],
    *,
    pages: int,
    base_url: str,
    started_at: datetime,
    allow_shrink: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> Scrape:
    """Store a complete list in one transaction and return its ``Scrape`` row (the counts).

    Problems are never deleted: one missing from ``rows`` is marked inactive,
    and becomes active again when it returns. A history row is written for
    each new problem and each problem whose users count changed. Raises
    ``ShrinkRefused`` (writing nothing) when ``rows`` is under ``SHRINK_LIMIT``
    of the active problems, unless ``allow_shrink``.
    """
    seen = {row.code for row in rows}
    if len(seen) != len(rows):
        raise ValueError("rows must have distinct codes")
    connection = connections[using]
    sql = _Statements(connection)
    with transaction.atomic(using=using):
        _serialize_scrapes(sql)
        now = timezone.now()
        columns = ("code", "id", "name", "spoj_id", "users", "acceptance", "quality", "active")
        stored = {
            code: _Stored(pk, name, spoj_id, users, acceptance, quality, active)
            for code, pk, name, spoj_id, users, acceptance, quality, active in (
                Problem.objects.using(using).values_list(*columns)
            )
        }
        active_before = sum(1 for s in stored.values() if s.active)
        if not allow_shrink and len(rows) < SHRINK_LIMIT * active_before:
            raise ShrinkRefused(
                f"the list has {len(rows)} problems, under {SHRINK_LIMIT:.0%} of the "
                f"{active_before} active ones (pass --allow-shrink if this is real)"
            )

        new: list[ProblemRow] = []
        seen_again: list[ProblemRow] = []
        history_codes: list[str] = []
        changed = 0
        for row in rows:
            old = stored.get(row.code)
            if old is None:
                new.append(row)
                history_codes.append(row.code)
                continue
            seen_again.append(row)
            if old.differs_from(row):
                changed += 1
                if old.users != row.users:
                    history_codes.append(row.code)
        gone = sum(1 for code, s in stored.items() if s.active and code not in seen)

        with connection.cursor() as cursor:
            if new:
                cursor.execute(*sql.insert_problems(new, now))
            if seen_again:
                # Unchanged rows too: their last_seen moves, and one statement
                # over all of them costs less than sorting them out.
                cursor.execute(*sql.update_problems(seen_again, now))
            if history_codes:
                cursor.execute(*sql.insert_history(history_codes, now))
        if gone:
            # Everything seen now carries last_seen == now; the rest has left the list.
            Problem.objects.using(using).filter(active=True).exclude(last_seen=now).update(
                active=False
            )
        return Scrape.objects.using(using).create(
            started_at=started_at,
            finished_at=now,
            base_url=base_url,
            pages=pages,
            problems=len(rows),
            new=len(new),
            changed=changed,
            unchanged=len(seen_again) - changed,
            gone=gone,
        )


def _serialize_scrapes(sql: _Statements) -> None:
    """Make a concurrent scrape wait for this one's commit, then read what it wrote.

    Without this, two scrapes (a manual run beside the scheduled one) would
    both read the same stored rows and both insert the same new problems; the
    second would die on the unique code. SQLite needs nothing: the project
    opens transactions with BEGIN IMMEDIATE (settings.sqlite_options), which
    takes the write lock before the first read. On PostgreSQL a self-conflicting
    table lock does the same, and still lets the web pages read (SELECT takes
    ACCESS SHARE, which SHARE ROW EXCLUSIVE allows).
    """
    if sql.connection.vendor == "postgresql":
        with sql.connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {sql.problem} IN SHARE ROW EXCLUSIVE MODE")


class _Statements:
    """The three set-based statements, in the connection's SQL dialect.

    The SQL is assembled from the model's own table and column names, quoted by
    the backend; every value, the JSON included, is a query parameter (hence
    the ``noqa: S608``).
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        if connection.vendor not in {"sqlite", "postgresql"}:
            raise NotImplementedError(
                f"storing a scrape supports SQLite and PostgreSQL, not {connection.vendor}"
            )
        self.connection = connection
        quote = connection.ops.quote_name
        self.problem = quote(Problem._meta.db_table)
        self.history = quote(ProblemHistory._meta.db_table)
        self.q = quote

    def _source(self, columns: Sequence[str]) -> tuple[str, dict[str, str]]:
        """A FROM item reading a JSON array of objects, and an expression per column."""
        if self.connection.vendor == "postgresql":
            spec = ", ".join(f"{column} {_ROW_COLUMNS[column]}" for column in columns)
            return f"jsonb_to_recordset(%s::jsonb) AS src({spec})", {
                column: f"src.{column}" for column in columns
            }
        return "json_each(%s) AS src", {
            column: f"json_extract(src.value, '$.{column}')" for column in columns
        }

    def _datetime(self, value: datetime) -> Any:
        return self.connection.ops.adapt_datetimefield_value(value)

    def insert_problems(self, rows: Sequence[ProblemRow], now: datetime) -> tuple[str, list[Any]]:
        source, expr = self._source(list(_ROW_COLUMNS))
        columns = [*_ROW_COLUMNS, "first_seen", "last_seen", "active"]
        values = [expr[column] for column in _ROW_COLUMNS]
        return (
            f"INSERT INTO {self.problem} ({', '.join(self.q(c) for c in columns)}) "  # noqa: S608
            f"SELECT {', '.join(values)}, %s, %s, %s FROM {source}",
            [self._datetime(now), self._datetime(now), True, _json(rows)],
        )

    def update_problems(self, rows: Sequence[ProblemRow], now: datetime) -> tuple[str, list[Any]]:
        source, expr = self._source(list(_ROW_COLUMNS))
        assignments = ", ".join(
            f"{self.q(column)} = {expr[column]}" for column in _ROW_COLUMNS if column != "code"
        )
        return (
            f"UPDATE {self.problem} SET {assignments}, "  # noqa: S608
            f"{self.q('last_seen')} = %s, {self.q('active')} = %s "
            f"FROM {source} WHERE {self.problem}.{self.q('code')} = {expr['code']}",
            [self._datetime(now), True, _json(rows)],
        )

    def insert_history(self, codes: Sequence[str], now: datetime) -> tuple[str, list[Any]]:
        """History rows from the stored problems (already written), one per code."""
        source, expr = self._source(["code"])
        q = self.q
        return (
            f"INSERT INTO {self.history} ({q('problem_id')}, {q('users')}, {q('score')}, "  # noqa: S608
            f"{q('recorded_at')}) "
            f"SELECT p.{q('id')}, p.{q('users')}, p.{q('score')}, %s "
            f"FROM {self.problem} p JOIN {source} ON p.{q('code')} = {expr['code']}",
            [self._datetime(now), json.dumps([{"code": code} for code in codes])],
        )


def _json(rows: Sequence[ProblemRow]) -> str:
    return json.dumps(
        [
            {
                "code": row.code,
                "name": row.name,
                "spoj_id": row.spoj_id,
                "users": row.users,
                "score": score_for(row.users),
                "acceptance": row.acceptance,
                "quality": row.quality,
            }
            for row in rows
        ],
        # Names as UTF-8, not \u escapes: shorter, and nothing to decode twice.
        ensure_ascii=False,
    )
