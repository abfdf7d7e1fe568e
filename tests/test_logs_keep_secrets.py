"""Logs at DEBUG level never show the secret key or the database password."""

import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.heroku_e2e import (
    ProcessSet,
    http_get,
    manage,
    production_env,
    run_checked,
    start_web,
)
from tests.support import free_port, throwaway_database

pytestmark = pytest.mark.slow


def post(url: str, fields: dict[str, str]) -> int:
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_requests_and_commands_at_debug_level_log_no_secret(
    tmp_path: Path, e2e_processes: ProcessSet
):
    secret_key = secrets.token_urlsafe(50)
    db_password = "pw" + secrets.token_hex(12)
    server_url = os.environ.get("TEST_DATABASE_URL")
    with throwaway_database(server_url, sqlite_dir=tmp_path, password=db_password) as database_url:
        env = production_env(
            DJANGO_SECRET_KEY=secret_key,
            DATABASE_URL=database_url,
            DJANGO_SETTINGS_MODULE="tests.e2e_settings",
            E2E_STATIC_ROOT=str(tmp_path / "static"),
            LOG_LEVEL="DEBUG",
            GUNICORN_CMD_ARGS="--log-level debug",
        )
        outputs = []
        for args in (("migrate", "--no-input"), ("collectstatic", "--no-input", "-v", "3")):
            result = run_checked(manage(*args), env)
            outputs.append(result.stdout + result.stderr)
        web, url = start_web(e2e_processes, env)
        assert http_get(f"{url}/healthz").status == 200
        assert http_get(f"{url}/admin/login/").status == 200
        assert http_get(f"{url}/no-such-page").status == 404
        # A login without a CSRF token: Django logs the refusal at WARNING.
        assert post(f"{url}/admin/login/", {"username": "a", "password": secret_key}) == 403
        e2e_processes.close()
        outputs.append(web.output())

        # A database that cannot be reached: the error must not echo the URL's password.
        unreachable = production_env(
            DJANGO_SECRET_KEY=secret_key,
            DATABASE_URL=f"postgres://app:{db_password}@127.0.0.1:{free_port()}/app",
            LOG_LEVEL="DEBUG",
        )
        broken = subprocess.run(
            manage("migrate", "--no-input"),
            env=unreachable,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert broken.returncode != 0
        assert "Connection refused" in broken.stderr or "connection failed" in broken.stderr
        outputs.append(broken.stdout + broken.stderr)

    everything = "\n".join(outputs)
    assert "DEBUG" in everything  # the debug level really was on
    assert "GET /admin/login/" in everything or 'path="/admin/login/"' in everything
    assert secret_key not in everything
    assert db_password not in everything
