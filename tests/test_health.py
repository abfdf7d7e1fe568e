"""``/healthz``: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from unittest import mock

from django.db import OperationalError, connection
from django.test import Client


def test_it_is_ok_when_the_database_answers(
    client: Client, db: None, django_assert_num_queries
) -> None:
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_it_is_503_when_the_database_does_not_answer(client: Client, db: None) -> None:
    # The one boundary patched: the database refusing the connection.
    refused = OperationalError("connection refused")
    with mock.patch.object(connection, "cursor", side_effect=refused) as cursor:
        response = client.get("/healthz")
    assert cursor.called
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}


def test_it_recovers_once_the_database_answers_again(client: Client, db: None) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").status_code == 200
