"""daap.download against a real local HTTP mirror (tests/http_mirror.py): no mocks, real sockets on 127.0.0.1."""

from __future__ import annotations

import datetime
import hashlib
import pickle
import re
import threading
from pathlib import Path

import pytest

from daap.download import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    ChecksumMismatchError,
    DownloadError,
    DownloadNotFoundError,
    DownloadResult,
    binance_path,
    binance_url,
    download,
    download_many,
    download_verified,
    fetch_text,
    part_path,
    resolve_base_url,
)
from daap.errors import DaapError
from tests import http_mirror
from tests.http_mirror import BinanceMirror

binance_mirror = http_mirror.binance_mirror  # the fixture

# Quick retries: the tests exercise the policy, not the wall clock.
FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0}
D = datetime.date(2025, 1, 1)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------------------- layout
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"market": "spot", "date": D}, "data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip"),
        ({"market": "spot", "month": "2025-01"}, "data/spot/monthly/trades/BTCUSDT/BTCUSDT-trades-2025-01.zip"),
        ({"market": "um", "date": D}, "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip"),
        ({"market": "um", "month": "2024-12"}, "data/futures/um/monthly/trades/BTCUSDT/BTCUSDT-trades-2024-12.zip"),
        (
            {"market": "spot", "kind": "aggTrades", "date": D},
            "data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-01-01.zip",
        ),
        (
            {"market": "um", "kind": "aggTrades", "month": "2025-01"},
            "data/futures/um/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-01.zip",
        ),
        (
            {"market": "spot", "kind": "klines", "interval": "1m", "date": D},
            "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-01.zip",
        ),
        (
            {"market": "um", "kind": "klines", "interval": "1h", "month": "2025-01"},
            "data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01.zip",
        ),
    ],
)
def test_binance_path_layouts(kwargs: dict[str, object], expected: str) -> None:
    assert binance_path("BTCUSDT", **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"market": "spot"}, "exactly one of date= .* or month=.*neither"),
        ({"market": "spot", "date": D, "month": "2025-01"}, "exactly one of date=.*both"),
        ({"market": "spot", "month": "2025-1"}, "month must be 'YYYY-MM'"),
        ({"market": "spot", "month": "2025-13"}, "month must be 'YYYY-MM'"),
        ({"market": "spot", "month": "202501"}, "month must be 'YYYY-MM'"),
        ({"market": "spot", "month": D}, "month must be 'YYYY-MM'"),
        ({"market": "spot", "date": "2025-01-01"}, "date must be a datetime.date"),
        ({"market": "spot", "date": datetime.datetime(2025, 1, 1)}, "date must be a datetime.date"),
        ({"market": "cm", "date": D}, "market must be one of"),
        ({"market": "spot", "kind": "bookTicker", "date": D}, "kind must be one of"),
        ({"market": "spot", "kind": "klines", "date": D}, "klines need interval="),
        ({"market": "spot", "kind": "klines", "interval": "7m", "date": D}, "interval must be one of"),
        ({"market": "um", "kind": "klines", "interval": "1s", "date": D}, "spot only"),
        ({"market": "spot", "interval": "1m", "date": D}, "klines only"),
    ],
)
def test_binance_path_bad_args(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        binance_path("BTCUSDT", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol", ["btcusdt", "", "BTC/USDT", "..", "BTC USDT"])
def test_binance_path_bad_symbol(symbol: str) -> None:
    with pytest.raises(ValueError, match="symbol"):
        binance_path(symbol, market="spot", date=D)


def test_base_url_default_env_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    assert resolve_base_url() == DEFAULT_BASE_URL == "https://data.binance.vision"
    monkeypatch.setenv(BASE_URL_ENV, "http://mirror.local:8080/binance/")
    assert resolve_base_url() == "http://mirror.local:8080/binance"
    assert binance_url("ETHUSDT", market="spot", month="2025-02") == (
        "http://mirror.local:8080/binance/data/spot/monthly/trades/ETHUSDT/ETHUSDT-trades-2025-02.zip"
    )
    assert resolve_base_url("https://other/") == "https://other"
    with pytest.raises(ValueError, match="base URL"):
        resolve_base_url("ftp://x")


# ---------------------------------------------------------------------------------------------------------- downloads
def test_plain_download_matches_sha256(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    seen: list[tuple[int, int | None]] = []
    dest = tmp_path / "raw" / "a.zip"
    result = download(binance_mirror.url(key), dest, progress=lambda done, total: seen.append((done, total)), **FAST)
    size = (binance_mirror.root / key).stat().st_size
    assert result == DownloadResult(dest, size, resumed=False, attempts=1, url=binance_mirror.url(key))
    assert sha(dest) == binance_mirror.sha256(key)
    assert seen[-1] == (size, size)
    assert not part_path(dest).exists()
    assert [r.range for r in binance_mirror.requests_for(key)] == [None]


def test_layout_matches_the_mirror(
    binance_mirror: BinanceMirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, binance_mirror.base_url)
    url = binance_url("BTCUSDT", market="um", date=http_mirror.UM_START)
    result = download_verified(url, tmp_path / "um.zip", **FAST)
    assert result.sha256 == binance_mirror.sha256(binance_path("BTCUSDT", market="um", date=http_mirror.UM_START))


@pytest.mark.parametrize("reset", [False, True], ids=["eof", "rst"])
def test_cut_connection_is_resumed_with_range(binance_mirror: BinanceMirror, tmp_path: Path, reset: bool) -> None:
    key = binance_mirror.zips[0]
    size = (binance_mirror.root / key).stat().st_size
    half = size // 2
    binance_mirror.cut_after(key, half, reset=reset)
    dest = tmp_path / "a.zip"
    result = download(binance_mirror.url(key), dest, **FAST)
    assert (result.attempts, result.resumed, result.bytes) == (2, True, size)
    assert sha(dest) == binance_mirror.sha256(key)
    first, second = binance_mirror.requests_for(key)
    assert (first.range, first.status, second.status) == (None, 200, 206)
    assert second.if_range is not None  # the resume is guarded against a file changed meanwhile
    assert second.range is not None and second.range.startswith("bytes=") and second.range.endswith("-")
    offset = int(second.range.removeprefix("bytes=").rstrip("-"))
    if reset:
        assert 0 < offset <= half  # an RST may drop bytes already sent; the client resumes from what it wrote
    else:
        assert offset == half


def test_server_ignoring_range_still_gives_a_correct_file(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    binance_mirror.cut_after(key, 5_000)
    binance_mirror.ignore_range(key)
    dest = tmp_path / "a.zip"
    result = download(binance_mirror.url(key), dest, **FAST)
    assert (result.attempts, result.resumed) == (2, False)
    assert sha(dest) == binance_mirror.sha256(key)
    second = binance_mirror.requests_for(key)[1]
    assert (second.range, second.status) == ("bytes=5000-", 200)


def test_timeout_is_retried_and_resumed(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    binance_mirror.stall_after(key, 4_000, seconds=10)
    dest = tmp_path / "a.zip"
    result = download(binance_mirror.url(key), dest, **{**FAST, "timeout": 0.3})
    assert (result.attempts, result.resumed) == (2, True)
    assert binance_mirror.requests_for(key)[1].range == "bytes=4000-"
    assert sha(dest) == binance_mirror.sha256(key)


def test_503_twice_then_success(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[1]
    binance_mirror.fail_status(key, 503, times=2)
    result = download(binance_mirror.url(key), tmp_path / "a.zip", **FAST)
    assert result.attempts == 3
    assert [r.status for r in binance_mirror.requests_for(key)] == [503, 503, 200]
    assert sha(tmp_path / "a.zip") == binance_mirror.sha256(key)


def test_404_is_not_retried(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_path("BTCUSDT", market="spot", date=datetime.date(2020, 1, 1))
    url = binance_mirror.url(key)
    dest = tmp_path / "missing.zip"
    with pytest.raises(DownloadNotFoundError, match=re.escape(f"{url}: not found")) as info:
        download(url, dest, **FAST)
    assert (info.value.url, info.value.status, info.value.attempts) == (url, 404, 1)
    assert isinstance(info.value, DaapError)
    assert len(binance_mirror.requests_for(key)) == 1
    assert not dest.exists() and not part_path(dest).exists()


def test_other_4xx_is_not_retried(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    binance_mirror.fail_status(key, 403, times=10)
    with pytest.raises(DownloadError, match="HTTP 403") as info:
        download(binance_mirror.url(key), tmp_path / "a.zip", **FAST)
    assert type(info.value) is DownloadError and not info.value.transient
    assert len(binance_mirror.requests_for(key)) == 1


def test_truncated_file_fails_after_retries(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    keep = 7_000
    full = binance_mirror.truncate(key, keep)
    dest = tmp_path / "a.zip"
    url = binance_mirror.url(key)
    with pytest.raises(DownloadError, match="failed after 4 attempt") as info:
        download_verified(url, dest, retries=3, **FAST)
    err = info.value
    assert (err.url, err.attempts, err.transient) == (url, 4, True)
    assert url in str(err) and "short read" in str(err) and f"of {full} bytes" in str(err)
    assert not dest.exists()
    assert part_path(dest).stat().st_size == keep  # kept, so that a later run resumes
    assert [r.range for r in binance_mirror.requests_for(key)] == [None] + [f"bytes={keep}-"] * 3


def test_checksum_mismatch_leaves_nothing(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    wrong = binance_mirror.corrupt_checksum(key)
    dest = tmp_path / "a.zip"
    with pytest.raises(ChecksumMismatchError) as info:
        download_verified(binance_mirror.url(key), dest, **FAST)
    err = info.value
    assert (err.expected, err.actual, err.path) == (wrong, binance_mirror.sha256(key), dest)
    assert "a.zip" in str(err) and wrong in str(err) and binance_mirror.sha256(key) in str(err)
    assert not dest.exists() and not part_path(dest).exists()
    assert not dest.with_name("a.zip.CHECKSUM").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_checksum_for_another_file_is_rejected_before_downloading(
    binance_mirror: BinanceMirror, tmp_path: Path
) -> None:
    key, other = binance_mirror.zips[:2]
    binance_mirror.set_checksum(key, binance_mirror.checksum_text(other))
    with pytest.raises(ChecksumMismatchError, match=re.escape("is for 'BTCUSDT-trades-2025-05-02.zip'")):
        download_verified(binance_mirror.url(key), tmp_path / "a.zip", **FAST)
    assert binance_mirror.requests_for(key) == []


def test_malformed_checksum(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    binance_mirror.set_checksum(key, "<html>oops</html>")
    with pytest.raises(DownloadError, match="malformed CHECKSUM"):
        download_verified(binance_mirror.url(key), tmp_path / "a.zip", **FAST)


def test_cached_download_does_not_get_the_zip_again(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    dest = tmp_path / "a.zip"
    first = download_verified(binance_mirror.url(key), dest, **FAST)
    second = download_verified(binance_mirror.url(key), dest, **FAST)
    assert (first.cached, first.attempts, first.sha256) == (False, 1, binance_mirror.sha256(key))
    assert (second.cached, second.attempts, second.sha256, second.bytes) == (True, 0, first.sha256, first.bytes)
    assert len(binance_mirror.requests_for(key)) == 1
    assert len(binance_mirror.requests_for(key + ".CHECKSUM")) == 2  # the cache is checked against the server
    assert dest.with_name("a.zip.CHECKSUM").read_text() == binance_mirror.checksum_text(key)


def test_replaced_file_is_downloaded_again(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    dest = tmp_path / "a.zip"
    old = download_verified(binance_mirror.url(key), dest, **FAST).sha256
    new = binance_mirror.replace(key, seed=1)
    assert new != old
    result = download_verified(binance_mirror.url(key), dest, **FAST)
    assert (result.cached, result.sha256) == (False, new)
    assert sha(dest) == new
    assert dest.with_name("a.zip.CHECKSUM").read_text() == binance_mirror.checksum_text(key)


def test_stale_part_of_a_replaced_file_is_redone_from_scratch(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    dest = tmp_path / "a.zip"
    old_bytes = (binance_mirror.root / key).read_bytes()
    part_path(dest).write_bytes(old_bytes[: len(old_bytes) // 2])  # an interrupted run, before the file changed
    new = binance_mirror.replace(key, seed=2)
    result = download_verified(binance_mirror.url(key), dest, **FAST)
    assert (result.sha256, result.resumed) == (new, False)
    assert sha(dest) == new
    assert [r.range is not None for r in binance_mirror.requests_for(key)] == [True, False]


def test_existing_part_is_resumed(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    data = (binance_mirror.root / key).read_bytes()
    dest = tmp_path / "a.zip"
    part_path(dest).write_bytes(data[:1234])
    result = download(binance_mirror.url(key), dest, **FAST)
    assert (result.resumed, result.attempts) == (True, 1)
    assert binance_mirror.requests_for(key)[0].range == "bytes=1234-"
    assert dest.read_bytes() == data


def test_complete_part_gets_416_and_is_kept(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    data = (binance_mirror.root / key).read_bytes()
    dest = tmp_path / "a.zip"
    part_path(dest).write_bytes(data)
    result = download(binance_mirror.url(key), dest, **FAST)
    assert result.attempts == 1 and dest.read_bytes() == data
    assert [r.status for r in binance_mirror.requests_for(key)] == [416]


def test_oversized_part_gets_416_and_restarts(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    key = binance_mirror.zips[0]
    data = (binance_mirror.root / key).read_bytes()
    dest = tmp_path / "a.zip"
    part_path(dest).write_bytes(data + b"garbage")
    result = download(binance_mirror.url(key), dest, **FAST)
    assert (result.attempts, result.resumed) == (2, False) and dest.read_bytes() == data
    assert [r.status for r in binance_mirror.requests_for(key)] == [416, 200]


def test_fetch_text_retries(binance_mirror: BinanceMirror) -> None:
    key = binance_mirror.zips[0] + ".CHECKSUM"
    binance_mirror.fail_status(key, 502)
    assert fetch_text(binance_mirror.url(key), **FAST) == (binance_mirror.root / key).read_text()
    assert [r.status for r in binance_mirror.requests_for(key)] == [502, 200]


def test_download_many_isolates_failures_and_bounds_workers(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    binance_mirror.latency = 0.05  # every request takes a while, so that the workers overlap
    a, b = binance_mirror.zips[:2]
    missing = binance_path("BTCUSDT", market="spot", date=datetime.date(2020, 1, 1))
    jobs = [
        (binance_mirror.url(a), tmp_path / "a.zip"),
        (binance_mirror.url(missing), tmp_path / "missing.zip"),
        (binance_mirror.url(b), tmp_path / "b.zip"),
    ]
    seen: list[int] = []
    caller = threading.get_ident()
    threads: set[int] = set()

    def on_result(i: int, _: object) -> None:
        seen.append(i)
        threads.add(threading.get_ident())

    results = download_many(jobs, max_workers=2, on_result=on_result, **FAST)
    assert [type(r) for r in results] == [DownloadResult, DownloadNotFoundError, DownloadResult]
    assert isinstance(results[0], DownloadResult) and results[0].sha256 == binance_mirror.sha256(a)
    assert isinstance(results[2], DownloadResult) and sha(tmp_path / "b.zip") == binance_mirror.sha256(b)
    assert binance_mirror.max_concurrent == 2
    assert sorted(seen) == [0, 1, 2] and threads == {caller}
    assert not (tmp_path / "missing.zip").exists()


def test_download_many_rejects_duplicate_destinations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same file"):
        download_many([("http://x/a", tmp_path / "a"), ("http://x/b", tmp_path / "a")])
    with pytest.raises(ValueError, match="max_workers"):
        download_many([], max_workers=0)


def test_errors_pickle() -> None:
    err = ChecksumMismatchError("m", "u", 2, 200, False, Path("p"), "e", "a")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), str(back), back.url, back.attempts, back.expected, back.actual) == (
        ChecksumMismatchError,
        "m",
        "u",
        2,
        "e",
        "a",
    )
    nf = pickle.loads(pickle.dumps(DownloadNotFoundError("m", "u", 1, 404)))
    assert (type(nf), nf.status) == (DownloadNotFoundError, 404)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="only http"):
        download("ftp://x/y", Path("y"))
    with pytest.raises(ValueError, match="retries"):
        download("http://127.0.0.1:9/y", Path("y"), retries=-1)
