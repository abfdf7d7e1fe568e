#!/usr/bin/env python
"""The clock dyno's entry point (Procfile: ``clock: python clock.py``).

Same as ``python manage.py clock``: runs scheduled tasks at their ticks for ever.
"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spojscore.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "clock", *sys.argv[1:]])
