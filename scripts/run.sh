#!/usr/bin/env bash
# `make run`: migrate the local database, load the score table, serve it on http://127.0.0.1:8000/.
#
# Data: if the last successful scrape is younger than SCRAPE_MAX_AGE seconds (default 3600) it is
# kept. Otherwise SPOJ (SPOJ_BASE_URL) is scraped if it answers within a few seconds; if it does
# not (no internet, a block page), the bundled May 2025 snapshot is served by the local fake SPOJ
# (tests/spoj_server.py) and scraped from there, with a few users' profiles (the saved real page
# of kosaksi and three generated users) and the demo's tags. The output says which source was used.
set -euo pipefail
cd "$(dirname "$0")/.."

# Local settings for manage.py and clock.py (they read .env; variables already set win).
if [ ! -e .env ]; then
    cp .env.example .env
    echo "==> Created .env from .env.example (ENVIRONMENT=development); edit it to change settings"
fi

export ENVIRONMENT=${ENVIRONMENT:-development}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-spojscore.settings}
PY=.venv/bin/python
SCRAPE_MAX_AGE=${SCRAPE_MAX_AGE:-3600}
PORT=${PORT:-8000}
server_pid=""
server_log=""

stop_fake_spoj() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
    if [ -n "$server_log" ]; then
        rm -f "$server_log"
        server_log=""
    fi
}
trap stop_fake_spoj EXIT

echo "==> Migrating the database"
"$PY" manage.py migrate --no-input --verbosity 0

# Seconds since the last successful scrape, or -1 when there is none.
age=$("$PY" - <<'EOF'
import django

django.setup()
from django.utils import timezone

from core.models import Scrape

last = Scrape.objects.order_by("-finished_at").first()
print(-1 if last is None else int((timezone.now() - last.finished_at).total_seconds()))
EOF
)

scrape_from_fake_spoj() {
    echo "==> Loading the bundled May 2025 snapshot (3,971 problems) from a local fake SPOJ"
    server_log=$(mktemp)
    "$PY" -m tests.spoj_server --port 0 >"$server_log" 2>&1 &
    server_pid=$!
    local url=""
    for _ in $(seq 50); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$server_log" || true)
        [ -n "$url" ] && break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        echo "The local fake SPOJ did not start:" >&2
        cat "$server_log" >&2
        exit 1
    fi
    "$PY" manage.py scrape_spoj --base-url "$url" --delay 0
    local handles
    handles=$("$PY" -m tests.spoj_server --print-demo-handles)
    echo "==> Loading users from the local fake SPOJ: $handles"
    # shellcheck disable=SC2086  # one word per handle
    "$PY" manage.py scrape_spoj_users $handles --base-url "$url" --delay 0 --verbosity 0 \
        || echo "==> Some demo users could not be loaded (see above)"
    # Only the problems the demo has tags for: all 3,971 pages would take several seconds more.
    local codes
    codes=$("$PY" -m tests.spoj_server --print-demo-codes)
    echo "==> Loading the demo's tags of $(wc -w <<<"$codes") problems from the local fake SPOJ"
    # shellcheck disable=SC2086  # one word per code
    "$PY" manage.py scrape_spoj_tags $codes --base-url "$url" --delay 0 --verbosity 0 \
        || echo "==> The demo's tags could not be loaded (see above)"
    stop_fake_spoj
    echo "==> Data source: local fake SPOJ at $url (snapshot of May 2025, not live data;" \
        "users kosaksi (saved 2019 page) and generated demo users, hand-assigned demo tags)"
}

if [ "$age" -ge 0 ] && [ "$age" -lt "$SCRAPE_MAX_AGE" ]; then
    echo "==> Keeping the data of the last scrape, ${age} s old (SCRAPE_MAX_AGE=${SCRAPE_MAX_AGE})"
# A TCP connect, bounded by `timeout` because name resolution has no timeout of its own.
elif timeout 8 "$PY" - <<'EOF'
import socket
import sys
from urllib.parse import urlsplit

import django

django.setup()
from django.conf import settings

url = urlsplit(settings.SPOJ_BASE_URL)
port = url.port or (443 if url.scheme == "https" else 80)
try:
    socket.create_connection((url.hostname, port), timeout=4).close()
except OSError as exc:
    print(f"==> {settings.SPOJ_BASE_URL} is unreachable ({exc})")
    sys.exit(1)
EOF
then
    echo "==> Scraping the real SPOJ (one page a second: about a minute and a half)"
    if "$PY" manage.py scrape_spoj; then
        echo "==> Data source: the real SPOJ"
        # One profile, so the user pages have something to show; tags take over an hour at
        # one page a second: the weekly scrape_spoj_tags task (or a run by hand) fills them.
        "$PY" manage.py scrape_spoj_users kosaksi --verbosity 0 \
            || echo "==> The profile of kosaksi could not be fetched (see above)"
    else
        echo "==> The real SPOJ could not be scraped (see above)"
        scrape_from_fake_spoj
    fi
else
    scrape_from_fake_spoj
fi

trap - EXIT
echo "==> Serving on http://127.0.0.1:${PORT}/ (Ctrl-C stops)"
exec "$PY" manage.py runserver "127.0.0.1:${PORT}"
