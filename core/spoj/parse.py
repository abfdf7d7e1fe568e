"""Parse one page of SPOJ's classical problem list into rows and its pager.

Pure functions of the page's text: no HTTP, no database. The rows come from
the cells of ``table.problems``, read by the meaning of their column headers,
so both the current layout (ID | NAME | QUALITY | USERS | ACC %) and the 2014
layout (ID | NAME | CODE | USERS | ACC %) parse. The pager is every
``a.pager_link`` with a ``start=`` in its href: neighbouring pages, ``Next``,
and ``&gt;``, the last page. See ``SPOJ_FORMAT.md``.

The tree is built by lxml directly, not through BeautifulSoup, which builds a
Python object for every tag: ``bench/parse.py`` measures both on the 81 pages
of a full list (``docs/scraper.md``), and the whole refresh has a 1.5 s budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html  # type: ignore[import-untyped]
from lxml import etree

# Header text (upper-cased, whitespace collapsed) -> the column's meaning.
_HEADERS = {
    "ID": "id",
    "NAME": "name",
    "CODE": "code",
    "QUALITY": "quality",
    "USERS": "users",
    "ACC %": "acceptance",
    "ACC%": "acceptance",
}
_REQUIRED = ("id", "name", "users", "acceptance")
# Limits of the columns the rows go to (core.models.Problem; a test keeps them in
# step), so a value the database would refuse is a bad row here, not a crash there.
MAX_CODE_LENGTH = 32
MAX_NAME_LENGTH = 255
MAX_INTEGER = 2**31 - 1
_PROBLEM_HREF = re.compile(r"^(?:https?://[^/]+)?/problems/([A-Za-z0-9_]+)/?$")
_WHITESPACE = re.compile(r"\s+")
_SIGNED_INTEGER = re.compile(r"[+-]?[0-9]+")
_PROBLEM_LINK = './/a[contains(@href, "/problems/")]'
_PAGER_START = re.compile(r"(?:^|[/,?&;])start=([0-9]{1,9})(?:$|[,&;/#])")
# table.problems, whatever other classes it carries ("problems table table-hover").
_PROBLEM_TABLES = '//table[contains(concat(" ", normalize-space(@class), " "), " problems ")]'


@dataclass(frozen=True, slots=True)
class ProblemRow:
    spoj_id: int
    code: str
    name: str
    users: int
    acceptance: float
    # Thumbs up minus thumbs down; None when unrated or not on the page (2014 layout).
    quality: int | None


@dataclass(frozen=True, slots=True)
class Pager:
    """Where a page's pager links: the ``start=`` of each page it names."""

    starts: tuple[int, ...] = ()  # every linked page, ascending, each once
    next: int | None = None  # the "Next" link
    last: int | None = None  # the "&gt;" link: the last page of the list

    @property
    def furthest(self) -> int | None:
        """The furthest page linked (None: no pager on the page)."""
        return self.starts[-1] if self.starts else None


@dataclass(frozen=True, slots=True)
class ListPage:
    rows: list[ProblemRow]
    pager: Pager


class ParseError(ValueError):
    """The page cannot be read as a list of problems."""


class NoProblemTable(ParseError):
    """The page has no ``table.problems``: a block page, a maintenance page, a redesign."""


class TruncatedPage(ParseError):
    """The page stops before its end, so its last rows cannot be trusted."""


class BadRow(ParseError):
    """One problem row cannot be read; ``row`` counts from 1 within the page."""

    def __init__(self, row: int, reason: str) -> None:
        super().__init__(f"row {row}: {reason}")
        self.row = row
        self.reason = reason


def parse_problem_list(html: str) -> list[ProblemRow]:
    """The problem rows of one list page, in page order (see ``parse_list_page``)."""
    return parse_list_page(html).rows


def parse_list_page(html: str) -> ListPage:
    """The problem rows of one list page, in page order, and its pager.

    No rows means the table is there but has no problem rows: the end of the
    list, unless a pager links further (``core.spoj.listing`` decides). A page
    without a pager has an empty ``Pager``. Raises ``NoProblemTable``,
    ``TruncatedPage`` or ``BadRow`` (all ``ParseError``).
    """
    _check_complete(html)
    try:
        document = lxml.html.document_fromstring(html)
    except etree.ParserError as exc:
        raise NoProblemTable(f"no HTML document ({exc})") from None
    tables = document.xpath(_PROBLEM_TABLES)
    if not tables:
        raise NoProblemTable("no table.problems on the page")
    table = tables[0]
    # Rows of this table only, not of a table nested in one of its cells.
    own_rows = [tr for tr in table.iter("tr") if next(tr.iterancestors("table")) is table]
    columns = _columns(own_rows)
    rows: list[ProblemRow] = []
    for tr in own_rows:
        if tr.find("th") is not None:
            continue
        cells = tr.findall("td")
        number = len(rows) + 1
        if len(cells) < len(columns):
            if not tr.xpath(_PROBLEM_LINK):
                # A spacer or a message row ("no problems found"), not a problem.
                continue
            raise BadRow(number, f"{len(cells)} cells, expected {len(columns)}")
        rows.append(_row(number, dict(zip(columns, cells, strict=False))))
    return ListPage(rows=rows, pager=_pager(document))


