"""``manage.py scrape_spoj_users [HANDLE ...]``: refresh SPOJ users' profiles.

Named handles, or every tracked user (stalest first). Each user is all or
nothing: read and parse the whole profile, then write it in one transaction. A
user that fails (no such user, a page that does not read, SPOJ failing) is left
exactly as it was and the others still go on; the command then exits non-zero,
one line per failure and a last line counting them. A new handle becomes a
tracked user.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from core.management.commands.scrape_spoj import http_url, non_negative_seconds
from core.models import SpojUser
from core.spoj.http import client_from_settings
from core.spoj.profile import normalize_handle
from core.spoj.users import UserFetchError, fetch_profile, save_profile


def spoj_handle(value: str) -> str:
    try:
        return normalize_handle(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(BaseCommand):
    help = (
        "Fetch SPOJ users' profiles (the named handles, or every tracked user) and store each "
        "one in its own transaction. Exits non-zero if any user failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "handles",
            nargs="*",
            type=spoj_handle,
            metavar="HANDLE",
            help="SPOJ handles (lower-cased; new ones become tracked users); "
            "none: every tracked user",
        )
        parser.add_argument(
            "--delay",
            type=non_negative_seconds,
            default=None,
            help="seconds between requests (default: settings.SPOJ_REQUEST_DELAY); "
            "0 only for a local server",
        )
        parser.add_argument(
            "--base-url",
            type=http_url,
            default=None,
            help="where SPOJ lives (default: settings.SPOJ_BASE_URL)",
        )

    def handle(
        self,
        *args: Any,
        handles: list[str],
        delay: float | None,
        base_url: str | None,
        verbosity: int,
        **options: Any,
    ) -> None:
        base_url = base_url or settings.SPOJ_BASE_URL
        if handles:
            wanted = list(dict.fromkeys(handles))
        else:
            # Stalest first: a run cut short by its timeout leaves the freshest.
            wanted = list(
                SpojUser.objects.filter(tracked=True)
                .order_by("fetched_at", "handle")
                .values_list("handle", flat=True)
            )
            if not wanted:
                if verbosity >= 1:
                    self.stdout.write("No tracked users: name the handles to fetch.")
                return
        clock = time.monotonic()
        new = changed = unchanged = 0
        failures: list[str] = []
        with client_from_settings(delay) as client:
            for number, handle in enumerate(wanted, start=1):
                if verbosity >= 1:
                    self.stdout.write(f"user {number} of {len(wanted)}: {handle}")
                try:
                    profile = fetch_profile(client, base_url, handle)
                    # The transaction is rolled back on an error, so the
                    # connection is fit for the next user.
                    saved = save_profile(profile)
                except (UserFetchError, DatabaseError) as exc:
                    failures.append(handle)
                    # Out first, so the failure follows its progress line in a merged log.
                    self.stdout.flush()
                    reason = " ".join(str(exc).split())
                    self.stderr.write(f"{handle} failed, nothing changed: {reason}")
                    continue
                if saved.created:
                    new += 1
                elif saved.changed:
                    changed += 1
                else:
                    unchanged += 1
                if verbosity >= 1:
                    rank = (
                        "no world rank"
                        if profile.world_rank is None
                        else (f"world rank #{profile.world_rank} ({profile.spoj_points} points)")
                    )
                    self.stdout.write(
                        f"  {handle}: {len(profile.solved)} solved "
                        f"(+{saved.added} -{saved.removed}), {rank}"
                    )
        seconds = time.monotonic() - clock
        done = len(wanted) - len(failures)
        if verbosity >= 1:
            self.stdout.write(
                f"Fetched {done} of {len(wanted)} users in {seconds:.1f} s: {new} new, "
                f"{changed} changed, {unchanged} unchanged, {len(failures)} failed."
            )
        if failures:
            self.stdout.flush()
            raise CommandError(
                f"scrape_spoj_users: {len(failures)} of {len(wanted)} users failed: "
                + ", ".join(failures)
            )
