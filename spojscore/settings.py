"""Settings for spojscore. Everything comes from the environment (12-factor).

See ``DESIGN.md`` / the README for the table of variables. This module imports
without a database and without network access, because Heroku runs
``collectstatic`` at build time.
"""

from __future__ import annotations

import os
import secrets
import ssl
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from spojscore.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# Heroku sets DYNO on every dyno; CI=true marks Heroku CI, where production
# settings must not apply (getting-started's settings.py uses the same test).
IS_HEROKU_APP = "DYNO" in os.environ and "CI" not in os.environ
ENVIRONMENT = env_str("ENVIRONMENT", "production")

DEBUG = env_bool("DJANGO_DEBUG", ENVIRONMENT == "development")

_secret = os.environ.get("DJANGO_SECRET_KEY", "")
if _secret:
    SECRET_KEY = _secret
elif DEBUG:
    # Development only: a fresh key per process (sessions do not survive restarts).
    SECRET_KEY = "dev-insecure-" + secrets.token_urlsafe(40)
else:
    _state = "is empty" if "DJANGO_SECRET_KEY" in os.environ else "is not set"
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is required when DEBUG is off, and it {_state}. "
        "For local work run `cp .env.example .env` (or set ENVIRONMENT=development); "
        "in production set DJANGO_SECRET_KEY to a long random string."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if IS_HEROKU_APP else ["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Serve static files with WhiteNoise under runserver too, as in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # https://whitenoise.readthedocs.io/en/stable/django.html#enable-whitenoise
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "spojscore.urls"
WSGI_APPLICATION = "spojscore.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Templates live with the code that renders them: the site's with the
        # web code (core/web/), the admin's overrides with core/admin/.
        "DIRS": [
            BASE_DIR / "core" / "web" / "templates",
            BASE_DIR / "core" / "admin" / "templates",
        ],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
_SQLITE_DEFAULT = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"


def sqlite_options() -> dict[str, Any]:
    """Options that let several processes (clocks, runtasks, web) share one SQLite file.

    WAL lets readers run beside a writer; IMMEDIATE transactions take the write
    lock up front so two writers queue on ``timeout`` instead of failing with
    "database is locked" on a read-to-write upgrade.
    """
    return {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }


_URL_EXAMPLE = "postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH"


def _redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``, for error messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def database_from_url(url: str, variable: str = "DATABASE_URL") -> dict[str, Any]:
    """A DATABASES entry for ``url``; a malformed URL names ``variable``."""
    try:
        database: dict[str, Any] = dict(
            dj_database_url.parse(
                url,
                # Persistent connections, checked before reuse:
                # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
                conn_max_age=env_int("CONN_MAX_AGE", 600, minimum=0),
                conn_health_checks=True,
            )
        )
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{variable}={_redacted(url)!r} is malformed ({exc}); use {_URL_EXAMPLE}."
        ) from None
    if not database.get("ENGINE"):
        raise ImproperlyConfigured(
            f"{variable}={_redacted(url)!r} names no supported database engine; use {_URL_EXAMPLE}."
        )
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("OPTIONS", {}).update(sqlite_options())
    elif database["ENGINE"] == "django.db.backends.postgresql":
        # Bounded waits on a dead or unreachable server, so no process (a clock
        # between heartbeats) hangs in a connect or on a silent network:
        # https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS
        bounded = {"connect_timeout": 10, "keepalives_idle": 30, "tcp_user_timeout": 30000}
        database["OPTIONS"] = {**bounded, **database.get("OPTIONS", {})}
    return database