def _pager(document: lxml.html.HtmlElement) -> Pager:
    starts: set[int] = set()
    next_start = last_start = None
    for link in document.iter("a"):
        # a.pager_link, whatever other classes it carries.
        if "pager_link" not in (link.get("class") or "").split():
            continue
        match = _PAGER_START.search(link.get("href") or "")
        if match is None:
            continue  # "#", or a link to another list
        start = int(match.group(1))
        starts.add(start)
        text = _text(link)
        if text == "Next":
            next_start = start
        elif text == ">":
            last_start = start
    return Pager(starts=tuple(sorted(starts)), next=next_start, last=last_start)


def _check_complete(html: str) -> None:
    """Refuse a page cut off by the server (a crash mid-render, a proxy giving up).

    Its last row may be silently incomplete (a users count of "12" for 1234),
    and lxml would close the open tags as if nothing happened. A complete page
    has its closing </html> after its last row; a "</html>" inside an earlier
    script does not count.
    """
    lowered = html.lower()
    end = lowered.rfind("</html")
    if end < 0 or end < lowered.rfind("<tr"):
        raise TruncatedPage(f"page ends without </html> after {len(html)} characters")


def _text(element: lxml.html.HtmlElement) -> str:
    return str(element.text_content()).strip()


def _columns(rows: list[lxml.html.HtmlElement]) -> list[str | None]:
    """The meaning of each column, from the table's header row (None: a column we ignore)."""
    header = next((tr for tr in rows if tr.find("th") is not None), None)
    if header is None:
        raise ParseError("table.problems has no header row")
    titles = [_WHITESPACE.sub(" ", _text(th)) for th in header.findall("th")]
    columns = [_HEADERS.get(title.upper()) for title in titles]
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise ParseError(
            f"table.problems has no {', '.join(missing)} column (headers: {' | '.join(titles)})"
        )
    return columns


def _row(number: int, cells: dict[str | None, lxml.html.HtmlElement]) -> ProblemRow:
    link = cells["name"].find(".//a[@href]")
    if link is None:
        raise BadRow(number, "no link in the NAME cell")
    href = str(link.get("href"))
    match = _PROBLEM_HREF.match(href)
    if match is None:
        raise BadRow(number, f"NAME link {href!r} is not /problems/CODE")
    code = match.group(1)
    if len(code) > MAX_CODE_LENGTH:
        raise BadRow(number, f"code {code[:40]!r}... is longer than {MAX_CODE_LENGTH} characters")
    if "code" in cells:
        # The 2014 layout repeats the code in its own column: the two must agree.
        shown = _text(cells["code"])
        if shown != code:
            raise BadRow(number, f"CODE {shown!r} does not match the NAME link {href!r}")
    name = _text(link)
    if not name:
        raise BadRow(number, f"empty name for {code}")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRow(number, f"name of {code} is longer than {MAX_NAME_LENGTH} characters")
    return ProblemRow(
        spoj_id=_integer(number, "ID", _text(cells["id"])),
        code=code,
        name=name,
        users=_integer(number, "USERS", _text(cells["users"]).replace(",", "")),
        acceptance=_percentage(number, "ACC %", _text(cells["acceptance"])),
        quality=_quality(number, cells.get("quality")),
    )


def _integer(number: int, column: str, text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise BadRow(number, f"{column} {text!r} is not a whole number")
    return _bounded(number, column, int(text))


def _bounded(number: int, column: str, value: int) -> int:
    if abs(value) > MAX_INTEGER:
        raise BadRow(number, f"{column} {value} is out of range")
    return value


def _percentage(number: int, column: str, text: str) -> float:
    try:
        result = float(text.removesuffix("%"))
    except ValueError:
        raise BadRow(number, f"{column} {text!r} is not a number") from None
    if not 0 <= result <= 100:  # also refuses nan and inf
        raise BadRow(number, f"{column} {text!r} is not a percentage")
    return result


def _quality(number: int, cell: lxml.html.HtmlElement | None) -> int | None:
    if cell is None:
        return None
    text = _text(cell)
    if not text:
        return None
    if not _SIGNED_INTEGER.fullmatch(text):
        raise BadRow(number, f"QUALITY {text!r} is not a whole number")
    return _bounded(number, "QUALITY", int(text))
