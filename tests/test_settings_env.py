"""Settings read the environment and fail loudly on a bad value."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from spojscore.env import read_dotenv

pytestmark = pytest.mark.any_database  # see tests/conftest.py

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
        ("SCHEDULED_TASKS_EXECUTOR", "threads"),
        ("SCHEDULED_TASKS_DISPATCH_TIMEOUT", "0"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(variable, value):
    result = import_settings(DJANGO_SECRET_KEY="x" * 50, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_the_celery_executor_without_a_broker_stops_start_up_saying_which_variables():
    env = {k: "" for k in ("CELERY_BROKER_URL", "REDIS_URL")}
    result = import_settings(DJANGO_SECRET_KEY="x" * 50, SCHEDULED_TASKS_EXECUTOR="celery", **env)
    assert result.returncode != 0
    assert "set CELERY_BROKER_URL or REDIS_URL" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "broker", "tls"),
    [
        ({"REDIS_URL": "redis://h:6379"}, "redis://h:6379", False),
        ({"REDIS_URL": "rediss://u:p@h:6380"}, "rediss://u:p@h:6380", True),
        ({"REDIS_URL": "redis://h:1", "CELERY_BROKER_URL": "amqp://q//"}, "amqp://q//", False),
    ],
)
def test_the_broker_comes_from_celery_broker_url_else_redis_url(env, broker, tls):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))}
    clean.update(DJANGO_SECRET_KEY="x" * 50, SCHEDULED_TASKS_EXECUTOR="celery", **env)
    code = (
        "import ssl, spojscore.settings as s; print(s.CELERY_BROKER_URL); "
        "print(getattr(s, 'CELERY_BROKER_USE_SSL', {}).get('ssl_cert_reqs') == ssl.CERT_NONE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    # Heroku Key-Value Store (rediss://) has a self-signed certificate.
    assert result.stdout.split() == [broker, str(tls)]


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


# --- manage.py and clock.py in a fresh clone: .env, and one line per configuration error ---


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A project root in a temporary directory: its own manage.py, clock.py, run.sh and
    .env.example, the code linked in (nothing big copied), no .env yet."""
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    for name in ("manage.py", "clock.py", ".env.example", "scripts/run.sh"):
        shutil.copy(ROOT / name, root / name)
    for package in ("core", "spojscore"):
        (root / package).symlink_to(ROOT / package)
    return root


