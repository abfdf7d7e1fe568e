"""Procfile, runtime.txt and gunicorn.conf.py say what Heroku needs."""

import subprocess
import sys

import pytest
from django.core.management import get_commands

from tests.heroku_e2e import BIN, ROOT, production_env, read_procfile

pytestmark = pytest.mark.any_database  # see tests/conftest.py


def test_the_procfile_declares_web_clock_worker_and_release_in_lowercase():
    processes = read_procfile()
    assert set(processes) == {"web", "clock", "worker", "release"}
    assert all(name == name.lower() for name in processes)


def test_the_web_process_is_gunicorn_with_the_config_file():
    assert read_procfile()["web"] == "gunicorn spojscore.wsgi --config gunicorn.conf.py"
    assert (ROOT / "gunicorn.conf.py").is_file()


def test_the_release_phase_migrates_without_prompting():
    assert read_procfile()["release"] == "python manage.py migrate --no-input"


def test_the_clock_process_runs_clock_py():
    assert read_procfile()["clock"] == "python clock.py"


def test_the_worker_process_is_the_celery_app_with_configurable_concurrency():
    worker = read_procfile()["worker"]
    assert worker.startswith("celery -A spojscore worker ")
    assert "--concurrency ${CELERY_CONCURRENCY:-2}" in worker
    # No broadcast chatter: fewer connections and commands on a small Key-Value Store plan.
    for flag in ("--without-gossip", "--without-mingle", "--without-heartbeat"):
        assert flag in worker


def test_every_management_command_named_for_heroku_exists():
    # The release command and the app.json postdeploy script name commands that
    # must exist when Heroku runs them.
    assert {"migrate", "runtasks", "clock", "scrape_spoj"} <= set(get_commands())
    assert (ROOT / "clock.py").is_file()


def test_runtime_txt_pins_python_3_11():
    assert (ROOT / "runtime.txt").read_text().strip() == "python-3.11"


def resolved_gunicorn_config(**env: str) -> dict[str, str]:
    """gunicorn's fully resolved settings for the Procfile's web command (as text)."""
    argv = [str(BIN / "gunicorn"), *read_procfile()["web"].split()[1:], "--print-config"]
    result = subprocess.run(
        argv, cwd=ROOT, env=production_env(**env), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    settings = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        settings[name.strip()] = value.strip()
    return settings


def test_gunicorn_binds_port_on_all_interfaces_and_takes_workers_from_web_concurrency():
    config = resolved_gunicorn_config(PORT="5123", WEB_CONCURRENCY="3")
    assert config["bind"] == "['0.0.0.0:5123']"
    assert config["workers"] == "3"


def test_gunicorn_timeouts_fit_inside_herokus_30_second_limits():
    config = resolved_gunicorn_config(PORT="5123")
    assert 0 < int(config["timeout"]) < 30  # router timeout (H12)
    assert 0 < int(config["graceful_timeout"]) <= 25  # SIGKILL 30 s after SIGTERM
    assert config["preload_app"] == "True"


def test_gunicorn_logs_every_request_to_stdout():
    config = resolved_gunicorn_config(PORT="5123")
    assert config["accesslog"] == "-"
    assert "request_id=%({x-request-id}i)s" in config["access_log_format"]


def test_gunicorn_does_not_open_a_control_socket_in_home():
    assert resolved_gunicorn_config(PORT="5123")["control_socket_disable"] == "True"


def test_gunicorn_trusts_forwarded_headers_only_on_a_dyno():
    assert resolved_gunicorn_config(PORT="5123", DYNO="web.1")["forwarded_allow_ips"] == "['*']"
    local = resolved_gunicorn_config(PORT="5123")["forwarded_allow_ips"]
    assert "*" not in local
    assert "127.0.0.1" in local


def test_the_python_running_the_tests_is_3_11():
    # runtime.txt promises 3.11; the suite must exercise the same version.
    assert sys.version_info[:2] == (3, 11)
