"""Parse a SPOJ problem's page (``/problems/<CODE>/``) for its tags.

A pure function of the page's text. The tags are the links
``<a href="/problems/tag/<slug>"><span class="problem-tag">#slug</span></a>``
in ``div#problem-tags`` (``SPOJ_FORMAT.md``, from StopStalk's scraper and
tests). A problem without tags has that div empty; a page without the div is
not read as "no tags" but refused, like a page whose ``h2#problem-name`` names
another problem or that stops before its end: a redesign, a block page or a
cut transfer must not wipe a problem's tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html  # type: ignore[import-untyped]
from lxml import etree

from core.spoj.http import snippet

# core.models.Tag: name and slug of at most 64 characters.
MAX_TAG_LENGTH = 64
_TAG_HREF = re.compile(r"^(?:https?://[^/]+)?/problems/tag/([^/?#]+)/?$")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PROBLEM_NAME = re.compile(r"^([A-Za-z0-9_]+)\s+-\s")
_WHITESPACE = re.compile(r"\s+")


class ProblemPageError(ValueError):
    """The page cannot be read as the problem's page; a one-line message."""


@dataclass(frozen=True, slots=True)
class TagLink:
    slug: str
    name: str  # as shown, without the leading "#"


def parse_problem_tags(html: str, code: str) -> list[TagLink]:
    """The tags on ``code``'s page, in page order, each once; raises ``ProblemPageError``."""
    lowered = html.lower()
    end = lowered.rfind("</html")
    if end < 0 or end < lowered.rfind("problem-tag"):
        raise ProblemPageError(f"page ends without </html> after {len(html)} characters")
    try:
        document = lxml.html.document_fromstring(html)
    except etree.ParserError as exc:
        raise ProblemPageError(f"not an HTML page ({exc})") from None
    title = document.xpath('//*[@id="problem-name"]')
    if title:
        match = _PROBLEM_NAME.match(_text(title[0]))
        if match is not None and match.group(1) != code:
            raise ProblemPageError(f"the page is problem {match.group(1)}'s, not {code}'s")
    boxes = document.xpath('//div[@id="problem-tags"]')
    if not boxes:
        raise ProblemPageError(f"no div#problem-tags on the page: {snippet(html)!r}")
    tags: dict[str, TagLink] = {}
    for link in boxes[0].iter("a"):
        href = str(link.get("href") or "")
        match = _TAG_HREF.match(href)
        if match is None:
            continue  # not a tag link
        slug = match.group(1).lower()
        if not _SLUG.fullmatch(slug) or len(slug) > MAX_TAG_LENGTH:
            raise ProblemPageError(f"tag link {href[:80]!r} has no valid slug")
        spans = link.xpath(
            './/span[contains(concat(" ", normalize-space(@class), " "), " problem-tag ")]'
        )
        name = (_text(spans[0]) if spans else _text(link)).removeprefix("#").strip() or slug
        tags.setdefault(slug, TagLink(slug=slug, name=name[:MAX_TAG_LENGTH]))
    return list(tags.values())


def _text(element: lxml.html.HtmlElement) -> str:
    return _WHITESPACE.sub(" ", str(element.text_content())).strip()
