"""Settings for bench/runtasks.py and bench/clock.py: production settings on a throwaway database.

``BENCH_DATABASE_URL`` names the database; ``BENCH_SCHEDULED_TASKS`` (JSON), if
set, replaces the declared tasks.
"""

import json
import os

from spojscore.settings import *  # noqa: F403
from spojscore.settings import DATABASES, database_from_url

DATABASES["default"] = database_from_url(os.environ["BENCH_DATABASE_URL"], "BENCH_DATABASE_URL")
if os.environ.get("BENCH_SCHEDULED_TASKS"):
    SCHEDULED_TASKS = json.loads(os.environ["BENCH_SCHEDULED_TASKS"])
