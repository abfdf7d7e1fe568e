"""``manage.py scrape_spoj_users [HANDLE ...]``: refresh SPOJ users' profiles.

Named handles, or every tracked user (stalest first). Each user is all or
nothing: read and parse the whole profile, then write it in one transaction. A
user that fails (no such user, a page that does not read, SPOJ failing) is left
exactly as it was and the others still go on; the command then exits non-zero,
one line per failure and a last line counting them. A new handle becomes a
tracked user.

A stored user SPOJ says it has no such user for keeps its profile as last seen
and gets ``missing_since``: the first such answer is a failure of the run, later
ones only a line on stderr, and after ``UNTRACK_AFTER`` the user is untracked
(a line says how to track it again), so a deleted account does not fail every
refresh for ever. A handle never stored is a plain failure.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from core.management.spoj_arguments import add_source_arguments
from core.models import SpojUser
from core.spoj.http import client_from_settings
from core.spoj.profile import normalize_handle
from core.spoj.users import (
    UNTRACK_AFTER,
    MissingUser,
    UserFetchError,
    fetch_profile,
    mark_missing,
    save_profile,
)


def spoj_handle(value: str) -> str:
    try:
        return normalize_handle(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def moment(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def missing_line(missing: MissingUser, reason: str) -> str:
    """The stderr line for a stored user SPOJ has no such user for."""
    handle, since = missing.user.handle, moment(missing.since)
    if missing.first:
        if not missing.user.tracked:
            return f"{handle} failed, profile kept as last seen: {reason}; it is not tracked"
        return (
            f"{handle} failed, profile kept as last seen: {reason}; it will be untracked "
            f"after {UNTRACK_AFTER.days} days (on {moment(missing.untrack_on)}) "
            "if it stays missing"
        )
    if missing.untracked:
        return (
            f"{handle}: {reason}; missing since {since}: untracked, the refresh no longer "
            f"fetches it; to track it again: manage.py scrape_spoj_users {handle}"
        )
    if not missing.user.tracked:
        return f"{handle}: {reason}; missing since {since}, not tracked; profile kept as last seen"
    return (
        f"{handle}: {reason}; still missing since {since}; untracked on "
        f"{moment(missing.untrack_on)} if it stays so (not counted as a failure: "
        "the first miss was)"
    )


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
        add_source_arguments(parser)

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
        new = changed = unchanged = missing = untracked = 0
        failures: list[str] = []
        with client_from_settings(delay) as client:
            for number, handle in enumerate(wanted, start=1):
                if verbosity >= 1:
                    self.stdout.write(f"user {number} of {len(wanted)}: {handle}")
                # One moment per fetch: what it stores and how long a user has been missing.
                now = timezone.now()
                try:
                    try:
                        profile = fetch_profile(client, base_url, handle)
                    except UserFetchError as exc:
                        gone = mark_missing(handle, now) if exc.unknown else None
                        if gone is None:
                            raise
                        # Out first, as for a failure below.
                        self.stdout.flush()
                        self.stderr.write(missing_line(gone, " ".join(str(exc).split())))
                        if gone.first:
                            failures.append(handle)
                        else:
                            missing += 1
                            untracked += gone.untracked
                        continue
                    # The transaction is rolled back on an error, so the
                    # connection is fit for the next user.
                    saved = save_profile(profile, now)
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
                    if saved.returned:
                        self.stdout.write(f"  {handle}: on SPOJ again, no longer missing; tracked")
        seconds = time.monotonic() - clock
        done = len(wanted) - len(failures) - missing
        if verbosity >= 1:
            still = ""
            if missing:
                still = f", {missing} still missing" + (
                    f" ({untracked} untracked)" if untracked else ""
                )
            self.stdout.write(
                f"Fetched {done} of {len(wanted)} users in {seconds:.1f} s: {new} new, "
                f"{changed} changed, {unchanged} unchanged, {len(failures)} failed{still}."
            )
        if failures:
            self.stdout.flush()
            raise CommandError(
                f"scrape_spoj_users: {len(failures)} of {len(wanted)} users failed: "
                + ", ".join(failures)
            )
