"""The Spark engine (``pip install 'daap[spark]'``): candles as Spark DataFrames, for Databricks and local Spark.

How it works. Trades are bucketed by an integer bucket index computed in exact ``long`` arithmetic on µs since the
epoch (calendar months for ``1M``), so the result never depends on the session time zone. One ``groupBy(symbol,
bucket)`` computes every column: open/close with ``min_by``/``max_by`` over ``struct(time, trade_id)`` (never
``first``/``last``), high/low, sums, counts and the trade-id range. Aggregate trades (Binance ``aggTrades``: an
extra ``last_trade_id`` column) count ``last_trade_id - trade_id + 1`` trades a row, in the same pass. Gap rows are
made inside Spark, without a join and without collecting anything to the driver: a window over the (small) candles
finds each candle's next traded bucket, and ``explode(sequence(bucket, next - 1))`` turns every candle into itself
plus the gap rows that follow it, priced at its close. With ``fill_gaps=False`` the window is skipped.

The SparkSession comes from the input DataFrame, the ``session=`` option or the active session. Outside Databricks
a local one is started when none exists (and that is logged); inside Databricks (``DATABRICKS_RUNTIME_VERSION``
set) a missing session is an error, never silently replaced.

Beyond the engine contract: :meth:`SparkEngine.build_lake` (bronze zone to candles zone inside Spark, for clusters),
:meth:`SparkEngine.validate_candles` (pandera.pyspark, :mod:`daap.schemas_spark`), and exact converters for tests and
notebooks: :func:`trades_to_spark`, :func:`candles_to_spark`, :func:`candles_to_pandas` (the pandas engine's dtypes).

Examples:
    >>> from daap.engines import get_engine
    >>> engine = get_engine("spark")
    >>> engine.capabilities.output_type
    'pyspark.sql.DataFrame'
    >>> import daap
    >>> trades = trades_to_spark(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"))
    >>> candles = daap.CandleBuilder("1m", engine="spark").build(trades)
    >>> candles.columns[:4], candles.count()
    (['symbol', 'interval', 'open_time', 'close_time'], 3)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import shutil
import tempfile
import time as _time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from daap.contract import CANDLE_COLUMNS, CANDLES_SCHEMA, TRADE_COLUMNS, TRADES_SCHEMA
from daap.engines import BuildSummary, Capabilities
from daap.errors import (
    DaapError,
    ImplausibleTimestampError,
    InputFormatError,
    InvalidIntervalError,
    MissingDependencyError,
)
from daap.intervals import US_PER_DAY, Interval
from daap.sources.binance import PLAUSIBLE_MAX_S, PLAUSIBLE_MIN_S
from daap.trades import DEFAULT_BLOCK_BYTES

_PYSPARK_MISSING: ImportError | None = None
try:  # imported only when the engine is requested; a missing extra surfaces as MissingDependencyError
    from pyspark.sql import types as _types
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    _PYSPARK_MISSING = _exc

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession

    from daap.lake import Lake

__all__ = [
    "CANDLES_SPARK_SCHEMA",
    "TRADES_SPARK_SCHEMA",
    "SparkEngine",
    "SparkSessionError",
    "candles_to_arrow",
    "candles_to_pandas",
    "candles_to_spark",
    "get_session",
    "spark_schema",
    "trades_to_spark",
]

log = logging.getLogger(__name__)

#: Master of the local session started when none is active (outside Databricks); ``$DAAP_SPARK_MASTER`` overrides.
LOCAL_MASTER = "local[2]"
_INPUT_SUFFIXES = (".zip", ".csv", ".gz", ".parquet", ".pq")
_TRADE_VALUE_COLUMNS = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
_IMPLAUSIBLE = "daap: implausible trade time"
_BAD_RANGE = "daap: last_trade_id below trade_id"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Internal column names (never in the contract).
_T, _IDX, _NEXT, _B = "_daap_t", "_daap_idx", "_daap_next", "_daap_b"


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark ``StructType`` of an Arrow schema of the contract (timestamps become ``TimestampType``).

    Examples:
        >>> from daap.contract import CANDLES_SCHEMA
        >>> spark_schema(CANDLES_SCHEMA)["trades"].dataType.simpleString()
        'bigint'
    """
    import pyarrow as pa

    def spark_type(t: pa.DataType) -> Any:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return _types.StringType()
        if pa.types.is_int64(t):
            return _types.LongType()
        if pa.types.is_float64(t):
            return _types.DoubleType()
        if pa.types.is_boolean(t):
            return _types.BooleanType()
        if pa.types.is_timestamp(t):
            return _types.TimestampType()
        raise TypeError(f"no Spark type for {t}")  # pragma: no cover - the contract uses only the types above

    return _types.StructType([_types.StructField(f.name, spark_type(f.type), f.nullable) for f in schema])


if _PYSPARK_MISSING is None:
    #: Candles in Spark types, nullability as in the contract (for ``createDataFrame``).
    CANDLES_SPARK_SCHEMA: Any = spark_schema(CANDLES_SCHEMA)
    #: Normalized trades in Spark types.
    TRADES_SPARK_SCHEMA: Any = spark_schema(TRADES_SCHEMA)


class SparkSessionError(DaapError):
    """No usable SparkSession (on Databricks daap never starts one of its own).

    Examples:
        >>> issubclass(SparkSessionError, DaapError)
        True
    """


