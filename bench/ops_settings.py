"""Settings for the ops benchmarks: the test settings on a throwaway database.

``BENCH_DATABASE_URL`` (set by the benchmark scripts) names the database.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, database_from_url

DATABASES["default"] = database_from_url(os.environ["BENCH_DATABASE_URL"], "BENCH_DATABASE_URL")
ALLOWED_HOSTS = ["testserver"]
# The task names the filled rows use, declared so the admin lists them.
SCHEDULED_TASKS = {
    name: {"command": "check", "every": 600}
    for name in ("heartbeat", "scrape_spoj", "prune_runs", "report")
}
DEBUG = False
