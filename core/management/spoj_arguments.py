"""Command-line arguments shared by the commands that read SPOJ.

``add_source_arguments`` adds ``--base-url`` and ``--delay`` the same way to
``scrape_spoj``, ``scrape_spoj_tags`` and ``scrape_spoj_users``; the types turn a
bad value into argparse's one-line error (``CommandError`` through Django).
"""

from __future__ import annotations

import argparse
import math

from django.core.management.base import CommandParser

from core.models import Scrape


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


def add_source_arguments(parser: CommandParser, requests: str = "requests") -> None:
    """``--base-url`` and ``--delay`` (``requests`` names what the delay is between)."""
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
        help=f"seconds between {requests} (default: settings.SPOJ_REQUEST_DELAY); "
        "0 only for a local server",
    )
