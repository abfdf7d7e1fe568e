"""A local stand-in for spoj.com, for tests, the demo and benchmarks.

It renders current-layout list pages (``SPOJ_FORMAT.md``) from the May 2025
data set in ``tests/fixtures/spoj/`` and serves them from a real threaded HTTP
server on 127.0.0.1, each with a pager like SPOJ's (neighbouring pages, Next,
and a ``&gt;`` link to the last page). Tests change the data set, switch page 0
to the saved 2014 page, drop the pagers, and inject faults per request (5xx,
429 with Retry-After, a hanging response, a maintenance page, truncated HTML, a
cut transfer, a well-formed page with its pager intact but its rows gone, all
or some); every request is counted.

It also serves users' profiles, ``/users/<handle>/``: the saved real page of
``kosaksi`` (2019), pages rendered in the same layout for generated users
(``FakeUser``; the demo's are ``DEMO_USERS``), and for any other handle the
site's frame without a profile ("no such user"); and problems' pages,
``/problems/<CODE>/``, with the tags of ``demo_tags.json`` (hand-assigned for
the demo, see ``SOURCES.md``) or any a test sets. Faults apply to those pages
too, by path (``path="/users/kosaksi/"``).

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
# The saved real profile: 70 solved codes, World Rank #28304 (0.6 points), seen by
# the logged-in user "itactuk", whose /status/itactuk link is in the menu.
KOSAKSI_PAGE = FIXTURES / "user_kosaksi_2019-02-17.html"
DEMO_TAGS = FIXTURES / "demo_tags.json"
PAGE_SIZE = 50
_LIST_PATH = re.compile(r"^/problems/classical/sort=0,start=(\d+)$")
_USER_PATH = re.compile(r"^/users/([^/?#]+)/?$")
_PROBLEM_PATH = re.compile(r"^/problems/([A-Za-z0-9_]+)/?$")


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
    """A misbehaviour applied to matching requests, ``times`` times (None: for ever).

    It applies to the request for ``path`` when one is given, else to the list
    page at ``start``, else to every request.
    """

    kind: FaultKind
    start: int | None = None  # the list page (its start offset) it applies to
    times: int | None = 1
    status: int = 500
    seconds: float = 1.0  # Retry-After for rate_limit; how long hang sleeps
    keep: int = 0  # rows a short page keeps
    body: bytes = b""  # what a raw fault sends
    path: str | None = None  # e.g. "/users/kosaksi/", "/problems/TEST/"

    def matches(self, path: str, start: int | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.path is not None:
            return path == self.path
        return self.start is None or self.start == start


@dataclass(frozen=True)
class FakeUser:
    """A generated SPOJ user, rendered in the layout of the saved real profile."""

    handle: str
    name: str
    solved: tuple[str, ...]
    world_rank: int | None = None  # None: no "World Rank" line
    points: str = "0.0"  # as the page shows them
    todo: tuple[str, ...] = ()  # a "List of todo problems" table after the solved one
    location: str | None = "Kraków, Poland"  # None: no location line
    joined: str = "Joined Jan 2020"
    institution: str | None = None
    viewer: str | None = "itactuk"  # the logged-in user whose links are in the menu
    # Links of the viewer's solved problems put into the owner's solved table
    # (as a page rendered for the wrong user might show): never the owner's.
    viewer_links: tuple[str, ...] = ()


class SpojServer:
    """The fake SPOJ. Thread-safe: tests change it while the server threads read it."""

    def __init__(self, problems: list[FixtureProblem] | None = None, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._problems = data_set() if problems is None else list(problems)
        self._pages: dict[tuple[int, bool, bool, bool], bytes] = {}
        # handle -> a generated user, exact bytes, or None for the saved real page (kosaksi).
        self._users: dict[str, FakeUser | bytes | None] = {"kosaksi": None}
        self._users.update((user.handle, user) for user in demo_users())
        self._tags: dict[str, tuple[str, ...]] = demo_tags()
        self.unknown_user_status = 200  # the status of the "no such user" page
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

    # --- users and tags -----------------------------------------------------------------
    def set_user(self, user: FakeUser) -> None:
        """Serve ``user``'s profile at /users/<handle>/ (replacing what was there)."""
        with self._lock:
            self._users[user.handle] = user

    def set_user_page(self, handle: str, body: bytes) -> None:
        """Serve exactly ``body`` (status 200) at /users/<handle>/ from now on."""
        with self._lock:
            self._users[handle] = body

    def remove_user(self, handle: str) -> None:
        """Serve the "no such user" page for ``handle`` from now on."""
        with self._lock:
            self._users.pop(handle, None)

    def user(self, handle: str) -> FakeUser | None:
        """The generated user served for ``handle`` (None: another page, or nobody)."""
        with self._lock:
            user = self._users.get(handle)
        return user if isinstance(user, FakeUser) else None

    def set_tags(self, code: str, *slugs: str) -> None:
        with self._lock:
            self._tags[code] = slugs

    def tags(self, code: str) -> tuple[str, ...]:
        with self._lock:
            return self._tags.get(code, ())

    # --- faults and the request log ---------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(
        self,
        status: int = 500,
        times: int | None = 1,
        start: int | None = None,
        *,
        path: str | None = None,
    ) -> Fault:
        return self.add_fault(Fault("status", start=start, times=times, status=status, path=path))

    def rate_limit(
        self,
        retry_after: float = 1,
        times: int | None = 1,
        start: int | None = None,
        *,
        path: str | None = None,
    ) -> Fault:
        return self.add_fault(
            Fault("rate_limit", start=start, times=times, seconds=retry_after, path=path)
        )

    def hang(
        self,
        seconds: float,
        times: int | None = 1,
        start: int | None = None,
        *,
        path: str | None = None,
    ) -> Fault:
        return self.add_fault(Fault("hang", start=start, times=times, seconds=seconds, path=path))

    def maintenance(
        self,
        status: int = 200,
        times: int | None = None,
        start: int = 0,
        *,
        path: str | None = None,
    ) -> Fault:
        return self.add_fault(
            Fault("maintenance", start=start, times=times, status=status, path=path)
        )

    def truncate(
        self, start: int | None = None, times: int | None = None, *, path: str | None = None
    ) -> Fault:
        return self.add_fault(Fault("truncate", start=start, times=times, path=path))

    def cut_transfer(
        self, start: int | None = None, times: int | None = None, *, path: str | None = None
    ) -> Fault:
        return self.add_fault(Fault("cut_transfer", start=start, times=times, path=path))

    def serve_raw(
        self,
        start: int | None = None,
        body: bytes = b"",
        times: int | None = None,
        *,
        path: str | None = None,
    ) -> Fault:
        """Exactly these bytes (status 200) as the page."""
        return self.add_fault(Fault("raw", start=start, times=times, body=body, path=path))

    def short_page(self, start: int, keep: int, times: int | None = None) -> Fault:
        """A complete, well-formed page that lists only its first ``keep`` rows.

        Its pager is the one the whole page has: it still links the pages after it.
        """
        return self.add_fault(Fault("short", start=start, times=times, keep=keep))

    def empty_page(self, start: int, times: int | None = None) -> Fault:
        """A complete, well-formed page with the table but no rows, its pager intact."""
        return self.short_page(start, keep=0, times=times)

    def hits(self, start: int | None = None, *, path: str | None = None) -> int:
        """Requests received, counted on arrival (for one list page, one path, or in all)."""
        if path is None and start is not None:
            path = f"/problems/classical/sort=0,start={start}"
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
    def _take_fault(self, path: str, start: int | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path, start):
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

    def user_page(self, handle: str) -> tuple[int, bytes]:
        """The status and bytes of /users/<handle>/."""
        with self._lock:
            known = handle in self._users
            user = self._users.get(handle)
            unknown_status = self.unknown_user_status
        if not known:
            return unknown_status, render_no_such_user(handle).encode("utf-8")
        if user is None:
            return 200, KOSAKSI_PAGE.read_bytes()
        if isinstance(user, bytes):
            return 200, user
        return 200, render_profile(user).encode("utf-8")

    def problem_page(self, code: str) -> bytes | None:
        """The bytes of /problems/<CODE>/ (None: no such problem in the data set)."""
        with self._lock:
            problem = next((p for p in self._problems if p.code == code), None)
            tags = self._tags.get(code, ())
        if problem is None:
            return None
        return render_problem_page(problem, tags).encode("utf-8")

    def respond(self, path: str) -> tuple[int, bytes, str]:
        """What the server sends for ``path`` without faults: status, body, kind of page."""
        match = _LIST_PATH.match(path)
        if match is not None:
            return 200, self.page(int(match.group(1))), "list"
        match = _USER_PATH.match(path)
        if match is not None:
            status, body = self.user_page(match.group(1))
            return status, body, "user"
        match = _PROBLEM_PATH.match(path)
        if match is not None:
            problem = self.problem_page(match.group(1))
            if problem is not None:
                return 200, problem, "problem"
        return 404, b"<html><body>Not found</body></html>", "other"

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
            start = None if match is None else int(match.group(1))
            fault = server._take_fault(self.path, start)
            if fault is None:
                status, body, _kind = server.respond(self.path)
                self._send(status, body)
            elif fault.kind == "status":
                self._send(fault.status, _error_page(fault.status))
            elif fault.kind == "rate_limit":
                headers = {"Retry-After": f"{fault.seconds:g}"}
                self._send(429, _error_page(429), headers)
            elif fault.kind == "hang":
                server.wait(fault.seconds)
                status, body, _kind = server.respond(self.path)
                self._send(status, body)
            elif fault.kind == "maintenance":
                self._send(fault.status, MAINTENANCE_PAGE.encode("utf-8"))
            elif fault.kind == "truncate":
                status, body, kind = server.respond(self.path)
                self._send(status, truncated(body, kind))
            elif fault.kind == "raw":
                self._send(200, fault.body)
            elif fault.kind == "short":
                assert start is not None, "a short page is a list page"
                self._send(200, server.short(start, fault.keep))
            else:  # cut_transfer: promise the whole page, send half, hang up
                _status, body, _kind = server.respond(self.path)
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


