"""Conditional requests and the page cache: every page is a function of the data version.

The data behind every page changes only when a scrape writes it, and every
scrape writes its ``Scrape`` row in the same transaction as the problems
(``core.spoj.store.save_scrape``). So one cheap query -- the newest scrape --
gives a **data version**, and a page is determined by its name, its
(normalised) parameters, the data version and the code that renders it. That
tuple, hashed, is the page's ``ETag`` and its cache key.

A request to a page wrapped in ``cached_page``:

1. reads the data version (one query, the only one on the fast paths; a
   process reuses what it read for up to ``DATA_VERSION_MAX_AGE`` seconds);
2. answers ``304 Not Modified`` when ``If-None-Match`` (or, without it,
   ``If-Modified-Since``) matches -- Django's ``get_conditional_response``,
   before anything is rendered or read from a cache;
3. else serves the stored body from the page cache;
4. else renders, and stores a 200 for every process and dyno to reuse.

200s and 304s carry ``ETag``, ``Last-Modified`` and ``Cache-Control: public,
max-age=60, stale-while-revalidate=600``, so a CDN in front can serve them too.

The page cache has two levels. The shared one is Django's ``default`` cache:
the database cache (table ``spojscore_cache``, created after every
``migrate``: see ``core.apps``) or Redis when ``REDIS_URL`` is set; it
survives restarts and is shared by every web dyno, so a page is rendered once
per data version, not once per process. It holds bodies gzipped
(``bench/page.py`` prints their sizes). In front of it each process keeps the
pages it served last, both plain and gzipped (``PAGE_CACHE_LOCAL_MB``, least
recently used out first), which is what lets an export be answered at nearly
the rate of a static file. Neither level can serve a stale page: the key *is*
the version. A cache that fails (Redis down, a missing table) is logged and
skipped; the page is rendered as without it.

A client that accepts gzip (``Accept-Encoding``) gets the stored gzip bytes as
they are (``Content-Encoding: gzip``; nothing is compressed per request), with
the ETag made weak as Django's ``GZipMiddleware`` does, since the two encodings
are different bytes; every answer says ``Vary: Accept-Encoding``. Only stored
pages are compressed: a ``personal`` page (a CSRF token) never is (BREACH).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, wraps
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import django
from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date

from core.models import Scrape

log = logging.getLogger(__name__)

P = ParamSpec("P")
K = TypeVar("K")
V = TypeVar("V")
# Set as a whole (no response here has one yet): patch_cache_control() would parse
# and rebuild it on every request, a tenth of a 304's time in the view.
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=600"
# Entries of old versions are never read again; the shared cache lets them
# expire (and the database cache culls them) after a day.
SHARED_TIMEOUT = 24 * 60 * 60
# Headers a stored page keeps besides its content type.
KEPT_HEADERS = ("Content-Disposition",)
# A smaller body is sent plain: gzip's 20-byte frame would outweigh the gain
# (Django's GZipMiddleware draws the same line).
GZIP_MIN_BYTES = 200
WEB_ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DataVersion:
    """The newest scrape: what every page's data is as of.

    ``scrape_id`` is the highest ``Scrape`` id (it moves with every scrape, even
    one whose clock ran behind); ``finished_at`` and ``base_url`` are those of
    the newest scrape by finish time, the one the score table names. All None
    before the first scrape. ``read_at`` is when it was read: the one "now" of
    a request, for a page that shows an age.
    """

    scrape_id: int | None
    finished_at: datetime | None
    base_url: str | None
    read_at: datetime

    @property
    def token(self) -> str:
        if self.scrape_id is None or self.finished_at is None:
            return "none"
        return f"{self.scrape_id}@{self.finished_at.isoformat()}"


def data_version(using: str = DEFAULT_DB_ALIAS) -> DataVersion:
    """The data version, in one query.

    Hand-written SQL, not the ORM: every page request (every 304 too) starts
    with it, and building and compiling the same queryset each time costs many
    times more than running it.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(connection.vendor))
        row = cursor.fetchone()
    read_at = timezone.now()
    if row is None:
        return DataVersion(None, None, None, read_at)
    newest_id, finished_at, base_url = row
    return DataVersion(newest_id, aware(finished_at), base_url, read_at)


def aware(value: datetime | str | None) -> datetime | None:
    """A datetime column read by hand-written SQL, as the ORM would give it."""
    if isinstance(value, str):  # SQLite hands datetimes back as text, in UTC
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


