"""Fetch a SPOJ user's profile and store it: all of it, or nothing.

``fetch_profile`` reads and parses ``/users/<handle>/`` (no database);
``save_profile`` writes one parsed profile in one transaction: the user row,
the solved codes (added and removed so the stored set is the page's set), and a
history row when the world rank, SPOJ's points or the solved count changed (or
the user is new). A failure in either leaves that user exactly as it was.

``mark_missing`` is what a stored user gets when SPOJ says it has no such user:
the profile stays as last seen, ``missing_since`` records the first such
answer, and a user missing for ``UNTRACK_AFTER`` stops being tracked (so the
periodic refresh stops asking). A successful save clears ``missing_since`` and
tracks again a user that was untracked while missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.models import SolvedProblem, SpojUser, SpojUserHistory
from core.spoj.http import SpojClient, SpojError
from core.spoj.profile import Profile, ProfileError, UnknownUser, parse_profile

# Rows deleted per statement when codes leave a solved list (SQLite caps a
# statement's parameters; removals are rare and small anyway).
_DELETE_BATCH = 500
# How long a stored user may be unknown to SPOJ before the refresh untracks it:
# long enough to ride out an account SPOJ hides for a while, short enough that
# a deleted account does not fail every run for ever.
UNTRACK_AFTER = timedelta(days=7)


class UserFetchError(Exception):
    """The profile could not be read; the message is one line naming the URL.

    ``unknown`` is true when SPOJ said it has no such user (a 404, or its page
    without a profile), false for every other failure.
    """

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


@dataclass(frozen=True, slots=True)
class SavedProfile:
    user: SpojUser
    created: bool
    added: int  # solved codes new to the stored list
    removed: int  # stored solved codes the page no longer lists
    history: bool  # a history row was written
    # SPOJ had said it had no such user (missing_since was set; now cleared)
    returned: bool = False

    @property
    def changed(self) -> bool:
        return self.created or self.history or self.returned or bool(self.added or self.removed)


@dataclass(frozen=True, slots=True)
class MissingUser:
    """A stored user SPOJ says it has no such user for, after ``mark_missing``."""

    user: SpojUser
    first: bool  # this fetch set missing_since (it was null)
    untracked: bool  # this fetch untracked the user

    @property
    def since(self) -> datetime:
        assert self.user.missing_since is not None
        return self.user.missing_since

    @property
    def untrack_on(self) -> datetime:
        return self.since + UNTRACK_AFTER


def profile_url(base_url: str, handle: str) -> str:
    return f"{base_url.rstrip('/')}/users/{handle}/"


def fetch_profile(client: SpojClient, base_url: str, handle: str) -> Profile:
    """The parsed profile of ``handle``; raises ``UserFetchError`` with one line."""
    url = profile_url(base_url, handle)
    try:
        page = client.get(url)
    except SpojError as exc:
        if exc.status == 404:
            raise UserFetchError(f"{url} (HTTP 404): no such SPOJ user", unknown=True) from exc
        raise UserFetchError(str(exc)) from exc
    try:
        return parse_profile(page.text, handle)
    except ProfileError as exc:
        raise UserFetchError(
            f"{url} (HTTP {page.status}): {exc}", unknown=isinstance(exc, UnknownUser)
        ) from exc


def save_profile(profile: Profile, now: datetime | None = None) -> SavedProfile:
    """Store ``profile`` in one transaction; a new handle becomes a tracked user.

    A stored user SPOJ had said it had no such user for (``missing_since``) is
    no longer missing, and tracked again if it was untracked meanwhile: naming
    it is how an operator brings it back. A user untracked by hand and never
    missing stays untracked.
    """
    now = now or timezone.now()
    solved = set(profile.solved)
    with transaction.atomic():
        # get_or_create retries the read when a concurrent fetch of the same
        # new handle wins the INSERT; the row lock then makes the two fetches
        # take turns (SQLite's BEGIN IMMEDIATE already does).
        user, created = SpojUser.objects.get_or_create(
            handle=profile.handle,
            defaults={
                "name": profile.name,
                "world_rank": profile.world_rank,
                "spoj_points": profile.spoj_points,
                "solved_count": len(solved),
                "first_seen": now,
                "fetched_at": now,
                "tracked": True,
            },
        )
        if not created:
            user = SpojUser.objects.select_for_update().get(pk=user.pk)
        stored = dict(SolvedProblem.objects.filter(user=user).values_list("code", "id"))
        added = [code for code in profile.solved if code not in stored]
        removed = [pk for code, pk in stored.items() if code not in solved]
        history = created or (
            user.world_rank != profile.world_rank
            or user.spoj_points != profile.spoj_points
            or user.solved_count != len(solved)
        )
        returned = not created and user.missing_since is not None
        if not created:
            user.name = profile.name
            user.world_rank = profile.world_rank
            user.spoj_points = profile.spoj_points
            user.solved_count = len(solved)
            user.fetched_at = now
            fields = ["name", "world_rank", "spoj_points", "solved_count", "fetched_at"]
            if returned:
                user.missing_since = None
                user.tracked = True
                fields += ["missing_since", "tracked"]
            user.save(update_fields=fields)
        if added:
            SolvedProblem.objects.bulk_create(
                SolvedProblem(user=user, code=code, first_seen=now) for code in added
            )
        for start in range(0, len(removed), _DELETE_BATCH):
            SolvedProblem.objects.filter(pk__in=removed[start : start + _DELETE_BATCH]).delete()
        if history:
            SpojUserHistory.objects.create(
                user=user,
                world_rank=profile.world_rank,
                spoj_points=profile.spoj_points,
                solved_count=len(solved),
                recorded_at=now,
            )
    return SavedProfile(
        user=user,
        created=created,
        added=len(added),
        removed=len(removed),
        history=history,
        returned=returned,
    )


def mark_missing(handle: str, now: datetime | None = None) -> MissingUser | None:
    """Record that SPOJ has no such user ``handle``; None when it was never stored.

    Only ``missing_since`` (when null) and ``tracked`` change: the profile,
    solved codes and history stay as last seen. A user missing since
    ``UNTRACK_AFTER`` or longer before ``now`` is untracked. One transaction,
    the row locked, so a concurrent successful fetch comes before or after.
    """
    now = now or timezone.now()
    with transaction.atomic():
        user = SpojUser.objects.select_for_update().filter(handle=handle).first()
        if user is None:
            return None
        first = untracked = False
        if user.missing_since is None:
            first = True
            user.missing_since = now
            user.save(update_fields=["missing_since"])
        elif user.tracked and now - user.missing_since >= UNTRACK_AFTER:
            untracked = True
            user.tracked = False
            user.save(update_fields=["tracked"])
    return MissingUser(user=user, first=first, untracked=untracked)
