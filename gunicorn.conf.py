"""gunicorn settings for the ``web`` process (see Procfile).

Only values that differ from gunicorn's defaults are set here; each links the
Heroku or gunicorn documentation behind it. Two defaults matter and are kept:

* ``bind``: gunicorn binds ``0.0.0.0:$PORT`` by itself when ``PORT`` is set,
  which Heroku does for web dynos (and ``heroku local``/honcho do locally):
  https://docs.gunicorn.org/en/stable/settings.html#bind
  https://devcenter.heroku.com/articles/dyno-startup-behavior#port-binding-of-web-dynos
* ``workers``: gunicorn reads ``WEB_CONCURRENCY``, which the Python buildpack
  sets at dyno boot from the dyno's memory and CPUs (2 on a 512 MB dyno):
  https://docs.gunicorn.org/en/stable/settings.html#workers
  https://devcenter.heroku.com/articles/python-concurrency
"""

import os

# Threads serve concurrent requests while another one waits on the database,
# without the memory of more processes (the official Heroku Django template does
# the same): https://docs.gunicorn.org/en/stable/design.html#server-model
worker_class = "gthread"
threads = 4

# Import the app once in the master: a broken setting (e.g. no DJANGO_SECRET_KEY)
# stops the dyno at boot with one clear traceback instead of crash-looping workers,
# and forked workers share the imported code's memory.
# https://docs.gunicorn.org/en/stable/settings.html#preload-app
preload_app = True

# Heroku's router gives up on a request after 30 s (H12):
# https://devcenter.heroku.com/articles/request-timeout
# A worker silent for longer than this is killed and replaced; with gthread it
# is a heartbeat timeout, so it must stay below the router's 30 s.
# https://docs.gunicorn.org/en/stable/settings.html#timeout
timeout = 25

# On shutdown Heroku sends SIGTERM, then SIGKILL 30 s later:
# https://devcenter.heroku.com/articles/dyno-shutdown-behavior
# Workers get this long to finish in-flight requests, well inside those 30 s.
# https://docs.gunicorn.org/en/stable/settings.html#graceful-timeout
graceful_timeout = 20

# One access-log line per request on stdout, which Heroku's log router collects
# (https://devcenter.heroku.com/articles/logging). logfmt fields; the request id
# and client address come from the router's headers
# (https://devcenter.heroku.com/articles/http-routing#heroku-headers). The path
# is logged without its query string, and no cookie or auth header is logged.
# https://docs.gunicorn.org/en/stable/settings.html#access-log-format
accesslog = "-"
access_log_format = (
    'gunicorn method=%(m)s path="%(U)s" status=%(s)s duration=%(M)sms bytes=%(B)s '
    'request_id=%({x-request-id}i)s fwd="%({x-forwarded-for}i)s"'
)

if "DYNO" in os.environ:
    # A dyno is reachable only through Heroku's router, whose addresses are not
    # fixed, so gunicorn trusts X-Forwarded-* from any peer there (the classic
    # Python buildpack sets FORWARDED_ALLOW_IPS='*' for the same reason; the
    # Cloud Native one does not). Elsewhere gunicorn's default (loopback only)
    # applies. Django itself reads X-Forwarded-Proto via SECURE_PROXY_SSL_HEADER.
    # https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# gunicorn's control socket (for the ``gunicornc`` admin tool) defaults to one
# fixed path in $HOME, which several gunicorns on one machine (tests, the
# benchmark, two checkouts) would fight over. Nothing here uses it; on Heroku
# dynos are managed with ``heroku ps``.
# https://docs.gunicorn.org/en/stable/settings.html#control-socket-disable
control_socket_disable = True
