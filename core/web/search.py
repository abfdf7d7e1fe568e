"""Case-insensitive search that behaves the same on SQLite and PostgreSQL.

Django's ``icontains`` folds case with SQLite's ``LIKE``, which only knows
ASCII: ``é`` would not find ``É`` there, while PostgreSQL (``UPPER`` under a
UTF-8 ctype) finds it. So both sides of the comparison are lower-cased
explicitly: with ``LOWER()`` on PostgreSQL and with Python's ``str.lower``,
registered as a SQL function on every SQLite connection, on SQLite.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Func, Q
from django.db.models.lookups import Contains

SQLITE_LOWER = "spojscore_lower"
# Longer queries are cut: no code or name is anywhere near this long, and it
# bounds the work a crafted ``?q=`` can ask of the database.
MAX_QUERY_LENGTH = 100


class Fold(Func):
    """Lower-case text with full Unicode rules on every supported database."""

    function = "LOWER"
    arity = 1

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(compiler, connection, function=SQLITE_LOWER, **extra_context)


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def register_sqlite_functions(
    sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    """``connection_created`` receiver: give SQLite connections the Unicode lower()."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)


def clean_query(raw: str | None) -> str:
    """The search text from ``?q=``: control characters made spaces, spaces
    collapsed, capped at ``MAX_QUERY_LENGTH``.

    PostgreSQL rejects NUL in text parameters, so control characters never
    reach the database (no SPOJ code or name contains one).
    """
    if not raw:
        return ""
    text = "".join(" " if _is_control(ch) else ch for ch in raw[: MAX_QUERY_LENGTH * 2])
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


def _is_control(ch: str) -> bool:
    return ch < " " or "\x7f" <= ch <= "\x9f"


def matches(query: str) -> Q:
    """Problems whose code or name contains ``query``, ignoring case."""
    folded = query.lower()
    return Q(Contains(Fold("code"), folded)) | Q(Contains(Fold("name"), folded))
