"""Injecting database errors at a chosen statement, to walk every write point of a step.

``FailingStatement(k)`` installed with ``connection.execute_wrapper`` lets the
first ``k - 1`` statements of this process through and makes the ``k``-th raise
``OperationalError`` (what a dropped connection or a restarted server raises),
as if the database vanished right there; with ``and_after=True`` every later
statement fails too (the database stays unreachable). Only the installing process is
affected: children forked meanwhile (task runs) inherit the wrapper but pass
everything through.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.db import OperationalError


class FailingStatement:
    def __init__(self, k: int | None, *, and_after: bool = False) -> None:
        self.k = k  # None: count only
        self.and_after = and_after
        self.seen = 0
        self.failed_sql: str | None = None
        self.pid = os.getpid()

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if os.getpid() != self.pid:
            return execute(sql, params, many, context)
        self.seen += 1
        if self.k is not None and (self.seen == self.k or (self.and_after and self.seen > self.k)):
            self.failed_sql = self.failed_sql or sql
            raise OperationalError(f"injected failure at statement {self.k}: {sql[:60]}")
        return execute(sql, params, many, context)
