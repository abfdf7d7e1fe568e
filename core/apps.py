from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "SPOJ score"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.scheduling.config import check_scheduled_tasks

        checks.register(check_scheduled_tasks, "scheduled_tasks")