def clean_env(**env: str) -> dict[str, str]:
    """The environment of a new shell: none of the project's variables set."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    clean = {k: v for k, v in os.environ.items() if k in keep}
    clean.update(env)
    return clean


def run(root: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / script), *args],
        cwd=root,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spojscore: configuration error: ")
    return lines[0]


def test_a_fresh_clone_without_a_secret_key_says_in_one_line_what_to_do(clone: Path) -> None:
    line = assert_one_line_error(run(clone, "manage.py", "tasks"))
    assert "DJANGO_SECRET_KEY" in line
    assert "is not set" in line
    assert "cp .env.example .env" in line
    assert "ENVIRONMENT=development" in line


@pytest.mark.parametrize(
    ("variable", "value", "shown"),
    [
        ("DJANGO_DEBUG", "yes please", "DJANGO_DEBUG='yes please' is not a boolean; use true"),
        ("SPOJ_REQUEST_DELAY", "soon", "SPOJ_REQUEST_DELAY='soon' is not a number; use a number"),
        ("SPOJ_REQUEST_DELAY", "-1", "SPOJ_REQUEST_DELAY='-1' is too small; use a number >= 0"),
        ("SCHEDULED_TASKS_HEARTBEAT", "0", "SCHEDULED_TASKS_HEARTBEAT='0' is too small; use a"),
        ("SPOJ_REQUEST_DELAY", "nan", "SPOJ_REQUEST_DELAY='nan' is not a finite number; use"),
        ("CONN_MAX_AGE", "ten", "CONN_MAX_AGE='ten' is not a whole number; use a whole number"),
        ("ALLOWED_HOSTS", "a,,b", "ALLOWED_HOSTS='a,,b' has an empty item; use a comma"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not a logging level; use DEBUG, INFO"),
        ("DATABASE_URL", "nosuchdb://x/y", "DATABASE_URL='nosuchdb://x/y' is malformed"),
        (
            "DATABASE_URL",
            "postgres://user:hunter2@host:notaport/db",
            "DATABASE_URL='postgres://user:***@host:notaport/db' is malformed",
        ),
    ],
)
def test_a_malformed_variable_is_one_line_naming_variable_value_and_expectation(
    clone: Path, variable: str, value: str, shown: str
) -> None:
    result = run(clone, "manage.py", "check", DJANGO_SECRET_KEY="x" * 50, **{variable: value})
    line = assert_one_line_error(result)
    assert shown in line
    assert "hunter2" not in line


def test_clock_py_reports_a_configuration_error_in_one_line(clone: Path) -> None:
    result = run(clone, "clock.py", DJANGO_SECRET_KEY="x" * 50, DJANGO_DEBUG="maybe")
    assert "DJANGO_DEBUG='maybe' is not a boolean" in assert_one_line_error(result)


def test_with_the_example_dot_env_manage_py_tasks_works_in_a_fresh_clone(clone: Path) -> None:
    shutil.copy(clone / ".env.example", clone / ".env")
    database = f"sqlite:///{clone / 'local.sqlite3'}"
    migrate = run(clone, "manage.py", "migrate", "--no-input", DATABASE_URL=database)
    assert migrate.returncode == 0, migrate.stderr
    result = run(clone, "manage.py", "tasks", DATABASE_URL=database)
    assert result.returncode == 0, result.stderr
    assert "scrape_spoj" in result.stdout
    assert "prune_runs" in result.stdout


def test_dot_env_is_read_but_never_overrides_a_variable_already_set(clone: Path) -> None:
    (clone / ".env").write_text(
        "# local settings\n\nexport ENVIRONMENT=development\nLOG_LEVEL='LOUD'  # a typo\n"
    )
    read = run(clone, "manage.py", "check")
    assert "LOG_LEVEL='LOUD' is not a logging level" in assert_one_line_error(read)
    overridden = run(clone, "manage.py", "check", LOG_LEVEL="INFO")
    assert overridden.returncode == 0, overridden.stderr
    assert "no issues" in overridden.stdout


def test_dot_env_is_not_read_on_a_dyno(clone: Path) -> None:
    shutil.copy(clone / ".env.example", clone / ".env")
    result = run(clone, "manage.py", "check", DYNO="web.1")
    assert "DJANGO_SECRET_KEY is required" in assert_one_line_error(result)


def test_dot_env_is_not_read_under_another_settings_module(clone: Path) -> None:
    (clone / ".env").write_text("DJANGO_DEBUG=yes please\n")
    result = run(clone, "manage.py", "check", DJANGO_SETTINGS_MODULE="spojscore.settings_other")
    assert "DJANGO_DEBUG" not in result.stderr
    assert result.returncode != 0  # no such module: Django's own error, not .env's


def test_read_dotenv_reads_key_value_lines_and_refuses_anything_else(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        '# comment\n\nA=1\nexport B = two words \nC="quoted # not a comment"\nD=x # note\nE=\n'
    )
    assert read_dotenv(path) == {
        "A": "1",
        "B": "two words",
        "C": "quoted # not a comment",
        "D": "x",
        "E": "",
    }
    path.write_text("A=1\nnot a line\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env line 2: 'not a line' is not KEY=VALUE"):
        read_dotenv(path)


def fake_venv(root: Path) -> None:
    """A .venv whose python fails at once: run.sh stops at its first command after .env."""
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 3\n")
    python.chmod(0o755)


def test_make_run_creates_dot_env_from_the_example_when_missing_and_says_so(clone: Path) -> None:
    fake_venv(clone)
    result = subprocess.run(
        ["bash", str(clone / "scripts" / "run.sh")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3  # the fake python, after .env was made
    assert (clone / ".env").read_text() == (clone / ".env.example").read_text()
    assert "==> Created .env from .env.example" in result.stdout


def test_make_run_leaves_an_existing_dot_env_alone(clone: Path) -> None:
    fake_venv(clone)
    (clone / ".env").write_text("ENVIRONMENT=development\nLOG_LEVEL=DEBUG\n")
    result = subprocess.run(
        ["bash", str(clone / "scripts" / "run.sh")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert (clone / ".env").read_text() == "ENVIRONMENT=development\nLOG_LEVEL=DEBUG\n"
    assert "Created .env" not in result.stdout
