"""Reading Binance aggTrades: dialects, the real first aggregate of 2025-01-01, errors, quarantine and the CLI."""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import daap
from daap.cli import main
from daap.contract import AGG_TRADES_SCHEMA
from daap.engines.pandas import candles_to_pandas
from daap.errors import InputFormatError
from daap.sources.aggtrades import aggregate_trades, to_binance_aggtrades_csv, write_aggtrades_files
from daap.sources.binance import detect_dialect
from daap.sources.synthetic import SyntheticConfig, write_binance_files
from daap.trades import Rejects, iter_blocks
from tests.conftest import assert_candles_equal

pytestmark = pytest.mark.pandas

DATA = Path(__file__).parent / "data"
#: The first row of Binance's BTCUSDT-aggTrades-2025-01-01.csv (spot, µs): the aggregate of the day's first trade.
OFFICIAL_FIRST_AGG = "3358804174,93576.00000000,0.00136000,4359935386,4359935386,1735689600010866,True,True"
UM_AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"


@pytest.mark.parametrize(
    ("line", "name", "kind", "header"),
    [
        (OFFICIAL_FIRST_AGG, "spot", "aggTrades", False),
        (UM_AGG_HEADER, "um", "aggTrades", True),
        ("26129,0.01633102,4.70443515,27781,27781,1498793709153,true", "um", "aggTrades", False),
        ("4359935386,93576.00000000,0.00136000,127.26336000,1735689600010866,True,True", "spot", "trades", False),
        ("id,price,qty,quote_qty,time,is_buyer_maker", "um", "trades", True),
        ("8086999560,115790.10,0.002,231.58020,1758052800008,false", "um", "trades", False),
    ],
)
def test_dialects_are_told_apart(line: str, name: str, kind: str, header: bool) -> None:
    d = detect_dialect(line.encode())
    assert (d.name, d.kind, d.has_header) == (name, kind, header)


def _real_aggs() -> tuple[pd.DataFrame, pa.Table]:
    trades = daap.read_trades(DATA / "BTCUSDT-trades-2025-01-01.csv")
    table = pa.Table.from_pandas(trades.drop(columns="symbol"), preserve_index=False)
    return trades, aggregate_trades(table, first_agg_id=3358804174)


def test_real_trades_aggregate_to_the_official_first_row_and_the_same_candles(tmp_path: Path) -> None:
    trades, agg = _real_aggs()
    text = to_binance_aggtrades_csv(agg, "spot", datetime.date(2025, 1, 1))
    assert text.decode().splitlines()[0] == OFFICIAL_FIRST_AGG
    path = tmp_path / "BTCUSDT-aggTrades-2025-01-01.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BTCUSDT-aggTrades-2025-01-01.csv", text)
    aggs = daap.read_trades(path)
    assert list(aggs.columns) == list(AGG_TRADES_SCHEMA.names)
    assert len(aggs) == agg.num_rows < len(trades)
    assert int((aggs["last_trade_id"] - aggs["trade_id"] + 1).sum()) == len(trades) == 12_000
    # Minutes 00:00-00:09 are complete in the slice.
    want = daap.CandleBuilder("1m").build(trades).iloc[:10]
    got = daap.CandleBuilder("1m").build(aggs).iloc[:10]
    assert_candles_equal(got, want, sums_rtol=1e-9)
    assert got["trades"].iloc[0] == 2631  # Binance's own kline for 00:00 says 2631 trades


@pytest.mark.parametrize(("market", "start"), [("um", datetime.date(2025, 5, 1)), ("um", datetime.date(2021, 5, 1))])
def test_futures_aggtrades_with_and_without_header(tmp_path: Path, market: str, start: datetime.date) -> None:
    cfg = SyntheticConfig(trades_per_day=500, market=market, start=start)  # type: ignore[arg-type]
    (path,) = write_aggtrades_files(tmp_path, cfg, zipped=False)
    first = path.read_text().splitlines()[0]
    assert (first == UM_AGG_HEADER) == (start >= datetime.date(2022, 8, 11))
    aggs = daap.read_trades(path)
    assert aggs["time"].iloc[0].microsecond % 1000 == 0  # futures files are in milliseconds
    assert aggs["symbol"].iloc[0] == "BTCUSDT"


def _agg_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "BTCUSDT-aggTrades-2025-01-01.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_range_that_runs_backwards_is_named(tmp_path: Path) -> None:
    path = _agg_file(
        tmp_path,
        [OFFICIAL_FIRST_AGG, "3358804175,93576.00000000,0.00366000,4359935388,4359935387,1735689600074095,True,True"],
    )
    with pytest.raises(InputFormatError) as err:
        daap.read_trades(path)
    assert (err.value.line, err.value.column) == (2, "last_trade_id")
    assert "less than first_trade_id 4359935388" in err.value.reason


def test_a_bad_first_trade_id_names_the_files_column(tmp_path: Path) -> None:
    bad = "3358804175,93576.0,0.00366,x,4359935388,1735689600074095,True,True"
    path = _agg_file(tmp_path, [OFFICIAL_FIRST_AGG, bad])
    with pytest.raises(InputFormatError) as err:
        daap.read_trades(path)
    assert (err.value.line, err.value.column) == (2, "first_trade_id")


def test_quarantine_keeps_the_good_aggregates(tmp_path: Path) -> None:
    path = _agg_file(
        tmp_path,
        [
            OFFICIAL_FIRST_AGG,
            "3358804175,93576.00000000,0.00366000,4359935388,4359935387,1735689600074095,True,True",
            "3358804176,93576.00000000,0.00100000,4359935389,4359935390,1735689600080000,False,True",
        ],
    )
    rejects = Rejects()
    blocks = list(iter_blocks(path, rejects=rejects))
    kept = np.concatenate([b.trade_id for b in blocks])
    assert kept.tolist() == [4359935386, 4359935389]
    assert [(r.line, r.column) for r in rejects.rows] == [(2, "last_trade_id")]


def test_the_lake_refuses_aggtrades_with_a_clear_reason(tmp_path: Path) -> None:
    path = _agg_file(tmp_path, [OFFICIAL_FIRST_AGG])
    with pytest.raises(InputFormatError, match="bronze zone holds trades files only"):
        daap.Ingestor(daap.Lake(tmp_path / "lake")).ingest_file(path)


def test_trades_and_aggtrades_do_not_mix_in_one_frame(tmp_path: Path) -> None:
    agg = _agg_file(tmp_path, [OFFICIAL_FIRST_AGG])
    with pytest.raises(InputFormatError, match="cannot read trades and aggTrades"):
        daap.read_trades([agg, DATA / "BTCUSDT-trades-2025-01-01.csv"])


def test_cli_builds_candles_from_aggtrades(tmp_path: Path) -> None:
    cfg = SyntheticConfig(trades_per_day=5_000, days=2, seed=4)
    trades = write_binance_files(tmp_path / "t", cfg)
    aggs = write_aggtrades_files(tmp_path / "a", cfg)
    out = tmp_path / "candles.parquet"
    result = CliRunner().invoke(main, ["candles", *map(str, aggs), "-o", str(out), "-i", "5m"])
    assert result.exit_code == 0, result.output
    want = daap.CandleBuilder("5m").build(daap.read_trades(trades))
    assert_candles_equal(candles_to_pandas(pq.read_table(out)), want, sums_rtol=1e-9)
