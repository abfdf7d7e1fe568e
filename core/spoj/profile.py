"""Parse a SPOJ user's profile page (``/users/<handle>/``) into a ``Profile``.

A pure function of the page's text, like ``core.spoj.parse``: no HTTP, no
database. What is read (``SPOJ_FORMAT.md``, and the saved real page
``tests/fixtures/spoj/user_kosaksi_2019-02-17.html``):

* ``div#user-profile-left``: ``h3`` the name, ``h4`` ``@handle`` (must be the
  handle asked for), and the ``p`` line with the ``fa-trophy`` icon, "World
  Rank: #28304 (0.6 points)", found by its icon and pattern, not by position
  (lines a user left empty are missing);
* the solved classical problems: the ``table`` right after the ``h4`` "List of
  solved classical problems" in ``div#user-profile-tables``, and in it only
  links ``/status/CODE,<handle>/``. Other tables ("List of todo problems") and
  other links (the logged-in viewer's ``/status/<viewer>`` in the menu) are not
  the owner's solved problems.

Everything that is not a complete profile raises a ``ProfileError`` with a
one-line message: ``UnknownUser`` (SPOJ's page without a profile),
``NotAProfile`` (something else: a block or maintenance page),
``TruncatedProfile``, or ``ProfileError`` itself for a profile that does not
read as expected. Never an empty profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import lxml.html  # type: ignore[import-untyped]
from lxml import etree

from core.spoj.http import snippet
from core.spoj.parse import MAX_CODE_LENGTH, MAX_INTEGER, MAX_NAME_LENGTH

# Handles are lower-case letters, digits and "_" (seen: 3-20 characters). The
# bounds here are wider than what was seen, so no real handle is refused: the
# check is there to keep junk and URL tricks out, and to fit the column.
HANDLE_MIN_LENGTH = 2
HANDLE_MAX_LENGTH = 32  # core.models.SpojUser.handle
HANDLE_PATTERN = re.compile(rf"[a-z0-9_]{{{HANDLE_MIN_LENGTH},{HANDLE_MAX_LENGTH}}}")

# SpojUser.spoj_points: DecimalField(max_digits=14, decimal_places=4).
POINTS_DECIMAL_PLACES = 4
POINTS_MAX = Decimal("9999999999.9999")

_WORLD_RANK = re.compile(r"World Rank:\s*#(\d+)\s*\(\s*(\d+(?:\.\d+)?)\s*points?\s*\)")
_STATUS_HREF = re.compile(
    r"^(?:https?://[^/]+)?/status/([A-Za-z0-9_]+),([A-Za-z0-9_]+)/?$", re.IGNORECASE
)
_SOLVED_HEADING = "list of solved classical problems"
_WHITESPACE = re.compile(r"\s+")


class ProfileError(ValueError):
    """The page is not a complete profile of the handle asked for; a one-line message."""


class UnknownUser(ProfileError):
    """SPOJ answered with its page for a handle it does not know."""


class NotAProfile(ProfileError):
    """The page is not one of SPOJ's pages at all (a block page, maintenance, a redesign)."""


class TruncatedProfile(ProfileError):
    """The page stops before its end (a crash mid-render, a proxy giving up)."""


@dataclass(frozen=True, slots=True)
class Profile:
    handle: str
    name: str
    world_rank: int | None  # None: the profile shows no "World Rank" line
    spoj_points: Decimal | None
    solved: tuple[str, ...]  # classical problem codes, in page order, each once


def normalize_handle(value: str) -> str:
    """``value`` as a stored handle (stripped, lower-case); ``ValueError`` if it is not one."""
    handle = value.strip().lower()
    if not HANDLE_PATTERN.fullmatch(handle):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(
            f"{shown!r} is not a SPOJ handle: {HANDLE_MIN_LENGTH}-{HANDLE_MAX_LENGTH} "
            "characters, letters, digits and _"
        )
    return handle