# ---------------------------------------------------------------------------------------------------------- session
def get_session(session: SparkSession | None = None) -> SparkSession:
    """The SparkSession to use: ``session``, else the active one, else (outside Databricks) a new local one.

    The local session uses ``local[2]`` (or ``$DAAP_SPARK_MASTER``), the UTC session time zone and few shuffle
    partitions; starting it is logged at INFO level.

    Raises:
        SparkSessionError: inside Databricks (``DATABRICKS_RUNTIME_VERSION`` set) when no session is active.

    Examples:
        >>> spark = get_session()
        >>> spark.conf.get("spark.sql.session.timeZone")
        'UTC'
    """
    if session is not None:
        return session
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if SparkContext._active_spark_context is not None:  # a session exists, just not active in this thread
        return SparkSession.builder.getOrCreate()
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        raise SparkSessionError(
            "no active SparkSession on Databricks: run this in a notebook or job with a Spark session, or pass "
            "session=spark (daap never starts its own session on Databricks)"
        )
    master = os.environ.get("DAAP_SPARK_MASTER", LOCAL_MASTER)
    log.info("no active SparkSession: starting a local one (%s, UTC session time zone)", master)
    spark = (
        SparkSession.builder.master(master)
        .appName("daap")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# ------------------------------------------------------------------------------------------------------ conversion
def trades_to_spark(
    trades: Any, session: SparkSession | None = None, *, symbol: str | None = None
) -> DataFrame:
    """A Spark DataFrame of normalized trades from a pandas DataFrame or an Arrow table (a Spark one is returned as is).

    aggTrades (with a ``last_trade_id`` column, as :func:`daap.read_trades` gives them) keep that column.

    Examples:
        >>> import daap
        >>> pdf = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
        >>> trades_to_spark(pdf).count()
        3243
    """
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import functions as F

    if isinstance(trades, SparkDataFrame):
        return trades
    import pyarrow as pa

    from daap.trades import block_from_frame

    table = pa.Table.from_batches([block_from_frame(trades, symbol).to_arrow()])
    # Times travel as int64 µs: no time-zone conversion anywhere on the way into the JVM.
    table = table.set_column(table.schema.get_field_index("time"), "time", table.column("time").cast(pa.int64()))
    spark = get_session(session)
    df = spark.createDataFrame(table)
    return df.withColumn("time", F.timestamp_micros("time"))


def candles_to_spark(candles: Any, session: SparkSession | None = None) -> DataFrame:
    """Spark candles from pandas candles in the contract (e.g. the pandas engine's output), exactly.

    Examples:
        >>> import daap
        >>> pdf = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
        >>> candles_to_spark(daap.CandleBuilder("1m").build(pdf)).count()
        3
    """
    import pyarrow as pa
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import functions as F

    if isinstance(candles, SparkDataFrame):
        return candles
    table = candles if isinstance(candles, pa.Table) else pa.Table.from_pandas(candles, preserve_index=False)
    cols = []
    for f in CANDLES_SCHEMA:
        col = table.column(f.name)
        cols.append(col.cast(pa.int64()) if pa.types.is_timestamp(f.type) else col.cast(f.type))
    df = get_session(session).createDataFrame(pa.table(cols, names=list(CANDLE_COLUMNS)))
    return df.select(
        *[F.timestamp_micros(c).alias(c) if c in ("open_time", "close_time") else F.col(c) for c in CANDLE_COLUMNS]
    )


def candles_to_arrow(candles: DataFrame) -> pa.Table:
    """Collect Spark candles into an Arrow table in the contract schema, sorted by symbol and ``open_time``.

    Examples:
        >>> import daap
        >>> table = candles_to_arrow(daap.CandleBuilder("1m", engine="spark").build(trades))
        >>> table.num_rows, str(table.schema.field("open_time").type)
        (3, 'timestamp[us, tz=UTC]')
    """
    import pyarrow as pa

    table = candles.select(*CANDLE_COLUMNS).toArrow()
    table = pa.Table.from_arrays(
        [table.column(f.name).cast(f.type) for f in CANDLES_SCHEMA],
        schema=pa.schema([f.with_nullable(True) for f in CANDLES_SCHEMA]),
    )
    return table.sort_by([("symbol", "ascending"), ("interval", "ascending"), ("open_time", "ascending")])


def candles_to_pandas(candles: DataFrame) -> pd.DataFrame:
    """Spark candles as pandas, exactly like the pandas engine's output (``datetime64[us, UTC]``, ``Int64`` ids).

    Rows are sorted by symbol and ``open_time``. Use it on results small enough for the driver.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m", engine="spark").build(trades)
        >>> candles_to_pandas(candles)["first_trade_id"].dtype
        Int64Dtype()
    """
    from daap.engines.pandas import candles_to_pandas as arrow_to_pandas

    return arrow_to_pandas(candles_to_arrow(candles))


# ------------------------------------------------------------------------------------------------------ expressions
def _micros(df: DataFrame, name: str) -> Column:
    """µs since the epoch (long) of a timestamp or integer time column; integers are s, ms or µs by magnitude."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    dtype = df.schema[name].dataType
    col = F.col(name)
    if isinstance(dtype, T.TimestampType):
        return F.unix_micros(col)
    if isinstance(dtype, T.TimestampNTZType):  # wall-clock times: read as UTC, whatever the session time zone
        return F.expr(f"timestampdiff(MICROSECOND, TIMESTAMP_NTZ'1970-01-01 00:00:00', `{name}`)")
    if isinstance(dtype, (T.LongType, T.IntegerType, T.ShortType)) or (
        isinstance(dtype, T.DecimalType) and dtype.scale == 0
    ):
        t = col.cast("long")

        def within(scale: int) -> Column:
            return (t >= PLAUSIBLE_MIN_S * scale) & (t < PLAUSIBLE_MAX_S * scale)

        implausible = F.raise_error(
            F.concat(
                F.lit(f"{_IMPLAUSIBLE} "),
                F.coalesce(t.cast("string"), F.lit("null")),
                F.lit(f" in column {name!r}: not seconds, milliseconds or microseconds of a date in 2009-2100"),
            )
        )
        return (
            F.when(within(1_000_000), t)
            .when(within(1_000), t * 1_000)
            .when(within(1), t * 1_000_000)
            .otherwise(implausible.cast("long"))
        )
    raise InputFormatError(
        f"column {name!r} has Spark type {dtype.simpleString()}; expected a timestamp or integer s/ms/µs"
    )


def _floor_div(expr: str, n: int) -> str:
    """SQL for floor(expr / n) in exact long arithmetic."""
    return f"(({expr}) - pmod({expr}, {n})) div {n}"


def _bucket_index(interval: Interval, t: str) -> Column:
    """Bucket index (long) of the µs column ``t``: as :meth:`Interval.index_of`."""
    from pyspark.sql import functions as F

    if interval.kind == "month":
        day = f"date_from_unix_date(cast({_floor_div(t, US_PER_DAY)} as int))"
        return F.expr(f"cast((year({day}) - 1970) * 12 + month({day}) - 1 as long)")
    x = f"{t} - {interval.offset_us}" if interval.offset_us else t
    return F.expr(_floor_div(x, interval.step_us))


def _bucket_start(interval: Interval, idx: str) -> Column:
    """Start (µs, long) of the bucket index column ``idx``: as :meth:`Interval.start_of`."""
    from pyspark.sql import functions as F

    if interval.kind == "month":
        date = f"make_date(cast(1970 + {_floor_div(idx, 12)} as int), cast(pmod({idx}, 12) + 1 as int), 1)"
        return F.expr(f"cast(unix_date({date}) as long) * {US_PER_DAY}")
    start = F.col(idx) * F.lit(interval.step_us)
    return start + F.lit(interval.offset_us) if interval.offset_us else start


def _last_trade_id(trades: DataFrame) -> Column:
    """The ``last_trade_id`` of aggregate trades as a long; a null or one below ``trade_id`` fails the job."""
    from pyspark.sql import functions as F

    tid, last = F.col("trade_id").cast("long"), F.col("last_trade_id").cast("long")
    bad = F.raise_error(
        F.concat(
            F.lit(f"{_BAD_RANGE} "),
            F.coalesce(last.cast("string"), F.lit("null")),
            F.lit(" < "),
            tid.cast("string"),
        )
    )
    return F.when(last.isNull() | (last < tid), bad.cast("long")).otherwise(last)


def _prepare_trades(trades: DataFrame, interval: Interval, symbol: str | None) -> DataFrame:
    """Trades with ``symbol``, the contract value columns, the time in µs and the bucket index.

    aggTrades input keeps its ``last_trade_id`` column (checked: not null, not below ``trade_id``).
    """
    from pyspark.sql import functions as F

    cols = set(trades.columns)
    missing = [c for c in _TRADE_VALUE_COLUMNS if c not in cols]
    if "symbol" not in cols and symbol is None:
        missing.insert(0, "symbol")
    if missing:
        raise InputFormatError(
            f"the trades DataFrame lacks column(s) {missing}; expected {list(TRADE_COLUMNS)} "
            "(or pass symbol= when there is no symbol column)"
        )
    sym = F.col("symbol").cast("string") if "symbol" in cols else F.lit(symbol)
    df = trades.select(
        sym.alias("symbol"),
        F.col("trade_id").cast("long").alias("trade_id"),
        F.col("price").cast("double").alias("price"),
        F.col("qty").cast("double").alias("qty"),
        F.col("quote_qty").cast("double").alias("quote_qty"),
        F.col("is_buyer_maker").cast("boolean").alias("is_buyer_maker"),
        _micros(trades, "time").alias(_T),
        *([_last_trade_id(trades).alias("last_trade_id")] if "last_trade_id" in cols else []),
    )
    return df.withColumn(_IDX, _bucket_index(interval, _T))


def _aggregate_trades(df: DataFrame) -> DataFrame:
    """One row per (symbol, bucket) with every candle column of the traded buckets.

    With a ``last_trade_id`` column (aggTrades) a row counts ``last_trade_id - trade_id + 1`` trades and the
    bucket's last id is the largest ``last_trade_id``; without it, a row is one trade.
    """
    from pyspark.sql import functions as F

    # open/close: smallest/largest (time, trade_id), never first()/last(). For aggTrades the largest (time, trade_id)
    # is also the largest (time, last_trade_id): the rows' id ranges are disjoint.
    key = F.struct(_T, "trade_id")
    taker = ~F.col("is_buyer_maker")
    if "last_trade_id" in df.columns:
        trades = F.sum(F.col("last_trade_id") - F.col("trade_id") + F.lit(1))
        last_id = F.max("last_trade_id")
    else:
        trades, last_id = F.count(F.lit(1)), F.max("trade_id")
    return df.groupBy("symbol", _IDX).agg(
        F.min_by("price", key).alias("open"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.max_by("price", key).alias("close"),
        F.sum("qty").alias("volume"),
        F.sum("quote_qty").alias("quote_volume"),
        trades.alias("trades"),
        F.sum(F.when(taker, F.col("qty")).otherwise(F.lit(0.0))).alias("taker_buy_volume"),
        F.sum(F.when(taker, F.col("quote_qty")).otherwise(F.lit(0.0))).alias("taker_buy_quote_volume"),
        F.min("trade_id").alias("first_trade_id"),
        last_id.alias("last_trade_id"),
    )


def _finish(traded: DataFrame, interval: Interval, fill_gaps: bool) -> DataFrame:
    """Contract candles from traded buckets: times, vwap, and (with ``fill_gaps``) the gap rows."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if fill_gaps:
        # Each traded bucket becomes itself plus the empty buckets up to the symbol's next traded one.
        nxt = F.lead(_IDX).over(Window.partitionBy("symbol").orderBy(_IDX))
        df = traded.withColumn(_NEXT, nxt).withColumn(
            _B, F.explode(F.sequence(F.col(_IDX), F.coalesce(F.col(_NEXT) - 1, F.col(_IDX))))
        )
        gap: Column | None = F.col(_B) != F.col(_IDX)
    else:
        df, gap = traded.withColumn(_B, F.col(_IDX)), None

    def traded_or(name: str, fill: Column) -> Column:
        return (F.col(name) if gap is None else F.when(gap, fill).otherwise(F.col(name))).alias(name)

    zero, no_id = F.lit(0.0), F.lit(None).cast("long")
    close = F.col("close")
    start = _bucket_start(interval, _B)
    end = (_bucket_start(interval, f"({_B} + 1)") if interval.kind == "month" else start + interval.step_us) - 1
    volume = traded_or("volume", zero)
    quote_volume = traded_or("quote_volume", zero)
    return df.select(
        F.col("symbol"),
        F.lit(interval.name).alias("interval"),
        F.timestamp_micros(start).alias("open_time"),
        F.timestamp_micros(end).alias("close_time"),
        traded_or("open", close),
        traded_or("high", close),
        traded_or("low", close),
        close.alias("close"),
        volume,
        quote_volume,
        traded_or("trades", F.lit(0).cast("long")),
        traded_or("taker_buy_volume", zero),
        traded_or("taker_buy_quote_volume", zero),
        F.col("first_trade_id") if gap is None else traded_or("first_trade_id", no_id),
        F.col("last_trade_id") if gap is None else traded_or("last_trade_id", no_id),
    ).select(
        *CANDLE_COLUMNS[:13],
        F.when(F.col("volume") != 0, F.col("quote_volume") / F.col("volume")).alias("vwap"),
        "first_trade_id",
        "last_trade_id",
    )


# --------------------------------------------------------------------------------------------------------- files
def _is_remote(path: str) -> bool:
    """True for URIs Spark reads itself (``s3a://``, ``dbfs:``, ``abfss://``...), False for local paths."""
    return bool(_SCHEME.match(path)) and not path.startswith("file:") and not re.match(r"^[A-Za-z]:[\\/]", path)


def _spark_root(uri: str) -> str:
    """The lake root as Spark paths spell it: ``/dbfs/x`` is ``dbfs:/x``; ``s3://`` is ``s3a://`` outside Databricks.

    Examples:
        >>> _spark_root("/dbfs/lake"), _spark_root("/Volumes/main/daap/lake")
        ('dbfs:/lake', '/Volumes/main/daap/lake')
    """
    if uri.startswith("/dbfs/"):
        return "dbfs:/" + uri.removeprefix("/dbfs/")
    if uri.startswith("s3://") and not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return "s3a://" + uri.removeprefix("s3://")
    return uri


def _local_files(item: Path) -> list[Path]:
    if item.is_dir():
        found = sorted(
            f
            for f in item.rglob("*")
            if f.is_file()
            and f.name.lower().endswith(_INPUT_SUFFIXES)
            and not any(part.startswith((".", "_")) for part in f.relative_to(item).parts)
        )
        if not found:
            raise InputFormatError("the folder holds no .zip, .csv, .csv.gz or .parquet trade files", path=item)
        return found
    if not item.exists():
        raise InputFormatError("no such file", path=item)
    return [item]


def _is_normalized_parquet(path: Path) -> bool:
    """True when a Parquet file already holds normalized trades (or aggTrades) Spark can read as they are."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError):
        return False
    want = {
        "symbol": (pa.types.is_string, pa.types.is_large_string),
        "trade_id": (pa.types.is_int64,),
        "price": (pa.types.is_float64,),
        "qty": (pa.types.is_float64,),
        "quote_qty": (pa.types.is_float64,),
        "is_buyer_maker": (pa.types.is_boolean,),
    }
    for name, tests in want.items():
        if name not in schema.names or not any(test(schema.field(name).type) for test in tests):
            return False
    if "last_trade_id" in schema.names and not pa.types.is_int64(schema.field("last_trade_id").type):
        return False
    if "time" not in schema.names:
        return False
    t = schema.field("time").type
    return bool(pa.types.is_timestamp(t) and t.tz is not None and t.unit in ("ms", "us"))


def _has_last_trade_id(path: Path) -> bool:
    import pyarrow.parquet as pq

    return "last_trade_id" in pq.read_schema(path).names


def _convert(path: Path, scratch: Path, symbol: str | None, block_bytes: int) -> Path:
    """Stream a trades (or aggTrades) file through daap's reader into a normalized Parquet file in ``scratch``."""
    import pyarrow.parquet as pq

    from daap.trades import iter_blocks

    out = scratch / f"{uuid.uuid4().hex}.parquet"
    writer: pq.ParquetWriter | None = None
    try:
        for block in iter_blocks(path, symbol, block_bytes=block_bytes):
            batch = block.to_arrow()  # TRADES_SCHEMA, or AGG_TRADES_SCHEMA for aggTrades
            if writer is None:
                writer = pq.ParquetWriter(out, batch.schema, compression="zstd")
            writer.write_batch(batch)
        if writer is None:
            pq.write_table(TRADES_SCHEMA.empty_table(), out, compression="zstd")
    finally:
        if writer is not None:
            writer.close()
    return out


def _read_trades(spark: SparkSession, paths: list[str], local: dict[str, bool]) -> DataFrame:
    """The trades of ``paths`` as one DataFrame; ``local`` says which local files are aggTrades.

    Plain trades and aggTrades files are read apart and unioned, plain ones with ``last_trade_id = trade_id``:
    one ``spark.read.parquet`` of both would keep the columns of one file only.
    """
    from pyspark.sql import functions as F

    aggs = [p for p in paths if local.get(p)]
    if not aggs or len(aggs) == len(paths):
        return spark.read.parquet(*paths)
    parts = [spark.read.parquet(*aggs), spark.read.parquet(*[p for p in paths if not local.get(p)])]
    columns = ["symbol", *_TRADE_VALUE_COLUMNS, "last_trade_id"]
    parts = [df if "last_trade_id" in df.columns else df.withColumn("last_trade_id", F.col("trade_id")) for df in parts]
    return parts[0].select(*columns).unionByName(parts[1].select(*columns))


def _parquet_inputs(
    inputs: Sequence[str | Path], scratch: Path, symbol: str | None, block_bytes: int
) -> tuple[list[str], int, dict[str, bool]]:
    """Paths Spark reads as normalized-trade Parquet, the number of input files, and which local ones are aggTrades."""
    paths: list[str] = []
    local: dict[str, bool] = {}
    files = 0
    for item in inputs:
        text = str(item)
        if _is_remote(text):
            if text.lower().rstrip("/").endswith((".zip", ".csv", ".gz")):
                raise InputFormatError(
                    "the spark engine reads remote trades as Parquet only; ingest CSV/zip files into a lake first",
                    path=text,
                )
            paths.append(text)
            files += 1
            continue
        for f in _local_files(Path(text.removeprefix("file:") if text.startswith("file:") else text)):
            files += 1
            if symbol is None and _is_normalized_parquet(f):
                path = f.resolve()
            else:
                path = _convert(f, scratch, symbol, block_bytes)
            paths.append(str(path))
            local[str(path)] = _has_last_trade_id(path)
    if not paths:
        raise InputFormatError("no input files given")
    return paths, files, local


@contextlib.contextmanager
def _conf(spark: SparkSession, **settings: str) -> Iterator[None]:
    """Set session settings for the duration of a block, then restore them."""
    keys = {k.replace("__", "."): v for k, v in settings.items()}
    old = {k: spark.conf.get(k, None) for k in keys}
    for k, value in keys.items():
        spark.conf.set(k, value)
    try:
        yield
    finally:
        for k, previous in old.items():
            if previous is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, previous)


