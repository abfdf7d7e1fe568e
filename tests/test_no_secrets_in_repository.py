"""No secret is committed: no literal secret key, private key or real database password."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.heroku_e2e import ROOT

pytestmark = pytest.mark.any_database  # see tests/conftest.py

# Patterns are assembled from pieces so this file does not match itself.
BEGIN = "-----" + "BEGIN"
PATTERNS = {
    "a literal Django secret key": re.compile(
        r"""SECRET_KEY\s*=\s*(['"])[^'"\n]{20,}\1\s*(#.*)?$""", re.MULTILINE
    ),
    "a private key": re.compile(BEGIN + r" (?:[A-Z]+ )?PRIVATE KEY-----"),
    "a database URL with a password": re.compile(
        r"(?:postgres(?:ql)?|mysql|redis)://[^\s:/@'\"]+:(?P<password>[^\s@'\"/]+)@"
    ),
    "a Heroku API key": re.compile(r"HEROKU_API_KEY\s*[=:]\s*['\"]?[0-9a-f]{8}-[0-9a-f]{4}-"),
}
# Placeholders that documentation and tests use on purpose.
PLACEHOLDER = re.compile(r"^(?:.{0,7}|[$<{].*|.*(?:password|passwd|secret|example|xxx).*)$", re.I)


def findings(text: str) -> list[str]:
    found = []
    for what, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            password = match.groupdict().get("password")
            if password is not None and PLACEHOLDER.match(password):
                continue
            found.append(f"{what}: {match.group(0)[:60]}")
    return found


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (e.g. a Heroku CI slug): nothing tracked to scan")
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    return [ROOT / name.decode() for name in names if name]


def test_no_tracked_file_holds_a_secret():
    problems = []
    files = tracked_files()
    assert len(files) > 20  # really scanned the project
    for path in files:
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        problems += [f"{path.relative_to(ROOT)}: {finding}" for finding in findings(text)]
    assert not problems, "\n".join(problems)


def test_no_env_file_is_tracked():
    names = {path.name for path in tracked_files()}
    assert ".env" not in names
    assert ".env.example" in names


@pytest.mark.parametrize(
    "text",
    [
        'SECRET_KEY = "' + "k3y" * 10 + '"',
        BEGIN + " RSA PRIVATE KEY-----\nMIIE",
        BEGIN + " OPENSSH PRIVATE KEY-----",
        "DATABASE_URL=postgres://app:" + "Zq8vLr2pWx91" + "@db.internal:5432/app",
        "HEROKU_API_KEY=" + "0123abcd-4567-89ab-cdef-0123456789ab",
    ],
)
def test_the_scanner_finds_each_kind_of_secret(text):
    assert findings(text)


@pytest.mark.parametrize(
    "text",
    [
        'SECRET_KEY = "dev-insecure-" + secrets.token_urlsafe(40)',
        "postgres://u:p@db.example:5433/spoj",
        "postgres://postgres@127.0.0.1:5432/spojscore",
        "postgres://user:password@host/db",
        "postgres://user:${DB_PASSWORD}@host/db",
        'os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")',
    ],
)
def test_the_scanner_lets_placeholders_through(text):
    assert not findings(text)
