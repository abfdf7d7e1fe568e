"""Tiny readers for environment variables that fail loudly on a bad value.

Every reader raises ``ImproperlyConfigured`` naming the variable, its value and
what is expected, so a typo in a Heroku config var stops start-up with a message
instead of a silent default. ``start`` is what ``manage.py`` and ``clock.py`` call
first: it reads a local ``.env`` and turns a configuration error into one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

APP_SETTINGS = "spojscore.settings"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    expected = "a number" if minimum is None else f"a number >= {minimum:g}"
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number; use {expected}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number; use {expected}.")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} is too small; use {expected}.")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    expected = "a whole number" if minimum is None else f"a whole number >= {minimum}"
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a whole number; use {expected}."
        ) from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} is too small; use {expected}.")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of: {', '.join(choices)}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name}={raw!r} has an empty item; use a comma-separated list.")
    return items


def read_dotenv(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of a ``.env`` file, as honcho and ``heroku local`` read it.

    Blank lines and ``#`` comments are skipped, ``export`` is allowed, a value may
    be quoted, and an unquoted value ends at `` #``. (python-dotenv is not a
    dependency; this is the part of it the project needs.)
    """
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ImproperlyConfigured(
                f"{path.name} line {number}: {line!r} is not KEY=VALUE; fix or remove it."
            )
        end = value.find(value[0], 1) if value[:1] in ("'", '"') else -1
        value = value[1:end] if end > 0 else value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_dotenv(root: Path) -> list[str]:
    """Set the variables of ``root/.env`` that are not set yet; the names set.

    Only for local work: not on a Heroku dyno (``DYNO``), and not under other
    settings modules (the test suite's), so a developer's ``.env`` never leaks
    into them. A variable already in the environment always wins.
    """
    path = root / ".env"
    module = os.environ.get("DJANGO_SETTINGS_MODULE", APP_SETTINGS)
    if "DYNO" in os.environ or module != APP_SETTINGS or not path.is_file():
        return []
    loaded = []
    for key, value in read_dotenv(path).items():
        if key not in os.environ:
            os.environ[key] = value
            loaded.append(key)
    return loaded


def start(root: Path) -> None:
    """Read ``root/.env``, then load the settings. A configuration error is printed
    as one line on stderr and exits with status 2 instead of a traceback."""
    try:
        load_dotenv(root)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", APP_SETTINGS)
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 (imports the settings module)
    except ImproperlyConfigured as exc:
        message = " ".join(str(exc).split("\n"))
        sys.stderr.write(f"spojscore: configuration error: {message}\n")
        raise SystemExit(2) from None
