"""Production settings with the two changes an end-to-end run needs.

Used through ``DJANGO_SETTINGS_MODULE=tests.e2e_settings`` by the end-to-end
tests and ``bench/web.py``, which start the real processes (gunicorn, clock,
runtasks) with production settings (DEBUG off, a secret, WhiteNoise's manifest
storage). Only these differ:

* ``SCHEDULED_TASKS``: a short schedule, so a clock scrapes within seconds;
* ``STATIC_ROOT``: from ``E2E_STATIC_ROOT`` when set, so parallel runs each
  collect static files into their own folder instead of racing on one.
"""

import os
from pathlib import Path

from spojscore.settings import *  # noqa: F403
from spojscore.settings import STATIC_ROOT as _STATIC_ROOT

SCHEDULED_TASKS = {
    "scrape_spoj": {"every": int(os.environ.get("E2E_SCRAPE_EVERY", "5")), "timeout": 60},
}

STATIC_ROOT = Path(os.environ.get("E2E_STATIC_ROOT") or _STATIC_ROOT)
