from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "SPOJ score"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.scheduling.config import check_scheduled_tasks
        from core.web.search import register_sqlite_functions

        checks.register(check_scheduled_tasks, "scheduled_tasks")
        connection_created.connect(register_sqlite_functions, dispatch_uid="core.web.search")
