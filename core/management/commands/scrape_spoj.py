"""``manage.py scrape_spoj``: refresh the score table from SPOJ's classical problem list.

Reads every list page first and checks it; only a complete, plausible list is
written, in one transaction. Anything else exits non-zero with one line and
leaves the database as it was.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.management.spoj_arguments import add_source_arguments, positive_int
from core.models import Problem
from core.spoj.http import SpojError, client_from_settings
from core.spoj.listing import PAGE_SIZE, ListingError, read_listing
from core.spoj.store import ShrinkRefused, save_scrape

DEFAULT_MAX_PAGES = 200  # 10,000 problems; SPOJ listed 3,971 in 2025


class Command(BaseCommand):
    help = (
        "Read SPOJ's classical problem list (every page) and store it in one transaction. "
        "A failed or implausible scrape writes nothing and exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_source_arguments(parser, "page requests")
        parser.add_argument(
            "--max-pages",
            type=positive_int,
            default=DEFAULT_MAX_PAGES,
            help=f"give up (write nothing) if the list has not ended after this many pages "
            f"(default {DEFAULT_MAX_PAGES})",
        )
        parser.add_argument(
            "--allow-shrink",
            action="store_true",
            help="store the list even if it has under 90%% of the active problems",
        )

    def handle(
        self,
        *args: Any,
        base_url: str | None,
        delay: float | None,
        max_pages: int,
        allow_shrink: bool,
        verbosity: int,
        **options: Any,
    ) -> None:
        base_url = base_url or settings.SPOJ_BASE_URL
        started_at = timezone.now()
        clock = time.monotonic()
        # The page count is not known before the empty last page; last time's
        # size (plus that empty page) is a fair guess.
        active = Problem.objects.filter(active=True).count()
        expected_pages = math.ceil(active / PAGE_SIZE) + 1 if active else None

        def progress(number: int, url: str) -> None:
            if verbosity >= 1:
                if expected_pages is None:
                    self.stdout.write(f"page {number} (first scrape, size unknown): {url}")
                else:
                    about = max(expected_pages, number)
                    self.stdout.write(f"page {number} of about {about}: {url}")

        client = client_from_settings(delay)
        try:
            with client:
                listing = read_listing(client, base_url, max_pages, progress)
            scrape = save_scrape(
                listing.rows,
                pages=listing.pages,
                base_url=base_url,
                started_at=started_at,
                allow_shrink=allow_shrink,
            )
        except (SpojError, ListingError, ShrinkRefused) as exc:
            # Progress went to stdout, buffered when it is not a terminal; Django
            # writes the reason to stderr. Out first, so the reason is the last line.
            self.stdout.flush()
            raise CommandError(f"scrape_spoj failed, nothing written: {exc}") from exc
        seconds = time.monotonic() - clock
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Scraped {scrape.problems} problems from {scrape.pages} pages in "
                    f"{seconds:.1f} s: {scrape.new} new, {scrape.changed} changed, "
                    f"{scrape.unchanged} unchanged, {scrape.gone} gone."
                )
            )
