from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Not implemented yet (placeholder in the project skeleton)."

    def handle(self, *args: object, **options: object) -> None:
        raise CommandError("scrape_spoj is not implemented yet")
