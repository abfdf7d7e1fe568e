"""The run list admin: read-only, filters, search, and the retry action."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Status, TaskRun
from tests.ops_helpers import TASKS, make_run, utc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_declared")]
LIST = reverse("admin:core_taskrun_changelist")


@pytest.fixture
def tasks_declared():
    with override_settings(SCHEDULED_TASKS=TASKS):
        yield


@pytest.fixture
def runs() -> dict[str, TaskRun]:
    return {
        "ok": make_run("nightly", utc(2026, 5, 1, 3), Status.SUCCEEDED, host="clock.1 pid 7"),
        "failed": make_run(
            "nightly",
            utc(2026, 5, 2, 3),
            Status.FAILED,
            exit_code=1,
            error="Traceback (most recent call last):\n  <boom & friends>\nValueError: bad",
            output="page 1 of 80\n",
        ),
        "often": make_run("often", utc(2026, 5, 2, 4), Status.MISSED, trigger="scheduler"),
    }


def listed(response) -> set[int]:
    return {run.pk for run in response.context["cl"].result_list}


def test_the_list_renders_with_status_badges_duration_and_lateness(superuser_client, runs):
    response = superuser_client.get(LIST)
    assert response.status_code == 200
    assert listed(response) == {run.pk for run in runs.values()}
    html = response.content.decode()
    assert ">failed</span>" in html
    assert "28.0 s" in html  # duration: started +2 s, finished +30 s
    assert "2.0 s" in html  # lateness
    assert "clock.1 pid 7" in html
    # Newest tick first, served by the taskrun_recent index.
    assert response.context["cl"].result_list[0].pk == runs["often"].pk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("task=nightly", {"ok", "failed"}),
        ("status__exact=failed", {"failed"}),
        ("trigger__exact=scheduler", {"often"}),
        ("q=ofte", {"often"}),
        ("q=NIGHT", {"ok", "failed"}),
        (
            # What the "Past 7 days"-style date filter links to (aware bounds).
            "scheduled_for__gte=2026-05-02+00:00:00%2B00:00"
            "&scheduled_for__lt=2026-05-03+00:00:00%2B00:00",
            {"failed", "often"},
        ),
    ],
)
def test_filters_and_search_narrow_the_list(superuser_client, runs, query, expected):
    response = superuser_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert listed(response) == {runs[key].pk for key in expected}


def test_the_task_filter_offers_the_declared_tasks(superuser_client, runs):
    html = superuser_client.get(LIST).content.decode()
    assert "?task=nightly" in html
    assert "?task=often" in html


def test_the_detail_page_shows_the_error_in_full_and_escaped(superuser_client, runs):
    url = reverse("admin:core_taskrun_change", args=[runs["failed"].pk])
    response = superuser_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<pre" in html
    assert (
        "Traceback (most recent call last):\n  &lt;boom &amp; friends&gt;\nValueError: bad" in html
    )
    assert "page 1 of 80" in html
    assert 'name="_save"' not in html  # no save button: view only


@pytest.mark.parametrize("client_name", ["superuser_client", "operator_client"])
def test_runs_cannot_be_added_changed_or_deleted_by_anyone(request, runs, client_name):
    client: Client = request.getfixturevalue(client_name)
    run = runs["failed"]
    change = reverse("admin:core_taskrun_change", args=[run.pk])
    assert client.post(change, {"status": "succeeded", "task": "x"}).status_code == 403
    assert (
        client.post(
            reverse("admin:core_taskrun_delete", args=[run.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:core_taskrun_add")).status_code == 403
    run.refresh_from_db()
    assert run.status == "failed"
    assert TaskRun.objects.count() == 3
    # ... nor through the bulk delete action.
    response = client.post(LIST, {"action": "delete_selected", "_selected_action": [run.pk]})
    assert TaskRun.objects.count() == 3
    assert response.status_code in (200, 302)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def retry(client: Client, *runs: TaskRun):
    return client.post(
        LIST, {"action": "retry_failed", "_selected_action": [r.pk for r in runs]}, follow=True
    )


def test_retry_queues_new_attempts_of_failed_runs_and_runs_nothing(operator_client, runs):
    response = retry(operator_client, runs["failed"], runs["ok"])
    assert response.status_code == 200
    queued = TaskRun.objects.get(status=Status.QUEUED)
    assert (queued.task, queued.attempt, queued.trigger) == ("nightly", 2, "retry")
    assert queued.scheduled_for == runs["failed"].scheduled_for
    assert queued.started_at is None
    messages = messages_of(response)
    assert any("Queued retries of nightly (attempt 2)" in m for m in messages)
    assert any("Skipped 1 selected runs that did not fail" in m for m in messages)
    # Clicking again does not queue a second retry.
    response = retry(operator_client, runs["failed"])
    assert TaskRun.objects.filter(status=Status.QUEUED).count() == 1
    assert any("already retried" in str(m) for m in response.context["messages"])


def test_the_retry_message_names_the_attempt_it_queued(operator_client, runs):
    # Attempt 2 of the same tick failed too: retrying attempt 1 queues attempt 3
    # (control.retry_run counts from the highest attempt), and the message says so.
    make_run("nightly", utc(2026, 5, 2, 3), Status.FAILED, attempt=2, trigger="retry")
    messages = messages_of(retry(operator_client, runs["failed"]))
    assert TaskRun.objects.get(status=Status.QUEUED).attempt == 3
    assert any("Queued retries of nightly (attempt 3)" in m for m in messages), messages


def test_retry_is_refused_without_the_run_task_permission(viewer_client, runs):
    response = viewer_client.get(LIST)
    assert response.status_code == 200
    assert "retry_failed" not in response.content.decode()
    retry(viewer_client, runs["failed"])
    assert not TaskRun.objects.filter(status=Status.QUEUED).exists()


def test_the_retry_action_and_button_need_a_csrf_token(runs):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("csrf", password="pw"))
    response = client.post(
        LIST, {"action": "retry_failed", "_selected_action": [runs["failed"].pk]}
    )
    assert response.status_code == 403
    retry_url = reverse("admin:core_taskrun_retry", args=[runs["failed"].pk])
    assert client.post(retry_url).status_code == 403
    assert not TaskRun.objects.filter(status=Status.QUEUED).exists()


def test_staff_without_view_permission_cannot_see_runs(runs):
    client = Client()
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))
    assert client.get(LIST).status_code == 403


def test_small_lists_are_counted_exactly(superuser_client, runs):
    response = superuser_client.get(LIST)
    assert response.context["cl"].result_count == 3
    assert response.context["cl"].paginator.estimated is False
    assert "about 3" not in response.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates: PostgreSQL")
def test_huge_lists_show_the_planners_estimate_instead_of_counting(
    superuser_client, runs, monkeypatch
):
    monkeypatch.setattr("core.admin.paginator.ESTIMATE_ABOVE", -1)
    with CaptureQueriesContext(connection) as queries:
        response = superuser_client.get(f"{LIST}?task=nightly")
    assert response.context["cl"].paginator.estimated is True
    assert response.context["cl"].result_count >= 1
    assert "about " in response.content.decode()
    assert not any("COUNT(" in q["sql"] for q in queries)


def test_retrying_too_many_runs_at_once_is_refused(operator_client, runs, monkeypatch):
    monkeypatch.setattr("core.admin.runs.MAX_RETRIES_AT_ONCE", 1)
    second = make_run("often", utc(2026, 5, 3, 4), Status.FAILED)
    response = retry(operator_client, runs["failed"], second)
    assert "Select at most 1 failed runs" in messages_of(response)[0]
    assert not TaskRun.objects.filter(status=Status.QUEUED).exists()


def test_the_retry_button_queues_the_next_attempt_and_shows_it(operator_client, runs):
    failed = runs["failed"]
    page = operator_client.get(reverse("admin:core_taskrun_change", args=[failed.pk]))
    retry_url = reverse("admin:core_taskrun_retry", args=[failed.pk])
    assert retry_url in page.content.decode()
    response = operator_client.post(retry_url)
    queued = TaskRun.objects.get(status=Status.QUEUED)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:core_taskrun_change", args=[queued.pk])
    assert (queued.attempt, queued.trigger) == (2, "retry")
    # A second press is refused and says why.
    response = operator_client.post(retry_url, follow=True)
    assert TaskRun.objects.filter(status=Status.QUEUED).count() == 1
    assert any("already retried" in m for m in messages_of(response))
    assert operator_client.get(retry_url).status_code == 405


def test_the_retry_button_is_only_for_failed_runs_and_permitted_users(
    operator_client, viewer_client, runs
):
    ok_page = reverse("admin:core_taskrun_change", args=[runs["ok"].pk])
    assert "/retry/" not in operator_client.get(ok_page).content.decode()
    failed_page = reverse("admin:core_taskrun_change", args=[runs["failed"].pk])
    assert "/retry/" not in viewer_client.get(failed_page).content.decode()
    retry_url = reverse("admin:core_taskrun_retry", args=[runs["failed"].pk])
    assert viewer_client.post(retry_url).status_code == 403
    response = operator_client.post(reverse("admin:core_taskrun_retry", args=[runs["ok"].pk]))
    assert response.status_code == 302
    assert not TaskRun.objects.filter(status=Status.QUEUED).exists()
