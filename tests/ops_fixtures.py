"""Fixtures for the admin tests: staff users with and without ``core.run_task``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="core", codename__in=codenames)
    )
    return user


@pytest.fixture
def viewer_client(db) -> Client:
    """Staff who may look at tasks and runs and switch tasks, but not request runs."""
    client = Client()
    client.force_login(_staff("viewer", "view_taskrun", "view_task", "change_task"))
    return client


@pytest.fixture
def operator_client(db) -> Client:
    """Staff who may also request runs (run now, retry)."""
    client = Client()
    client.force_login(_staff("operator", "view_taskrun", "view_task", "change_task", "run_task"))
    return client


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client
