"""A local mirror of data.binance.vision for tests: a real HTTP server on 127.0.0.1 with fault injection.

The mirror serves a folder laid out like data.binance.vision (``data/spot/daily/trades/BTCUSDT/...zip`` and
``.zip.CHECKSUM``), built from :func:`daap.sources.synthetic.write_binance_files`. It speaks HTTP/1.1 with
``Content-Length``, ``Accept-Ranges``, ``ETag``/``Last-Modified``, single ``Range`` requests (206 with
``Content-Range``, 416 when unsatisfiable) and ``If-Range``. Faults are set per path (the path relative to the mirror
root, e.g. ``mirror.zips[0]``) and apply to GET requests:

* ``cut_after(path, nbytes, times=1, reset=False)``: send the full headers, then close (or reset) after ``nbytes``
  body bytes;
* ``fail_status(path, status, times=1)``: answer ``status`` (e.g. 503) instead;
* ``ignore_range(path)``: always answer 200 with the whole body;
* ``stall_after(path, nbytes, seconds, times=1)``: send ``nbytes`` then go silent (for client timeouts);
* ``delay(path, seconds)`` / ``latency``: wait before answering (for concurrency tests).

Every request is recorded (method, path, Range, If-Range, status) in ``mirror.requests``; ``max_concurrent`` is the
largest number of requests served at once. Content helpers: ``corrupt_checksum``, ``set_checksum``, ``truncate`` (the
server keeps advertising the original length, and every response is cut where the data ends) and ``replace`` (new
content under the same name, with a matching CHECKSUM).

Use the ``binance_mirror`` fixture (import it into a test module, or list this module in ``pytest_plugins``) or
``with BinanceMirror(root) as mirror: ...``.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import hashlib
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from daap.sources.synthetic import SyntheticConfig, write_binance_files

#: What the default mirror holds: 3 spot days and 1 USD-M futures day of BTCUSDT, 3000 trades each.
SYMBOL = "BTCUSDT"
SPOT_START = datetime.date(2025, 5, 1)
SPOT_DAYS = 3
UM_START = datetime.date(2025, 5, 1)
TRADES_PER_DAY = 3_000
_PREFIX = {"spot": "data/spot", "um": "data/futures/um"}
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")
_KEY_RE = re.compile(r"(?:^|/)(?P<symbol>[A-Z0-9]+)-trades-(?P<date>\d{4}-\d{2}-\d{2})\.zip$")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the mirror received."""

    method: str
    path: str
    range: str | None
    if_range: str | None
    status: int


@dataclass
class _Countdown:
    times: int
    args: tuple[Any, ...]


def _daily_key(market: str, symbol: str, day: datetime.date) -> str:
    return f"{_PREFIX[market]}/daily/trades/{symbol}/{symbol}-trades-{day.isoformat()}.zip"


