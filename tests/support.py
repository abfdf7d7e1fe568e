"""Helpers shared by the tests and the benchmarks: a free port, a bounded wait, a
throwaway database, and what a test does when something it needs is missing.

Only the standard library is imported here (psycopg once a PostgreSQL database
is made), and nothing needs Django, so a benchmark run as ``python bench/x.py``
can use it before it sets Django up: it puts the project root on ``sys.path``
and imports ``tests.support``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.1,
    *,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``condition`` until it returns something truthy; return that.

    Fails (AssertionError naming ``what``) after ``timeout`` seconds. An
    exception of a type in ``retry_on`` (a server that does not answer yet)
    counts as "not yet" and is shown in that failure; any other propagates at
    once. ``condition`` is always called at least once, and once more after the
    deadline.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = condition()
        except retry_on as exc:
            last_error = exc
        else:
            if value:
                return value
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(interval)


def under_ci() -> bool:
    """Whether this is a CI run (CI=true, as ``.ci/run`` is started)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """A test cannot run because ``reason`` (a browser, a server binary) is missing:
    it is skipped, except under CI=true, where the missing part fails the run."""
    import pytest

    if under_ci():
        pytest.fail(f"{reason} (CI=true: what a test needs must be installed)", pytrace=False)
    pytest.skip(reason)


# --- Throwaway databases -------------------------------------------------------------------


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


def with_database(url: str, name: str, password: str = "") -> str:
    """``url``'s PostgreSQL server and user (``postgres`` when it names none) with
    database ``name``, and ``password`` instead of its own when one is given."""
    parts = urlsplit(url)
    user = unquote(parts.username or "postgres")
    secret = password or unquote(parts.password or "")
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = parts.port or 5432
    auth = quote(user, safe="") + (f":{quote(secret, safe='')}" if secret else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}:{port}", path=f"/{name}"))


def database_name(url: str) -> str:
    """The database a ``postgres://`` URL names."""
    return unquote(urlsplit(url).path.lstrip("/"))


@contextlib.contextmanager
def throwaway_database(
    server_url: str | None,
    name: str | None = None,
    *,
    prefix: str = "spoj_tmp_",
    sqlite_dir: Path | None = None,
    password: str = "",
) -> Iterator[str]:
    """Yield the URL of a new, empty database; it is dropped afterwards.

    On the PostgreSQL server of ``server_url`` when that is a ``postgres://``
    URL (its database part does not matter; the server's ``postgres`` database
    is used to create and drop), else an SQLite file in ``sqlite_dir`` (default:
    a temporary folder, removed afterwards).

    ``name`` is the PostgreSQL database's name: a fixed one must contain
    "bench" (so no real database is ever dropped), and one left over from an
    earlier run is dropped first. Without it the name is ``prefix`` and a random
    suffix. The drop forces other connections off. ``password`` goes into the
    URL (trust authentication ignores it), so tests can look for it in logs.
    """
    if not is_postgres(server_url):
        with contextlib.ExitStack() as stack:
            folder = sqlite_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            yield f"sqlite:///{folder / 'throwaway.sqlite3'}"
        return
    assert server_url is not None
    import psycopg
    from psycopg import sql

    if name is not None and "bench" not in name:
        raise ValueError(f"refusing to drop and create {name!r}: its name must contain 'bench'")
    dbname = name or f"{prefix}{uuid.uuid4().hex[:12]}"
    admin_url = with_database(server_url, "postgres")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if name is not None:
            conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield with_database(server_url, dbname, password)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(drop)
