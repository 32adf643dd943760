"""Spark engine specifics: types, real files against the pandas engine, gap rows, 1w/1M, rollup, files, sessions, CLI.

The shared candle properties run on Spark through tests/conformance; this file covers what only Spark has.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import daap
from daap.contract import CANDLE_COLUMNS, CANDLES_SCHEMA
from daap.engines import BuildSummary, get_engine
from daap.engines.pandas import candles_to_pandas as arrow_candles_to_pandas
from daap.engines.spark import (
    SparkEngine,
    SparkSessionError,
    candles_to_pandas,
    candles_to_spark,
    get_session,
    trades_to_spark,
)
from daap.errors import (
    DaapError,
    ImplausibleTimestampError,
    InputFormatError,
    InvalidIntervalError,
    ValidationError,
)
from daap.sources.aggtrades import write_aggtrades_files
from daap.sources.synthetic import SyntheticConfig, write_binance_files
from tests.conftest import assert_candles_equal

pytestmark = pytest.mark.spark
pytest_plugins = ["tests.spark_fixtures"]  # the `spark` fixture, also when run alone

DATA = Path(__file__).parent / "data"
FILES = [
    "BTCUSDT-trades-2021-01-02.csv",
    "BTCUSDT-trades-2023-03-24.csv",
    "BTCUSDT-trades-2025-01-01.csv",
    "futures-BTCUSDT-trades-2026-09-16T20-00.csv",
]
HALT = "BTCUSDT-trades-2023-03-24.csv"


def sbuild(trades: Any, interval: str, **kwargs: Any) -> pd.DataFrame:
    fill_gaps = kwargs.pop("fill_gaps", True)
    return candles_to_pandas(daap.CandleBuilder(interval, engine="spark", fill_gaps=fill_gaps).build(trades, **kwargs))


def pbuild(trades: pd.DataFrame, interval: str, **kwargs: Any) -> pd.DataFrame:
    return daap.CandleBuilder(interval, **kwargs).build(trades)


@pytest.fixture(scope="module")
def real(spark: Any) -> dict[str, tuple[pd.DataFrame, Any]]:
    """Each sample file as pandas trades and as a cached Spark DataFrame."""
    out = {}
    for name in FILES:
        pdf = daap.read_trades(DATA / name)
        out[name] = (pdf, trades_to_spark(pdf, spark).cache())
    return out


def synthetic(start: str, days: list[int], per_day: int = 5, symbol: str = "BTCUSDT", seed: int = 0) -> pd.DataFrame:
    """A few trades on each of ``days`` (offsets from ``start``), with ties in time broken by trade id."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz="UTC")
    times = [t0 + pd.Timedelta(days=d, seconds=int(s)) for d in days for s in rng.integers(0, 86_399, per_day)]
    n = len(times)
    price = np.round(100 + rng.normal(0, 1, n).cumsum(), 2)
    qty = np.round(rng.uniform(0.001, 2, n), 5)
    df = pd.DataFrame(
        {
            "symbol": symbol,
            "trade_id": np.arange(1, n + 1, dtype="int64") * 3,
            "price": price,
            "qty": qty,
            "quote_qty": price * qty,
            "time": pd.DatetimeIndex(times).astype("datetime64[us, UTC]"),
            "is_buyer_maker": rng.random(n) < 0.5,
        }
    )
    df.loc[1, "time"] = df.loc[0, "time"]  # a tie in time: open must follow the trade id
    return df


# ------------------------------------------------------------------------------------------------ registry, types
def test_registered_with_capabilities_as_data() -> None:
    engine = get_engine("spark")
    assert isinstance(engine, SparkEngine)
    caps = engine.capabilities
    assert caps.output_type == "pyspark.sql.DataFrame" and "pyspark.sql.DataFrame" in caps.input_types
    assert caps.rollup and caps.fill_gaps and caps.intervals == "all"


