"""The one place that talks HTTP to SPOJ.

One ``requests.Session`` (keep-alive), a descriptive User-Agent, connect/read
timeouts, retries with exponential backoff on connection errors, read
timeouts, 429 (honouring ``Retry-After``) and 5xx, done by urllib3's ``Retry``
on the session's adapter, and a politeness delay between requests. Every
failure leaves as a ``SpojError`` naming the URL, the HTTP status (when there
was a response) and a short snippet of the body.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

USER_AGENT = "spojscore/0.1 (+https://github.com/spojscore/spojscore; periodic score table)"
# (connect, read) seconds: SPOJ can be slow to render a page, but not this slow.
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_RETRIES = 4
# Waits 0, 2, 4, 8 s between attempts (urllib3: factor * 2**(n-1), none before the first retry).
DEFAULT_BACKOFF = 1.0
# A Retry-After longer than this is cut short: a nightly task should not sleep for hours.
RETRY_AFTER_MAX = 120
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SNIPPET_LENGTH = 160

_TAG = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_CONNECTION_PREFIX = re.compile(r"^\w*Connection(?:Pool)?\([^)]*\): ")


class SpojError(Exception):
    """SPOJ could not be read: the URL, the HTTP status (None: no response) and a body snippet."""

    def __init__(
        self, message: str, url: str, status: int | None = None, snippet: str = ""
    ) -> None:
        self.message = message
        self.url = url
        self.status = status
        self.snippet = snippet
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        snippet = f": {self.snippet!r}" if self.snippet else ""
        return f"{self.url}{status}: {self.message}{snippet}"


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    text: str

    @property
    def snippet(self) -> str:
        return snippet(self.text)


def snippet(text: str, length: int = SNIPPET_LENGTH) -> str:
    """The start of a page's visible text, on one line, for error messages."""
    words = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    return words if len(words) <= length else words[: length - 1] + "…"


class SpojClient:
    """Fetches pages from SPOJ, politely, one at a time."""

    def __init__(
        self,
        delay: float = 1.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must not be negative")
        self.delay = delay
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        retry = Retry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods={"GET"},
            respect_retry_after_header=True,
            retry_after_max=RETRY_AFTER_MAX,
            # After the last retry hand back the failing response, so the error
            # can quote its status and body.
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._next_request_at = 0.0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SpojClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_turn(self) -> None:
        """Sleep so that request starts are at least ``delay`` seconds apart."""
        now = time.monotonic()
        start = max(now, self._next_request_at)
        self._next_request_at = start + self.delay
        if start > now:
            time.sleep(start - now)

    def get(self, url: str) -> Page:
        """The page at ``url`` with status 200, its bytes decoded as UTF-8.

        SPOJ's pages have declared other charsets (iso-8859-2 in 2014) while
        sending UTF-8, so neither the header nor the meta tag is trusted.
        Raises ``SpojError`` for anything else, after the retries.
        """
        self._wait_turn()
        try:
            response = self.session.get(url, timeout=self.timeout)
            body = response.content
        except requests.RequestException as exc:
            raise SpojError(self._describe(exc), url) from exc
        text = body.decode("utf-8", errors="replace")
        if response.status_code != 200:
            retried = response.status_code in RETRY_STATUSES
            message = f"still failing after {_retries(self.retries)}" if retried else "bad status"
            raise SpojError(message, url, response.status_code, snippet(text))
        return Page(url=url, status=response.status_code, text=text)

    def _describe(self, exc: requests.RequestException) -> str:
        """One line for a transport failure, without urllib3's nested reprs."""
        reason: object = exc
        if exc.args and isinstance(exc.args[0], MaxRetryError):
            reason = exc.args[0].reason
            prefix = f"no answer after {_retries(self.retries)}: "
        else:
            prefix = ""
        # Drop urllib3's "HTTPConnection(host='...', port=...): " prefix: the URL says it.
        text = _CONNECTION_PREFIX.sub("", str(reason))
        if "Read timed out" in text:
            text = f"read timed out ({self.timeout[1]:g} s)"
        elif "timed out" in text and "connect" in text.lower():
            text = f"connect timed out ({self.timeout[0]:g} s)"
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text:
            text = "connection closed before the whole page arrived"
        return prefix + text


def _retries(count: int) -> str:
    return "1 retry" if count == 1 else f"{count} retries"


def client_from_settings(delay: float | None = None) -> SpojClient:
    """A client with the project's settings: ``SPOJ_REQUEST_DELAY`` unless ``delay`` is given.

    ``SPOJ_TIMEOUT``, ``SPOJ_RETRIES`` and ``SPOJ_BACKOFF`` are test and operator
    knobs, not documented settings.
    """
    from django.conf import settings

    return SpojClient(
        delay=settings.SPOJ_REQUEST_DELAY if delay is None else delay,
        timeout=getattr(settings, "SPOJ_TIMEOUT", DEFAULT_TIMEOUT),
        retries=getattr(settings, "SPOJ_RETRIES", DEFAULT_RETRIES),
        backoff=getattr(settings, "SPOJ_BACKOFF", DEFAULT_BACKOFF),
    )