def _parquet_writer(df: DataFrame) -> Any:
    return df.write.mode("overwrite").option("compression", "zstd")


def _spark_errors(exc: Exception) -> DaapError | None:
    """A daap error for a Spark failure daap caused on purpose (implausible times, bad aggTrades ids), else None."""
    text = str(exc)
    if _BAD_RANGE in text:
        m = re.search(re.escape(_BAD_RANGE) + r" (\S+) < (\S+)", text)
        last, first = (m.group(1), m.group(2)) if m else ("?", "?")
        reason = f"last_trade_id {last} is less than first_trade_id {first}"
        if last == "null":
            reason = f"last_trade_id is null (first_trade_id {first})"
        return InputFormatError(reason, column="last_trade_id")
    if _IMPLAUSIBLE in text:
        m = re.search(re.escape(_IMPLAUSIBLE) + r" (\S+) in column '([^']+)'", text)
        value = m.group(1) if m else "?"
        return ImplausibleTimestampError(
            f"implausible trade time {value}: not seconds, milliseconds or microseconds of a date in 2009-2100",
            column="time",
        )
    return None


# ---------------------------------------------------------------------------------------------------------- engine
class SparkEngine:
    """PySpark engine: in-memory inputs and results are Spark DataFrames (pandas/Arrow trades are converted).

    Examples:
        >>> from daap.intervals import Interval
        >>> candles = SparkEngine().build(trades, Interval.parse("1m"))
        >>> candles.select("trades").orderBy("open_time").collect()[0][0]
        1279
    """

    name: ClassVar[str] = "spark"
    capabilities: ClassVar[Capabilities] = Capabilities(
        streaming_files=True,
        lazy=True,
        input_types=("pyspark.sql.DataFrame", "pandas.DataFrame", "pyarrow.Table"),
        output_type="pyspark.sql.DataFrame",
        notes=(
            "lazy: build() and rollup() return a Spark plan; nothing runs until an action or a write",
            "gap rows are generated inside Spark (window + sequence), never collected to the driver",
            "build_files reads Parquet with spark.read.parquet (local, s3a://, dbfs:, /Volumes/...); local CSV/zip "
            "files are first streamed into a temporary Parquet by daap's reader on the driver",
            "result rows are not ordered across symbols; build_files writes them sorted by (symbol, open_time)",
        ),
    )

    def __init__(self) -> None:
        if _PYSPARK_MISSING is not None:  # pragma: no cover - exercised only without the extra
            raise MissingDependencyError("engine 'spark'", "spark") from _PYSPARK_MISSING

    def build(
        self,
        trades: Any,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        symbol: str | None = None,
        session: SparkSession | None = None,
        validate: bool = False,
        progress: bool | None = None,
        **options: Any,
    ) -> DataFrame:
        """Candles (a lazy Spark DataFrame in the contract) from a Spark DataFrame of normalized trades.

        Args:
            trades: a Spark DataFrame with ``symbol, trade_id, price, qty, quote_qty, time, is_buyer_maker``;
                ``time`` is a timestamp, or integer s/ms/µs (detected per value by magnitude). aggTrades add
                ``last_trade_id``: a row stands for the trades ``trade_id`` to ``last_trade_id``. A pandas
                DataFrame or Arrow table is converted with :func:`trades_to_spark`.
            interval: the candle interval.
            fill_gaps: add gap rows.
            symbol: the symbol when ``trades`` has no ``symbol`` column.
            session: the session for pandas/Arrow input (default: the active one).
            validate: check the candles with :mod:`daap.schemas_spark` (they are cached first, then checked).
            progress: accepted for compatibility with the pandas engine; ignored.
            **options: none other; an unknown option is a TypeError.

        Raises:
            InputFormatError: missing columns or an unusable ``time`` type. (A null ``last_trade_id``, or one
                below ``trade_id``, fails the Spark job that runs the plan.)

        Examples:
            >>> from daap.intervals import Interval
            >>> SparkEngine().build(trades, Interval.parse("1m")).count()
            3
        """
        _no_options(options)
        df = trades_to_spark(trades, session, symbol=symbol)
        candles = _finish(_aggregate_trades(_prepare_trades(df, interval, symbol)), interval, fill_gaps)
        return self.validate_candles(candles) if validate else candles

    def rollup(
        self,
        candles: Any,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        validate: bool = False,
        progress: bool | None = None,
        **options: Any,
    ) -> DataFrame:
        """Roll finer Spark candles up to ``interval``, exactly as building ``interval`` from the trades would.

        Gap rows of the input are dropped, buckets merge by ``min_by``/``max_by`` over ``open_time`` (ties broken by
        the first/last trade id), and gap rows are made again for the coarser interval. One small Spark job reads
        the distinct source intervals to check that they nest.

        Raises:
            InvalidIntervalError: the source interval does not nest in ``interval`` (e.g. ``1w`` into ``1M``), or
                columns of the contract are missing.

        Examples:
            >>> from daap.intervals import Interval
            >>> one_minute = SparkEngine().build(trades, Interval.parse("1m"))
            >>> SparkEngine().rollup(one_minute, Interval.parse("5m")).select("trades").collect()[0][0]
            3243
        """
        from pyspark.sql import functions as F

        _no_options(options)
        missing = [c for c in CANDLE_COLUMNS if c not in candles.columns]
        if missing:
            raise InvalidIntervalError(f"rollup needs candles in the contract; missing columns {missing}")
        for row in candles.select("interval").distinct().collect():
            src = Interval.parse(str(row[0]))
            if not src.divides(interval):
                raise InvalidIntervalError(
                    f"cannot roll {src} candles up to {interval}: {src} buckets do not nest in {interval} buckets"
                )
        df = candles.filter(F.col("trades") > 0).withColumn(_T, _micros(candles, "open_time"))
        df = df.withColumn(_IDX, _bucket_index(interval, _T))
        traded = df.groupBy("symbol", _IDX).agg(
            F.min_by("open", F.struct(_T, "first_trade_id")).alias("open"),
            F.max("high").alias("high"),
            F.min("low").alias("low"),
            F.max_by("close", F.struct(_T, "last_trade_id")).alias("close"),
            F.sum("volume").alias("volume"),
            F.sum("quote_volume").alias("quote_volume"),
            F.sum(F.col("trades").cast("long")).alias("trades"),
            F.sum("taker_buy_volume").alias("taker_buy_volume"),
            F.sum("taker_buy_quote_volume").alias("taker_buy_quote_volume"),
            F.min("first_trade_id").alias("first_trade_id"),
            F.max("last_trade_id").alias("last_trade_id"),
        )
        out = _finish(traded, interval, fill_gaps)
        return self.validate_candles(out) if validate else out

    def build_files(
        self,
        inputs: Sequence[str | Path],
        output: str | Path,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        symbol: str | None = None,
        session: SparkSession | None = None,
        validate: bool = False,
        progress: bool | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        scratch_dir: str | Path | None = None,
        **options: Any,
    ) -> BuildSummary:
        """Build candles from trade files with Spark and write them as Parquet.

        Parquet inputs in the normalized schema (the lake's bronze zone) are read by ``spark.read.parquet``, local
        or remote (``s3a://``, ``dbfs:``, ``abfss://``, Unity Catalog ``/Volumes/...``) as given; folders are
        searched recursively. Local CSV, csv.gz and zip files (and other Parquet) are first streamed by daap's
        reader into a temporary Parquet file in ``scratch_dir`` (default: a local temporary folder, which only
        local-mode or single-node Spark can read; on a cluster give a shared path, or ingest into a lake first).
        Local trades and aggTrades files may be mixed (aggTrades keep their ``last_trade_id``).

        A local ``output`` ending in ``.parquet`` becomes exactly one Parquet file at that path, rows sorted by
        ``(symbol, open_time)``, published atomically (written in a temporary folder next to it, then renamed).
        Any other ``output`` (a folder, ``s3a://...``) is written by Spark as a Parquet dataset, overwriting it.
        Times are written as ``TIMESTAMP_MICROS`` (UTC), not Spark's default INT96.

        Args:
            inputs: files or folders of trades.
            output: where to write the candles.
            interval: the candle interval.
            fill_gaps: add gap rows.
            symbol: the symbol, when the file names do not say it (forces the conversion path).
            session: the SparkSession (default: the active one; outside Databricks a local one is started).
            validate: check the written candles with :mod:`daap.schemas_spark` before publishing them.
            progress: accepted for compatibility with the pandas engine; ignored.
            block_bytes: CSV bytes parsed per block by the conversion.
            scratch_dir: where converted CSV/zip inputs go.
            **options: none other; an unknown option is a TypeError.

        Examples:
            >>> import tempfile, pathlib
            >>> out = pathlib.Path(tempfile.mkdtemp()) / "candles.parquet"
            >>> SparkEngine().build_files(["tests/data/BTCUSDT-trades-2021-01-02.csv"], out,
            ...                           Interval.parse("1m")).candles_out
            3
        """
        _no_options(options)
        started = _time.perf_counter()
        spark = get_session(session)
        if scratch_dir is not None:
            Path(scratch_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(
            prefix="daap-spark-", dir=None if scratch_dir is None else str(scratch_dir)
        ) as tmp:
            paths, files, local = _parquet_inputs(inputs, Path(tmp), symbol, block_bytes)
            try:
                trades = _read_trades(spark, paths, local)
                candles = self.build(trades, interval, fill_gaps=fill_gaps, symbol=symbol)
                stats = self._write(spark, candles, str(output), validate)
            except DaapError:
                raise
            except Exception as exc:
                mapped = _spark_errors(exc)
                if mapped is None:
                    raise
                raise mapped from exc
        rows_in, candles_out, gap_rows, symbols = stats
        return BuildSummary(
            output=str(output),
            files=files,
            rows_in=rows_in,
            candles_out=candles_out,
            gap_rows=gap_rows,
            symbols=symbols,
            interval=interval.name,
            seconds=_time.perf_counter() - started,
            in_order=True,
        )

    def build_lake(
        self,
        lake: Lake | str | Path,
        symbol: str,
        interval: Interval,
        *,
        market: str = "spot",
        start: dt.date | None = None,
        end: dt.date | None = None,
        fill_gaps: bool = True,
        session: SparkSession | None = None,
        spark_root: str | None = None,
        validate: bool = False,
        progress: bool | None = None,
        **options: Any,
    ) -> BuildSummary:
        """Build candles from a lake's bronze trades and write its ``candles/`` zone, all inside Spark.

        The bronze parts come from the lake's manifests (:meth:`daap.Lake.bronze_keys`, so half-finished ingests
        stay invisible) and are read by ``spark.read.parquet``. The candles are written to
        ``candles/interval={interval}/symbol={symbol}/date={YYYY-MM-DD}/`` (UTC day of ``open_time``, one Parquet
        file per day) with dynamic partition overwrite: rebuilding a range replaces exactly its days, so reruns
        never duplicate. Nothing passes through the driver but the manifests and a few counts, so this is the way
        to build candles on a cluster (see ``examples/databricks/daap_candles.py``).

        Args:
            lake: a :class:`daap.Lake` or its URI (a local or FUSE path such as ``/Volumes/...`` or ``/dbfs/...``,
                or ``s3://bucket/prefix``).
            symbol: the symbol.
            interval: the candle interval.
            market: ``spot`` or ``um``.
            start: first UTC day of trades to read (default: the first in the lake).
            end: last UTC day of trades to read (default: the last).
            fill_gaps: add gap rows.
            session: the SparkSession (default: the active one).
            spark_root: the lake root as Spark sees it (default: derived from the lake URI: ``/dbfs/x`` becomes
                ``dbfs:/x``, and ``s3://`` becomes ``s3a://`` outside Databricks).
            validate: check the candles with :mod:`daap.schemas_spark` before writing them.
            progress: accepted for compatibility; ignored.
            **options: none other; an unknown option is a TypeError.

        Raises:
            DaapError: when the lake holds no bronze trades for the symbol and range.

        Examples:
            >>> import tempfile, daap
            >>> lake = daap.Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2021-01-02.csv")
            >>> SparkEngine().build_lake(lake, "BTCUSDT", Interval.parse("1m"), session=spark).candles_out
            3
        """
        from daap.lake import Lake

        _no_options(options)
        started = _time.perf_counter()
        the_lake = lake if isinstance(lake, Lake) else Lake(lake)
        keys = the_lake.bronze_keys(symbol, market=market, start=start, end=end)
        if not keys:
            span = f" from {start or '...'} to {end or '...'}" if (start or end) else ""
            raise DaapError(f"no bronze trades for {market} {symbol}{span} in {the_lake.uri}; ingest some first")
        spark = get_session(session)
        remote = the_lake.store.local_path(keys[0]) is None
        try:
            if remote and spark_root is None and not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
                # An S3 lake and a local Spark without S3 credentials: go through the driver, like the pandas path.
                with the_lake.local_files(keys) as paths, tempfile.TemporaryDirectory(prefix="daap-spark-") as tmp:
                    local_zone = Path(tmp) / "candles"
                    stats = self._write_days(
                        spark, spark.read.parquet(*[str(p) for p in paths]), str(local_zone), interval, fill_gaps,
                        validate,
                    )
                    for part in sorted(local_zone.glob("date=*/*.parquet")):
                        day = part.parent.name.removeprefix("date=")
                        the_lake.store.put_file(part, the_lake.candles_key(interval.name, symbol, day))
                zone = f"{the_lake.uri}/candles/interval={interval.name}/symbol={symbol}"
            else:
                root = (spark_root or _spark_root(the_lake.uri)).rstrip("/")
                zone = f"{root}/candles/interval={interval.name}/symbol={symbol}"
                trades = spark.read.parquet(*[f"{root}/{k}" for k in keys])
                stats = self._write_days(spark, trades, zone, interval, fill_gaps, validate)
        except DaapError:
            raise
        except Exception as exc:
            mapped = _spark_errors(exc)
            if mapped is None:
                raise
            raise mapped from exc
        rows_in, candles_out, gap_rows = stats
        return BuildSummary(
            output=zone,
            files=len(keys),
            rows_in=rows_in,
            candles_out=candles_out,
            gap_rows=gap_rows,
            symbols=(symbol,) if candles_out else (),
            interval=interval.name,
            seconds=_time.perf_counter() - started,
        )

    def _write_days(
        self, spark: SparkSession, trades: DataFrame, zone: str, interval: Interval, fill_gaps: bool, validate: bool
    ) -> tuple[int, int, int]:
        """Write candles as ``{zone}/date=YYYY-MM-DD/`` (one file per UTC day, dynamic overwrite); return counts."""
        from pyspark.sql import functions as F

        candles = self.build(trades, interval, fill_gaps=fill_gaps).cache()  # written, then counted
        try:
            if validate:
                self.validate_candles(candles, cache=False)
            day = F.expr(f"date_from_unix_date(cast({_floor_div('unix_micros(open_time)', US_PER_DAY)} as int))")
            dated = candles.withColumn("date", day.cast("string")).repartition("date")
            with _conf(spark, spark__sql__parquet__outputTimestampType="TIMESTAMP_MICROS"):
                (
                    _parquet_writer(dated.sortWithinPartitions("open_time"))
                    .option("partitionOverwriteMode", "dynamic")
                    .partitionBy("date")
                    .parquet(zone)
                )
            row = candles.agg(
                F.coalesce(F.sum("trades"), F.lit(0)), F.count(F.lit(1)), F.count(F.when(F.col("trades") == 0, 1))
            ).first()
        finally:
            candles.unpersist()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    def _write(
        self, spark: SparkSession, candles: DataFrame, output: str, validate: bool
    ) -> tuple[int, int, int, tuple[str, ...]]:
        """Write candles; return (trades, candles, gap rows, symbols) read back from what was written."""
        from pyspark.sql import functions as F

        with _conf(spark, spark__sql__parquet__outputTimestampType="TIMESTAMP_MICROS"):
            if _is_remote(output) or not output.endswith(".parquet"):
                _parquet_writer(candles).parquet(output)
                written = spark.read.parquet(output)
                if validate:
                    self.validate_candles(written, cache=False)
                row = written.agg(
                    F.coalesce(F.sum("trades"), F.lit(0)),
                    F.count(F.lit(1)),
                    F.count(F.when(F.col("trades") == 0, 1)),
                    F.sort_array(F.collect_set("symbol")),
                ).first()
                assert row is not None
                return int(row[0]), int(row[1]), int(row[2]), tuple(str(s) for s in row[3])
            return self._write_one_file(spark, candles, Path(output), validate)

    def _write_one_file(
        self, spark: SparkSession, candles: DataFrame, out: Path, validate: bool
    ) -> tuple[int, int, int, tuple[str, ...]]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        out.parent.mkdir(parents=True, exist_ok=True)
        folder = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.spark"
        try:
            one = candles.coalesce(1).sortWithinPartitions("symbol", "interval", "open_time")
            _parquet_writer(one).parquet(str(folder))
            parts = sorted(folder.glob("part-*.parquet"))
            if len(parts) > 1:  # pragma: no cover - coalesce(1) writes one part
                raise DaapError(f"Spark wrote {len(parts)} parts to {folder}; expected one")
            if not parts:  # no rows: Spark may write no part at all
                part = folder / "part-empty.parquet"
                pq.write_table(CANDLES_SCHEMA.empty_table(), part, compression="zstd")
            else:
                part = parts[0]
            if validate:
                self.validate_candles(spark.read.parquet(str(part)), cache=False)
            table = pq.read_table(part)
            trades = table.column("trades")
            stats = (
                int(pc.sum(trades).as_py() or 0),
                table.num_rows,
                int((trades.to_numpy() == 0).sum()),
                tuple(sorted(str(s) for s in pc.unique(table.column("symbol")).to_pylist())),
            )
            if all(table.column(f.name).null_count == 0 for f in CANDLES_SCHEMA if not f.nullable):
                # The contract's schema, required fields included: the same file schema as the pandas engine's.
                part = folder / "contract.parquet"
                pq.write_table(table.cast(CANDLES_SCHEMA), part, compression="zstd")
            os.replace(part, out)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return stats

    # ------------------------------------------------------------------------------------------------ validation
    def add_indicators(self, candles: DataFrame, specs: Sequence[Any]) -> DataFrame:
        """Indicator columns on Spark candles; see :func:`add_indicators`.

        Examples:
            >>> import daap
            >>> candles = SparkEngine().build(trades, daap.Interval.parse("1m"))
            >>> SparkEngine().add_indicators(candles, [daap.indicators.SMA(2)]).columns[-1]
            'sma_2'
        """
        return add_indicators(candles, specs)

    def validate_candles(self, candles: DataFrame, *, cache: bool = True) -> DataFrame:
        """Check Spark candles against :class:`daap.schemas_spark.Candles`.

        Every check is a Spark job, so by default the candles are cached first and the cached DataFrame is
        returned (``unpersist()`` it when done); ``cache=False`` checks and returns ``candles`` as they are.

        Raises:
            ValidationError: naming each failed check and a few failing rows.

        Examples:
            >>> from daap.intervals import Interval
            >>> candles = SparkEngine().validate_candles(SparkEngine().build(trades, Interval.parse("1m")))
            >>> candles.count()
            3
        """
        from daap.schemas_spark import validate_candles

        checked = candles.cache() if cache else candles
        return validate_candles(checked)

    def validate_trades(self, trades: DataFrame) -> DataFrame:
        """Check Spark trades against :class:`daap.schemas_spark.Trades`; return them unchanged.

        Raises:
            ValidationError: naming each failed check.

        Examples:
            >>> SparkEngine().validate_trades(trades).count()
            3243
        """
        from daap.schemas_spark import validate_trades

        return validate_trades(trades)


def _no_options(options: dict[str, Any]) -> None:
    if options:
        raise TypeError(f"the spark engine does not take option(s) {sorted(options)}")


def add_indicators(candles: DataFrame, specs: Sequence[Any]) -> DataFrame:
    """Append indicator columns to Spark candles, exactly as :func:`daap.indicators.add` computes them.

    EMA-like indicators are recursive, so each ``(symbol, interval)`` series is computed whole, in order, on one
    executor with ``groupBy(...).applyInPandas`` running daap's own pandas implementation: the values are the
    pandas engine's, by construction, and one symbol's month of 1m candles (44,640 rows) fits easily.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m", engine="spark").build(trades)
        >>> add_indicators(candles, [daap.indicators.SMA(2)]).orderBy("open_time").select("sma_2").count()
        3
    """
    from daap import indicators

    specs = list(specs)
    columns = [c for s in specs for c in s.columns]
    fields = [*candles.schema.fields, *(_types.StructField(c, _types.DoubleType(), True) for c in columns)]
    schema = _types.StructType(fields)

    def compute(pdf: pd.DataFrame) -> pd.DataFrame:
        result: pd.DataFrame = indicators.add(pdf, specs)
        return result

    out: DataFrame = candles.groupBy("symbol", "interval").applyInPandas(compute, schema=schema)
    return out
