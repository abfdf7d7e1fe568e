"""What a cached page's key needs about its object, read by hand-written SQL.

A cached page (``core.web.caching.cached_page``) answers a 304 or a stored
body after working out its key, so the reads for the key are the whole cost of
those answers. ``/healthz`` runs one query; a page that also has to know, say,
when its user was last fetched would cost twice as much through the ORM, whose
building and compiling of a queryset takes many times longer than the query.
So, as ``caching.data_version`` does, these run fixed SQL on a cursor: one
indexed row each. The full objects are loaded only to render. And as the data
version is, what they read is reused by the process for up to
``DATA_VERSION_MAX_AGE`` seconds (``caching.RecentReads``): a user's fetch or a
problem's tags show on its pages at most that long after they committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model

from core.models import Problem, SpojUser
from core.web.caching import RecentReads, aware, recent_reads


@dataclass(frozen=True, slots=True)
class UserKey:
    """A stored SPOJ user, as far as a page's key needs it."""

    pk: int
    handle: str
    fetched_at: datetime
    missing_since: datetime | None  # when SPOJ began to say it has no such user


@cache
def _select(model: type[Model], fields: tuple[str, ...], where: str) -> str:
    """``SELECT fields FROM model's table WHERE where = %s``, quoted for the database."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name

    def column(name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field)  # a concrete column, not a relation's other side
        return quote(field.column)

    columns = ", ".join(column(f) for f in fields)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {column(where)} = %s"  # noqa: S608


def _one_row(sql: str, value: str) -> tuple[Any, ...] | None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, [value])
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def _read_user(handle: str) -> UserKey | None:
    fields = ("id", "handle", "fetched_at", "missing_since")
    row = _one_row(_select(SpojUser, fields, "handle"), handle)
    if row is None:
        return None
    pk, stored, fetched_at, missing_since = row
    at = aware(fetched_at)
    assert at is not None  # the column is NOT NULL
    return UserKey(pk, stored, at, aware(missing_since))


def _read_tags_fetched(code: str) -> datetime | None:
    row = _one_row(_select(Problem, ("tags_fetched_at",), "code"), code)
    return None if row is None else aware(row[0])


def _read_tags_version(_: None) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    sql = f"SELECT MAX({quote('tags_fetched_at')}) FROM {quote(Problem._meta.db_table)}"  # noqa: S608
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql)
        newest = aware(cursor.fetchone()[0])
    return newest.isoformat() if newest else ""


# Bounded: a crawler walking every handle and code must not grow a process.
_users: RecentReads[str, UserKey | None] = recent_reads(size=4096)
_tags_fetched: RecentReads[str, datetime | None] = recent_reads(size=4096)
_tags_version: RecentReads[None, str] = recent_reads(size=1)


def user_keys(*handles: str) -> dict[str, UserKey]:
    """The stored users among ``handles`` (lower-case, as stored), by handle."""
    found = (_users.get(handle, _read_user) for handle in dict.fromkeys(handles))
    return {key.handle: key for key in found if key is not None}


def problem_tags_fetched(code: str) -> datetime | None:
    """When the tags of problem ``code`` were last fetched; None if never, or no such problem."""
    return _tags_fetched.get(code, _read_tags_fetched)


def tags_version() -> str:
    """When tags last changed: the newest ``tags_fetched_at`` (one query).

    ``scrape_spoj_tags`` writes no ``Scrape`` row, so a page that shows tags
    (the tag filter's choices, a problem's tags) adds this to its key.
    """
    return _tags_version.get(None, _read_tags_version)