def parse_profile(html: str, handle: str) -> Profile:
    """The profile of ``handle`` (lower-case) on this page; raises ``ProfileError``."""
    _check_complete(html)
    try:
        document = lxml.html.document_fromstring(html)
    except etree.ParserError as exc:
        raise NotAProfile(f"not an HTML page ({exc})") from None
    left = _first(document.xpath('//div[@id="user-profile-left"]'))
    if left is None:
        content = _first(document.xpath('//div[@id="content"]'))
        if content is not None:
            # The site's frame without a profile in it: SPOJ's answer for a
            # handle it does not know (StopStalk's test: no "History of submissions").
            said = snippet(lxml.html.tostring(content, encoding="unicode"), 80)
            raise UnknownUser(f"no such SPOJ user (the page says {said!r})")
        raise NotAProfile(f"not a SPOJ profile page: {snippet(html)!r}")
    shown = _shown_handle(left)
    if shown != handle:
        raise ProfileError(f"the page is the profile of @{shown}, not of @{handle}")
    name = _text(left.find("h3")) if left.find("h3") is not None else ""
    if len(name) > MAX_NAME_LENGTH:
        raise ProfileError(f"the name is longer than {MAX_NAME_LENGTH} characters")
    world_rank, points = _world_rank(left)
    return Profile(
        handle=handle,
        name=name,
        world_rank=world_rank,
        spoj_points=points,
        solved=_solved(document, handle),
    )


def _check_complete(html: str) -> None:
    """A complete page has its closing ``</html>`` after the profile and its tables.

    lxml closes open tags as if nothing happened, so a page cut inside the
    solved table would otherwise read as a user with fewer solved problems.
    """
    lowered = html.lower()
    end = lowered.rfind("</html")
    last_content = max(
        lowered.rfind("<td"), lowered.rfind("user-profile-tables"), lowered.rfind("/status/")
    )
    if end < 0 or end < last_content:
        raise TruncatedProfile(f"page ends without </html> after {len(html)} characters")


def _first(elements: list[lxml.html.HtmlElement]) -> lxml.html.HtmlElement | None:
    return elements[0] if elements else None


def _text(element: lxml.html.HtmlElement) -> str:
    return _WHITESPACE.sub(" ", str(element.text_content())).strip()


def _shown_handle(left: lxml.html.HtmlElement) -> str:
    for h4 in left.iter("h4"):
        text = _text(h4)
        if text.startswith("@"):
            return text[1:].strip().lower()
    raise ProfileError("the profile shows no @handle")


def _world_rank(left: lxml.html.HtmlElement) -> tuple[int | None, Decimal | None]:
    lines = [
        p
        for p in left.iter("p")
        if p.xpath('.//i[contains(concat(" ", normalize-space(@class), " "), " fa-trophy ")]')
    ]
    if not lines:
        return None, None
    text = _text(lines[0])
    match = _WORLD_RANK.search(text)
    if match is None:
        raise ProfileError(f"cannot read the world rank line {text[:80]!r}")
    rank = int(match.group(1))
    if not 0 < rank <= MAX_INTEGER:
        raise ProfileError(f"world rank {match.group(1)[:20]} is out of range")
    try:
        points = Decimal(match.group(2))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ProfileError(f"points {match.group(2)!r} are not a number") from None
    exponent = points.as_tuple().exponent
    if points > POINTS_MAX or (isinstance(exponent, int) and -exponent > POINTS_DECIMAL_PLACES):
        raise ProfileError(f"points {match.group(2)[:30]} do not fit the stored precision")
    return rank, points


def _solved(document: lxml.html.HtmlElement, handle: str) -> tuple[str, ...]:
    heading = next(
        (
            h4
            for h4 in document.xpath('//div[@id="user-profile-tables"]//h4')
            if _text(h4).lower().rstrip(":").strip() == _SOLVED_HEADING
        ),
        None,
    )
    if heading is None:
        raise ProfileError("the page has no list of solved classical problems")
    table = heading.getnext()
    while table is not None and not isinstance(table.tag, str):
        table = table.getnext()  # a comment between the heading and its table
    if table is None or table.tag != "table":
        found = "nothing" if table is None else f"a {table.tag}"
        raise ProfileError(f"the list of solved classical problems is {found}, not a table")
    codes: dict[str, None] = {}  # ordered and each once
    for link in table.iter("a"):
        match = _STATUS_HREF.match(str(link.get("href") or ""))
        if match is None or match.group(2).lower() != handle:
            continue
        code = match.group(1)
        if len(code) > MAX_CODE_LENGTH:
            raise ProfileError(
                f"solved code {code[:40]!r}... is longer than {MAX_CODE_LENGTH} characters"
            )
        codes[code] = None
    return tuple(codes)
