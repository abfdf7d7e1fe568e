"""Benchmark: the list-page parser (lxml directly) against BeautifulSoup, on 81 pages.

The pages: the 80 current-layout pages of the May 2025 list (3,971 problems),
rendered from ``tests/fixtures/spoj/classical_list_all_2025-05_scraped.json`` by
the renderer the fake SPOJ serves them with (pagers included), and the saved
2014 page (50 rows, 41 KB). Each parser makes the same extraction as
``core.spoj.parse.parse_list_page``: the completeness check, ``table.problems``
read by header meaning (its own rows only), every value checked and converted
with the parser's own helpers, and the pager (every ``a.pager_link`` with a
``start=``). Before timing, each parser's rows and pagers are asserted equal to
the project parser's, page by page.

    (a) lxml.html, the project's parser (``core.spoj.parse.parse_list_page``)
    (b) BeautifulSoup, lxml builder
    (c) BeautifulSoup, html.parser
    (d) BeautifulSoup, lxml builder with a SoupStrainer keeping only
        ``table.problems`` and the ``a.pager_link`` links

A repeat parses all 81 pages once, in one process, garbage collector on (as in
a scrape), the parsers taking turns so a burst of load hits all of them. The
time is the process's CPU time (``time.process_time``), not the wall clock, so
other jobs on a shared machine count less. Printed: the median and best of the
repeats for the 81 pages, the median for the 2014 page alone, and the ratio
of each to (a)'s.

    .venv/bin/python bench/parse.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bs4  # noqa: E402
import lxml.etree  # type: ignore[import-untyped]  # noqa: E402
from bs4 import BeautifulSoup, SoupStrainer  # noqa: E402

from core.spoj import parse  # noqa: E402
from core.spoj.parse import BadRow, ListPage, NoProblemTable, Pager, ParseError, ProblemRow  # noqa: E402
from tests.spoj_server import OLD_LAYOUT_PAGE, PAGE_SIZE, data_set, render_page  # noqa: E402

Parser = Callable[[str], ListPage]


def pages() -> list[str]:
    """The 80 rendered current-layout pages, then the saved 2014 page."""
    problems = data_set()
    rendered = [
        render_page(problems[start : start + PAGE_SIZE], start, len(problems))
        for start in range(0, len(problems), PAGE_SIZE)
    ]
    return [*rendered, OLD_LAYOUT_PAGE.read_bytes().decode("utf-8")]


# --- the same extraction through BeautifulSoup ----------------------------------------------
def _text(element: bs4.Tag) -> str:
    return element.get_text().strip()


def _soup_page(soup: BeautifulSoup) -> ListPage:
    table = soup.find("table", class_="problems")
    if not isinstance(table, bs4.Tag):
        raise NoProblemTable("no table.problems on the page")
    own_rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    header = next((tr for tr in own_rows if tr.find("th", recursive=False)), None)
    if header is None:
        raise ParseError("table.problems has no header row")
    titles = [
        parse._WHITESPACE.sub(" ", _text(th)) for th in header.find_all("th", recursive=False)
    ]
    columns = [parse._HEADERS.get(title.upper()) for title in titles]
    if any(name not in columns for name in parse._REQUIRED):
        raise ParseError("table.problems lacks a required column")
    rows: list[ProblemRow] = []
    for tr in own_rows:
        if tr.find("th", recursive=False):
            continue
        cells = tr.find_all("td", recursive=False)
        number = len(rows) + 1
        if len(cells) < len(columns):
            if not tr.find("a", href=lambda href: href is not None and "/problems/" in href):
                continue
            raise BadRow(number, f"{len(cells)} cells, expected {len(columns)}")
        rows.append(_soup_row(number, dict(zip(columns, cells, strict=False))))
    return ListPage(rows=rows, pager=_soup_pager(soup))


def _soup_row(number: int, cells: dict[str | None, bs4.Tag]) -> ProblemRow:
    link = cells["name"].find("a", href=True)
    if not isinstance(link, bs4.Tag):
        raise BadRow(number, "no link in the NAME cell")
    href = str(link["href"])
    match = parse._PROBLEM_HREF.match(href)
    if match is None:
        raise BadRow(number, f"NAME link {href!r} is not /problems/CODE")
    code = match.group(1)
    if len(code) > parse.MAX_CODE_LENGTH:
        raise BadRow(number, "code too long")
    if "code" in cells and _text(cells["code"]) != code:
        raise BadRow(number, "CODE does not match the NAME link")
    name = _text(link)
    if not name or len(name) > parse.MAX_NAME_LENGTH:
        raise BadRow(number, f"bad name for {code}")
    quality = None
    if "quality" in cells and (shown := _text(cells["quality"])):
        if not parse._SIGNED_INTEGER.fullmatch(shown):
            raise BadRow(number, f"QUALITY {shown!r} is not a whole number")
        quality = parse._bounded(number, "QUALITY", int(shown))
    return ProblemRow(
        spoj_id=parse._integer(number, "ID", _text(cells["id"])),
        code=code,
        name=name,
        users=parse._integer(number, "USERS", _text(cells["users"]).replace(",", "")),
        acceptance=parse._percentage(number, "ACC %", _text(cells["acceptance"])),
        quality=quality,
    )


def _soup_pager(soup: BeautifulSoup) -> Pager:
    starts: set[int] = set()
    next_start = last_start = None
    for link in soup.find_all("a", class_="pager_link", href=True):
        match = parse._PAGER_START.search(str(link["href"]))
        if match is None:
            continue
        start = int(match.group(1))
        starts.add(start)
        text = _text(link)
        if text == "Next":
            next_start = start
        elif text == ">":
            last_start = start
    return Pager(starts=tuple(sorted(starts)), next=next_start, last=last_start)


def soup_parser(builder: str, strainer: SoupStrainer | None = None) -> Parser:
    def parse_page(html: str) -> ListPage:
        parse._check_complete(html)
        return _soup_page(BeautifulSoup(html, builder, parse_only=strainer))

    return parse_page


PARSERS: list[tuple[str, Parser]] = [
    ("(a) lxml.html (core.spoj.parse)", parse.parse_list_page),
    ("(b) BeautifulSoup, lxml builder", soup_parser("lxml")),
    ("(c) BeautifulSoup, html.parser", soup_parser("html.parser")),
    (
        "(d) BeautifulSoup, lxml + SoupStrainer",
        # A class list would match the whole attribute while parsing ("problems table ...").
        soup_parser("lxml", SoupStrainer(class_=re.compile(r"(^|\s)(problems|pager_link)(\s|$)"))),
    ),
]


def timed(parser: Parser, documents: list[str]) -> float:
    """CPU seconds to parse ``documents``."""
    began = time.process_time()
    for html in documents:
        parser(html)
    return time.process_time() - began


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--repeats", type=int, default=9, help="timed passes per parser (9)")
    args = options.parse_args(argv)
    documents = pages()
    old_page = documents[-1:]

    expected = [parse.parse_list_page(html) for html in documents]
    for label, parser in PARSERS:
        got = [parser(html) for html in documents]  # also the warm-up
        assert got == expected, f"{label} does not extract what (a) does"
    rows = sum(len(page.rows) for page in expected)
    assert rows == len(data_set()) + 50
    assert all(page.pager.furthest is not None for page in expected)

    results: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeats):
        for label, parser in PARSERS:
            result = results.setdefault(label, {"all": [], "old": []})
            result["all"].append(timed(parser, documents))
            result["old"].append(timed(parser, old_page))

    size = sum(len(html.encode()) for html in documents)
    print(
        f"{len(documents)} pages ({len(documents) - 1} rendered current-layout pages of the "
        f"May 2025 list and the saved 2014 page), {size / 1e6:.1f} MB, {rows} rows; every "
        "parser extracted the same rows and pagers"
    )
    print(
        f"Python {platform.python_version()}, lxml {'.'.join(map(str, lxml.etree.LXML_VERSION))}"
        f" (libxml2 {'.'.join(map(str, lxml.etree.LIBXML_VERSION))}), beautifulsoup4 "
        f"{version('beautifulsoup4')}; CPU time, median of {args.repeats} repeats; load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print()
    print(
        f"{'parser':40} {'81 pages':>9} {'vs (a)':>7} {'best':>9} {'vs (a)':>7} "
        f"{'2014 page':>10} {'vs (a)':>7}"
    )
    first = results[PARSERS[0][0]]
    base = statistics.median(first["all"]), min(first["all"]), statistics.median(first["old"])
    for label, _parser in PARSERS:
        median = statistics.median(results[label]["all"])
        best = min(results[label]["all"])
        old = statistics.median(results[label]["old"])
        print(
            f"{label:40} {median * 1000:6.0f} ms {median / base[0]:6.1f}x "
            f"{best * 1000:6.0f} ms {best / base[1]:6.1f}x "
            f"{old * 1000:7.1f} ms {old / base[2]:6.1f}x"
        )


if __name__ == "__main__":
    main()
