"""Production settings pass Django's deployment checks on a dyno and build without a database."""

import secrets
import subprocess
import sys

import pytest

from tests.heroku_e2e import ROOT, free_port, production_env

pytestmark = pytest.mark.any_database  # see tests/conftest.py


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_on_a_dyno_with_a_secret():
    env = production_env(DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DYNO="web.1")
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_off_heroku_where_https_is_not_enforced():
    # Guards the test above: the same check does fail when the Heroku settings
    # (HTTPS redirect, secure cookies, HSTS) are not in force.
    env = production_env(DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT


def test_heroku_ci_is_not_treated_as_a_production_dyno():
    env = production_env(DYNO="web.1", CI="true")
    code = (
        "import spojscore.settings as s;"
        "print(s.IS_HEROKU_APP, getattr(s, 'SECURE_SSL_REDIRECT', False))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_a_dyno_without_a_secret_key_refuses_to_start():
    env = production_env(DYNO="web.1")
    del env["DJANGO_SECRET_KEY"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_static_storage_is_whitenoise_compressed_manifest_in_production():
    code = "import spojscore.settings as s; print(s.STORAGES['staticfiles']['BACKEND'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True, text=True
    )
    assert result.stdout.strip() == "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.mark.slow
def test_collectstatic_runs_at_build_time_without_a_reachable_database():
    # Heroku's Python buildpack runs collectstatic during the build with the app's
    # config vars exported, but with no dyno (no DYNO) and no database to talk to.
    closed = free_port()
    env = production_env(DATABASE_URL=f"postgres://u:p@127.0.0.1:{closed}/nowhere")
    result = manage(env, "collectstatic", "--no-input")
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    assert manifest.is_file()
    assert "admin/css/base.css" in manifest.read_text()
    # Compressed copies for WhiteNoise to serve with Content-Encoding.
    assert list((ROOT / "staticfiles" / "admin" / "css").glob("base.*.css.gz"))


def test_a_build_without_the_secret_key_fails_with_a_message_naming_it():
    # No fallback key at build time: the build stops and says what to set.
    env = production_env(DATABASE_URL=f"postgres://u:p@127.0.0.1:{free_port()}/nowhere")
    del env["DJANGO_SECRET_KEY"]
    result = manage(env, "collectstatic", "--no-input", "--dry-run")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr
