"""Settings for bench/executors.py: production settings on a throwaway database, as in
bench/guarantees_settings.py (``BENCH_DATABASE_URL``, ``BENCH_SCHEDULED_TASKS``), plus an
optional query log.

With ``BENCH_QUERY_LOG`` set to a file, every SQL statement any process on
these settings runs through Django (a Celery worker's pool process, the child
it forks for a run) is appended to that file as one line: the process id, a
tab, the statement. The wrapper is installed on each new connection, so it
survives the forks (the child reconnects); the benchmark counts the lines per
process to measure the queries of the worker side, which no in-process
``CaptureQueriesContext`` can see.
"""

import json
import os
from typing import Any

from spojscore.settings import *  # noqa: F403
from spojscore.settings import DATABASES, database_from_url

DATABASES["default"] = database_from_url(os.environ["BENCH_DATABASE_URL"], "BENCH_DATABASE_URL")
if os.environ.get("BENCH_SCHEDULED_TASKS"):
    SCHEDULED_TASKS = json.loads(os.environ["BENCH_SCHEDULED_TASKS"])

_QUERY_LOG = os.environ.get("BENCH_QUERY_LOG", "")

if _QUERY_LOG:
    from django.db.backends.signals import connection_created

    def _log_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        line = " ".join(str(sql).split())
        with open(_QUERY_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\t{line}\n")
        return execute(sql, params, many, context)

    def _install_query_log(sender: Any, connection: Any, **kwargs: Any) -> None:
        if _log_query not in connection.execute_wrappers:
            connection.execute_wrappers.append(_log_query)

    connection_created.connect(_install_query_log, weak=False)
