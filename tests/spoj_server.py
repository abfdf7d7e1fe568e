"""A local stand-in for spoj.com's classical problem list, for tests, the demo and benchmarks.

It renders current-layout list pages (``SPOJ_FORMAT.md``) from the May 2025
data set in ``tests/fixtures/spoj/`` and serves them from a real threaded HTTP
server on 127.0.0.1, each with a pager like SPOJ's (neighbouring pages, Next,
and a ``&gt;`` link to the last page). Tests change the data set, switch page 0
to the saved 2014 page, drop the pagers, and inject faults per request (5xx,
429 with Retry-After, a hanging response, a maintenance page, truncated HTML, a
cut transfer, a well-formed page with its pager intact but its rows gone, all
or some); every request is counted.

Pytest fixture: ``spoj_server``. By hand: ``python -m tests.spoj_server --port 8765``.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spoj"
DATA_SET = FIXTURES / "classical_list_all_2025-05_scraped.json"
OLD_LAYOUT_PAGE = FIXTURES / "classical_list_sort0_start0_2014-04-28_oldlayout.html"
PAGE_SIZE = 50
_LIST_PATH = re.compile(r"^/problems/classical/sort=0,start=(\d+)$")


@dataclass(frozen=True)
class FixtureProblem:
    spoj_id: int
    code: str
    name: str
    users: int
    acceptance: str
    thumbs_up: int | None
    thumbs_down: int | None

    @property
    def quality(self) -> int | None:
        if self.thumbs_up is None or self.thumbs_down is None:
            return None
        return self.thumbs_up - self.thumbs_down


@cache
def _load_data_set() -> tuple[FixtureProblem, ...]:
    rows: list[dict[str, Any]] = json.loads(DATA_SET.read_text(encoding="utf-8"))
    return tuple(
        FixtureProblem(
            spoj_id=int(row["id"]),
            code=row["url"].rsplit("/", 1)[1],
            name=row["title"],
            users=int(row["user_count"]),
            acceptance=row["acceptance_rate"],
            thumbs_up=None if row["thumbs_up"] is None else int(row["thumbs_up"]),
            thumbs_down=None if row["thumbs_down"] is None else int(row["thumbs_down"]),
        )
        for row in rows
    )


def data_set() -> list[FixtureProblem]:
    """A fresh copy of the 3,971 problems of May 2025, in id order."""
    return list(_load_data_set())


FaultKind = Literal[
    "status", "rate_limit", "hang", "maintenance", "truncate", "cut_transfer", "short", "raw"
]


@dataclass
class Fault:
    """A misbehaviour applied to matching requests, ``times`` times (None: for ever)."""

    kind: FaultKind
    start: int | None = None  # the page (its start offset) it applies to; None: any page
    times: int | None = 1
    status: int = 500
    seconds: float = 1.0  # Retry-After for rate_limit; how long hang sleeps
    keep: int = 0  # rows a short page keeps
    body: bytes = b""  # what a raw fault sends

    def matches(self, start: int) -> bool:
        return (self.start is None or self.start == start) and (
            self.times is None or self.times > 0
        )


class SpojServer:
    """The fake SPOJ. Thread-safe: tests change it while the server threads read it."""

    def __init__(self, problems: list[FixtureProblem] | None = None, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._problems = data_set() if problems is None else list(problems)
        self._pages: dict[tuple[int, bool, bool, bool], bytes] = {}
        self._faults: list[Fault] = []
        self._requests: list[str] = []
        self.user_agents: set[str] = set()
        self._stopping = threading.Event()
        self.old_layout = False
        self.users_with_commas = False
        self.pager = True  # False: pages without a pager, as a redesign might serve them
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None

    # --- life cycle ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SpojServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SpojServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    # --- the data set ----------------------------------------------------------------
    @property
    def problems(self) -> list[FixtureProblem]:
        with self._lock:
            return list(self._problems)

    def set_problems(self, problems: list[FixtureProblem]) -> None:
        with self._lock:
            self._problems = list(problems)
            self._pages.clear()

    def update(self, code: str, **changes: Any) -> None:
        """Change fields of one problem, e.g. ``update("TEST", users=221567)``."""
        with self._lock:
            index = next(i for i, p in enumerate(self._problems) if p.code == code)
            self._problems[index] = replace(self._problems[index], **changes)
            self._pages.clear()

    def remove(self, *codes: str) -> None:
        with self._lock:
            gone = set(codes)
            self._problems = [p for p in self._problems if p.code not in gone]
            self._pages.clear()

    # --- faults and the request log ---------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(self, status: int = 500, times: int | None = 1, start: int | None = None) -> Fault:
        return self.add_fault(Fault("status", start=start, times=times, status=status))

    def rate_limit(
        self, retry_after: float = 1, times: int | None = 1, start: int | None = None
    ) -> Fault:
        return self.add_fault(Fault("rate_limit", start=start, times=times, seconds=retry_after))

    def hang(self, seconds: float, times: int | None = 1, start: int | None = None) -> Fault:
        return self.add_fault(Fault("hang", start=start, times=times, seconds=seconds))

    def maintenance(self, status: int = 200, times: int | None = None, start: int = 0) -> Fault:
        return self.add_fault(Fault("maintenance", start=start, times=times, status=status))

    def truncate(self, start: int, times: int | None = None) -> Fault:
        return self.add_fault(Fault("truncate", start=start, times=times))

    def cut_transfer(self, start: int, times: int | None = None) -> Fault:
        return self.add_fault(Fault("cut_transfer", start=start, times=times))

    def serve_raw(self, start: int, body: bytes, times: int | None = None) -> Fault:
        """Exactly these bytes (status 200) as the page."""
        return self.add_fault(Fault("raw", start=start, times=times, body=body))

    def short_page(self, start: int, keep: int, times: int | None = None) -> Fault:
        """A complete, well-formed page that lists only its first ``keep`` rows.

        Its pager is the one the whole page has: it still links the pages after it.
        """
        return self.add_fault(Fault("short", start=start, times=times, keep=keep))

    def empty_page(self, start: int, times: int | None = None) -> Fault:
        """A complete, well-formed page with the table but no rows, its pager intact."""
        return self.short_page(start, keep=0, times=times)

    def hits(self, start: int | None = None) -> int:
        """Requests received, counted on arrival (for one page, or in all)."""
        path = None if start is None else f"/problems/classical/sort=0,start={start}"
        with self._lock:
            return sum(1 for p in self._requests if path is None or p == path)

    def forget_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[str]:
        """The path of every request so far, in order of arrival."""
        with self._lock:
            return list(self._requests)

    # --- serving (called from the server's threads) ------------------------------------
    def _take_fault(self, start: int) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(start):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _log(self, path: str, user_agent: str) -> None:
        with self._lock:
            self._requests.append(path)
            self.user_agents.add(user_agent)

    def page(self, start: int) -> bytes:
        """The page's bytes as SPOJ would send them (UTF-8, whatever the meta says)."""
        with self._lock:
            key = (start, self.old_layout, self.users_with_commas, self.pager)
            cached = self._pages.get(key)
            if cached is None:
                if self.old_layout:
                    cached = _old_layout_page(empty=start != 0)
                else:
                    cached = self._render(start, PAGE_SIZE).encode("utf-8")
                self._pages[key] = cached
            return cached

    def short(self, start: int, keep: int) -> bytes:
        """The page at ``start`` with only its first ``keep`` rows, the rest as it is."""
        with self._lock:
            return self._render(start, keep).encode("utf-8")

    def _render(self, start: int, keep: int) -> str:
        rows = self._problems[start : start + min(keep, PAGE_SIZE)]
        total = len(self._problems) if self.pager else None
        return render_page(rows, start, total, self.users_with_commas)

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_for(server: SpojServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, as spoj.com does.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle plus the
        # client's delayed ACK hold each response back about 40 ms.
        disable_nagle_algorithm = True
        server_version = "FakeSPOJ/1.0"

        def do_GET(self) -> None:
            server._log(self.path, self.headers.get("User-Agent", ""))
            match = _LIST_PATH.match(self.path)
            if match is None:
                self._send(404, b"<html><body>Not found</body></html>")
                return
            start = int(match.group(1))
            fault = server._take_fault(start)
            if fault is None:
                self._send(200, server.page(start))
            elif fault.kind == "status":
                self._send(fault.status, _error_page(fault.status))
            elif fault.kind == "rate_limit":
                headers = {"Retry-After": f"{fault.seconds:g}"}
                self._send(429, _error_page(429), headers)
            elif fault.kind == "hang":
                server.wait(fault.seconds)
                self._send(200, server.page(start))
            elif fault.kind == "maintenance":
                self._send(fault.status, MAINTENANCE_PAGE.encode("utf-8"))
            elif fault.kind == "truncate":
                self._send(200, truncated(server.page(start)))
            elif fault.kind == "raw":
                self._send(200, fault.body)
            elif fault.kind == "short":
                self._send(200, server.short(start, fault.keep))
            else:  # cut_transfer: promise the whole page, send half, hang up
                body = server.page(start)
                self.send_response_only(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                # No charset here: a client that trusted headers would fall back to
                # ISO-8859-1, and the meta tag says iso-8859-2. The bytes are UTF-8.
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a read timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is server.requests

    return Handler


# --- rendering ---------------------------------------------------------------------------
_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Classical problems - SPOJ</title>
<link rel="stylesheet" href="/css/bootstrap.min.css">
<link rel="stylesheet" href="/css/spoj.css">
<script src="/js/jquery.min.js"></script>
<script src="/js/bootstrap.min.js"></script>
</head>
<body>
<nav class="navbar navbar-default navbar-static-top">
<div class="container"><a class="navbar-brand" href="/">SPOJ</a>
<ul class="nav navbar-nav">
<li><a href="/problems/main/">Problems</a></li>
<li><a href="/status/">Status</a></li>
<li><a href="/ranks/users/">Ranking</a></li>
<li><a href="/forum/">Discuss</a></li>
<li><a href="/contests/">Contests</a></li>
</ul></div>
</nav>
<div class="container">
<h3>Classical problems</h3>
"""
_TABLE_OPEN = """<div class="table-responsive">
<table class="problems table table-condensed table-hover">
<thead>
<tr class="headerrow">
<th width="5%" class="text-center"><a href="/problems/classical/sort=1">ID</a></th>
<th><a href="/problems/classical/sort=2">NAME</a></th>
<th width="8%" class="text-center"><a href="/problems/classical/sort=8">QUALITY</a></th>
<th width="8%" class="text-center"><a href="/problems/classical/sort=6">USERS</a></th>
<th width="8%" class="text-center"><a href="/problems/classical/sort=7">ACC %</a></th>
</tr>
</thead>
<tbody>
"""
_FOOT = """</tbody>
</table>
</div>
{pager}
</div>
<footer class="footer"><div class="container">
<p>SPOJ &copy; Sphere Research Labs. Local test copy: not spoj.com.</p>
</div></footer>
<script>
  (function () {{ var s = document.createElement("script"); s.async = true; }})();
</script>
</body>
</html>
"""

MAINTENANCE_PAGE = """<!DOCTYPE html>
<html><head><title>SPOJ - maintenance</title></head>
<body><h1>We'll be back soon</h1>
<p>Sphere Online Judge is down for scheduled maintenance. Please come back later.</p>
</body></html>
"""


def _format_users(users: int, with_commas: bool) -> str:
    return f"{users:,}" if with_commas else str(users)


def render_row(problem: FixtureProblem, with_commas: bool = False) -> str:
    code = html.escape(problem.code)
    # The tooltip is the next solver's points, rounded: never the problem's score.
    tooltip = f"{round(80 / (41 + problem.users), 2):g}"
    quality = ""
    if problem.quality is not None:
        css = "text-success" if problem.quality >= 0 else "text-danger"
        quality = (
            f'<span class="{css}" title="+{problem.thumbs_up} -{problem.thumbs_down}">'
            f"{problem.quality}</span>"
        )
    return (
        "<tr>\n"
        f'<td class="text-center">{problem.spoj_id}</td>\n'
        f'<td class="text-left">\n<a href="/problems/{code}">'
        f"{html.escape(problem.name, quote=False)}</a>\n</td>\n"
        f'<td class="text-center">{quality}</td>\n'
        f'<td class="text-center">\n<a href="/ranks/{code}" '
        f'title="Value {tooltip} points. See the best solutions.">'
        f"{_format_users(problem.users, with_commas)}</a>\n</td>\n"
        f'<td class="text-center">\n<a href="/status/{code}/">{problem.acceptance}</a>\n</td>\n'
        "</tr>\n"
    )


def _page_link(start: int, text: str) -> str:
    return (
        f'<li><a class="pager_link" href="/problems/classical/sort=0,start={start}">{text}</a></li>'
    )


def last_start(total: int) -> int:
    """The start of the last page of a list of ``total`` problems (0 for an empty list)."""
    return max(0, (total - 1) // PAGE_SIZE * PAGE_SIZE)


def _pager(start: int, total: int) -> str:
    """SPOJ's pager for the page at ``start``: first and previous, up to two pages on each
    side (the current one not a link), Next, and ``&gt;`` to the last page.

    As SPOJ computes it from the list's size, a page past the end (the empty one that
    ends the list) links back to the last pages, never further.
    """
    last = last_start(total)
    items = []
    if start > 0:
        items += [_page_link(0, "&lt;"), _page_link(max(0, start - PAGE_SIZE), "Previous")]
    for page in range(
        max(0, start - 2 * PAGE_SIZE), min(last, start + 2 * PAGE_SIZE) + 1, PAGE_SIZE
    ):
        if page == start:
            items.append(f'<li class="active"><span>{page // PAGE_SIZE + 1}</span></li>')
        else:
            items.append(_page_link(page, str(page // PAGE_SIZE + 1)))
    if start < last:
        items.append(_page_link(start + PAGE_SIZE, "Next"))
    items.append(_page_link(last, "&gt;"))
    return '<ul class="pagination">\n' + "\n".join(items) + "\n</ul>"


def render_page(
    rows: list[FixtureProblem], start: int, total: int | None, with_commas: bool = False
) -> str:
    """One current-layout list page; no rows renders the table with an empty tbody.

    ``total``, the size of the whole list, decides the pager; None renders none.
    """
    body = "".join(render_row(p, with_commas) for p in rows)
    pager = "" if total is None else _pager(start, total)
    return _HEAD + _TABLE_OPEN + body + _FOOT.format(pager=pager)


def truncated(page: bytes) -> bytes:
    """The page cut off in the middle of a row past its first half, as a dying server sends it."""
    rows = [m.start() for m in re.finditer(rb"<tr>", page)]
    if not rows:
        return page[: len(page) // 2]
    # Inside the USERS cell of a row past the middle: the row is there, half of it.
    row = rows[len(rows) // 2 + 1] if len(rows) > 2 else rows[-1]
    return page[: page.index(b"/ranks/", row) + 12]


@cache
def _old_layout_page(empty: bool) -> bytes:
    """The saved 2014 page as a one-page list (``empty``: the page after it).

    Its pager promises 60 pages (up to start=2950) that the fake does not have, so
    its links go; the saved bytes, pager and all, are ``OLD_LAYOUT_PAGE``.
    """
    page = OLD_LAYOUT_PAGE.read_bytes()
    page = re.sub(rb'<a href="[^"]*" class="pager_link">.*?</a>', b"", page)
    if empty:
        # The same page with the table's problem rows removed: the end of the list.
        page = re.sub(rb'<tr class="problemrow">.*?</tr>\s*', b"", page, flags=re.DOTALL)
    return page


def _error_page(status: int) -> bytes:
    return f"<html><body><h1>Error {status}</h1></body></html>".encode()


@pytest.fixture
def spoj_server(settings: Any) -> Iterator[SpojServer]:
    """A fake SPOJ on 127.0.0.1 serving the 3,971 problems of May 2025, fresh per test.

    It becomes ``SPOJ_BASE_URL``, with no delay between pages, a 0.5 s read
    timeout, 2 retries and almost no backoff, so fault tests stay fast.
    """
    with SpojServer() as server:
        settings.SPOJ_BASE_URL = server.base_url
        settings.SPOJ_REQUEST_DELAY = 0.0
        settings.SPOJ_TIMEOUT = (2.0, 0.5)
        settings.SPOJ_RETRIES = 2
        settings.SPOJ_BACKOFF = 0.01
        yield server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    args = parser.parse_args(argv)
    server = SpojServer(port=args.port)
    print(f"Fake SPOJ with {len(server.problems)} problems at {server.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
