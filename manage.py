#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Commands that belong to a scheduled task (``python manage.py scrape_spoj``)
are recorded as runs; see ``core/scheduling/manual.py``.
"""

import sys
from pathlib import Path

from spojscore.env import start


def main() -> None:
    # .env (local work only), then the settings: a bad variable is one line, exit 2.
    start(Path(__file__).resolve().parent)
    from core.scheduling.manual import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
