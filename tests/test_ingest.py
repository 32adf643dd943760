"""The Ingestor and the local lake: real samples, idempotence, replaced files, faults, quarantine."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import daap
from daap.cli import main
from daap.errors import InputFormatError, UnsafeArchiveError
from daap.storage import sha256_of

SAMPLES = [
    "BTCUSDT-trades-2021-01-02.csv",
    "BTCUSDT-trades-2023-03-24.csv",
    "BTCUSDT-trades-2025-01-01.csv",
    "futures-BTCUSDT-trades-2026-09-16T20-00.csv",
]
GOOD = "4359935386,93576.00000000,0.00136000,127.26336000,1735689600010866,True,True\n"


def bronze_rows(lake: daap.Lake) -> int:
    """Rows in every bronze object physically present (not only those the manifests point to)."""
    keys = [o.key for o in lake.store.list("bronze/") if o.key.endswith(".parquet")]
    return sum(pq.ParquetFile(lake.store.local_path(k)).metadata.num_rows for k in keys)


@pytest.fixture
def lake(tmp_path: Path) -> daap.Lake:
    return daap.Lake(tmp_path / "lake")


@pytest.mark.parametrize("name", SAMPLES)
def test_real_samples_ingest_with_nothing_quarantined(lake: daap.Lake, data_dir: Path, name: str) -> None:
    m = daap.Ingestor(lake).ingest_file(data_dir / name)
    assert m.rows_quarantined == 0 and m.reconciled and m.rows_written == m.rows_read > 0
    assert m.market == ("um" if name.startswith("futures") else "spot")
    # raw is byte-exact, with its CHECKSUM; bronze equals what the reader gives.
    raw = lake.store.local_path(m.raw_key)
    assert raw is not None and sha256_of(raw) == m.sha256 == sha256_of(data_dir / name)
    assert lake.store.read_bytes(m.raw_key + ".CHECKSUM").decode() == f"{m.sha256}  {name}\n"
    (part,) = m.partitions
    bronze = pd.read_parquet(lake.store.local_path(part.key))
    pd.testing.assert_frame_equal(bronze, daap.read_trades(data_dir / name), check_dtype=False)
    assert pq.read_schema(lake.store.local_path(part.key)).field("time").type.tz == "UTC"


def test_manifest_records_gaps_units_and_range(lake: daap.Lake, data_dir: Path) -> None:
    ing = daap.Ingestor(lake)
    fut = ing.ingest_file(data_dir / "futures-BTCUSDT-trades-2026-09-16T20-00.csv")
    assert fut.trade_id_gaps["count"] == 9 and fut.time_unit == "ms" and fut.dialect == "um"
    halt = ing.ingest_file(data_dir / "BTCUSDT-trades-2023-03-24.csv")
    assert halt.trade_id_gaps["count"] == 0
    assert [g["seconds"] for g in halt.time_gaps] == [pytest.approx(9157, abs=1)]
    spot = ing.ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    assert spot.time_unit == "us" and spot.time_min == "2025-01-01T00:00:00.010866+00:00"
    stored = json.loads(lake.store.read_bytes(lake.manifest_key("spot", "BTCUSDT", spot.name)))
    assert stored["sha256"] == spot.sha256 and stored["rows_read"] == 12000


def test_reingesting_the_same_bytes_is_a_no_op(lake: daap.Lake, data_dir: Path) -> None:
    ing = daap.Ingestor(lake)
    first = ing.ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    objects = lake.store.list("")
    again = ing.ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    assert again.status == "unchanged" and first.status == "ingested"
    assert lake.store.list("") == objects
    assert bronze_rows(lake) == 12000


def test_a_replaced_file_supersedes_the_old_partitions(lake: daap.Lake, data_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    lines = (data_dir / src.name).read_text().splitlines(keepends=True)
    src.write_text("".join(lines[:5000]))
    ing = daap.Ingestor(lake)
    v1 = ing.ingest_file(src)
    src.write_text("".join(lines))  # Binance republished the day: same name, new bytes
    v2 = ing.ingest_file(src)
    assert v2.sha256 != v1.sha256 and v2.rows_written == 12000
    assert [h["sha256"] for h in v2.history] == [v1.sha256]
    assert not lake.store.exists(v1.partitions[0].key)
    assert bronze_rows(lake) == 12000  # the old rows are gone, nothing doubled
    assert lake.bronze_keys("BTCUSDT") == [v2.partitions[0].key]


def test_killed_between_data_and_manifest_then_rerun(
    lake: daap.Lake, data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean = daap.Lake(tmp_path / "clean")
    daap.Ingestor(clean).ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")

    def killed(self: daap.Lake, manifest: object) -> None:
        raise KeyboardInterrupt("killed before the manifest")

    monkeypatch.setattr(daap.Lake, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        daap.Ingestor(lake).ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    assert lake.manifests() == [] and lake.bronze_keys("BTCUSDT") == []  # readers see nothing
    monkeypatch.undo()
    m = daap.Ingestor(lake).ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    assert m.status == "ingested"
    assert bronze_rows(lake) == bronze_rows(clean) == 12000


def test_bad_rows_are_quarantined_with_line_and_reason(lake: daap.Lake, tmp_path: Path) -> None:
    rows = [GOOD.replace("4359935386", str(4359935386 + i)) for i in range(20)]
    rows[2] = rows[2].replace("0.00136000", "abc")  # non-numeric
    rows[4] = rows[4].replace("93576.00000000", "-1")  # negative price
    rows[6] = rows[6].replace("0.00136000", "0")  # zero qty
    rows[8] = rows[8].replace(",True,True", "")  # wrong column count
    rows[10] = rows[9]  # duplicate trade id
    rows[12] = rows[12].replace("1735689600010866", "42")  # implausible time
    src = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    src.write_text("".join(rows))
    m = daap.Ingestor(lake).ingest_file(src)
    assert (m.rows_read, m.rows_written, m.rows_quarantined) == (20, 14, 6) and m.reconciled
    q = pd.read_parquet(lake.store.local_path(m.quarantine_key))
    assert q["line"].tolist() == [3, 5, 7, 9, 11, 13]
    assert q["column"].tolist() == ["qty", "price", "qty", None, "trade_id", "time"]
    assert q["reason"].str.contains("expected a number|positive finite|columns|duplicate|implausible").all()
    assert q["raw"].iloc[0] == rows[2].strip() and (q["source"] == str(src)).all()
    assert bronze_rows(lake) == 14


def test_a_file_spanning_midnight_gets_one_partition_per_day(lake: daap.Lake, tmp_path: Path) -> None:
    day = 86_400_000_000
    t0 = 1735689600000000 + day - 1_000_000
    text = "".join(
        GOOD.replace("4359935386", str(4359935386 + i)).replace("1735689600010866", str(t0 + i * 600_000))
        for i in range(4)
    )
    src = tmp_path / "BTCUSDT-trades-2025-01.csv"
    src.write_text(text)
    m = daap.Ingestor(lake).ingest_file(src)
    assert [(p.date, p.rows) for p in m.partitions] == [("2025-01-01", 2), ("2025-01-02", 2)]


@pytest.mark.parametrize("member", ["../evil.csv", "a/b.csv"])
def test_zip_slip_is_refused_and_nothing_is_published(lake: daap.Lake, tmp_path: Path, member: str) -> None:
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr(zipfile.ZipInfo(member), GOOD)
    with pytest.raises(UnsafeArchiveError, match="unsafe path"):
        daap.Ingestor(lake).ingest_file(p)
    assert lake.manifests() == []


def test_zip_bomb_is_refused(lake: daap.Lake, tmp_path: Path) -> None:
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BTCUSDT-trades-2025-01-01.csv", GOOD + "9" * (50 << 20))
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        daap.Ingestor(lake).ingest_file(p)
    assert lake.manifests() == []


def test_market_mismatch_and_empty_file(lake: daap.Lake, data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="spot dialect, not um"):
        daap.Ingestor(lake).ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv", market="um")
    empty = tmp_path / "BTCUSDT-trades-2025-01-02.csv"
    empty.write_text("")
    with pytest.raises(InputFormatError, match="empty"):
        daap.Ingestor(lake).ingest_file(empty)


def test_cli_ingest_lake_ls_and_candles_from_the_lake(data_dir: Path, tmp_path: Path) -> None:
    uri = str(tmp_path / "lake")
    r = CliRunner()
    res = r.invoke(main, ["ingest", *[str(data_dir / n) for n in SAMPLES], "--lake", uri])
    assert res.exit_code == 0, res.output
    assert "BTCUSDT-trades-2025-01-01.csv: 12,000 rows read, 12,000 written, 0 quarantined" in res.output
    res = r.invoke(main, ["lake", "ls", "--lake", uri])
    assert res.exit_code == 0, res.output
    assert "spot   BTCUSDT          3     3          17,243            0  2021-01-02 .. 2025-01-01" in res.output
    res = r.invoke(
        main, ["candles", "--lake", uri, "--symbol", "BTCUSDT", "--start", "2023-03-24", "--end", "2025-01-01"]
    )
    assert res.exit_code == 0, res.output
    lake = daap.Lake(uri)
    keys = [o.key for o in lake.store.list("candles/interval=1m/symbol=BTCUSDT/")]
    assert keys[0] == "candles/interval=1m/symbol=BTCUSDT/date=2023-03-24/candles.parquet"
    day = pd.read_parquet(lake.store.local_path(keys[-1]))
    assert int(day["trades"].sum()) == 12000 and len(day) == 11
    res = r.invoke(main, ["candles", "--lake", uri, "--symbol", "ETHUSDT"])
    assert res.exit_code == 1 and "no bronze trades for spot ETHUSDT" in res.output