def build_tree(root: Path, *, seed: int = 0, trades_per_day: int = TRADES_PER_DAY) -> list[str]:
    """Write the default mirror content under ``root``; return the zip paths (relative to ``root``)."""
    keys: list[str] = []
    for market, start, days in (("spot", SPOT_START, SPOT_DAYS), ("um", UM_START, 1)):
        with tempfile.TemporaryDirectory() as tmp:
            config = SyntheticConfig(
                symbol=SYMBOL, start=start, days=days, trades_per_day=trades_per_day, market=market, seed=seed
            )
            for zip_path in write_binance_files(tmp, config):
                day = datetime.date.fromisoformat(zip_path.name.removesuffix(".zip").rsplit("-trades-", 1)[1])
                key = _daily_key(market, SYMBOL, day)
                target = root / key
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(zip_path, target)
                shutil.move(
                    zip_path.with_name(zip_path.name + ".CHECKSUM"), target.with_name(target.name + ".CHECKSUM")
                )
                keys.append(key)
    return keys


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mirror: BinanceMirror) -> None:
        self.mirror = mirror
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away (or we cut it off on purpose)
            return
        self.mirror.errors.append(repr(exc))
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        mirror = self.server.mirror
        key = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        with mirror._in_flight():
            self._respond(mirror, key, body=body)

    def _simple(self, mirror: BinanceMirror, key: str, status: int, headers: dict[str, str] | None = None) -> None:
        mirror._record(self.command, key, self.headers, status)
        payload = f"{status} {self.responses.get(status, ('',))[0]}\n".encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _respond(self, mirror: BinanceMirror, key: str, *, body: bool) -> None:
        with mirror._lock:
            latency = mirror.latency + mirror._delays.get(key, 0.0)
        if latency:
            time.sleep(latency)
        if body:
            status_fault = mirror._take("status", key)
            if status_fault is not None:
                status, retry_after = status_fault
                self._simple(
                    mirror, key, status, {"Retry-After": str(retry_after)} if retry_after is not None else None
                )
                return
        path = mirror.file(key)
        if path is None:
            self._simple(mirror, key, 404)
            return
        data = path.read_bytes()
        with mirror._lock:
            advertised = mirror._advertised.get(key, len(data))
            ignore_range = key in mirror._ignore_range
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        start, end, status = 0, advertised - 1, 200
        requested = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        match = _RANGE_RE.match(requested.strip()) if requested else None
        if match and not ignore_range and (if_range is None or if_range == etag) and match.group(0) != "bytes=-":
            first, last = match.group(1), match.group(2)
            if first:
                start = int(first)
                end = min(int(last), advertised - 1) if last else advertised - 1
            else:  # suffix range: the last N bytes
                start = max(0, advertised - int(last))
            if start >= advertised or end < start:
                self._simple(mirror, key, 416, {"Content-Range": f"bytes */{advertised}"})
                return
            status = 206
        length = end - start + 1
        mirror._record(self.command, key, self.headers, status)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if key.endswith(".CHECKSUM") else "application/zip")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(path.stat().st_mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{advertised}")
        self.end_headers()
        if not body:
            return
        payload = data[start : end + 1]
        cut = mirror._take("cut", key)
        stall = mirror._take("stall", key)
        if cut is not None:
            nbytes, reset = cut
            self.wfile.write(payload[:nbytes])
            self._abort(reset=reset)
        elif stall is not None:
            nbytes, seconds = stall
            self.wfile.write(payload[:nbytes])
            mirror._stop.wait(seconds)
            self._abort(reset=False)
        else:
            self.wfile.write(payload)
            if len(payload) < length:  # a truncated file still advertised at full length
                self._abort(reset=False)

    def _abort(self, *, reset: bool) -> None:
        """End the connection mid-body: a clean close (EOF) or a TCP reset."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class BinanceMirror:
    """A running local mirror of ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.latency = 0.0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._faults: dict[tuple[str, str], list[_Countdown]] = {}
        self._ignore_range: set[str] = set()
        self._advertised: dict[str, int] = {}
        self._delays: dict[str, float] = {}
        self._active = 0
        self.max_concurrent = 0
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="binance-mirror", daemon=True
        )
        self._thread.start()

    # lifecycle
    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BinanceMirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # content
    @property
    def zips(self) -> list[str]:
        """The zip files served, relative to the root, sorted (spot days first, then futures)."""
        keys = [p.relative_to(self.root).as_posix() for p in self.root.rglob("*.zip")]
        return sorted(keys, key=lambda k: (not k.startswith("data/spot/"), k))

    def url(self, path: str) -> str:
        return f"{self.base_url}/{urllib.parse.quote(path.lstrip('/'))}"

    def file(self, path: str) -> Path | None:
        """The served file for a path, or None (also for paths escaping the root)."""
        candidate = (self.root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def sha256(self, path: str) -> str:
        return hashlib.sha256((self.root / path).read_bytes()).hexdigest()

    def checksum_text(self, path: str) -> str:
        return (self.root / (path + ".CHECKSUM")).read_text()

    def set_checksum(self, path: str, text: str) -> None:
        (self.root / (path + ".CHECKSUM")).write_text(text)

    def corrupt_checksum(self, path: str) -> str:
        """Put a well-formed but wrong digest in the path's CHECKSUM; return that digest."""
        wrong = hashlib.sha256(b"not the file " + path.encode()).hexdigest()
        self.set_checksum(path, f"{wrong}  {Path(path).name}\n")
        return wrong

    def truncate(self, path: str, keep: int) -> int:
        """Cut the file to ``keep`` bytes while the server keeps advertising its original size; return that size."""
        target = self.root / path
        data = target.read_bytes()
        with self._lock:
            self._advertised[path] = len(data)
        target.write_bytes(data[:keep])
        return len(data)

    def replace(self, path: str, *, seed: int) -> str:
        """Regenerate the file with another seed (same name, new content, matching CHECKSUM); return its sha256."""
        match = _KEY_RE.search(path)
        if match is None:
            raise ValueError(f"not a daily trades zip: {path}")
        market = "um" if path.startswith("data/futures/um/") else "spot"
        config = SyntheticConfig(
            symbol=match["symbol"],
            start=datetime.date.fromisoformat(match["date"]),
            days=1,
            trades_per_day=TRADES_PER_DAY,
            market=market,
            seed=seed,
        )
        with tempfile.TemporaryDirectory() as tmp:
            (zip_path,) = write_binance_files(tmp, config)
            target = self.root / path
            shutil.move(zip_path, target)
            shutil.move(zip_path.with_name(zip_path.name + ".CHECKSUM"), target.with_name(target.name + ".CHECKSUM"))
        with self._lock:
            self._advertised.pop(path, None)
        return self.sha256(path)

    # faults
    def _add(self, kind: str, path: str, times: int, *args: Any) -> None:
        with self._lock:
            self._faults.setdefault((kind, path.lstrip("/")), []).append(_Countdown(times, args))

    def _take(self, kind: str, path: str) -> tuple[Any, ...] | None:
        with self._lock:
            queue = self._faults.get((kind, path), [])
            while queue and queue[0].times <= 0:
                queue.pop(0)
            if not queue:
                return None
            queue[0].times -= 1
            return queue[0].args

    def cut_after(self, path: str, nbytes: int, times: int = 1, *, reset: bool = False) -> None:
        self._add("cut", path, times, nbytes, reset)

    def fail_status(self, path: str, status: int, times: int = 1, *, retry_after: int | None = None) -> None:
        self._add("status", path, times, status, retry_after)

    def stall_after(self, path: str, nbytes: int, seconds: float, times: int = 1) -> None:
        self._add("stall", path, times, nbytes, seconds)

    def ignore_range(self, path: str, on: bool = True) -> None:
        with self._lock:
            (self._ignore_range.add if on else self._ignore_range.discard)(path.lstrip("/"))

    def delay(self, path: str, seconds: float) -> None:
        with self._lock:
            self._delays[path.lstrip("/")] = seconds

    # recording
    def _record(self, method: str, path: str, headers: Any, status: int) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers.get("Range"), headers.get("If-Range"), status))

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._lock:
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str, method: str = "GET") -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path.lstrip("/") and r.method == method]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self.max_concurrent = self._active


_SOURCE: dict[str, Path] = {}


def _source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated mirror content, built once per test session and copied for each mirror."""
    if "tree" not in _SOURCE:
        root = tmp_path_factory.mktemp("binance-source")
        build_tree(root)
        _SOURCE["tree"] = root
    return _SOURCE["tree"]


@pytest.fixture
def binance_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinanceMirror]:
    """A fresh mirror (its own copy of the content, no faults) for one test."""
    root = tmp_path_factory.mktemp("binance-mirror")
    shutil.copytree(_source_tree(tmp_path_factory), root, dirs_exist_ok=True)
    mirror = BinanceMirror(root)
    try:
        yield mirror
    finally:
        mirror.close()
    assert not mirror.errors, f"the mirror's request handler failed: {mirror.errors}"
