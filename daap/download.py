"""Download Binance public data (``data.binance.vision``): resumable, retried and checksum-verified.

Only the standard library is used (``urllib.request``). A download streams into ``<dest>.part``; a dropped connection,
a short read, a timeout, a 408/429 or a 5xx is retried with capped exponential backoff and jitter, and the retry
resumes from the bytes already in ``.part`` with an HTTP ``Range`` request. Only a complete (and, when a sha256 is
given, verified) file is renamed to ``dest``, so nothing half-written ever appears under the final name.

``http://``, ``https://`` and ``file://`` URLs are accepted (``file://`` serves local mirrors and the examples).

Examples:
    >>> import datetime
    >>> binance_path("BTCUSDT", market="spot", date=datetime.date(2025, 1, 1))
    'data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip'
    >>> binance_url("BTCUSDT", market="um", month="2025-01", base_url="https://mirror.example/")
    'https://mirror.example/data/futures/um/monthly/trades/BTCUSDT/BTCUSDT-trades-2025-01.zip'
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import io
import os
import random
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from daap import __version__ as _daap_version
from daap.errors import DaapError
from daap.errors import InputFormatError as _InputFormatError
from daap.sources.binance import parse_checksum
from daap.storage import sha256_of

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "KINDS",
    "KLINE_INTERVALS",
    "ChecksumMismatchError",
    "DownloadError",
    "DownloadNotFoundError",
    "DownloadResult",
    "Kind",
    "Market",
    "Progress",
    "binance_path",
    "binance_url",
    "download",
    "download_many",
    "download_verified",
    "fetch_text",
    "part_path",
    "resolve_base_url",
]

Market = Literal["spot", "um"]
Kind = Literal["trades", "aggTrades", "klines"]
#: ``progress(bytes_done, total_bytes_or_None)``, called after every chunk written (``bytes_done`` counts resumed
#: bytes too, and falls back to 0 when a server forces a restart).
Progress = Callable[[int, "int | None"], None]

DEFAULT_BASE_URL = "https://data.binance.vision"
#: Environment variable that overrides :data:`DEFAULT_BASE_URL` (an explicit ``base_url`` argument wins over both).
BASE_URL_ENV = "DAAP_BINANCE_BASE_URL"

#: Data kinds with a path layout, and whether each needs an ``interval``.
KINDS: Mapping[str, bool] = {"trades": False, "aggTrades": False, "klines": True}
#: Kline intervals Binance publishes (``1s`` on spot only).
KLINE_INTERVALS = frozenset(
    {"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1mo"}
)
_MARKET_PREFIX: Mapping[str, str] = {"spot": "data/spot", "um": "data/futures/um"}
_MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_BAD_SYMBOL_RE = re.compile(r"[\s/\\?#%]")
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)\s*$", re.IGNORECASE)
_USER_AGENT = f"daap/{_daap_version} python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"
_CHUNK = 1 << 16
_MAX_TEXT = 1 << 20


# --------------------------------------------------------------------------------------------------------------- errors
class DownloadError(DaapError):
    """A download failed: the message names the URL, the attempts made and the last cause.

    Attributes:
        url: what was requested.
        attempts: HTTP requests made (0 when none was).
        status: the HTTP status of the final failure, when there was one.
        transient: True when retries ran out on failures that may pass (connection lost, timeout, 5xx, 429): a
            later run may succeed, and resumes from the ``.part`` file left behind.

    Examples:
        >>> e = DownloadError("https://x/y.zip: HTTP 403", "https://x/y.zip", attempts=1, status=403)
        >>> str(e), e.transient
        ('https://x/y.zip: HTTP 403', False)
    """

    def __init__(
        self, message: str, url: str, attempts: int = 0, status: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts
        self.status = status
        self.transient = transient

    def __reduce__(self) -> tuple[type[DownloadError], tuple[object, ...]]:
        return type(self), (str(self), self.url, self.attempts, self.status, self.transient)


class DownloadNotFoundError(DownloadError):
    """The server has no such file (HTTP 404 or 410). Never retried.

    Examples:
        >>> issubclass(DownloadNotFoundError, DaapError)
        True
    """


class ChecksumMismatchError(DownloadError):
    """A file does not match its ``.CHECKSUM``: wrong sha256, or a CHECKSUM naming another file.

    Attributes:
        path: the file that failed (it has been deleted), or None when no file was downloaded.
        expected: the sha256 (or file name) the CHECKSUM says.
        actual: the sha256 (or file name) found.

    Examples:
        >>> e = ChecksumMismatchError("bad", "https://x/a.zip", path=None, expected="ab", actual="cd")
        >>> (e.expected, e.actual, isinstance(e, DownloadError))
        ('ab', 'cd', True)
    """

    def __init__(
        self,
        message: str,
        url: str,
        attempts: int = 0,
        status: int | None = None,
        transient: bool = False,
        path: Path | None = None,
        expected: str = "",
        actual: str = "",
    ) -> None:
        super().__init__(message, url, attempts, status, transient)
        self.path = path
        self.expected = expected
        self.actual = actual

    def __reduce__(self) -> tuple[type[DownloadError], tuple[object, ...]]:
        return type(self), (
            str(self),
            self.url,
            self.attempts,
            self.status,
            self.transient,
            self.path,
            self.expected,
            self.actual,
        )


# -------------------------------------------------------------------------------------------------------------- layout
def binance_path(
    symbol: str,
    *,
    market: Market,
    kind: Kind = "trades",
    date: datetime.date | None = None,
    month: str | None = None,
    interval: str | None = None,
) -> str:
    """The path of a Binance public-data file, relative to the base URL.

    Args:
        symbol: upper-case symbol, e.g. ``"BTCUSDT"``.
        market: ``"spot"`` or ``"um"`` (USD-M futures).
        kind: ``"trades"``, ``"aggTrades"`` or ``"klines"`` (klines need ``interval``).
        date: the day of a daily file. Give exactly one of ``date`` and ``month``.
        month: ``"YYYY-MM"``, the month of a monthly file.
        interval: kline interval (``"1m"``, ``"1h"``, ``"1mo"``...), only for ``kind="klines"``.

    Raises:
        ValueError: an unknown market, kind or interval, both or neither of date/month, a month not ``YYYY-MM``.

    Examples:
        >>> binance_path("BTCUSDT", market="um", date=datetime.date(2025, 1, 1))
        'data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip'
        >>> binance_path("BTCUSDT", market="spot", kind="aggTrades", month="2025-01")
        'data/spot/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-01.zip'
        >>> binance_path("BTCUSDT", market="spot", kind="klines", interval="1m", date=datetime.date(2025, 1, 1))
        'data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-01.zip'
        >>> binance_path("BTCUSDT", market="spot", month="2025-13")
        Traceback (most recent call last):
        ...
        ValueError: month must be 'YYYY-MM' with a month 01-12 (e.g. '2025-01'), got '2025-13'
    """
    if not isinstance(symbol, str) or not symbol or _BAD_SYMBOL_RE.search(symbol) or symbol in (".", ".."):
        raise ValueError(f"symbol must be a Binance symbol such as 'BTCUSDT', got {symbol!r}")
    if symbol != symbol.upper():
        raise ValueError(f"Binance symbols are upper-case: use {symbol.upper()!r}, not {symbol!r}")
    prefix = _MARKET_PREFIX.get(market)
    if prefix is None:
        raise ValueError(f"market must be one of {sorted(_MARKET_PREFIX)}, got {market!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if (date is None) == (month is None):
        given = "both" if date is not None else "neither"
        raise ValueError(f"give exactly one of date= (a daily file) or month= (a monthly file, 'YYYY-MM'), got {given}")
    if date is not None:
        if isinstance(date, datetime.datetime) or not isinstance(date, datetime.date):
            raise ValueError(f"date must be a datetime.date (not a datetime or a string), got {date!r}")
        period, stamp = "daily", date.isoformat()
    else:
        if not isinstance(month, str) or not _MONTH_RE.fullmatch(month):
            raise ValueError(f"month must be 'YYYY-MM' with a month 01-12 (e.g. '2025-01'), got {month!r}")
        period, stamp = "monthly", month
    if KINDS[kind]:
        if interval is None:
            raise ValueError(f"{kind} need interval=, one of {sorted(KLINE_INTERVALS)}")
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"interval must be one of {sorted(KLINE_INTERVALS)}, got {interval!r}")
        if interval == "1s" and market != "spot":
            raise ValueError("1s klines exist on spot only")
        return f"{prefix}/{period}/{kind}/{symbol}/{interval}/{symbol}-{interval}-{stamp}.zip"
    if interval is not None:
        raise ValueError(f"interval= applies to klines only, not to {kind}")
    return f"{prefix}/{period}/{kind}/{symbol}/{symbol}-{kind}-{stamp}.zip"


def resolve_base_url(base_url: str | None = None) -> str:
    """The base URL to download from: ``base_url``, else ``$DAAP_BINANCE_BASE_URL``, else :data:`DEFAULT_BASE_URL`.

    Raises:
        ValueError: a URL that is not ``http(s)://host...`` or ``file://...``.

    Examples:
        >>> resolve_base_url("http://127.0.0.1:8000/")
        'http://127.0.0.1:8000'
    """
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise ValueError(f"base URL must be http(s)://host[/prefix] or file:///path, got {url!r}")
    return url.rstrip("/")


def binance_url(
    symbol: str,
    *,
    market: Market,
    kind: Kind = "trades",
    date: datetime.date | None = None,
    month: str | None = None,
    interval: str | None = None,
    base_url: str | None = None,
) -> str:
    """The full URL of a Binance public-data file: :func:`resolve_base_url` + :func:`binance_path` (URL-quoted).

    Examples:
        >>> binance_url("BTCUSDT", market="spot", date=datetime.date(2025, 1, 1), base_url="http://mirror")
        'http://mirror/data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip'
    """
    path = binance_path(symbol, market=market, kind=kind, date=date, month=month, interval=interval)
    return f"{resolve_base_url(base_url)}/{urllib.parse.quote(path)}"


def part_path(dest: str | os.PathLike[str]) -> Path:
    """Where :func:`download` streams ``dest`` before the atomic rename: ``dest`` + ``.part``.

    Examples:
        >>> part_path("raw/BTCUSDT-trades-2025-01-01.zip").name
        'BTCUSDT-trades-2025-01-01.zip.part'
    """
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


# ------------------------------------------------------------------------------------------------------------ transfer
@dataclass(frozen=True)
class DownloadResult:
    """What a download did.

    Attributes:
        path: the final file.
        bytes: its size.
        resumed: True when the file was completed from an earlier partial transfer with a ``Range`` request.
        attempts: HTTP requests made for the file itself (0 when ``cached``).
        url: the URL downloaded.
        cached: True when ``path`` already held the expected file and nothing was downloaded.
        sha256: the verified digest, when a checksum was checked.

    Examples:
        >>> DownloadResult(Path("a.zip"), 10, resumed=False, attempts=1, url="file:///a.zip").cached
        False
    """

    path: Path
    bytes: int
    resumed: bool
    attempts: int
    url: str = ""
    cached: bool = False
    sha256: str | None = None


class _RetryError(Exception):
    """An attempt failed in a way worth retrying."""

    def __init__(self, cause: str, *, status: int | None = None, delay: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.status = status
        self.delay = delay  # None: the usual backoff; otherwise at least this many seconds (Retry-After, 0 = now)


@dataclass
class _State:
    """What the attempts of one transfer know so far."""

    total: int | None = None  # the full size, when a server said it
    validator: str | None = None  # strong ETag or Last-Modified, sent as If-Range when resuming
    resumed: bool = False  # the data in the sink continues an earlier transfer (a 206 at an offset > 0)
    status: int | None = None
    attempts: int = 0
    causes: list[str] = field(default_factory=list)


def _size(sink: IO[bytes]) -> int:
    return sink.seek(0, io.SEEK_END)


def _reset(sink: IO[bytes], state: _State) -> None:
    sink.seek(0)
    sink.truncate(0)
    state.resumed = False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason
        return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _validator(headers: Mapping[str, str]) -> str | None:
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified")


def _attempt(
    url: str,
    sink: IO[bytes],
    state: _State,
    *,
    timeout: float,
    headers: Mapping[str, str],
    progress: Progress | None,
    chunk_size: int,
    max_bytes: int | None,
) -> None:
    """One HTTP request that appends to ``sink``. Raises :class:`_RetryError` or :class:`DownloadError` on failure."""
    offset = _size(sink)
    request_headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", **headers}
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
        if state.validator:
            request_headers["If-Range"] = state.validator
    request = urllib.request.Request(url, headers=request_headers)
    state.attempts += 1
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with exc:
            _http_error(url, exc, offset, sink, state)
        return
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, FileNotFoundError):  # file:// URLs
            raise DownloadNotFoundError(f"{url}: not found ({reason.strerror})", url, state.attempts) from exc
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise DownloadError(f"{url}: {_describe(exc)}", url, state.attempts) from exc
        raise _RetryError(_describe(exc)) from exc
    with response:
        status = response.status or 200  # file:// responses have no status
        state.status = status
        received_headers = response.headers
        length = _int_header(received_headers, "Content-Length")
        if status == 206:
            match = _CONTENT_RANGE_RE.match(received_headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                _reset(sink, state)
                raise _RetryError(
                    f"HTTP 206 with Content-Range {received_headers.get('Content-Range')!r} for a request "
                    f"from byte {offset}; restarting from byte 0",
                    delay=0.0,
                )
            total = None if match.group(3) == "*" else int(match.group(3))
            if length is None:
                length = int(match.group(2)) - offset + 1
            validator = _validator(received_headers)
            changed = (total is not None and state.total is not None and total != state.total) or (
                validator is not None and state.validator is not None and validator != state.validator
            )
            if changed:
                _reset(sink, state)
                state.total, state.validator = total, validator
                raise _RetryError(
                    "the file changed on the server during the download; restarting from byte 0", delay=0.0
                )
            state.resumed = state.resumed or offset > 0
        elif status == 200:
            if offset:
                _reset(sink, state)  # the server ignored Range (or If-Range said the file changed): start over
                offset = 0
            total = length
        else:
            raise DownloadError(f"{url}: unexpected HTTP {status}", url, state.attempts, status)
        state.total = total if total is not None else state.total
        state.validator = _validator(received_headers) or state.validator
        if max_bytes is not None and total is not None and total > max_bytes:
            raise DownloadError(f"{url}: {total} bytes, more than the {max_bytes} expected", url, state.attempts)
        got = 0
        while True:
            try:
                chunk = response.read1(chunk_size)  # what has arrived: a later timeout loses nothing
            except (OSError, http.client.HTTPException) as exc:
                raise _RetryError(
                    f"connection lost after {offset + got} of {total or '?'} bytes: {_describe(exc)}"
                ) from exc
            if not chunk:
                break
            sink.write(chunk)  # local disk errors (OSError) propagate: retrying will not fix them
            got += len(chunk)
            if max_bytes is not None and offset + got > max_bytes:
                raise DownloadError(f"{url}: more than the {max_bytes} bytes expected", url, state.attempts)
            if progress is not None:
                progress(offset + got, total)
        if (length is not None and got < length) or (total is not None and offset + got < total):
            raise _RetryError(f"short read: the connection closed after {offset + got} of {total or '?'} bytes")


def _http_error(url: str, exc: urllib.error.HTTPError, offset: int, sink: IO[bytes], state: _State) -> None:
    status = exc.code
    state.status = status
    if status in (404, 410):
        raise DownloadNotFoundError(f"{url}: not found (HTTP {status})", url, state.attempts, status)
    if status == 416 and offset:
        match = _UNSATISFIED_RANGE_RE.match(exc.headers.get("Content-Range", "") if exc.headers else "")
        total = int(match.group(1)) if match else state.total
        if total == offset:
            state.total = total
            return  # the partial file is already complete
        _reset(sink, state)
        raise _RetryError(
            f"HTTP 416: the partial file ({offset} bytes) does not fit the server's "
            f"({total if total is not None else 'unknown'} bytes); restarting from byte 0",
            status=status,
            delay=0.0,
        )
    if status in (408, 425, 429) or status >= 500:
        raise _RetryError(
            f"HTTP {status} {exc.reason}",
            status=status,
            delay=_retry_after(exc.headers.get("Retry-After") if exc.headers else None),
        )
    raise DownloadError(f"{url}: HTTP {status} {exc.reason} (not retried)", url, state.attempts, status)


def _check_policy(retries: int, backoff: float, max_backoff: float, timeout: float) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    if backoff < 0 or max_backoff < 0:
        raise ValueError(f"backoff and max_backoff must be >= 0, got {backoff!r} and {max_backoff!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"only http(s):// and file:// URLs can be downloaded, got {url!r}")


def _transfer(
    url: str,
    sink: IO[bytes],
    *,
    retries: int,
    backoff: float,
    max_backoff: float,
    timeout: float,
    headers: Mapping[str, str] | None,
    progress: Progress | None,
    chunk_size: int = _CHUNK,
    max_bytes: int | None = None,
    state: _State | None = None,
) -> _State:
    """Run attempts until the sink holds the whole body, or raise :class:`DownloadError`."""
    state = state or _State()
    failures = 0
    while True:
        try:
            _attempt(
                url,
                sink,
                state,
                timeout=timeout,
                headers=headers or {},
                progress=progress,
                chunk_size=chunk_size,
                max_bytes=max_bytes,
            )
            return state
        except _RetryError as exc:
            failures += 1
            state.causes.append(exc.cause)
            if failures > retries:
                raise DownloadError(
                    f"{url}: failed after {state.attempts} attempt(s) ({retries} retries); last error: {exc.cause}",
                    url,
                    state.attempts,
                    exc.status,
                    transient=True,
                ) from exc
            delay = min(max_backoff, backoff * 2 ** (failures - 1))
            delay = random.uniform(delay / 2, delay)  # jitter: parallel clients do not retry in lockstep
            if exc.delay is not None:
                delay = min(max_backoff, max(delay, exc.delay)) if exc.delay else 0.0
            time.sleep(delay)


def fetch_text(
    url: str,
    *,
    retries: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = _MAX_TEXT,
    encoding: str = "utf-8",
) -> str:
    """Fetch a small text file (e.g. a ``.CHECKSUM``) into memory, with :func:`download`'s retry policy.

    Raises:
        DownloadNotFoundError: HTTP 404/410.
        DownloadError: any other failure, or a body larger than ``max_bytes``.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("hello")
        >>> fetch_text(p.as_uri())
        'hello'
    """
    _check_url(url)
    _check_policy(retries, backoff, max_backoff, timeout)
    buffer = io.BytesIO()
    state = _transfer(
        url,
        buffer,
        retries=retries,
        backoff=backoff,
        max_backoff=max_backoff,
        timeout=timeout,
        headers=headers,
        progress=None,
        max_bytes=max_bytes,
    )
    try:
        return buffer.getvalue().decode(encoding)
    except UnicodeDecodeError as exc:
        raise DownloadError(f"{url}: not {encoding} text: {exc}", url, state.attempts) from exc


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    retries: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float = 60.0,
    progress: Progress | None = None,
    headers: Mapping[str, str] | None = None,
    sha256: str | None = None,
    chunk_size: int = _CHUNK,
) -> DownloadResult:
    """Download ``url`` to ``dest``: resumable, retried, atomic.

    The body streams into ``dest + ".part"`` (an existing ``.part``, e.g. from an interrupted run, is resumed). A
    dropped connection, short read, timeout, HTTP 408/429 or 5xx is retried up to ``retries`` times, sleeping
    ``backoff * 2**n`` seconds (capped at ``max_backoff``, with jitter, at least ``Retry-After``), and the retry asks
    for the missing bytes only (``Range: bytes=N-``, with ``If-Range`` so that a file changed meanwhile restarts). A
    server that answers 200 to a Range request restarts the file; a 416 means the ``.part`` is complete (when its
    size equals the server's) or bad (it is discarded). The body length is checked against ``Content-Length``.

    With ``sha256``, an existing ``dest`` with that digest is returned at once (``cached=True``) and a downloaded file
    is verified before it is renamed into place; a resumed file that fails is downloaded once more from byte 0.

    On failure nothing new appears at ``dest``: after retries run out the ``.part`` stays for a later resume; after a
    404, another 4xx or a checksum mismatch it is deleted (and so is a ``dest`` that does not match ``sha256``).

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        dest: the file to write (parent folders are created).
        retries: retries after the first attempt (so at most ``retries + 1`` requests).
        backoff: the first retry's delay in seconds; doubled on each retry.
        max_backoff: the longest delay between attempts.
        timeout: seconds to wait to connect and for each read.
        progress: ``progress(bytes_done, total_or_None)`` after each chunk.
        headers: extra request headers.
        sha256: the expected hex digest, when known.
        chunk_size: bytes per read.

    Returns:
        A :class:`DownloadResult`.

    Raises:
        DownloadNotFoundError: HTTP 404 or 410 (not retried).
        ChecksumMismatchError: the file does not match ``sha256``.
        DownloadError: another 4xx (not retried), or retries exhausted; the message names the URL, the attempts
            and the last cause.
        OSError: writing the local file failed.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "src.bin").write_bytes(b"x" * 1000)
        >>> r = download((d / "src.bin").as_uri(), d / "out" / "copy.bin")
        >>> r.bytes, r.attempts, r.resumed, (d / "out" / "copy.bin").read_bytes() == b"x" * 1000
        (1000, 1, False, True)
    """
    _check_url(url)
    _check_policy(retries, backoff, max_backoff, timeout)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    dest = Path(dest)
    expected = sha256.lower() if sha256 is not None else None
    if expected is not None and dest.is_file() and sha256_of(dest) == expected:
        return DownloadResult(
            dest, dest.stat().st_size, resumed=False, attempts=0, url=url, cached=True, sha256=expected
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    state = _State()
    digest: str | None = None

    def transfer(sink: IO[bytes]) -> None:
        _transfer(
            url,
            sink,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
            headers=headers,
            progress=progress,
            chunk_size=chunk_size,
            state=state,
        )
        sink.flush()

    try:
        with part.open("ab") as sink:
            transfer(sink)
            if expected is not None:
                digest = sha256_of(part)
                if digest != expected and state.resumed:
                    # A resumed file may mix two versions of a file replaced on the server: try once from byte 0.
                    _reset(sink, state)
                    transfer(sink)
                    digest = sha256_of(part)
            os.fsync(sink.fileno())
    except DownloadError as exc:
        if not exc.transient or _empty(part):
            part.unlink(missing_ok=True)  # a 404, another 4xx or an empty part: nothing worth resuming
        raise
    except BaseException:
        if _empty(part):
            part.unlink(missing_ok=True)
        raise
    if expected is not None and digest != expected:
        part.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{dest.name} from {url} does not match its checksum: expected sha256 {expected}, got {digest} "
            "(the file was deleted)",
            url,
            state.attempts,
            state.status,
            path=dest,
            expected=expected,
            actual=digest or "",
        )
    size = part.stat().st_size
    os.replace(part, dest)
    return DownloadResult(dest, size, resumed=state.resumed, attempts=state.attempts, url=url, sha256=digest)


def _empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return False


def download_verified(
    url: str,
    dest: str | os.PathLike[str],
    *,
    retries: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float = 60.0,
    progress: Progress | None = None,
    headers: Mapping[str, str] | None = None,
    checksum_url: str | None = None,
    save_checksum: bool = True,
) -> DownloadResult:
    r"""Download a Binance file and verify it against the server's current ``.CHECKSUM`` before returning.

    The ``.CHECKSUM`` (``url + ".CHECKSUM"`` unless ``checksum_url`` is given) is always fetched first, so a file
    replaced on the server is downloaded again; an existing ``dest`` with the current digest is returned without
    downloading (``cached=True``). With ``save_checksum``, the CHECKSUM is written next to ``dest`` (as
    ``dest.name + ".CHECKSUM"``) once the file is in place, for the ingestor to check again.

    Raises:
        ChecksumMismatchError: the CHECKSUM names another file, or the file's sha256 differs (the file is deleted;
            no ``dest`` or ``.part`` is left).
        DownloadNotFoundError: the file or its CHECKSUM does not exist on the server.
        DownloadError: a malformed CHECKSUM, or see :func:`download`.

    Examples:
        >>> import tempfile, hashlib
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "a.zip").write_bytes(b"PK data")
        >>> _ = (d / "a.zip.CHECKSUM").write_text(hashlib.sha256(b"PK data").hexdigest() + "  a.zip\n")
        >>> first = download_verified((d / "a.zip").as_uri(), d / "lake" / "a.zip")
        >>> again = download_verified((d / "a.zip").as_uri(), d / "lake" / "a.zip")
        >>> first.cached, again.cached, again.sha256 == first.sha256, (d / "lake" / "a.zip.CHECKSUM").exists()
        (False, True, True, True)
    """
    _check_url(url)
    dest = Path(dest)
    checksum_url = checksum_url or url + ".CHECKSUM"
    text = fetch_text(
        checksum_url,
        retries=retries,
        backoff=backoff,
        max_backoff=max_backoff,
        timeout=timeout,
        headers=headers,
        max_bytes=64 * 1024,
    )
    try:
        expected, name = parse_checksum(text)
    except _InputFormatError as exc:
        raise DownloadError(f"{checksum_url}: malformed CHECKSUM: {exc}", checksum_url, 1) from exc
    url_name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if name != url_name:
        raise ChecksumMismatchError(
            f"{checksum_url} is for {name!r}, not for {url_name!r}", url, path=None, expected=url_name, actual=name
        )
    sidecar = dest.with_name(dest.name + ".CHECKSUM")
    stale = save_checksum and sidecar.is_file() and sidecar.read_bytes() != text.encode("utf-8")
    if stale:
        sidecar.unlink()  # never leave a sidecar that disagrees with the file next to it
    result = download(
        url,
        dest,
        retries=retries,
        backoff=backoff,
        max_backoff=max_backoff,
        timeout=timeout,
        progress=progress,
        headers=headers,
        sha256=expected,
    )
    if save_checksum and not sidecar.is_file():
        tmp = sidecar.with_name(sidecar.name + ".part")
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, sidecar)
    return result


def download_many(
    jobs: Sequence[tuple[str, str | os.PathLike[str]]],
    *,
    max_workers: int = 4,
    verify: bool = True,
    retries: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
    on_result: Callable[[int, DownloadResult | Exception], None] | None = None,
) -> list[DownloadResult | Exception]:
    """Download several files, at most ``max_workers`` at a time.

    Each job is ``(url, dest)``, done with :func:`download_verified` (``verify=True``) or :func:`download`. One
    failure does not cancel the others: the list has one entry per job, in job order, holding either the
    :class:`DownloadResult` or the exception that job raised (check with ``isinstance(r, Exception)``).
    ``on_result(index, result_or_exception)`` is called in the calling thread as each job finishes (e.g. to advance a
    progress bar). A ``KeyboardInterrupt`` cancels the jobs not yet started.

    Raises:
        ValueError: ``max_workers < 1`` or two jobs writing the same ``dest`` (their ``.part`` files would clash).

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "a").write_bytes(b"a")
        >>> out = download_many([((d / "a").as_uri(), d / "x" / "a"), ((d / "b").as_uri(), d / "x" / "b")],
        ...                     verify=False, retries=0)
        >>> [type(r).__name__ for r in out]
        ['DownloadResult', 'DownloadNotFoundError']
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be an int >= 1, got {max_workers!r}")
    dests = [Path(dest).resolve() for _, dest in jobs]
    if len(set(dests)) != len(dests):
        duplicates = sorted({str(d) for d in dests if dests.count(d) > 1})
        raise ValueError(f"several jobs write the same file: {duplicates}")

    def fetch(url: str, dest: str | os.PathLike[str]) -> DownloadResult:
        if verify:
            return download_verified(
                url, dest, retries=retries, backoff=backoff, max_backoff=max_backoff, timeout=timeout, headers=headers
            )
        return download(
            url, dest, retries=retries, backoff=backoff, max_backoff=max_backoff, timeout=timeout, headers=headers
        )

    results: list[DownloadResult | Exception | None] = [None] * len(jobs)
    executor = ThreadPoolExecutor(max_workers=min(max_workers, max(1, len(jobs))), thread_name_prefix="daap-dl")
    try:
        futures: dict[Future[DownloadResult], int] = {
            executor.submit(fetch, url, dest): i for i, (url, dest) in enumerate(jobs)
        }
        for future in as_completed(futures):
            i = futures[future]
            try:
                outcome: DownloadResult | Exception = future.result()
            except Exception as exc:
                outcome = exc
            results[i] = outcome
            if on_result is not None:
                on_result(i, outcome)
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    return [r for r in results if r is not None]
