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
# the pass in SPOJSCORE_TEST_PASS when both run. A test whose result cannot depend on
# the database (marked any_database: parsers, settings, files, cron arithmetic) then
# runs in the SQLite pass only, and the RabbitMQ variants of the worker tests (marked
# rabbitmq, or using the rabbitmq_broker fixture) in the PostgreSQL pass only: the
# broker's side does not depend on the database, and Redis, Heroku's broker, runs in
# both passes. Run by hand (no SPOJSCORE_TEST_PASS), or when only one pass can run,
# every test runs.
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
        rabbitmq = item.get_closest_marker("rabbitmq") is not None or "rabbitmq_broker" in names
        if (this_pass == "postgresql" and any_database) or (this_pass == "sqlite" and rabbitmq):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