class RecentReads(Generic[K, V]):
    """What reads from the database gave, reused by this process for up to
    ``DATA_VERSION_MAX_AGE`` seconds (0: read every time).

    So a busy process answers most requests (304s above all) without asking
    the database anything, and a write shows on its pages at most that long (1
    s by default) after it committed -- the pages' max-age is 60 s anyway. A
    clock that went back means a fresh read. At most ``size`` keys, the least
    recently used out first; entries are replaced, never mutated, so threads
    may share them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, tuple[datetime, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, read: Callable[[K], V]) -> V:
        max_age = settings.DATA_VERSION_MAX_AGE
        now = timezone.now()  # before the read: an entry is never younger than its data
        if max_age > 0:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
            if entry is not None and 0 <= (now - entry[0]).total_seconds() < max_age:
                return entry[1]
        value = read(key)
        if max_age > 0:
            with self._lock:
                self._entries[key] = (now, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_all_recent_reads: list[RecentReads[Any, Any]] = []


def recent_reads(size: int) -> RecentReads[Any, Any]:
    """A new ``RecentReads``, emptied with the others by ``forget_recent_reads``."""
    reads: RecentReads[Any, Any] = RecentReads(size)
    _all_recent_reads.append(reads)
    return reads


def forget_recent_reads() -> None:
    """Empty every ``RecentReads`` of this process (tests: a rolled back test's ids come back)."""
    for reads in _all_recent_reads:
        reads.clear()


# The last data version each database alias gave this process.
_versions: RecentReads[str, DataVersion] = recent_reads(size=8)


def current_version(using: str = DEFAULT_DB_ALIAS) -> DataVersion:
    """The data version, read at most once every ``DATA_VERSION_MAX_AGE`` seconds."""
    return _versions.get(using, data_version)


@cache
def _version_sql(vendor: str) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    table = quote(Scrape._meta.db_table)
    pk, finished_at, base_url = (quote(f) for f in ("id", "finished_at", "base_url"))
    # MAX(id) is read off the primary key; the newest finish sorts the (small)
    # table of scrapes, one row a day.
    return (
        f"SELECT (SELECT MAX({pk}) FROM {table}), {finished_at}, {base_url} "  # noqa: S608
        f"FROM {table} ORDER BY {finished_at} DESC, {pk} DESC LIMIT 1"
    )


def code_version() -> str:
    """A digest of everything besides the data that shapes a page's bytes.

    The web package's code, templates and static files (their hashed names
    are in the pages), Django's version and the settings the pages print, so
    a deploy that changes any of them changes every ETag and cache key:
    clients and the shared cache never get a page of the old code as new.
    Computed once per process; with DEBUG on, on every call, so a template
    edited under ``runserver`` (which reloads only for Python files) shows at
    once.
    """
    if settings.DEBUG:
        return _digest()
    return _cached_digest()


def _digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(WEB_ROOT.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".html", ".css", ".svg", ".js"}:
            digest.update(path.relative_to(WEB_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    shown = [django.__version__, settings.SPOJ_BASE_URL, settings.TIME_ZONE, settings.STATIC_URL]
    digest.update(json.dumps(shown).encode())
    return digest.hexdigest()[:16]


_cached_digest = cache(_digest)


# The settings code_version() reads, if changed at run time (only tests do).
_SHOWN_SETTINGS = frozenset({"SPOJ_BASE_URL", "TIME_ZONE", "STATIC_URL"})


def _forget_code_version(setting: str, **kwargs: Any) -> None:
    if setting in _SHOWN_SETTINGS:
        _cached_digest.cache_clear()


setting_changed.connect(_forget_code_version, dispatch_uid="core.web.caching")


def page_etag(name: str, params: Mapping[str, Any], version: DataVersion) -> str:
    """The quoted strong ETag of page ``name`` with ``params`` at ``version``."""
    identity = json.dumps(
        [name, params, version.token, code_version()], sort_keys=True, default=str
    )
    return '"' + hashlib.sha256(identity.encode()).hexdigest()[:32] + '"'


def accepts_gzip(request: HttpRequest) -> bool:
    """Whether ``Accept-Encoding`` takes gzip: named (or ``x-gzip``, or ``*`` when
    gzip is not named) with a quality above 0."""
    header = request.META.get("HTTP_ACCEPT_ENCODING", "").lower()
    if "gzip" not in header and "*" not in header:
        return False
    qualities: dict[str, float] = {}
    for part in header.split(","):
        coding, _, parameters = part.partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        qualities[coding.strip()] = quality
    for coding in ("gzip", "x-gzip", "*"):
        if coding in qualities:
            return qualities[coding] > 0
    return False


def gzipped(body: bytes) -> bytes:
    """``body`` gzipped the same way every time (no timestamp in the header)."""
    return gzip.compress(body, compresslevel=6, mtime=0)


@dataclass(frozen=True)
class StoredPage:
    """A rendered 200: what a cached answer is rebuilt from, plain and gzipped."""

    content_type: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    gzip_body: bytes

    @classmethod
    def of(cls, response: HttpResponse) -> StoredPage:
        headers = tuple(
            (name, response[name]) for name in KEPT_HEADERS if response.has_header(name)
        )
        body = response.content
        return cls(response["Content-Type"], headers, body, gzipped(body))

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzip_body)

    def response(self, gzip: bool = False) -> HttpResponse:
        if gzip and len(self.body) >= GZIP_MIN_BYTES:
            response = HttpResponse(self.gzip_body, content_type=self.content_type)
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(self.body, content_type=self.content_type)
        for name, value in self.headers:
            response[name] = value
        return response

    def packed(self) -> tuple[str, tuple[tuple[str, str], ...], bytes]:
        return (self.content_type, self.headers, self.gzip_body)

    @classmethod
    def unpacked(cls, value: Any) -> StoredPage:
        content_type, headers, gzip_body = value
        return cls(content_type, tuple(headers), gzip.decompress(gzip_body), gzip_body)


class LocalPages:
    """This process's most recently used pages, at most ``limit`` bytes of bodies."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._pages: OrderedDict[str, StoredPage] = OrderedDict()
        # gunicorn's gthread workers serve several requests at once.
        self._lock = threading.Lock()

    def get(self, key: str) -> StoredPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: str, page: StoredPage) -> None:
        if page.size > self.limit:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self.size -= old.size
            self._pages[key] = page
            self.size += page.size
            while self.size > self.limit:
                _, dropped = self._pages.popitem(last=False)
                self.size -= dropped.size

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._pages)


local_pages = LocalPages(settings.PAGE_CACHE_LOCAL_MB * 1024 * 1024)


def _shared_key(etag: str) -> str:
    return "page:" + etag.strip('"')


def fetch(etag: str) -> StoredPage | None:
    """The page stored under ``etag``: this process's copy, else the shared cache's."""
    page = local_pages.get(etag)
    if page is not None:
        return page
    try:
        value = caches["default"].get(_shared_key(etag))
    except Exception:  # the cache is an optimisation: a failing one is skipped
        log.warning("page cache: reading %s failed", etag, exc_info=True)
        return None
    if value is None:
        return None
    try:
        page = StoredPage.unpacked(value)
    except (ValueError, TypeError, EOFError, OSError, zlib.error):
        log.warning("page cache: unreadable entry %s ignored", etag)
        return None
    local_pages.put(etag, page)
    return page


def store(etag: str, page: StoredPage) -> None:
    local_pages.put(etag, page)
    try:
        caches["default"].set(_shared_key(etag), page.packed(), SHARED_TIMEOUT)
    except Exception:
        log.warning("page cache: writing %s failed", etag, exc_info=True)


def personal(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Whether a rendered page belongs to its visitor: it used the session (the
    logged-in user reads it), a CSRF token (a form), or sets a cookie. Such a
    page is neither stored nor marked public -- one visitor's token must never
    be served to another -- though it is still answered conditionally. The
    middleware that adds ``Vary: Cookie`` and the CSRF cookie runs after the
    view, so the request is asked what it was used for."""
    session = getattr(request, "session", None)
    return bool(
        response.cookies
        or "cookie" in response.get("Vary", "").lower()
        or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        or getattr(session, "accessed", False)
    )


Params = Callable[Concatenate[HttpRequest, DataVersion, ...], Mapping[str, Any]]
Modified = Callable[[DataVersion, Mapping[str, Any]], datetime | None]


def _finished_at(version: DataVersion, params: Mapping[str, Any]) -> datetime | None:
    return version.finished_at


def cached_page(
    name: str, params: Params, *, modified: Modified = _finished_at
) -> Callable[
    [Callable[Concatenate[HttpRequest, DataVersion, P], HttpResponse]],
    Callable[Concatenate[HttpRequest, P], HttpResponseBase],
]:
    """Make ``render(request, version, ...)`` a view that answers conditional
    requests and serves from the page cache.

    ``params(request, version, ...)`` returns everything besides the data
    version that the page depends on, normalised (parsed parameters, not the raw
    query string, so ``?q=a&junk=1`` and ``?q=a`` are one page). ``modified``
    gives its ``Last-Modified`` (default: the newest scrape's finish). Only 200s
    are stored and only 200s and 304s are marked cacheable; anything else
    ``render`` returns (a 404, a page that is ``personal``) goes out as it is,
    and so does everything before the first scrape.
    """

    def decorator(
        render: Callable[Concatenate[HttpRequest, DataVersion, P], HttpResponse],
    ) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
        @wraps(render)
        def view(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            version = current_version()
            if version.scrape_id is None:
                # Before the first scrape there is nothing worth keeping, and an
                # empty table must not outlive the scrape that fills it in a CDN.
                return render(request, version, *args, **kwargs)
            key = params(request, version, *args, **kwargs)
            etag = page_etag(name, key, version)
            wants_gzip = accepts_gzip(request)
            # The gzipped bytes are another representation: a weak ETag (which
            # If-None-Match still matches, comparing weakly).
            served_etag = "W/" + etag if wants_gzip else etag
            changed = modified(version, key)
            last_modified = int(changed.timestamp()) if changed else None
            response: HttpResponseBase | None = get_conditional_response(
                request, etag=served_etag, last_modified=last_modified
            )
            if response is None:
                page = fetch(etag)
                if page is None:
                    rendered = render(request, version, *args, **kwargs)
                    if rendered.status_code != 200 or personal(request, rendered):
                        return rendered
                    page = StoredPage.of(rendered)
                    store(etag, page)
                response = page.response(wants_gzip)
            if response.status_code in (200, 304):
                response["ETag"] = served_etag
                response["Vary"] = "Accept-Encoding"  # set whole, as Cache-Control
                if last_modified is not None:
                    response["Last-Modified"] = http_date(last_modified)
                response["Cache-Control"] = CACHE_CONTROL
            return response

        return view

    return decorator
