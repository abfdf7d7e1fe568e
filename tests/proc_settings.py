"""Settings for processes the tests start (clocks, runtasks, manage.py <task>).

The test settings, pointed at the test database the test itself uses
(``TEST_PROC_DATABASE_URL``) and with the tasks the test declares
(``TEST_SCHEDULED_TASKS``, JSON). Timings (``SCHEDULED_TASKS_HEARTBEAT`` ...)
come from the environment like in production.
"""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, database_from_url

DATABASES["default"] = database_from_url(os.environ["TEST_PROC_DATABASE_URL"])
SCHEDULED_TASKS = json.loads(os.environ.get("TEST_SCHEDULED_TASKS", "{}"))
# A test that points the processes at a mail server gets real SMTP (the test
# settings otherwise keep mail in memory).
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