DATABASES: dict[str, dict[str, Any]] = {
    "default": database_from_url(os.environ.get("DATABASE_URL") or _SQLITE_DEFAULT)
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- Cache: rendered pages and exports, keyed by the data version ---------------
# Shared by every web process and dyno (core/web/caching.py): Redis when
# REDIS_URL is set (Heroku Key-Value Store), else the database cache, whose
# table core/apps.py creates after every `migrate` (so the release phase,
# tests and `make run` have it).
# https://docs.djangoproject.com/en/5.2/topics/cache/
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    _redis_options: dict[str, Any] = {
        # A cache that does not answer must not hold a page for long.
        "socket_connect_timeout": 2,
        "socket_timeout": 2,
    }
    if REDIS_URL.startswith("rediss://"):
        # Heroku Key-Value Store presents a self-signed certificate:
        # https://devcenter.heroku.com/articles/heroku-redis#security-and-compliance
        _redis_options["ssl_cert_reqs"] = None
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "spojscore",
            "OPTIONS": _redis_options,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "spojscore_cache",
            # Entries are small (compressed); past this many, expired ones and
            # then a third of the rest are culled on the next write.
            "OPTIONS": {"MAX_ENTRIES": 1000},
        }
    }
# Megabytes of rendered pages each web process keeps in memory in front of the
# shared cache (0: none).
PAGE_CACHE_LOCAL_MB = env_int("PAGE_CACHE_LOCAL_MB", 16, minimum=0)
# Seconds a web process may reuse the data version (the newest scrape) it read,
# instead of asking the database on every request: how long after a scrape its
# pages may still show the data before it (0: ask every time).
DATA_VERSION_MAX_AGE = env_float("DATA_VERSION_MAX_AGE", 1.0, minimum=0.0)

# --- Static files (WhiteNoise) -------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The site's stylesheet and icon, with the web code.
STATICFILES_DIRS = [BASE_DIR / "core" / "web" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names + gzip/brotli copies, served forever-cacheable:
        # https://whitenoise.readthedocs.io/en/stable/django.html#add-compression-and-caching-support
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

# --- Security (production behind Heroku's router) -------------------------------
if IS_HEROKU_APP:
    # Heroku's router terminates TLS and sets X-Forwarded-Proto:
    # https://devcenter.heroku.com/articles/http-routing#heroku-headers
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Heroku's own health checks and monitors may call /healthz over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Mail (failure notifications go to ADMINS) ----------------------------------
ADMINS = [(addr, addr) for addr in env_list("ADMINS", [])]
SERVER_EMAIL = env_str("SERVER_EMAIL", "spojscore@localhost")
DEFAULT_FROM_EMAIL = SERVER_EMAIL
# Seconds an SMTP connection may wait on each step. Without it a mail server
# that accepts and never answers would hang its sender for ever; supervisors
# also send from a child process (core/scheduling/mailer.py).
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", "")
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Logging: one line per event on stdout (Heroku's log router reads it) -------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level; use DEBUG, INFO, WARNING, ERROR "
        "or CRITICAL."
    )
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Request bodies and settings never reach the log at INFO.
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "core": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}

# --- The SPOJ scraper ------------------------------------------------------------
SPOJ_BASE_URL = env_str("SPOJ_BASE_URL", "https://www.spoj.com").rstrip("/")
SPOJ_REQUEST_DELAY = env_float("SPOJ_REQUEST_DELAY", 1.0, minimum=0.0)

