"""Problem tags from ``/problems/<CODE>/``: which problems to read next, and storing one.

About 4,000 pages at a polite one a second is over an hour, so tags are read a
problem at a time and each problem is saved in its own transaction: a run that
is stopped (a timeout, a deploy, SIGKILL) keeps everything saved before, and the
next run starts with what it did not reach. ``queue`` orders the active
problems by their last attempt (success or failure): never tried first — the
newest problems first among those — then the stalest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import Problem, Tag
from core.spoj.http import SpojClient, SpojError
from core.spoj.problem_page import ProblemPageError, TagLink, parse_problem_tags

# Stored errors are one line; a few hundred characters say what happened.
MAX_ERROR_LENGTH = 500


class TagFetchError(Exception):
    """The problem's page could not be read for tags; the message is one line naming the URL."""


@dataclass(frozen=True, slots=True)
class QueuedProblem:
    id: int
    code: str


def problem_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/problems/{code}/"


def queue(limit: int | None = None, codes: Sequence[str] = ()) -> list[QueuedProblem]:
    """The active problems (of ``codes``, if any) in the order to read their tags.

    At most ``limit`` of them.
    """
    last_attempt = Coalesce("tags_error_at", "tags_fetched_at")
    active = Problem.objects.filter(active=True)
    if codes:
        active = active.filter(code__in=codes)
    problems = (
        active.annotate(last_attempt=last_attempt)
        .order_by(F("last_attempt").asc(nulls_first=True), "-first_seen", "-spoj_id", "id")
        .values_list("id", "code")
    )
    if limit is not None:
        problems = problems[:limit]
    return [QueuedProblem(id=pk, code=code) for pk, code in problems]


def fetch_tags(client: SpojClient, base_url: str, code: str) -> list[TagLink]:
    """The tags on ``code``'s page; raises ``TagFetchError`` with one line."""
    url = problem_url(base_url, code)
    try:
        page = client.get(url)
    except SpojError as exc:
        raise TagFetchError(str(exc)) from exc
    try:
        return parse_problem_tags(page.text, code)
    except ProblemPageError as exc:
        raise TagFetchError(f"{url} (HTTP {page.status}): {exc}") from exc


def save_tags(problem_id: int, tags: Sequence[TagLink], now: datetime | None = None) -> None:
    """Give the problem exactly these tags, and mark it fetched, in one transaction.

    Through the link table directly: most problems have no tags, and then this
    is one read and one update besides the transaction.
    """
    now = now or timezone.now()
    links = Problem.tags.through.objects
    with transaction.atomic():
        wanted: set[int] = set()
        if tags:
            slugs = [tag.slug for tag in tags]
            known = dict(Tag.objects.filter(slug__in=slugs).values_list("slug", "id"))
            missing = [Tag(slug=tag.slug, name=tag.name) for tag in tags if tag.slug not in known]
            if missing:
                # ignore_conflicts: a concurrent run may create the same new tag first.
                Tag.objects.bulk_create(missing, ignore_conflicts=True)
                known = dict(Tag.objects.filter(slug__in=slugs).values_list("slug", "id"))
            wanted = set(known.values())
        current = set(links.filter(problem_id=problem_id).values_list("tag_id", flat=True))
        if current - wanted:
            links.filter(problem_id=problem_id, tag_id__in=current - wanted).delete()
        if wanted - current:
            links.bulk_create(
                Problem.tags.through(problem_id=problem_id, tag_id=tag_id)
                for tag_id in wanted - current
            )
        Problem.objects.filter(pk=problem_id).update(
            tags_fetched_at=now, tags_error="", tags_error_at=None
        )


def record_failure(problem_id: int, message: str, now: datetime | None = None) -> None:
    """Note a failed read on the problem; its tags stay as they were."""
    line = " ".join(message.split())
    if len(line) > MAX_ERROR_LENGTH:
        line = line[: MAX_ERROR_LENGTH - 1] + "…"
    Problem.objects.filter(pk=problem_id).update(
        tags_error=line, tags_error_at=now or timezone.now()
    )
