"""SCHEDULED_TASKS entries are validated by system checks with ids and hints."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from core.scheduling.config import (
    TaskConfigErrors,
    check_lease_timing,
    check_scheduled_tasks,
    get_tasks,
    parse_task,
)

pytestmark = pytest.mark.any_database  # see tests/conftest.py


def errors_for(entry, name="job"):
    with override_settings(SCHEDULED_TASKS={name: entry}):
        return check_scheduled_tasks()


def test_the_default_tasks_are_valid():
    tasks = get_tasks()
    assert set(tasks) == {"scrape_spoj", "prune_runs", "scrape_spoj_users", "scrape_spoj_tags"}
    assert tasks["scrape_spoj"].describe() == "At 03:00 every day"
    assert tasks["prune_runs"].args == ("--days", "30")
    assert tasks["scrape_spoj_users"].describe() == "At minute 30 past every sixth hour"
    assert tasks["scrape_spoj_users"].args == ("--delay", "2")
    # Sunday, an hour after the list scrape, so the week's new problems are in.
    assert tasks["scrape_spoj_tags"].describe() == "At 04:00 on Sunday"
    assert check_scheduled_tasks() == []


def test_the_tags_task_may_read_every_problem_at_the_polite_pace():
    # About 4,000 pages a second apart (3,971 in May 2025), each also waiting for
    # SPOJ's answer: the default hour would stop every run part-way.
    tags = get_tasks()["scrape_spoj_tags"]
    assert tags.timeout >= 2.5 * 4000
    assert tags.args == ()  # every active problem, not a --limit


@pytest.mark.parametrize(
    ("entry", "error_id", "words"),
    [
        ({"command": "no_such_command", "every": 60}, "core.E005", "not an installed"),
        ({"command": "check", "schedule": "61 * * * *"}, "core.E004", "not a valid cron"),
        ({"command": "check", "schedule": "0 3 * *"}, "core.E004", "5 fields"),
        ({"command": "check", "schedule": "@fortnightly"}, "core.E004", "not a valid cron"),
        ({"command": "check", "every": 60, "colour": "blue"}, "core.E002", "unknown option"),
        ({"command": "check", "schedule": "@daily", "every": 60}, "core.E003", "not both"),
        ({"command": "check"}, "core.E003", "not neither"),
        ({"command": "check", "every": 60, "timeout": -1}, "core.E007", "timeout"),
        ({"command": "check", "every": 0}, "core.E007", "every"),
        ({"command": "check", "every": 1.5}, "core.E007", "every"),
        ({"command": "check", "every": 60, "retries": "2"}, "core.E007", "retries"),
        ({"command": "check", "every": 60, "overlap": "sometimes"}, "core.E008", "overlap"),
        ({"command": "check", "every": 60, "catchup": "some"}, "core.E008", "catchup"),
        ({"command": "check", "every": 60, "timezone": "Mars/Olympus"}, "core.E006", "timezone"),
        ({"command": "check", "every": 60, "args": "--deploy"}, "core.E009", "args"),
        ({"command": "check", "every": 60, "enabled": "yes"}, "core.E009", "enabled"),
        ("0 3 * * *", "core.E001", "dict"),
    ],
)
def test_a_bad_entry_is_a_check_error_naming_the_task(entry, error_id, words):
    errors = errors_for(entry)
    assert [e.id for e in errors] == [error_id]
    assert "SCHEDULED_TASKS['job']" in errors[0].msg
    assert words in errors[0].msg
    assert errors[0].hint


def test_manage_py_check_fails_on_a_bad_entry():
    broken = {"broken": {"command": "check", "schedule": "every day"}}
    with (
        override_settings(SCHEDULED_TASKS=broken),
        pytest.raises(SystemCheckError, match=r"core\.E004.*broken"),
    ):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def test_nicknames_and_options_are_parsed():
    spec = parse_task(
        "nightly",
        {
            "command": "check",
            "schedule": "@daily",
            "timezone": "Europe/London",
            "timeout": 30,
            "retries": 2,
            "retry_delay": 5,
            "overlap": "allow",
            "catchup": "all",
            "starting_deadline": 120,
            "enabled": False,
        },
        "UTC",
    )
    assert spec.schedule == "0 0 * * *"
    assert str(spec.timezone) == "Europe/London"
    assert (spec.timeout, spec.retries, spec.retry_delay) == (30.0, 2, 5.0)
    assert (spec.overlap, spec.catchup, spec.starting_deadline, spec.enabled) == (
        "allow",
        "all",
        120.0,
        False,
    )
    assert not spec.exclusive
    assert spec.describe().endswith("(Europe/London)")


def test_every_ticks_are_aligned_to_the_epoch_and_strictly_after_the_start():
    spec = parse_task("t", {"command": "check", "every": 600}, "UTC")
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert spec.ticks_between(start, start.replace(minute=30)) == [
        start.replace(minute=10),
        start.replace(minute=20),
        start.replace(minute=30),
    ]
    assert spec.describe() == "every 10 minutes"


def test_the_default_starting_deadline_is_one_period_capped_at_an_hour():
    every_minute = parse_task("t", {"command": "check", "schedule": "* * * * *"}, "UTC")
    daily = parse_task("d", {"command": "check", "schedule": "0 3 * * *"}, "UTC")
    tick = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    assert every_minute.deadline_for(tick).total_seconds() == 60
    assert daily.deadline_for(tick).total_seconds() == 3600


FIVE_MISTAKES = {
    "command": "check",
    "every": 60,
    "timout": 600,
    "retries": "2",
    "overlap": "sometimes",
    "timezone": "Mars/Olympus",
    "enabled": "yes",
}


def test_a_task_with_five_mistakes_reports_all_five_each_naming_task_and_field():
    errors = errors_for(FIVE_MISTAKES, name="nightly")
    ids = ["core.E002", "core.E006", "core.E007", "core.E008", "core.E009"]
    assert sorted(e.id for e in errors) == ids
    for error, field in zip(
        errors, ["timout", "timezone", "overlap", "enabled", "retries"], strict=True
    ):
        assert error.msg.startswith("SCHEDULED_TASKS['nightly']: ")
        assert field in error.msg
        assert error.hint
    by_id = {e.id: e for e in errors}
    assert "Did you mean 'timeout'?" in by_id["core.E002"].hint
    assert "e.g. retries=3" in by_id["core.E007"].hint


def test_parse_task_raises_every_error_of_the_entry_at_once():
    with pytest.raises(TaskConfigErrors) as caught:
        parse_task("nightly", FIVE_MISTAKES, "UTC")
    assert [e.option for e in caught.value.errors] == [
        "timout",
        "timezone",
        "overlap",
        "enabled",
        "retries",
    ]
    assert str(caught.value).count("SCHEDULED_TASKS['nightly']") == 5


@pytest.mark.parametrize(
    ("option", "value", "example"),
    [
        ("timeout", 0, "timeout=600"),
        ("timeout", "10m", "timeout=600"),
        ("retries", 1.5, "retries=3"),
        ("retry_delay", -5, "retry_delay=60"),
        ("starting_deadline", "soon", "starting_deadline=300"),
        ("every", 0, "every=600"),
    ],
)
def test_a_bad_number_gets_a_hint_with_a_fitting_example(option, value, example):
    entry = {"command": "check", "every": 60, option: value}
    (error,) = errors_for(entry)
    assert error.id == "core.E007"
    assert f"{option}={value!r}" in error.msg
    assert f"e.g. {example}." in error.hint


def test_get_tasks_lists_every_error_of_every_task():
    broken = {
        "nightly": FIVE_MISTAKES,
        "weekly": {"command": "no_such_command", "schedule": "61 * * * *"},
        "fine": {"command": "check", "every": 60},
    }
    with (
        override_settings(SCHEDULED_TASKS=broken),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        get_tasks()
    message = str(caught.value)
    assert message.startswith("SCHEDULED_TASKS has 7 errors: ")
    assert message.count("SCHEDULED_TASKS['nightly']") == 5
    assert message.count("SCHEDULED_TASKS['weekly']") == 2
    assert "'fine'" not in message
    with override_settings(SCHEDULED_TASKS=broken):
        assert len(check_scheduled_tasks()) == 7


def test_the_default_heartbeat_and_stale_age_pass_the_lease_check():
    assert check_lease_timing() == []


@pytest.mark.parametrize(("heartbeat", "stale_after"), [(30, 60), (45, 60), (2, 3)])
def test_a_heartbeat_not_below_half_the_stale_age_is_a_check_error(heartbeat, stale_after):
    with override_settings(
        SCHEDULED_TASKS_HEARTBEAT=heartbeat, SCHEDULED_TASKS_STALE_AFTER=stale_after
    ):
        errors = check_scheduled_tasks()
    assert [e.id for e in errors] == ["core.E010"]
    assert f"SCHEDULED_TASKS_HEARTBEAT={heartbeat} s" in errors[0].msg
    assert f"SCHEDULED_TASKS_STALE_AFTER={stale_after} s" in errors[0].msg
    assert f"below {stale_after / 2:g}" in (errors[0].hint or "")


def test_a_heartbeat_just_below_half_the_stale_age_passes():
    with override_settings(SCHEDULED_TASKS_HEARTBEAT=29.9, SCHEDULED_TASKS_STALE_AFTER=60):
        assert check_scheduled_tasks() == []


def test_manage_py_check_fails_on_a_lease_the_heartbeat_cannot_keep():
    with (
        override_settings(SCHEDULED_TASKS_HEARTBEAT=40, SCHEDULED_TASKS_STALE_AFTER=60),
        pytest.raises(SystemCheckError, match=r"core\.E010"),
    ):
        call_command("check", stdout=StringIO(), stderr=StringIO())
