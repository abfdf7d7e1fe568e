"""Benchmark: the admin's run list (TaskRun changelist) over a million runs.

Also times the task list (Task changelist), whose status columns run
``core.scheduling.status.task_statuses`` over the same million runs.

    python bench/admin.py [--rows 1000000] [--repeat 7]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]

Fills a throwaway database (see bench/ops_common.py), logs a superuser in with
Django's test client and times full GET requests of the changelist (render
included): unfiltered, filtered by task, by a rare and a common status, by
date, and a search. Prints the median and worst of --repeat runs after one
warm-up, and the number of queries per page. Goal: median under 200 ms.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from ops_common import PG_BENCH_DB, arguments, describe_database, fill, setup_django

from tests.support import throwaway_database

PAGES = {
    "unfiltered": "",
    "task=scrape_spoj (10 %)": "?task=scrape_spoj",
    "status=failed (3 %)": "?status__exact=failed",
    "status=succeeded (95 %)": "?status__exact=succeeded",
    "task + status": "?task=prune_runs&status__exact=missed",
    "last 7 days": "?scheduled_for__gte={week_ago}",
    "search 'spoj'": "?q=spoj",
    "page 50": "?p=50",
    "task list (Task admin)": "TASKS",
}


def main() -> None:
    args = arguments(__doc__ or "")
    with throwaway_database(args.database_url, PG_BENCH_DB) as url:
        setup_django(url)
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, setup_test_environment
        from django.urls import reverse
        from django.utils import timezone

        print(f"database: {describe_database()}")
        print(f"filled {args.rows} runs in {fill(args.rows):.1f} s")
        setup_test_environment()  # so responses carry their template context
        client = Client()
        client.force_login(User.objects.create_superuser("bench", password="x"))
        base = reverse("admin:core_taskrun_changelist")
        week_ago = (timezone.now() - timedelta(days=7)).strftime("%Y-%m-%d")
        for label, query in PAGES.items():
            if query == "TASKS":
                page = reverse("admin:core_task_changelist")
            else:
                page = base + query.format(week_ago=week_ago)
            assert client.get(page).status_code == 200  # warm-up
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(page)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            with CaptureQueriesContext(connection) as queries:
                response = client.get(page)
            cl = response.context["cl"]
            shown = len(cl.result_list)
            about = "~" if getattr(cl.paginator, "estimated", False) else ""
            if query == "TASKS":  # its statuses come from core.scheduling.status
                statuses = {task.name: task.ops_status.flags for task in cl.result_list}
                print(f"  task flags: {statuses}")
            print(
                f"{label:26} median {statistics.median(times):6.1f} ms  max {max(times):6.1f} ms"
                f"  {len(queries)} queries, {shown} rows shown,"
                f" count {about}{cl.result_count}"
            )


if __name__ == "__main__":
    main()
