#!/usr/bin/env python
"""The clock dyno's entry point (Procfile: ``clock: python clock.py``).

Same as ``python manage.py clock``: runs scheduled tasks at their ticks for ever.
"""

import sys
from pathlib import Path

from spojscore.env import start

if __name__ == "__main__":
    # .env (local work only), then the settings: a bad variable is one line, exit 2.
    start(Path(__file__).resolve().parent)
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "clock", *sys.argv[1:]])
