"""Shared fixtures. Area-specific fixtures live in their own modules, listed here."""

from __future__ import annotations

import os

import pytest

pytest_plugins: list[str] = [
    "tests.heroku_e2e",
    "tests.ops_fixtures",
    "tests.processes",
    "tests.brokers",
    "tests.spoj_server",
    "tests.web_data",
]


# --- one pass of two ------------------------------------------------------------------
# scripts/test.sh runs the suite twice, on SQLite and then on PostgreSQL, and names
# the pass in SPOJSCORE_TEST_PASS when both run. Then:
# - a test whose result cannot depend on the database (marked any_database: parsers,
#   settings, files, cron arithmetic) runs in the SQLite pass only;
# - the real-worker Celery tests (marked database_server: workers on other dynos share
#   a database server, which is what a deployment with workers has) and the RabbitMQ
#   variants (marked rabbitmq, or using the rabbitmq_broker fixture) run in the
#   PostgreSQL pass only. On SQLite the celery executor still runs for real in
#   test_celery_basics.py (Redis) and test_e2e_honcho.py, and in-process in
#   test_dispatch.py.
# Run by hand (no SPOJSCORE_TEST_PASS), or when only one pass can run, every test runs.
PASSES = ("sqlite", "postgresql")
_DATABASE_FIXTURES = frozenset({"db", "transactional_db", "live_server", "django_db_setup"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    this_pass = os.environ.get("SPOJSCORE_TEST_PASS", "")
    if this_pass and this_pass not in PASSES:
        raise pytest.UsageError(f"SPOJSCORE_TEST_PASS={this_pass!r}: use one of {PASSES}")
    kept, dropped = [], []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        any_database = item.get_closest_marker("any_database") is not None
        if any_database and (item.get_closest_marker("django_db") or names & _DATABASE_FIXTURES):
            raise pytest.UsageError(f"{item.nodeid} is marked any_database but uses the database")
        server_only = (
            item.get_closest_marker("database_server") is not None
            or item.get_closest_marker("rabbitmq") is not None
            or "rabbitmq_broker" in names
        )
        if (this_pass == "postgresql" and any_database) or (this_pass == "sqlite" and server_only):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # The tests that start processes and wait on real time first (a stable sort):
    # pytest-xdist hands tests out in this order (one at a time with
    # --maxschedchunk=1, as scripts/test.sh runs it), so the long ones do not start
    # last and leave one worker running alone at the end.
    kept.sort(key=lambda item: not any(item.get_closest_marker(m) for m in ("slow", "e2e")))
    items[:] = kept
