"""Ingestor.download against a local Binance-layout mirror on 127.0.0.1 (real sockets, no mocks)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

import daap
from daap.cli import main
from daap.ingest import IngestError
from tests.http_mirror import BinanceMirror

DAY1 = "data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-05-01.zip"
DAY2 = "data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-05-02.zip"


@pytest.fixture
def ingestor(binance_mirror: BinanceMirror, tmp_path: Path) -> daap.Ingestor:
    return daap.Ingestor(
        daap.Lake(tmp_path / "lake"), base_url=binance_mirror.base_url, download_dir=tmp_path / "dl", max_workers=2
    )


def test_download_a_range_verifies_and_ingests(ingestor: daap.Ingestor, binance_mirror: BinanceMirror) -> None:
    ms = ingestor.download("BTCUSDT", start=dt.date(2025, 5, 1), end="2025-05-03")
    assert [m.name for m in ms] == [f"BTCUSDT-trades-2025-05-0{i}.zip" for i in (1, 2, 3)]
    assert all(m.reconciled and m.rows_quarantined == 0 and m.rows_written == 3000 for m in ms)
    assert ms[0].url == binance_mirror.url(DAY1) and ms[0].sha256 == binance_mirror.sha256(DAY1)
    # The stored CHECKSUM is Binance's own text.
    raw = ingestor.lake.store.read_bytes(ms[0].raw_key + ".CHECKSUM").decode()
    assert raw == binance_mirror.checksum_text(DAY1)
    # Again: verified against the server's current CHECKSUM, the cached zip is reused and nothing is re-ingested.
    binance_mirror.clear_requests()
    again = ingestor.download("BTCUSDT", date="2025-05-01")
    assert again[0].status == "unchanged"
    assert binance_mirror.requests_for(DAY1) == []


def test_checksum_mismatch_ingests_nothing_for_that_file(
    ingestor: daap.Ingestor, binance_mirror: BinanceMirror
) -> None:
    binance_mirror.corrupt_checksum(DAY2)
    with pytest.raises(IngestError, match=r"1 of 2 file\(s\) failed \(1 ingested\)") as err:
        ingestor.download("BTCUSDT", start="2025-05-01", end="2025-05-02")
    assert "BTCUSDT-trades-2025-05-02.zip" in str(err.value) and "sha256" in str(err.value).lower()
    assert [m.name for m in ingestor.lake.manifests()] == ["BTCUSDT-trades-2025-05-01.zip"]


def test_missing_day_is_reported_and_the_rest_ingested(ingestor: daap.Ingestor) -> None:
    with pytest.raises(IngestError, match=r"404|not found") as err:
        ingestor.download("BTCUSDT", start="2025-05-03", end="2025-05-04")
    assert "BTCUSDT-trades-2025-05-04.zip" in str(err.value)
    assert [m.name for m in ingestor.lake.manifests()] == ["BTCUSDT-trades-2025-05-03.zip"]


def test_a_cut_connection_is_resumed(ingestor: daap.Ingestor, binance_mirror: BinanceMirror) -> None:
    binance_mirror.cut_after(DAY1, 20_000)
    (m,) = ingestor.download("BTCUSDT", date="2025-05-01")
    assert m.sha256 == binance_mirror.sha256(DAY1) and m.rows_written == 3000
    ranges = [r.range for r in binance_mirror.requests_for(DAY1)]
    assert ranges[-1] == "bytes=20000-"


def test_a_replaced_file_is_downloaded_again_and_supersedes(
    ingestor: daap.Ingestor, binance_mirror: BinanceMirror
) -> None:
    (v1,) = ingestor.download("BTCUSDT", date="2025-05-01")
    new_sha = binance_mirror.replace(DAY1, seed=7)
    (v2,) = ingestor.download("BTCUSDT", date="2025-05-01")
    assert v2.sha256 == new_sha != v1.sha256
    assert [h["sha256"] for h in v2.history] == [v1.sha256]
    assert ingestor.lake.bronze_keys("BTCUSDT") == [p.key for p in v2.partitions]


def test_futures_and_month_layout(ingestor: daap.Ingestor, binance_mirror: BinanceMirror) -> None:
    (m,) = ingestor.download("BTCUSDT", date="2025-05-01", market="um")
    assert m.market == "um" and m.url.endswith("data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2025-05-01.zip")
    with pytest.raises(IngestError, match=r"BTCUSDT-trades-2025-05\.zip"):
        ingestor.download("BTCUSDT", month="2025-05")  # the mirror has no monthly file


def test_cli_download(binance_mirror: BinanceMirror, tmp_path: Path) -> None:
    args = ["download", "BTCUSDT", "--start", "2025-05-01", "--end", "2025-05-02", "--lake", str(tmp_path / "lake")]
    res = CliRunner().invoke(main, [*args, "--base-url", binance_mirror.base_url])
    assert res.exit_code == 0, res.output
    assert "BTCUSDT-trades-2025-05-02.zip: 3,000 rows read, 3,000 written, 0 quarantined" in res.output
    res = CliRunner().invoke(main, ["download", "BTCUSDT", "--lake", str(tmp_path / "lake")])
    assert res.exit_code == 2 and "exactly one of --month, --date" in res.output
    binance_mirror.corrupt_checksum(DAY1)
    res = CliRunner().invoke(main, [*args[:2], "--date", "2025-05-01", "--lake", str(tmp_path / "l2"),
                                    "--base-url", binance_mirror.base_url])
    assert res.exit_code == 1 and res.output.startswith("error: 1 of 1 file(s) failed")
