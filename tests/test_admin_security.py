"""The admin is behind a login, and its forms are protected against CSRF."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_is_sent_to_the_admin_login():
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_task_runs_page_needs_a_login_too():
    response = Client().get("/admin/core/taskrun/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_login_post_without_a_csrf_token_is_forbidden():
    User.objects.create_superuser("admin", "admin@example.com", "a-long-passphrase-1")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/admin/login/", {"username": "admin", "password": "a-long-passphrase-1"}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_login_post_with_the_forms_csrf_token_succeeds():
    # The counterpart of the test above: the same post with the token works, so
    # the 403 came from CSRF and not from something else.
    User.objects.create_superuser("admin", "admin@example.com", "a-long-passphrase-1")
    client = Client(enforce_csrf_checks=True)
    client.get("/admin/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/admin/login/",
        {"username": "admin", "password": "a-long-passphrase-1", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"]
