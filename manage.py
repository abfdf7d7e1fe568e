#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Commands that belong to a scheduled task (``python manage.py scrape_spoj``)
are recorded as runs; see ``core/scheduling/manual.py``.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spojscore.settings")
    from core.scheduling.manual import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
