from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.scheduling.clock import Clock


class Command(BaseCommand):
    help = (
        "Run the clock: start every scheduled task at its tick, for ever "
        "(the clock dyno's process; same as `python clock.py`)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-steps",
            type=int,
            default=None,
            help="Stop after this many scheduling steps (for tests and debugging).",
        )

    def handle(self, *args: Any, max_steps: int | None, **options: Any) -> None:
        Clock().run(max_steps=max_steps)
