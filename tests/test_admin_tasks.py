"""The task admin: every declared task listed, enable/disable, and run now (a request only)."""

from __future__ import annotations

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse

from core.models import Status, Task, TaskRun
from tests.ops_helpers import TASKS, make_run, utc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_declared")]
LIST = reverse("admin:core_task_changelist")


@pytest.fixture
def tasks_declared():
    with override_settings(SCHEDULED_TASKS=TASKS):
        yield


def action(client: Client, name: str, *tasks: Task):
    data = {"action": name, "_selected_action": [t.pk for t in tasks]}
    return client.post(LIST, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@time_machine.travel(utc(2026, 5, 1, 12, 5), tick=False)
def test_the_list_shows_every_declared_task_and_undeclared_leftovers(viewer_client):
    Task.objects.create(name="retired")
    make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED)
    response = viewer_client.get(LIST)
    assert response.status_code == 200
    rows = {task.name: task for task in response.context["cl"].result_list}
    assert set(rows) == {"nightly", "often", "retired"}  # rows created on demand
    html = response.content.decode()
    assert "At 03:00 every day" in html
    assert "every 10 minutes" in html
    # The next three ticks of "often".
    for tick in ("2026-05-01 12:10 UTC", "2026-05-01 12:20 UTC", "2026-05-01 12:30 UTC"):
        assert tick in html
    assert "not declared (no entry in SCHEDULED_TASKS)" in html
    assert ">failed</span>" in html
    assert "1 consecutive failure" in html


def test_the_change_page_renders_with_a_run_now_button_for_operators(operator_client):
    response = operator_client.get(LIST)  # creates the rows
    task = Task.objects.get(name="nightly")
    response = operator_client.get(reverse("admin:core_task_change", args=[task.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("admin:core_task_run", args=[task.pk]) in html
    assert "csrfmiddlewaretoken" in html


def test_the_change_page_has_no_run_now_button_without_permission(viewer_client):
    viewer_client.get(LIST)
    task = Task.objects.get(name="nightly")
    html = viewer_client.get(reverse("admin:core_task_change", args=[task.pk])).content.decode()
    assert reverse("admin:core_task_run", args=[task.pk]) not in html


def test_enable_and_disable_switch_the_admin_flag(viewer_client):
    viewer_client.get(LIST)
    nightly = Task.objects.get(name="nightly")
    response = action(viewer_client, "disable", nightly)
    assert "Disabled 1 tasks" in messages_of(response)[0]
    nightly.refresh_from_db()
    assert nightly.enabled is False
    assert "no (admin)" in response.content.decode()
    action(viewer_client, "enable", nightly)
    nightly.refresh_from_db()
    assert nightly.enabled is True


def test_run_now_queues_a_request_and_runs_nothing(operator_client):
    operator_client.get(LIST)
    nightly, often = Task.objects.get(name="nightly"), Task.objects.get(name="often")
    response = action(operator_client, "run_now", nightly, often)
    assert sorted(TaskRun.objects.values_list("task", "status", "trigger", "started_at")) == [
        ("nightly", "queued", "admin", None),
        ("often", "queued", "admin", None),
    ]
    assert set(TaskRun.objects.values_list("requested_by", "args")) == {("operator", None)}
    assert (
        "Requested a run of nightly; the clock or the next runtasks will start it."
        in messages_of(response)
    )


def test_run_now_of_an_undeclared_task_is_refused_with_a_message(operator_client):
    retired = Task.objects.create(name="retired")
    response = action(operator_client, "run_now", retired)
    assert not TaskRun.objects.exists()
    assert any("Unknown task 'retired'" in m for m in messages_of(response))


def test_the_run_now_button_queues_one_request(operator_client):
    operator_client.get(LIST)
    task = Task.objects.get(name="often")
    url = reverse("admin:core_task_run", args=[task.pk])
    response = operator_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:core_task_change", args=[task.pk])
    assert TaskRun.objects.get().status == Status.QUEUED
    # GET does nothing.
    assert operator_client.get(url).status_code == 405
    assert TaskRun.objects.count() == 1


def test_run_now_is_refused_without_the_run_task_permission(viewer_client):
    viewer_client.get(LIST)
    task = Task.objects.get(name="often")
    assert "run_now" not in viewer_client.get(LIST).content.decode()
    action(viewer_client, "run_now", task)
    assert viewer_client.post(reverse("admin:core_task_run", args=[task.pk])).status_code == 403
    assert not TaskRun.objects.exists()


def test_run_now_needs_a_csrf_token(operator_client):
    operator_client.get(LIST)
    task = Task.objects.get(name="often")
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="operator"))
    assert client.post(reverse("admin:core_task_run", args=[task.pk])).status_code == 403
    data = {"action": "run_now", "_selected_action": [task.pk]}
    assert client.post(LIST, data).status_code == 403
    assert not TaskRun.objects.exists()


def test_declared_tasks_cannot_be_added_or_deleted_but_leftovers_can(superuser_client):
    superuser_client.get(LIST)
    nightly = Task.objects.get(name="nightly")
    retired = Task.objects.create(name="retired")
    assert superuser_client.get(reverse("admin:core_task_add")).status_code == 403
    delete = reverse("admin:core_task_delete", args=[nightly.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    delete = reverse("admin:core_task_delete", args=[retired.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 302
    assert set(Task.objects.values_list("name", flat=True)) == {"nightly", "often"}


def test_run_now_of_a_missing_task_is_not_found(operator_client):
    assert operator_client.post(reverse("admin:core_task_run", args=["999"])).status_code == 404
    assert operator_client.post("/admin/core/task/x/run/").status_code == 404
    assert not TaskRun.objects.exists()
