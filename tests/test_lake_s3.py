"""The lake on S3 (a real SeaweedFS server started by the tests): ingest, idempotence, candles, the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import daap
from daap.cli import main
from daap.storage import sha256_of

pytestmark = pytest.mark.s3


def test_ingest_and_candles_on_s3(s3_lake_uri: str, data_dir: Path, tmp_path: Path) -> None:
    lake = daap.Lake(s3_lake_uri)
    assert type(lake.store).__name__ == "S3Store"
    ing = daap.Ingestor(lake)
    m = ing.ingest_file(data_dir / "BTCUSDT-trades-2023-03-24.csv")
    assert m.reconciled and m.rows_written == 2000
    # raw is byte-exact on S3
    local = tmp_path / "raw.csv"
    lake.store.get_file(m.raw_key, local)
    assert sha256_of(local) == m.sha256
    # the same bytes again: a no-op
    assert ing.ingest_file(data_dir / "BTCUSDT-trades-2023-03-24.csv").status == "unchanged"
    assert len([o for o in lake.store.list("bronze/")]) == 1
    # candles from S3 bronze, written to the S3 candles zone
    summary = daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    assert summary.rows_in == 2000 and summary.candles_out == 155
    day = pd.read_parquet(io.BytesIO(lake.store.read_bytes(daap.Lake.candles_key("1m", "BTCUSDT", "2023-03-24"))))
    want = daap.CandleBuilder("1m").build(daap.read_trades(data_dir / "BTCUSDT-trades-2023-03-24.csv"))
    pd.testing.assert_frame_equal(day, want, check_dtype=False)


def test_killed_ingest_on_s3_leaves_nothing_visible(
    s3_lake_uri: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = daap.Lake(s3_lake_uri)

    def killed(self: daap.Lake, manifest: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(daap.Lake, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        daap.Ingestor(lake).ingest_file(data_dir / "BTCUSDT-trades-2021-01-02.csv")
    assert lake.manifests() == []
    monkeypatch.undo()
    m = daap.Ingestor(lake).ingest_file(data_dir / "BTCUSDT-trades-2021-01-02.csv")
    keys = [o.key for o in lake.store.list("bronze/")]
    assert keys == [p.key for p in m.partitions]  # the rerun rewrote the same object, nothing doubled


def test_cli_with_an_s3_lake(s3_lake_uri: str, data_dir: Path) -> None:
    r = CliRunner()
    res = r.invoke(main, ["ingest", str(data_dir / "BTCUSDT-trades-2025-01-01.csv"), "--lake", s3_lake_uri])
    assert res.exit_code == 0, res.output
    res = r.invoke(main, ["lake", "ls", "--lake", s3_lake_uri])
    assert "spot   BTCUSDT          1     1          12,000" in res.output
    res = r.invoke(main, ["candles", "--lake", s3_lake_uri, "--symbol", "BTCUSDT", "-i", "5m"])
    assert res.exit_code == 0, res.output
    assert "12,000 trades from 1 file(s) -> 3 5m candles" in res.output
