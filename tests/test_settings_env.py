"""Settings read the environment and fail loudly on a bad value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    clean.pop("ENVIRONMENT", None)
    clean.update(env)
    code = "import spojscore.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'])"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_settings_import_without_a_database_and_default_to_sqlite():
    result = import_settings(DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.sqlite3"]


def test_development_environment_turns_debug_on_and_needs_no_secret():
    result = import_settings(ENVIRONMENT="development")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"


def test_a_missing_secret_key_with_debug_off_stops_start_up():
    result = import_settings()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_DEBUG", "yes please"),
        ("SPOJ_REQUEST_DELAY", "soon"),
        ("SPOJ_REQUEST_DELAY", "-1"),
        ("DATABASE_URL", "postgres://user@host:notaport/db"),
        ("DATABASE_URL", "nosuchdb://x/y"),
        ("LOG_LEVEL", "LOUD"),
        ("SCHEDULED_TASKS_HEARTBEAT", "0"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(variable, value):
    result = import_settings(DJANGO_SECRET_KEY="x" * 50, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_database_url_selects_postgresql_with_persistent_checked_connections():
    code = (
        "import spojscore.settings as s; d = s.DATABASES['default'];"
        "print(d['ENGINE'], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d['NAME'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_SECRET_KEY="x" * 50, DATABASE_URL="postgres://u:p@db.example:5433/spoj")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "600", "True", "spoj"]
