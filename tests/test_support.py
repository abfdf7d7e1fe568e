"""The helpers the tests and benchmarks share (tests/support.py)."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest

from tests.support import (
    free_port,
    is_postgres,
    throwaway_database,
    unavailable,
    wait_for,
    with_database,
)


def test_free_port_is_a_port_nothing_listens_on() -> None:
    port = free_port()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_for(lambda: next(calls), timeout=5, what="readiness", interval=0) == "ready"


def test_wait_for_fails_naming_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0\.2 s waiting for the moon"):
        wait_for(lambda: False, timeout=0.2, what="the moon", interval=0.05)


def test_wait_for_retries_on_the_errors_it_is_told_and_reports_the_last() -> None:
    attempts: list[int] = []

    def refused() -> bool:
        attempts.append(1)
        raise ConnectionRefusedError("not yet")

    with pytest.raises(AssertionError, match="ConnectionRefusedError"):
        wait_for(refused, timeout=0.2, what="a server", interval=0.05, retry_on=(OSError,))
    assert len(attempts) > 1


def test_wait_for_lets_any_other_error_through_at_once() -> None:
    attempts: list[int] = []

    def dead() -> bool:
        attempts.append(1)
        raise KeyError("the process died")

    with pytest.raises(KeyError):
        wait_for(dead, timeout=30, what="a server", retry_on=(OSError,))
    assert attempts == [1]


def test_a_throwaway_database_is_empty_writable_and_gone_afterwards(tmp_path: Path) -> None:
    server_url = os.environ.get("TEST_DATABASE_URL")
    with throwaway_database(server_url, sqlite_dir=tmp_path) as url:
        assert is_postgres(url) == is_postgres(server_url)
        if is_postgres(url):
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                assert conn.execute(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                ).fetchone() == (0,)
                conn.execute("CREATE TABLE t (x int)")
                name = conn.info.dbname
        else:
            path = url.removeprefix("sqlite:///")
            with sqlite3.connect(path) as db:
                assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
                db.execute("CREATE TABLE t (x int)")
            db.close()
    if is_postgres(server_url):
        import psycopg

        assert server_url is not None
        with psycopg.connect(with_database(server_url, "postgres")) as conn:
            left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            assert left.fetchall() == []


def test_a_throwaway_sqlite_database_without_a_folder_goes_with_its_folder() -> None:
    with throwaway_database(None) as url:
        path = Path(url.removeprefix("sqlite:///"))
        sqlite3.connect(path).close()
        assert path.exists()
    assert not path.parent.exists()


def test_a_fixed_database_name_must_say_bench() -> None:
    url = "postgres://postgres@127.0.0.1:9/postgres"
    with pytest.raises(ValueError, match="must contain 'bench'"), throwaway_database(url, "app"):
        pass


def test_a_missing_requirement_skips_the_test_outside_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        unavailable("no chromium")


def test_a_missing_requirement_fails_the_test_under_ci(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no chromium.*CI=true"):
        unavailable("no chromium")


def test_a_stopped_private_redis_keeps_its_port_from_other_tests(tmp_path: Path) -> None:
    from tests.brokers import PrivateRedis, listening

    server = PrivateRedis(tmp_path)
    try:
        server.start()
        server.stop()
        assert not listening(server.port)
        # Nothing else may take the port meanwhile (so free_port() never hands it
        # to another test, whose server this test's clients would then reach).
        with socket.socket() as other, pytest.raises(OSError, match="Address already in use"):
            other.bind(("127.0.0.1", server.port))
        server.start()
        assert listening(server.port)
    finally:
        server.stop()
        server.release()
