"""Candles from real Binance rows (tests/data, see its provenance files), checked against facts read off the rows."""

from __future__ import annotations

import csv
import gzip
import zipfile
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

import daap
from daap.schemas import validate_candles

pytestmark = pytest.mark.pandas
MINUTE_US = 60_000_000


def read_rows(path: Path) -> list[tuple[int, float, int]]:
    """(trade_id, price, time in µs) per row, read with the csv module: independent of daap's reader."""
    rows = []
    with path.open() as f:
        for rec in csv.reader(f):
            if not rec[0].isdigit():
                continue  # header
            t = int(rec[4])
            rows.append((int(rec[0]), float(rec[1]), t if t > 10**14 else t * 1000))
    return rows


def per_minute(rows: list[tuple[int, float, int]]) -> dict[int, dict[str, float]]:
    groups: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
    for r in rows:
        groups[r[2] // MINUTE_US].append(r)
    facts = {}
    for minute, g in groups.items():
        g.sort(key=lambda r: (r[2], r[0]))
        facts[minute * MINUTE_US] = {
            "trades": len(g),
            "first_trade_id": min(r[0] for r in g),
            "last_trade_id": max(r[0] for r in g),
            "open": g[0][1],
            "close": g[-1][1],
            "high": max(r[1] for r in g),
            "low": min(r[1] for r in g),
        }
    return facts


def check_against_rows(candles: pd.DataFrame, rows: list[tuple[int, float, int]], minutes: slice) -> None:
    facts = per_minute(rows)
    complete = sorted(facts)[minutes]
    by_open = candles.set_index(candles["open_time"].astype("int64"))
    for m in complete:
        got = by_open.loc[m]
        for key, want in facts[m].items():
            assert got[key] == want, (pd.Timestamp(m, unit="us"), key, got[key], want)


def test_spot_2025_microseconds(data_dir: Path) -> None:
    path = data_dir / "BTCUSDT-trades-2025-01-01.csv"
    candles = daap.CandleBuilder("1m", validate=True).build(daap.read_trades(path))
    # Minutes 00:00-00:09 are complete in the slice; 00:10 is partial.
    assert len(candles) == 11
    check_against_rows(candles, read_rows(path), slice(0, 10))
    first = candles.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"]) == (93576.0, 93610.93, 93537.5, 93610.93)
    assert (first["trades"], first["first_trade_id"], first["last_trade_id"]) == (2631, 4359935386, 4359938016)
    assert first["volume"] == pytest.approx(8.21827, rel=1e-12)
    assert str(first["close_time"]) == "2025-01-01 00:00:59.999999+00:00"


def test_spot_2021_milliseconds_same_shape(data_dir: Path) -> None:
    path = data_dir / "BTCUSDT-trades-2021-01-02.csv"
    candles = daap.CandleBuilder("1m", validate=True).build(daap.read_trades(path))
    assert candles["open_time"].dt.strftime("%H:%M").tolist() == ["00:00", "00:01", "00:02"]
    assert candles["trades"].tolist() == [1279, 964, 1000]
    assert int(candles["trades"].sum()) == 3243
    check_against_rows(candles, read_rows(path), slice(0, 3))
    assert str(candles["open_time"].dtype) == "datetime64[us, UTC]"


def test_futures_minute_with_header_and_id_gaps(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "futures-BTCUSDT-trades-2026-09-16T20-00.csv"
    # The official daily file starts with a header; this slice does not. Both must read the same.
    with_header = tmp_path / "BTCUSDT-trades-2026-09-16.csv"
    with_header.write_text("id,price,qty,quote_qty,time,is_buyer_maker\n" + src.read_text())
    a = daap.read_trades(src)
    b = daap.read_trades(with_header)
    pd.testing.assert_frame_equal(a, b)
    candles = daap.CandleBuilder("1m", validate=True).build(b)
    assert len(candles) == 1
    c = candles.iloc[0]
    assert str(c["open_time"]) == "2026-09-16 20:00:00+00:00"
    assert c["trades"] == 2325
    check_against_rows(candles, read_rows(src), slice(0, 1))
    # 9 trade-id gaps: the id span is wider than the trade count.
    ids = a["trade_id"].to_numpy()
    assert int((ids[1:] - ids[:-1] > 1).sum()) == 9
    assert c["last_trade_id"] - c["first_trade_id"] + 1 > c["trades"]


def test_exchange_halt_gives_gap_rows_priced_at_previous_close(data_dir: Path) -> None:
    path = data_dir / "BTCUSDT-trades-2023-03-24.csv"
    trades = daap.read_trades(path)
    ids = trades["trade_id"].to_numpy()
    assert (ids[1:] - ids[:-1] == 1).all()  # contiguous ids across the halt
    candles = daap.CandleBuilder("1m", validate=True).build(trades)
    traded = candles[candles["trades"] > 0]
    gaps = candles[candles["trades"] == 0]
    assert traded["open_time"].dt.strftime("%H:%M").tolist() == ["11:26", "11:27", "14:00"]
    # The halt: 11:28 to 13:59 inclusive are gap rows at 11:27's close.
    assert len(gaps) == 152
    last_close = traded.iloc[1]["close"]
    assert (gaps[["open", "high", "low", "close"]] == last_close).all().all()
    assert gaps["vwap"].isna().all() and gaps["first_trade_id"].isna().all()
    check_against_rows(candles, read_rows(path), slice(0, 3))
    # Without gap filling only traded minutes remain.
    bare = daap.CandleBuilder("1m", fill_gaps=False).build(trades)
    assert len(bare) == 3


@pytest.mark.parametrize("wrap", ["zip", "gz", "parquet"])
def test_containers_read_the_same(data_dir: Path, tmp_path: Path, wrap: str) -> None:
    src = data_dir / "BTCUSDT-trades-2025-01-01.csv"
    plain = daap.read_trades(src)
    if wrap == "zip":
        path = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(src, src.name)
    elif wrap == "gz":
        path = tmp_path / "BTCUSDT-trades-2025-01-01.csv.gz"
        path.write_bytes(gzip.compress(src.read_bytes()))
    else:
        path = tmp_path / "bronze.parquet"
        plain.to_parquet(path)
    pd.testing.assert_frame_equal(daap.read_trades(path), plain)


def test_build_files_streams_real_files_in_small_blocks(data_dir: Path, tmp_path: Path) -> None:
    inputs = [data_dir / "BTCUSDT-trades-2025-01-01.csv", data_dir / "BTCUSDT-trades-2021-01-02.csv"]
    out = tmp_path / "out" / "candles.parquet"
    summary = daap.CandleBuilder("1m").build_files(inputs, out, block_bytes=4096, validate=True, progress=False)
    assert summary.rows_in == 15243 and summary.in_order
    got = pd.read_parquet(out)
    # Two days four years apart: gap rows only between traded buckets, so the grid spans the whole range.
    assert got["trades"].sum() == 15243
    assert summary.candles_out == len(got)
    assert not list(out.parent.glob(".*"))  # no temporary or spill files left behind
    validate_candles(daap.engines.pandas.candles_to_pandas(__import__("pyarrow.parquet").parquet.read_table(out)))


def test_parquet_without_symbol_column_takes_it_from_the_name(data_dir: Path, tmp_path: Path) -> None:
    plain = daap.read_trades(data_dir / "BTCUSDT-trades-2021-01-02.csv")
    path = tmp_path / "ETHUSDT-trades-2021-01-02.parquet"
    plain.drop(columns=["symbol"]).to_parquet(path)
    got = daap.read_trades(path)
    assert got["symbol"].unique().tolist() == ["ETHUSDT"]
    pd.testing.assert_frame_equal(got.drop(columns=["symbol"]), plain.drop(columns=["symbol"]))


def test_files_are_streamed_in_time_order_whatever_the_argument_order(data_dir: Path, tmp_path: Path) -> None:
    trades = daap.read_trades(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    early, late = trades.iloc[:5000], trades.iloc[5000:]
    late.to_parquet(tmp_path / "b.parquet")
    early.to_parquet(tmp_path / "a.parquet")
    out = tmp_path / "c.parquet"
    summary = daap.CandleBuilder("1m").build_files([tmp_path / "b.parquet", tmp_path / "a.parquet"], out)
    assert summary.in_order  # ordered by the files' first trade time (Parquet statistics), not by argument order
    got = pd.read_parquet(out)
    assert int(got["trades"].sum()) == 12000 and got["open_time"].is_monotonic_increasing