# --- Periodic tasks (see README "Periodic tasks") ---------------------------------
SCHEDULED_TASKS: dict[str, dict[str, Any]] = {
    "scrape_spoj": {"schedule": "0 3 * * *"},
    "prune_runs": {"schedule": "@daily", "args": ["--days", "30"]},
    # Every tracked user's profile, stalest first, two seconds apart: no hurry,
    # so gentler than the list's one a second. Under the default hour's timeout
    # that is at most 1,800 users a run (3,600 s / 2 s); one cut short resumes
    # with the stalest.
    "scrape_spoj_users": {"schedule": "30 */6 * * *", "args": ["--delay", "2"]},
    # Every active problem's page for its tags (about 4,000 at one a second plus
    # SPOJ's answer time: well over an hour), after Sunday's list scrape, so new
    # problems are in. Each problem is saved as it is read, so a run that hits
    # its timeout loses nothing and the next one resumes. Too long for the
    # Heroku Scheduler (it stops a dyno after about its interval): run it from
    # the clock or a worker (README).
    "scrape_spoj_tags": {"schedule": "0 4 * * 0", "timeout": 4 * 3600},
}
# Seconds between heartbeats of a running task, and age after which a run whose
# heartbeat stopped is marked abandoned: a lease. A run whose supervisor wrote no
# heartbeat for STALE_AFTER - HEARTBEAT seconds is killed (README "Leases"), so
# HEARTBEAT must be under STALE_AFTER / 2 (system check core.E010).
# Environment-overridable so tests and operators can shorten them.
SCHEDULED_TASKS_HEARTBEAT = env_float("SCHEDULED_TASKS_HEARTBEAT", 15.0, minimum=0.1)
SCHEDULED_TASKS_STALE_AFTER = env_float("SCHEDULED_TASKS_STALE_AFTER", 60.0, minimum=0.5)
SCHEDULED_TASKS_NOTIFY_AFTER = env_int("SCHEDULED_TASKS_NOTIFY_AFTER", 3, minimum=1)
# How often a sleeping clock wakes to pick up admin "run now" requests.
SCHEDULED_TASKS_POLL = env_float("SCHEDULED_TASKS_POLL", 5.0, minimum=0.05)
# Seconds a timed-out task gets between SIGTERM and SIGKILL.
SCHEDULED_TASKS_KILL_GRACE = env_float("SCHEDULED_TASKS_KILL_GRACE", 10.0, minimum=0.0)
# Seconds between the SIGTERM a stopping clock (or runtasks, or a manual run)
# sends its running tasks at once and the SIGKILL for those still running; the
# runs are recorded interrupted. The clock exits within this + 4 s (Heroku
# sends SIGKILL 30 s after SIGTERM; the clock must be gone by then).
SCHEDULED_TASKS_SHUTDOWN_GRACE = env_float("SCHEDULED_TASKS_SHUTDOWN_GRACE", 20.0, minimum=0.0)
# Where claimed runs execute: "fork" (a child of the clock or runtasks that
# claimed them; needs nothing but the database) or "celery" (Celery workers;
# needs a broker). README "Executors".
SCHEDULED_TASKS_EXECUTOR = env_choice("SCHEDULED_TASKS_EXECUTOR", "fork", ("fork", "celery"))
# Seconds a run handed to the workers may wait for one to start it before it is
# sent again (once), and then recorded abandoned.
SCHEDULED_TASKS_DISPATCH_TIMEOUT = env_float("SCHEDULED_TASKS_DISPATCH_TIMEOUT", 300.0, minimum=1.0)
# How far back missed ticks are recorded after downtime (seconds), and at most how many.
SCHEDULED_TASKS_CATCHUP_WINDOW = env_float("SCHEDULED_TASKS_CATCHUP_WINDOW", 86400.0, minimum=1.0)
SCHEDULED_TASKS_MAX_CATCHUP_TICKS = env_int("SCHEDULED_TASKS_MAX_CATCHUP_TICKS", 1000, minimum=1)

# --- Celery (the "celery" executor's workers; spojscore/celery.py) -------------------
# The broker: CELERY_BROKER_URL, else REDIS_URL (Heroku Key-Value Store), else
# the local RabbitMQ. No result backend: the TaskRun table is the result.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or env_str("REDIS_URL", "")
if not CELERY_BROKER_URL:
    if SCHEDULED_TASKS_EXECUTOR == "celery":
        raise ImproperlyConfigured(
            "SCHEDULED_TASKS_EXECUTOR=celery needs a broker: set CELERY_BROKER_URL or REDIS_URL."
        )
    CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
if CELERY_BROKER_URL.startswith("rediss://"):
    # Heroku Key-Value Store's TLS certificate is self-signed.
    CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_NONE}
# Publishing from a clock must fail fast when the broker is down (it is re-sent later).
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 3.0, minimum=0.1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
        "socket_timeout": 10.0,
    }
CELERY_TASK_IGNORE_RESULT = True
# Early acknowledgement: crash recovery is the reaper's job (core.scheduling.worker).
CELERY_TASK_ACKS_LATE = False
# One message at a time per worker process: a long run must not sit on others' messages.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "spojscore")
