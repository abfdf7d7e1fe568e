from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "SPOJ score"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.scheduling.config import check_scheduled_tasks
        from core.web.search import register_sqlite_functions

        checks.register(check_scheduled_tasks, "scheduled_tasks")
        connection_created.connect(register_sqlite_functions, dispatch_uid="core.web.search")
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="core.cache_table")


def create_cache_table(using: str, verbosity: int = 1, **kwargs: Any) -> None:
    """``post_migrate`` receiver: create the database cache's table if it is missing.

    So whatever migrates a database -- the Procfile's release phase, the test
    suite, ``make run`` -- also gives it the page cache's table
    (``core.web.caching``); ``createcachetable`` leaves an existing one alone and
    does nothing for a cache that is not a database cache (Redis).
    """
    from django.core.management import call_command

    quiet = verbosity - 1 if verbosity > 1 else 0
    call_command("createcachetable", database=using, verbosity=quiet)