def truncated(page: bytes, kind: str = "list") -> bytes:
    """The page cut off where it hurts most, as a dying server sends it.

    A list page: in the middle of a row past its first half. A profile: right
    after the middle link of the solved table (the rest of the list missing). A
    problem page: right after its first tag. Anything else: half of it.
    """
    if kind == "user":
        links = [m.end() for m in re.finditer(rb"/status/[A-Za-z0-9_]+,[a-z0-9_]+/", page)]
        if links:
            return page[: links[len(links) // 2]]
    elif kind == "problem":
        tag = page.find(b'class="problem-tag"')
        if tag >= 0:
            return page[: page.index(b"</span>", tag) + len(b"</span>")]
    elif kind == "list":
        rows = [m.start() for m in re.finditer(rb"<tr>", page)]
        if rows:
            # Inside the USERS cell of a row past the middle: the row is there, half of it.
            row = rows[len(rows) // 2 + 1] if len(rows) > 2 else rows[-1]
            return page[: page.index(b"/ranks/", row) + 12]
    return page[: len(page) // 2]


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


# --- users' profiles and problems' pages ----------------------------------------------------
# The frame of the saved real profile (2019): header with the menu (the logged-in
# viewer's links), a submenu, then the page's content, the footer.
_SITE_HEAD = """<!DOCTYPE html>
<html class="not-ie" lang="en">
<head>
<meta charset="utf-8">
<title>Sphere Online Judge (SPOJ) - {title}</title>
<link href="https://maxcdn.bootstrapcdn.com/bootstrap/3.3.1/css/bootstrap.min.css"
 rel="stylesheet" />
<script type="text/javascript" src="//code.jquery.com/jquery-1.11.1.min.js"></script>
</head>
<body>
<div class="content">
<div class="container" id="header">
<div class="row">
<div class="col-md-4"><a href="/" class="navbar-brand">SPOJ</a></div>
<div class="col-md-8" id="menu">
<nav class="collapse navbar-collapse bs-navbar-collapse" role="navigation">
<ul class="nav navbar-nav">
<li><a href="/problems"><i class="fa fa-puzzle-piece"></i> PROBLEMS</a></li>
<li><a href="/status"><i class="fa fa-circle"></i> STATUS</a></li>
<li><a href="/ranks"><i class="fa fa-trophy"></i> RANKS</a></li>
<li><a href="/contests">CONTESTS</a></li>
{viewer_menu}
</ul>
</nav>
</div>
</div>
</div>
<div class="container" id="content">
"""
_SITE_FOOT = """</div>
<div class="container" id="footer">
<p><a href="/info">About</a> | <a href="/tutorials">Tutorial</a> |
Local test copy: not spoj.com.</p>
</div>
</div>
<script type="text/javascript">
  $(function () {{ if ($('.aProblemTop').height() == 0) {{
    $('.aProblemTop').html('<p>ads</p>'); }} }});
</script>
</body>
</html>
"""
_COLUMNS = 7  # codes per row of a profile's tables


def _site_head(title: str, viewer: str | None) -> str:
    menu = ""
    if viewer is not None:
        who = html.escape(viewer)
        menu = (
            '<li class="dropdown profile"><a href="#" class="dropdown-toggle">PROFILE</a>\n'
            '<ul class="dropdown-menu" role="menu">\n'
            '<li><a href="/myaccount">My profile</a></li>\n'
            f'<li><a href="/status/{who}">Submissions history</a></li>\n'
            '<li><a href="/logout">Sign out</a></li>\n</ul></li>'
        )
    return _SITE_HEAD.format(title=html.escape(title), viewer_menu=menu)


def _code_table(links: list[tuple[str, str]]) -> str:
    """A profile's table of problem links, 7 a row, the last row padded with empty cells."""
    rows = []
    for first in range(0, len(links), _COLUMNS):
        chunk = links[first : first + _COLUMNS]
        cells = [
            f'<td align="left" width="14%"><a href="/status/{html.escape(code)},'
            f'{html.escape(owner)}/">{html.escape(code)}</a></td>'
            for code, owner in chunk
        ]
        cells += ['<td align="left" width="14%"></td>'] * (_COLUMNS - len(chunk))
        rows.append("<tr>\n" + "\n".join(cells) + "\n</tr>")
    return '<table class="table table-condensed">\n' + "\n".join(rows) + "\n</table>"


def render_profile(user: FakeUser) -> str:
    """``user``'s profile page in the current layout (that of the saved real page)."""
    handle = html.escape(user.handle)
    lines = []
    if user.location is not None:
        lines.append(f'<p><i class="fa fa-map-marker"></i> {html.escape(user.location)}</p>')
    lines.append(f'<p><i class="fa fa-clock-o"></i> {html.escape(user.joined)}</p>')
    if user.world_rank is not None:
        lines.append(
            f'<p><i class="fa fa-trophy"></i> World Rank: #{user.world_rank} '
            f"({html.escape(user.points)} points)</p>"
        )
    if user.institution is not None:
        lines.append(
            f'<p><i class="fa fa-building-o "></i> Institution: {html.escape(user.institution)}</p>'
        )
    solved = [(code, user.handle) for code in user.solved]
    if user.viewer is not None:
        solved += [(code, user.viewer) for code in user.viewer_links]
    todo = ""
    if user.todo:
        todo = "<h4>List of todo problems:</h4>\n" + _code_table(
            [(code, user.handle) for code in user.todo]
        )
    body = f"""<div class="submenu">
<ol><li>Profile</li></ol>
<ol class="navbar-right">
<li><a href="/status/{handle}/">History of submissions</a></li>
<li>(<a href="/status/{handle}/signedlist/">plaintext version</a>)</li>
</ol>
</div>
<div class="row">
<div class="col-md-3" id="user-profile-left">
<img class="img-thumbnail" width="100%" src="https://www.gravatar.com/avatar/0?s=290">
<h3>{html.escape(user.name)}</h3>
<h4>@{handle}</h4>
{chr(10).join(lines)}
</div>
<div class="col-md-9">
<h3>Activity over the last year</h3>
<div id="cal-heatmap"></div>
<dl class="dl-horizontal profile-info-data profile-info-data-stats">
<dt><span class="fa fa-check fa-fw"></span>&nbsp;Problems solved</dt>
<dd>{len(user.solved)}</dd>
<dt><span class="fa fa-send fa-fw"></span>&nbsp;Solutions submitted</dt>
<dd>{len(user.solved) * 2}</dd>
</dl>
<h3 class="top-4 text-center">Problems</h3>
<div class="row row-centered" id="user-profile-tables">
<div class="col-md-12">
<h4>List of solved classical problems:</h4>
{_code_table(solved)}
{todo}
</div>
</div>
</div>
</div>
"""
    return _site_head(f"User {user.handle}", user.viewer) + body + _SITE_FOOT.format()


def render_no_such_user(handle: str, viewer: str | None = "itactuk") -> str:
    """The fake's answer for a handle it does not know: the site's frame, no profile.

    What spoj.com shows there is not on record (no saved page); what the parser
    relies on is only that a profile has ``div#user-profile-left``.
    """
    body = f"""<div class="row">
<div class="col-md-12">
<h3>User {html.escape(handle)}</h3>
<p>There is no user with this handle.</p>
</div>
</div>
"""
    return _site_head("Users", viewer) + body + _SITE_FOOT.format()


def render_problem_page(problem: FixtureProblem, tags: tuple[str, ...]) -> str:
    """A problem's page as SPOJ_FORMAT.md describes it (title, meta table, statement, tags)."""
    code = html.escape(problem.code)
    links = "\n".join(
        f'<a href="/problems/tag/{html.escape(slug)}"><span class="problem-tag">'
        f"#{html.escape(slug)}</span></a>"
        for slug in tags
    )
    body = f"""<div class="row">
<div class="col-lg-12 col-md-12">
<h2 id="problem-name" class="text-center">{code} - {html.escape(problem.name, quote=False)}</h2>
</div>
<div id="problem-tags" class="col-lg-12 text-center">
{links}
</div>
<div class="col-lg-10 col-md-9" id="problem-body">
<p>The statement is not part of the local copy.</p>
</div>
<div class="col-lg-2 col-md-3">
<table class="probleminfo" id="problem-meta">
<tr><td>Added by:</td><td><a href="/users/setter/">setter</a></td></tr>
<tr><td>Time limit:</td><td>1s</td></tr>
<tr><td>Languages:</td><td>All</td></tr>
</table>
</div>
</div>
"""
    return _site_head(f"Problem {problem.code}", "itactuk") + body + _SITE_FOOT.format()


@cache
def _demo_tags() -> tuple[tuple[str, tuple[str, ...]], ...]:
    tags: dict[str, list[str]] = json.loads(DEMO_TAGS.read_text(encoding="utf-8"))["tags"]
    return tuple((code, tuple(slugs)) for code, slugs in tags.items())


def demo_tags() -> dict[str, tuple[str, ...]]:
    """The demo's tags by problem code (hand-assigned, see SOURCES.md): a fresh copy."""
    return dict(_demo_tags())


def _points(codes: list[str], users: dict[str, int]) -> str:
    """SPOJ's rounded points for ``codes`` (with the data set's user counts)."""
    return f"{sum(80 / (40 + users[code]) for code in codes if code in users):.1f}"


@cache
def _demo_users() -> tuple[FakeUser, ...]:
    problems = _load_data_set()
    users = {p.code: p.users for p in problems}
    by_users = sorted(problems, key=lambda p: (-p.users, p.spoj_id))
    kosaksi = set(re.findall(r"/status/([A-Z0-9_]+),kosaksi/", KOSAKSI_PAGE.read_text("utf-8")))
    # A beginner: the 120 most solved problems.
    ana = [p.code for p in by_users[:120]]
    # Half of kosaksi's problems and some harder ones; two codes the list does not
    # have (a problem that left it, one not yet in it), kept and shown as such.
    ben = sorted(kosaksi)[::2] + [p.code for p in by_users[300:420:3]] + ["OLDPROB", "NEWPROB"]
    # A strong solver: 400 problems from the middle of the list.
    chen = [p.code for p in by_users[150:1350:3]]
    return (
        FakeUser(
            handle="demo_ana",
            name="Ana (generated demo user)",
            solved=tuple(ana),
            world_rank=41210,
            points=_points(ana, users),
            location="Lisbon, Portugal",
            institution="Demo University",
        ),
        FakeUser(
            handle="demo_ben",
            name="Ben (generated demo user)",
            solved=tuple(ben),
            world_rank=52877,
            points=_points(ben, users),
            location=None,
            todo=tuple(p.code for p in by_users[500:510]),
        ),
        FakeUser(
            handle="demo_chen",
            name="Chen (generated demo user)",
            solved=tuple(chen),
            world_rank=6120,
            points=_points(chen, users),
            institution="Demo Institute of Technology",
        ),
    )


def demo_users() -> list[FakeUser]:
    """The generated users the fake serves beside kosaksi (for the demo and tests)."""
    return list(_demo_users())


DEMO_HANDLES = ("kosaksi", "demo_ana", "demo_ben", "demo_chen")


def generated_user(handle: str, solved: int) -> FakeUser:
    """A user who solved ``solved`` problems of the list: every third by score, best
    first (so the best unsolved list is spread across the whole table), for benchmarks."""
    problems = _load_data_set()
    users = {p.code: p.users for p in problems}
    by_score = sorted(problems, key=lambda p: (p.users, p.code))  # score falls as users grow
    codes = [p.code for p in by_score[::3][:solved]]
    if len(codes) < solved:
        raise ValueError(f"the list has only {len(by_score[::3])} problems for every third")
    return FakeUser(
        handle=handle,
        name=f"{handle} (generated, {solved} solved)",
        solved=tuple(codes),
        world_rank=1000,
        points=_points(codes, users),
    )


def _generated_user_arg(text: str) -> FakeUser:
    handle, _, count = text.partition(":")
    if not re.fullmatch(r"[a-z0-9_]{3,20}", handle) or not count.isdigit():
        raise argparse.ArgumentTypeError(f"not HANDLE:SOLVED (e.g. many:1000): {text!r}")
    try:
        return generated_user(handle, int(count))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
    parser.add_argument(
        "--print-demo-handles",
        action="store_true",
        help="print the handles of the users it serves (for scripts/run.sh) and exit",
    )
    parser.add_argument(
        "--print-demo-codes",
        action="store_true",
        help="print the codes of the problems demo_tags.json lists (for scripts/run.sh) and exit",
    )
    parser.add_argument(
        "--user",
        type=_generated_user_arg,
        action="append",
        default=[],
        metavar="HANDLE:SOLVED",
        help="also serve a generated user who solved SOLVED problems (every third by score)",
    )
    args = parser.parse_args(argv)
    if args.print_demo_handles or args.print_demo_codes:
        print(*(DEMO_HANDLES if args.print_demo_handles else demo_tags()))
        return
    server = SpojServer(port=args.port)
    for user in args.user:
        server.set_user(user)
    print(f"Fake SPOJ with {len(server.problems)} problems at {server.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
