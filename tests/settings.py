"""Settings for the test suite: production settings plus a test database.

``TEST_DATABASE_URL`` selects the database the suite runs against (PostgreSQL
in the second pass of ``make test``); without it the suite uses SQLite. The
SQLite test database is a file, not ``:memory:``, because tests start real
child processes (clocks, runtasks) that must see the same data.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("SPOJ_REQUEST_DELAY", "0")

from spojscore.settings import *  # noqa: F403
from spojscore.settings import BASE_DIR, DATABASES, INSTALLED_APPS, database_from_url

# Test-only management commands (tasks whose executions can be counted).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]

if os.environ.get("TEST_DATABASE_URL"):
    DATABASES["default"] = database_from_url(os.environ["TEST_DATABASE_URL"], "TEST_DATABASE_URL")
else:
    DATABASES["default"] = database_from_url(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}

# Tests render templates without running collectstatic first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# No collectstatic before tests: WhiteNoise looks files up on demand instead of
# scanning STATIC_ROOT at start-up (which does not exist in a fresh clone).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Every request reads the data version afresh: tests write a scrape and look at
# the page at once, and count the version's query (tests/test_http_caching.py
# has the reuse under its own setting).
DATA_VERSION_MAX_AGE = 0.0
