"""Read the whole classical problem list, page by page, and check it before anything is stored.

The list is paged with ``sort=0`` (by problem id, stable while paging: new
problems are appended) until a page has the table but no problem rows.

Every page is cross-checked with the pagers seen so far (``SPOJ_FORMAT.md``):
a page with no rows, or fewer than a full page, ends the list only when no
pager points past it. An empty page the pagers link as part of the list, or a
short one before pages they link, is a broken listing (a SPOJ hiccup, a
half-built cache), refused: taken for the end, it would silently drop the
problems after it, under the shrink guard's 10%.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.spoj.http import Page, SpojClient
from core.spoj.parse import (
    BadRow,
    ListPage,
    NoProblemTable,
    ParseError,
    ProblemRow,
    parse_list_page,
)

PAGE_SIZE = 50


class ListingError(Exception):
    """The list as read cannot be trusted; the message is one line naming the page."""


@dataclass(frozen=True)
class Listing:
    rows: list[ProblemRow]
    pages: int  # pages requested, the final empty one included


def page_url(base_url: str, start: int) -> str:
    return f"{base_url.rstrip('/')}/problems/classical/sort=0,start={start}"


# Called before each page is requested with (page number from 1, the URL).
Progress = Callable[[int, str], None]


def read_listing(
    client: SpojClient, base_url: str, max_pages: int, progress: Progress | None = None
) -> Listing:
    """Every problem row of the list, in order, checked; raises ``ListingError``.

    ``SpojError`` from the client passes through unchanged.
    """
    rows: list[ProblemRow] = []
    first_seen_on: dict[str, str] = {}
    short_page: tuple[str, int] | None = None  # a page with fewer rows than the first
    first_page_rows = 0
    # The furthest page any pager so far has linked, and the page whose pager did.
    promised: tuple[int, str] | None = None
    for number in range(1, max_pages + 1):
        start = (number - 1) * PAGE_SIZE
        url = page_url(base_url, start)
        if progress is not None:
            progress(number, url)
        page = client.get(url)
        parsed = _parse(page)
        page_rows = parsed.rows
        promised = _furthest(promised, parsed, start, url)
        _check_against_pagers(url, start, len(page_rows), promised)
        if not page_rows:
            if not rows:
                raise ListingError(f"{url}: the first page lists no problems at all")
            return Listing(rows=rows, pages=number)
        if short_page is not None:
            # Pages hold a fixed number of rows; a short page in the middle means
            # rows went missing there (a page cut short, a half-rendered table).
            short_url, short_count = short_page
            raise ListingError(
                f"{short_url} has {short_count} problems, fewer than the {first_page_rows} "
                f"of the first page, yet {url} lists more: rows are missing"
            )
        if number == 1:
            first_page_rows = len(page_rows)
        elif len(page_rows) < first_page_rows:
            short_page = (url, len(page_rows))
        for row in page_rows:
            if row.code in first_seen_on:
                raise ListingError(
                    f"problem {row.code} is listed twice, on {first_seen_on[row.code]} "
                    f"and on {url}: the list changed while it was read, or pages repeat"
                )
            first_seen_on[row.code] = url
        rows.extend(page_rows)
    last = page_url(base_url, (max_pages - 1) * PAGE_SIZE)
    raise ListingError(
        f"the list had not ended after {max_pages} pages (last {last}); "
        f"raise --max-pages if SPOJ really lists over {max_pages * PAGE_SIZE} problems"
    )


def _furthest(
    promised: tuple[int, str] | None, page: ListPage, start: int, url: str
) -> tuple[int, str] | None:
    """The furthest page linked so far, with this page's pager counted.

    A page's link to itself says nothing about it (the current page may be a
    link, or the last-page link on the last page), so it does not count.
    """
    links = [linked for linked in page.pager.starts if linked != start]
    if links and (promised is None or max(links) > promised[0]):
        return max(links), url
    return promised


def _check_against_pagers(
    url: str, start: int, count: int, promised: tuple[int, str] | None
) -> None:
    """Refuse an empty page the pagers link, or a short one before pages they link."""
    if promised is None or count >= PAGE_SIZE:
        return
    furthest, pager_url = promised
    pager = f"the pager on {pager_url} links pages up to start={furthest}"
    if count == 0 and furthest >= start:
        raise ListingError(
            f"{url} lists no problems, yet {pager}: the listing is broken, not ended"
        )
    if count and furthest > start:
        raise ListingError(
            f"{url} lists {count} problems, fewer than a full page of {PAGE_SIZE}, "
            f"yet {pager}: rows are missing"
        )


def _parse(page: Page) -> ListPage:
    try:
        return parse_list_page(page.text)
    except NoProblemTable:
        raise ListingError(
            f"{page.url} (HTTP {page.status}) has no problem table: {page.snippet!r}"
        ) from None
    except BadRow as exc:
        raise ListingError(f"{page.url}: cannot read problem {exc}") from None
    except ParseError as exc:
        raise ListingError(f"{page.url} (HTTP {page.status}): {exc}") from None
