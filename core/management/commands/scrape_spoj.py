"""``manage.py scrape_spoj``: refresh the score table from SPOJ's classical problem list.

Reads every list page first and checks it; only a complete, plausible list is
written, in one transaction. Anything else exits non-zero with one line and
leaves the database as it was.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.models import Problem, Scrape
from core.spoj.http import DEFAULT_BACKOFF, DEFAULT_RETRIES, DEFAULT_TIMEOUT, SpojClient, SpojError
from core.spoj.listing import PAGE_SIZE, ListingError, read_listing
from core.spoj.store import ShrinkRefused, save_scrape

DEFAULT_MAX_PAGES = 200  # 10,000 problems; SPOJ listed 3,971 in 2025


def non_negative_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {value}")
    return seconds


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    url = value.rstrip("/")
    max_length = Scrape._meta.get_field("base_url").max_length or 0
    if len(url) > max_length:
        raise argparse.ArgumentTypeError(f"longer than {max_length} characters")
    return url


class Command(BaseCommand):
    help = (
        "Read SPOJ's classical problem list (every page) and store it in one transaction. "
        "A failed or implausible scrape writes nothing and exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            type=http_url,
            default=None,
            help="where SPOJ lives (default: settings.SPOJ_BASE_URL)",
        )
        parser.add_argument(
            "--delay",
            type=non_negative_seconds,
            default=None,
            help="seconds between page requests (default: settings.SPOJ_REQUEST_DELAY); "
            "0 only for a local server",
        )
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
        delay = settings.SPOJ_REQUEST_DELAY if delay is None else delay
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

        client = SpojClient(
            delay=delay,
            # Test and operator knobs; not part of the documented settings.
            timeout=getattr(settings, "SPOJ_TIMEOUT", DEFAULT_TIMEOUT),
            retries=getattr(settings, "SPOJ_RETRIES", DEFAULT_RETRIES),
            backoff=getattr(settings, "SPOJ_BACKOFF", DEFAULT_BACKOFF),
        )
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
