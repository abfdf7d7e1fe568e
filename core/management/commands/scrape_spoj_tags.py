"""``manage.py scrape_spoj_tags [CODE ...] [--limit N]``: problem tags from ``/problems/<CODE>/``.

Incremental and resumable: problems never tried first (the newest first), then
the stalest; each problem is saved as soon as its page is read, so a run that is
stopped part-way keeps what it read and the next run goes on from there. A page
that fails is recorded on its problem (``tags_error``, ``tags_error_at``) and
skipped; its tags stay as they were. The run fails (exit non-zero) only when
SPOJ looks down: every page tried failed, or ``MAX_FAILURES_IN_A_ROW`` in a row
(it then stops rather than spend hours on retries). Named codes restrict the run
to those problems (the demo's, a problem an operator wants now), in the same order.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.management.spoj_arguments import add_source_arguments, positive_int
from core.models import Problem
from core.spoj import tags as tag_store
from core.spoj.http import client_from_settings
from core.spoj.parse import MAX_CODE_LENGTH

MAX_FAILURES_IN_A_ROW = 10
_CODE = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_CODE_LENGTH}}}")


def problem_code(value: str) -> str:
    if not _CODE.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise argparse.ArgumentTypeError(f"{shown!r} is not a problem code")
    return value


class Command(BaseCommand):
    help = (
        "Read the tags of SPOJ's problems from their pages, never-fetched first, then the "
        "stalest, saving each problem as it goes (an interrupted run resumes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "codes",
            nargs="*",
            type=problem_code,
            metavar="CODE",
            help="only these problems (active ones of the score table); none: every active problem",
        )
        parser.add_argument(
            "--limit",
            type=positive_int,
            default=None,
            help="read at most N problem pages (default: every active problem)",
        )
        add_source_arguments(parser)

    def handle(
        self,
        *args: Any,
        codes: list[str],
        limit: int | None,
        delay: float | None,
        base_url: str | None,
        verbosity: int,
        **options: Any,
    ) -> None:
        base_url = base_url or settings.SPOJ_BASE_URL
        codes = list(dict.fromkeys(codes))
        if codes:
            known = set(
                Problem.objects.filter(code__in=codes, active=True).values_list("code", flat=True)
            )
            unknown = [code for code in codes if code not in known]
            if unknown:
                raise CommandError(
                    "scrape_spoj_tags: not active problems of the score table: "
                    + ", ".join(unknown)
                )
        problems = tag_store.queue(limit, codes)
        if not problems:
            if verbosity >= 1:
                self.stdout.write("No active problems: run scrape_spoj first.")
            return
        clock = time.monotonic()
        tagged = untagged = failed = in_a_row = 0
        with client_from_settings(delay) as client:
            for number, problem in enumerate(problems, start=1):
                try:
                    tags = tag_store.fetch_tags(client, base_url, problem.code)
                except tag_store.TagFetchError as exc:
                    tag_store.record_failure(problem.id, str(exc))
                    failed += 1
                    in_a_row += 1
                    self.stdout.flush()
                    self.stderr.write(
                        f"problem {number} of {len(problems)}: {problem.code} failed "
                        f"(recorded, skipped): {exc}"
                    )
                    if in_a_row >= MAX_FAILURES_IN_A_ROW:
                        raise CommandError(
                            f"scrape_spoj_tags stopped: {in_a_row} problem pages failed in a "
                            f"row (SPOJ down?); {number - failed} of {number} read before, "
                            "each one saved"
                        ) from exc
                    continue
                in_a_row = 0
                tag_store.save_tags(problem.id, tags)
                if tags:
                    tagged += 1
                else:
                    untagged += 1
                if verbosity >= 1:
                    shown = ", ".join(tag.slug for tag in tags) or "no tags"
                    self.stdout.write(
                        f"problem {number} of {len(problems)}: {problem.code}: {shown}"
                    )
        seconds = time.monotonic() - clock
        if verbosity >= 1:
            self.stdout.write(
                f"Read the tags of {tagged + untagged} of {len(problems)} problems in "
                f"{seconds:.1f} s: {tagged} with tags, {untagged} without, {failed} failed "
                "(recorded on the problem, retried after the others)."
            )
        if failed == len(problems):
            self.stdout.flush()
            raise CommandError(f"scrape_spoj_tags: every one of the {failed} problem pages failed")