def test_output_schema_is_the_contract_in_spark_types(real: dict[str, Any]) -> None:
    from pyspark.sql import types as T

    candles = daap.CandleBuilder("1m", engine="spark").build(real[HALT][1])
    assert tuple(candles.columns) == CANDLE_COLUMNS
    types = {f.name: type(f.dataType) for f in candles.schema.fields}
    assert types["symbol"] is T.StringType and types["interval"] is T.StringType
    assert types["open_time"] is T.TimestampType and types["close_time"] is T.TimestampType
    assert types["trades"] is T.LongType
    assert types["first_trade_id"] is T.LongType and types["last_trade_id"] is T.LongType
    doubles = ["open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]
    assert all(types[c] is T.DoubleType for c in [*doubles, "vwap"])


# ------------------------------------------------------------------------------------------- real Binance rows
@pytest.mark.parametrize("name", FILES)
def test_real_files_equal_the_pandas_engine(real: dict[str, Any], name: str) -> None:
    pdf, sdf = real[name]
    for interval in ("1s", "1m", "15m", "1d"):
        got = sbuild(sdf, interval)
        assert int(got["trades"].sum()) == len(pdf)
        assert_candles_equal(got, pbuild(pdf, interval), sums_rtol=1e-9)


def test_exchange_halt_gap_rows(real: dict[str, Any]) -> None:
    pdf, sdf = real[HALT]
    got = sbuild(sdf, "1m")
    assert_candles_equal(got, pbuild(pdf, "1m"), sums_rtol=1e-9)
    gaps = got[got["trades"] == 0]
    assert len(gaps) == 152
    traded = got[got["trades"] > 0]
    before = traded[traded["open_time"] < gaps["open_time"].min()].iloc[-1]
    assert (gaps[["open", "high", "low", "close"]] == before["close"]).all().all()
    assert (gaps[["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]] == 0).all().all()
    assert gaps["vwap"].isna().all() and gaps["first_trade_id"].isna().all() and gaps["last_trade_id"].isna().all()
    assert np.all(np.diff(got["open_time"].astype("int64").to_numpy()) == 60_000_000)
    bare = sbuild(sdf, "1m", fill_gaps=False)
    assert_candles_equal(bare, traded.reset_index(drop=True))


def test_unordered_repartitioned_input_gives_the_same_candles(real: dict[str, Any]) -> None:
    sdf = real["BTCUSDT-trades-2025-01-01.csv"][1]
    shuffled = sdf.repartition(7)
    assert_candles_equal(sbuild(shuffled, "1m"), sbuild(sdf, "1m"), sums_rtol=1e-12)


def test_integer_times_in_s_ms_us_detected_per_value(spark: Any) -> None:
    from pyspark.sql import functions as F

    pdf = synthetic("2025-03-01", [0, 2])
    base = trades_to_spark(pdf, spark)
    us = F.unix_micros("time")
    # Whole seconds can be written in any unit; mix the three units row by row.
    mixed = base.withColumn("_n", F.monotonically_increasing_id()).withColumn(
        "time",
        F.when(us % 1_000_000 != 0, us)
        .when(F.col("_n") % 3 == 0, us)
        .when(F.col("_n") % 3 == 1, F.expr("unix_micros(time) div 1000"))
        .otherwise(F.expr("unix_micros(time) div 1000000")),
    ).drop("_n")
    assert dict(mixed.dtypes)["time"] == "bigint"
    assert_candles_equal(sbuild(mixed, "1h"), pbuild(pdf, "1h"), sums_rtol=1e-12)
    bad = base.withColumn("time", F.lit(12345).cast("long"))
    with pytest.raises(Exception, match="implausible trade time 12345"):
        daap.CandleBuilder("1m", engine="spark").build(bad).collect()


def test_ntz_times_are_read_as_utc(spark: Any) -> None:
    from pyspark.sql import functions as F

    pdf = synthetic("2025-03-01", [0, 1])
    ntz = trades_to_spark(pdf, spark).withColumn("time", F.col("time").cast("timestamp_ntz"))
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        got = sbuild(ntz, "1d")
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert_candles_equal(got, pbuild(pdf, "1d"), sums_rtol=1e-12)


def test_symbol_option_and_missing_columns(spark: Any) -> None:
    pdf = synthetic("2025-03-01", [0])
    sdf = trades_to_spark(pdf, spark)
    got = sbuild(sdf.drop("symbol"), "1h", symbol="ETHUSDT")
    assert set(got["symbol"]) == {"ETHUSDT"}
    with pytest.raises(InputFormatError, match=r"lacks column\(s\) \['symbol', 'qty'\]"):
        daap.CandleBuilder("1m", engine="spark").build(sdf.drop("symbol", "qty"))
    with pytest.raises(InputFormatError, match="has Spark type double"):
        daap.CandleBuilder("1m", engine="spark").build(sdf.withColumn("time", sdf["price"]))


def test_pandas_input_is_converted(spark: Any) -> None:
    pdf = synthetic("2025-03-01", [0])
    assert_candles_equal(sbuild(pdf, "1h"), pbuild(pdf, "1h"), sums_rtol=1e-12)


def test_options_unknown_rejected_and_progress_ignored(real: dict[str, Any]) -> None:
    sdf = real[HALT][1]
    with pytest.raises(TypeError, match=r"spark engine does not take option\(s\) \['chunk_rows'\]"):
        daap.CandleBuilder("1m", engine="spark").build(sdf, chunk_rows=10)
    assert daap.CandleBuilder("1m", engine="spark").build(sdf, progress=True).count() == 155


# ------------------------------------------------------------------------------------------------- weeks, months
def test_weeks_start_on_monday_and_months_are_calendar_months(spark: Any) -> None:
    # 2024 is a leap year; trades in Jan, Feb and May leave March and April as gap months.
    pdf = pd.concat(
        [
            synthetic("2024-01-30", [0, 1, 2, 3], seed=1),  # Tue 30 Jan .. Fri 2 Feb (two weeks, two months)
            synthetic("2024-02-29", [0], seed=2).assign(trade_id=lambda d: d["trade_id"] + 1000),
            synthetic("2024-05-06", [0, 14], seed=3).assign(trade_id=lambda d: d["trade_id"] + 2000),
        ],
        ignore_index=True,
    )
    sdf = trades_to_spark(pdf, spark)
    weeks = sbuild(sdf, "1w")
    assert_candles_equal(weeks, pbuild(pdf, "1w"), sums_rtol=1e-12)
    assert (weeks["open_time"].dt.dayofweek == 0).all() and (weeks["open_time"].dt.hour == 0).all()
    assert weeks["open_time"].iloc[0] == pd.Timestamp("2024-01-29", tz="UTC")
    assert (weeks["close_time"] - weeks["open_time"] == pd.Timedelta(days=7) - pd.Timedelta(microseconds=1)).all()
    months = sbuild(sdf, "1M")
    assert_candles_equal(months, pbuild(pdf, "1M"), sums_rtol=1e-12)
    assert [t.strftime("%Y-%m") for t in months["open_time"]] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    assert months["trades"].tolist()[2:4] == [0, 0]
    feb = months.iloc[1]
    assert feb["close_time"] == pd.Timestamp("2024-02-29 23:59:59.999999", tz="UTC")


# ------------------------------------------------------------------------------------------------------- rollup
def test_rollup_equals_building_from_trades(real: dict[str, Any], spark: Any) -> None:
    pdf, sdf = real[HALT]
    builder = daap.CandleBuilder("1m", engine="spark")
    one = builder.build(sdf)
    for target in ("5m", "1h", "1d", "1w", "1M"):
        rolled = candles_to_pandas(builder.rollup(one, target))
        assert_candles_equal(rolled, sbuild(sdf, target), sums_rtol=1e-12)
        assert_candles_equal(rolled, pbuild(pdf, target), sums_rtol=1e-9)
    from_pandas = candles_to_spark(pbuild(pdf, "1m"), spark)  # pandas candles rolled up on Spark
    assert_candles_equal(candles_to_pandas(builder.rollup(from_pandas, "5m")), pbuild(pdf, "5m"), sums_rtol=1e-9)
    seconds = daap.CandleBuilder("1s", engine="spark").build(sdf)
    assert_candles_equal(candles_to_pandas(builder.rollup(seconds, "15m")), pbuild(pdf, "15m"), sums_rtol=1e-9)
    # Months over several symbols, with gap months in between.
    multi = pd.concat(
        [synthetic("2024-01-30", [0, 40, 100], seed=4), synthetic("2024-03-02", [0, 3], symbol="ETHUSDT", seed=5)],
        ignore_index=True,
    )
    day = daap.CandleBuilder("1d", engine="spark").build(trades_to_spark(multi, spark))
    assert_candles_equal(candles_to_pandas(builder.rollup(day, "1M")), pbuild(multi, "1M"), sums_rtol=1e-12)


def test_rollup_refuses_intervals_that_do_not_nest(real: dict[str, Any]) -> None:
    sdf = real[HALT][1]
    weeks = daap.CandleBuilder("1w", engine="spark").build(sdf)
    with pytest.raises(InvalidIntervalError, match="cannot roll 1w candles up to 1M"):
        daap.CandleBuilder("1w", engine="spark").rollup(weeks, "1M")
    three = daap.CandleBuilder("3m", engine="spark").build(sdf)
    with pytest.raises(InvalidIntervalError, match="cannot roll 3m candles up to 5m"):
        daap.CandleBuilder("3m", engine="spark").rollup(three, "5m")
    with pytest.raises(InvalidIntervalError, match="missing columns"):
        daap.CandleBuilder("1m", engine="spark").rollup(three.drop("vwap"), "1h")


# ----------------------------------------------------------------------------------------------------- validate
def test_validate_passes_good_candles_and_names_failed_checks(real: dict[str, Any], spark: Any) -> None:
    from pyspark.sql import functions as F

    sdf = real[HALT][1]
    engine = get_engine("spark")
    good = engine.build(sdf, daap.Interval.parse("1m"), validate=True)
    assert good.count() == 155
    bad = good.withColumn("low", F.when(F.col("trades") > 0, F.col("high") + 1).otherwise(F.col("low")))
    with pytest.raises(ValidationError) as err:
        engine.validate_candles(bad)
    text = str(err.value)
    assert text.startswith("candles failed validation:")
    assert "low_le_high; 3 row(s) fail, e.g. {symbol='BTCUSDT', interval='1m'" in text
    assert "open_close_within_low_high" in text
    with pytest.raises(ValidationError, match="columns must be exactly"):
        engine.validate_candles(good.drop("vwap"))
    holes = good.withColumn("open", F.when(F.col("trades") == 0, F.lit(None)).otherwise(F.col("open")))
    with pytest.raises(ValidationError, match=r"column 'open': not_nullable \(non-nullable column 'open'"):
        engine.validate_candles(holes, cache=False)
    trades = trades_to_spark(synthetic("2025-03-01", [0]), spark)
    engine.validate_trades(trades)
    dup = trades.unionByName(trades.limit(1)).withColumn("price", F.col("price") * -1)
    with pytest.raises(ValidationError) as err:
        engine.validate_trades(dup)
    assert "unique_symbol_trade_id" in str(err.value) and "greater_than(0)" in str(err.value)


# ------------------------------------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("spark-inputs")
    csv = tmp / "BTCUSDT-trades-2025-01-01.csv"
    csv.write_bytes((DATA / csv.name).read_bytes())
    zipped = tmp / "BTCUSDT-trades-2023-03-24.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(DATA / HALT, arcname=HALT)
    parquet = tmp / "bronze" / "symbol=BTCUSDT" / "date=2021-01-02" / "part-0.parquet"
    parquet.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(daap.read_trades(DATA / FILES[0]), preserve_index=False), parquet)
    return {"csv": csv, "zip": zipped, "parquet": parquet, "folder": tmp / "bronze"}


def read_candles(path: Path, *, exact_schema: bool = True) -> pd.DataFrame:
    table = pq.read_table(path)
    assert table.schema.field("open_time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.names == list(CANDLE_COLUMNS)
    if exact_schema:  # one file written by build_files: the pandas engine's file schema, nullability included
        assert table.schema.remove_metadata().equals(CANDLES_SCHEMA), table.schema
    return arrow_candles_to_pandas(table.cast(CANDLES_SCHEMA))


@pytest.mark.parametrize("kind", ["csv", "zip", "parquet", "folder"])
def test_build_files_writes_one_parquet_file(
    spark: Any, inputs: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "out" / "candles.parquet"
    summary = daap.CandleBuilder("1m", engine="spark").build_files(inputs[kind], out)
    assert isinstance(summary, BuildSummary) and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["candles.parquet"]  # no temp folder, no _SUCCESS left
    want_out = tmp_path / "want.parquet"
    # The pandas engine lists folders without recursing: give it the nested file itself.
    want_summary = daap.CandleBuilder("1m").build_files(inputs["parquet" if kind == "folder" else kind], want_out)
    assert_candles_equal(read_candles(out), read_candles(want_out), sums_rtol=1e-9)
    for field in ("files", "rows_in", "candles_out", "gap_rows", "symbols", "interval"):
        assert getattr(summary, field) == getattr(want_summary, field), field


def test_build_files_several_inputs_validate_and_errors(
    spark: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "all.parquet"
    builder = daap.CandleBuilder("1h", engine="spark", validate=True)
    summary = builder.build_files(
        [inputs["csv"], inputs["zip"], inputs["parquet"]], out, progress=False, block_bytes=1 << 16
    )
    assert summary.files == 3 and summary.rows_in == 12_000 + 2_000 + 3_243
    got = read_candles(out)
    assert got["open_time"].is_monotonic_increasing
    with pytest.raises(InputFormatError, match="no such file"):
        builder.build_files(tmp_path / "missing.csv", out)
    with pytest.raises(TypeError, match="does not take option"):
        builder.build_files(inputs["csv"], out, chunk_rows=5)
    bad = tmp_path / "bad.parquet"
    pdf = daap.read_trades(DATA / FILES[0])
    pq.write_table(pa.Table.from_pandas(pdf.assign(time=12345), preserve_index=False), bad)
    with pytest.raises(ImplausibleTimestampError, match="12345"):
        builder.build_files(bad, tmp_path / "never.parquet")
    assert not (tmp_path / "never.parquet").exists()


@pytest.mark.parametrize("kind", ["zip", "parquet", "mixed"])
def test_build_files_from_aggtrades_equals_the_pandas_engine_on_trades(spark: Any, tmp_path: Path, kind: str) -> None:
    """aggTrades files (converted zips, normalized Parquet, or mixed with trades files) give the trades' candles."""
    cfg = SyntheticConfig(seed=5, trades_per_day=3_000, days=2, market="um", start=dt.date(2021, 3, 1))
    trade_files = write_binance_files(tmp_path / "trades", cfg)
    agg_files = write_aggtrades_files(tmp_path / "agg", cfg)
    if kind == "parquet":  # read by Spark as it is, last_trade_id included
        inputs: list[Path] = [tmp_path / "agg.parquet"]
        pq.write_table(pa.Table.from_pandas(daap.read_trades(agg_files), preserve_index=False), inputs[0])
    else:  # mixed: the first day as trades, the second as aggTrades
        inputs = [trade_files[0], agg_files[1]] if kind == "mixed" else agg_files
    out = tmp_path / "candles.parquet"
    summary = daap.CandleBuilder("1m", engine="spark").build_files(inputs, out)
    want = pbuild(daap.read_trades(trade_files), "1m")
    assert_candles_equal(read_candles(out), want, sums_rtol=1e-9)
    assert summary.candles_out == len(want)


def test_aggtrades_with_last_id_below_first_id_are_refused(spark: Any, tmp_path: Path) -> None:
    cfg = SyntheticConfig(seed=1, trades_per_day=500)
    aggs = daap.read_trades(write_aggtrades_files(tmp_path, cfg))
    aggs.loc[3, "last_trade_id"] = aggs.loc[3, "trade_id"] - 1
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(aggs, preserve_index=False), bad)
    with pytest.raises(InputFormatError, match=r"last_trade_id \d+ is less than first_trade_id \d+"):
        daap.CandleBuilder("1m", engine="spark").build_files(bad, tmp_path / "never.parquet")


def test_build_lake_through_the_facade_and_the_engine(spark: Any, tmp_path: Path) -> None:
    lake = daap.Lake(tmp_path / "lake")
    ingest = daap.Ingestor(lake)
    ingest.ingest_file(DATA / FILES[0])
    # The same three minutes one day later (ids and ms times shifted), as the next daily file.
    next_day = tmp_path / "BTCUSDT-trades-2021-01-03.csv"
    rows = [line.split(",") for line in (DATA / FILES[0]).read_text().splitlines()]
    next_day.write_text(
        "".join(f"{int(r[0]) + 10**6},{','.join(r[1:4])},{int(r[4]) + 86_400_000},{','.join(r[5:])}\n" for r in rows)
    )
    ingest.ingest_file(next_day)
    ingest.ingest_file(DATA / HALT)
    facade = daap.CandleBuilder("1m", engine="spark").build_lake(lake, "BTCUSDT", end=dt.date(2021, 1, 3))
    engine = get_engine("spark").build_lake(
        lake, "BTCUSDT", daap.Interval.parse("5m"), start=dt.date(2021, 1, 1), end=dt.date(2021, 1, 31)
    )
    assert facade.rows_in == engine.rows_in == 2 * 3_243
    assert engine.candles_out == 24 * 12 + 1 and engine.gap_rows == 24 * 12 + 1 - 2
    zone = Path(lake.uri) / "candles"
    days = sorted(p.name for p in (zone / "interval=5m" / "symbol=BTCUSDT").iterdir())
    assert days == ["date=2021-01-02", "date=2021-01-03"]
    direct = pbuild(daap.read_trades([DATA / FILES[0], next_day]), "5m")
    written = pd.concat(
        [read_candles(next((zone / "interval=5m" / "symbol=BTCUSDT" / d).glob("*.parquet")), exact_schema=False)
         for d in days],
        ignore_index=True,
    )
    assert_candles_equal(written, direct, sums_rtol=1e-9)
    for day in days:
        parts = list((zone / "interval=5m" / "symbol=BTCUSDT" / day).glob("*.parquet"))
        assert len(parts) == 1 and pq.read_schema(parts[0]).field("open_time").type == pa.timestamp("us", tz="UTC")
    # Rerunning replaces the days: still one file per day, same rows.
    again = get_engine("spark").build_lake(lake, "BTCUSDT", daap.Interval.parse("5m"), end=dt.date(2021, 1, 3))
    assert again.candles_out == engine.candles_out
    assert all(len(list(d.glob("*.parquet"))) == 1 for d in (zone / "interval=5m" / "symbol=BTCUSDT").iterdir())
    with pytest.raises(DaapError, match="no bronze trades"):
        get_engine("spark").build_lake(lake, "ETHUSDT", daap.Interval.parse("1m"))


# ----------------------------------------------------------------------------------------------------- sessions
def test_session_from_argument_or_active(spark: Any) -> None:
    assert get_session(spark) is spark
    assert get_session() is spark or get_session().sparkContext is spark.sparkContext


def test_no_session_on_databricks_is_an_error(monkeypatch: pytest.MonkeyPatch, spark: Any) -> None:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    monkeypatch.setattr(SparkContext, "_active_spark_context", None)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    with pytest.raises(SparkSessionError, match="no active SparkSession on Databricks"):
        get_session()
    with pytest.raises(SparkSessionError):
        daap.CandleBuilder("1m", engine="spark").build_files(DATA / HALT, "/tmp/never.parquet")


# ------------------------------------------------------------------------------------------------------------ CLI
def test_cli_candles_with_engine_spark(tmp_path: Path, inputs: dict[str, Path]) -> None:
    """A fresh process: no session is active, so the engine starts a local one."""
    out = tmp_path / "cli.parquet"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("DATABRICKS_RUNTIME_VERSION", None)
    res = subprocess.run(
        [str(Path(sys.executable).parent / "daap"), "candles", "--engine", "spark", str(inputs["zip"]), "-o", str(out),
         "--interval", "1m", "--validate", "--progress"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2,000 trades from 1 file(s) -> 155 1m candles (152 gap rows) for BTCUSDT" in res.stdout
    assert_candles_equal(read_candles(out), pbuild(daap.read_trades(DATA / HALT), "1m"), sums_rtol=1e-9)


# No `s3` marker: the spark-only command line (-o markers=spark) registers no other marker; `-k "not s3"` skips it.
def test_build_lake_on_s3_goes_through_the_driver(spark: Any, s3_lake_uri: str) -> None:
    """An S3 lake and a local Spark without S3A: parts are downloaded, candles uploaded one object per day."""
    lake = daap.Lake(s3_lake_uri)
    daap.Ingestor(lake).ingest_file(DATA / HALT)
    summary = get_engine("spark").build_lake(lake, "BTCUSDT", daap.Interval.parse("1m"), session=spark)
    assert (summary.rows_in, summary.candles_out, summary.gap_rows) == (2_000, 155, 152)
    key = lake.candles_key("1m", "BTCUSDT", "2023-03-24")
    assert lake.store.exists(key)
    table = pq.read_table(pa.BufferReader(lake.store.read_bytes(key)))
    assert_candles_equal(
        arrow_candles_to_pandas(table.cast(CANDLES_SCHEMA)), pbuild(daap.read_trades(DATA / HALT), "1m"), sums_rtol=1e-9
    )
