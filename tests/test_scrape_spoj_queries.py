"""A scrape issues a fixed number of SQL statements, however long the list."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set

pytestmark = pytest.mark.django_db

_STATEMENT = re.compile(r'(SELECT|INSERT INTO|UPDATE) .*?"(core_\w+)"(?: SET "(\w+)")?')


def statements(*args: str) -> list[str]:
    """A label per SQL statement a scrape runs, e.g. 'UPDATE core_problem SET name'."""
    with CaptureQueriesContext(connection) as captured:
        scrape(*args)
    labels = []
    for query in captured:
        sql = query["sql"]
        match = _STATEMENT.match(sql)
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "LOCK TABLE", "SELECT COUNT(*)")):
            labels.append(sql.split(" ")[0] if "SAVEPOINT" in sql else " ".join(sql.split()[:2]))
        elif match:
            verb, table, column = match.groups()
            labels.append(f"{verb} {table}" + (f" SET {column}" if column else ""))
        else:
            labels.append(sql)
    return labels


def lock() -> list[str]:
    """PostgreSQL takes a table lock so concurrent scrapes queue (see store.py)."""
    return ["LOCK TABLE"] if connection.vendor == "postgresql" else []


@pytest.mark.parametrize("size", [100, 3971])
def test_a_first_scrape_takes_the_same_statements_for_any_size(
    spoj_server: SpojServer, size: int
) -> None:
    spoj_server.set_problems(data_set()[:size])

    assert statements() == [
        "SELECT COUNT(*)",  # the progress estimate
        "SAVEPOINT",  # the test's transaction makes atomic() a savepoint
        *lock(),
        "SELECT core_problem",
        "INSERT INTO core_problem",
        "INSERT INTO core_problemhistory",
        "INSERT INTO core_scrape",
        "RELEASE",
    ]


@pytest.mark.parametrize("size", [100, 3971])
def test_a_rescrape_with_changes_takes_the_same_statements_for_any_size(
    spoj_server: SpojServer, size: int
) -> None:
    spoj_server.set_problems(data_set()[:size])
    scrape()
    spoj_server.update("TEST", users=300000)
    spoj_server.remove("PRIME1")
    newcomer = replace(data_set()[0], spoj_id=99999, code="NEWCOMER", users=0)
    spoj_server.set_problems([*spoj_server.problems, newcomer])

    assert statements() == [
        "SELECT COUNT(*)",
        "SAVEPOINT",
        *lock(),
        "SELECT core_problem",
        "INSERT INTO core_problem",
        "UPDATE core_problem SET name",
        "INSERT INTO core_problemhistory",
        "UPDATE core_problem SET active",
        "INSERT INTO core_scrape",
        "RELEASE",
    ]


def test_an_unchanged_rescrape_writes_the_problems_and_the_scrape_record(
    spoj_server: SpojServer,
) -> None:
    scrape()

    assert statements() == [
        "SELECT COUNT(*)",
        "SAVEPOINT",
        *lock(),
        "SELECT core_problem",
        "UPDATE core_problem SET name",  # last_seen moves for every problem seen
        "INSERT INTO core_scrape",
        "RELEASE",
    ]
