"""A scrape issues a fixed number of SQL statements, however long the list."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.scraping import scrape
from tests.spoj_server import SpojServer, data_set

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("size", [100, 3971])
def test_a_first_scrape_takes_the_same_statements_for_any_size(
    spoj_server: SpojServer, size: int
) -> None:
    spoj_server.set_problems(data_set()[:size])

    with CaptureQueriesContext(connection) as captured:
        scrape()

    sql = [query["sql"] for query in captured]
    assert len(sql) == 7, "\n".join(sql)
    assert sql[0].startswith('SELECT COUNT(*) AS "__count" FROM "core_problem"')
    assert sql[1].startswith("SAVEPOINT")  # the test's transaction makes atomic() a savepoint
    assert sql[2].startswith('SELECT "core_problem"."code"')
    assert sql[3].startswith('INSERT INTO "core_problem"')
    assert sql[4].startswith('INSERT INTO "core_problemhistory"')
    assert sql[5].startswith('INSERT INTO "core_scrape"')
    assert sql[6].startswith("RELEASE SAVEPOINT")


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

    with CaptureQueriesContext(connection) as captured:
        out = scrape()

    assert out.splitlines()[-1].endswith(f": 1 new, 1 changed, {size - 2} unchanged, 1 gone.")
    sql = [query["sql"] for query in captured]
    assert len(sql) == 9, "\n".join(sql)
    assert sql[3].startswith('INSERT INTO "core_problem"')
    assert sql[4].startswith('UPDATE "core_problem" SET "name"')
    assert sql[5].startswith('INSERT INTO "core_problemhistory"')
    assert sql[6].startswith('UPDATE "core_problem" SET "active"')
    assert sql[7].startswith('INSERT INTO "core_scrape"')


def test_an_unchanged_rescrape_writes_only_last_seen_and_the_scrape_record(
    spoj_server: SpojServer,
) -> None:
    scrape()

    with CaptureQueriesContext(connection) as captured:
        scrape()

    sql = [query["sql"] for query in captured]
    assert len(sql) == 6, "\n".join(sql)
    assert sql[3].startswith('UPDATE "core_problem" SET "name"')
    assert sql[4].startswith('INSERT INTO "core_scrape"')
