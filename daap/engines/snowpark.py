"""The Snowpark engine (``pip install 'daap[snowflake]'``): candles computed inside Snowflake, next to the data.

How it works. Every step is a Snowpark expression that Snowflake runs; nothing but two small numbers (a span, and
the distinct source intervals of a rollup) comes back to the client before the result is used.

- **Time.** A timestamp ``TIME`` becomes µs since the epoch with ``DATE_PART('epoch_microsecond', …)``; integer
  times are seconds, milliseconds or µs, detected per value by magnitude, as every daap engine does. Bucket indexes
  are exact integer arithmetic (calendar months: ``DATEDIFF('month', …)``).
- **Open and close** are the prices of the smallest and largest ``(time, trade_id)`` of a bucket, by
  ``MIN_BY``/``MAX_BY`` over one key that orders exactly as the pair: the time and the trade id as zero-padded
  decimal strings, concatenated (``LPAD(time, 17, '0') || LPAD(trade_id, 20, '0')``). A ``NUMBER(38)`` key
  (``time * 1e19 + trade_id``) would be exact in Snowflake too, but no float-based emulator can check it; the
  string key is exact everywhere and keeps the aggregation to one pass over the trades.
- **aggTrades** (an extra ``LAST_TRADE_ID`` column, any case): a row stands for the trades ``TRADE_ID`` to
  ``LAST_TRADE_ID``, so it counts ``LAST_TRADE_ID - TRADE_ID + 1`` trades and the candle's last id is the largest
  ``LAST_TRADE_ID``, in the same pass. The close keeps the ``(time, trade_id)`` key: the rows' id ranges are
  disjoint, so the largest ``(time, trade_id)`` is the largest ``(time, last_trade_id)`` too.
- **Gap rows** come from a grid: each symbol's bucket range (``session.range`` cross-joined with the per-symbol
  bounds), left-joined with the traded buckets; the close is carried with
  ``LAST_VALUE(close) IGNORE NULLS`` over the symbol's buckets. The one number fetched is the largest span.
- **Indicators** (:func:`add_indicators`): window functions for the non-recursive ones (SMA, VWAP, simple returns,
  OBV); the recursive and variance-based ones (EMA, RSI, MACD, ATR, Bollinger, log returns, realized volatility)
  are computed exactly per ``(symbol, interval)`` by daap's own numpy code in a vectorized UDTF
  (``group_by(...).apply_in_pandas``): Snowflake's SQL has no exact recursive EMA, and the pandas path gives the
  values of every other engine by construction. The UDTF ships the ``daap`` package with it (``imports=``).

Columns are the contract's (ARCHITECTURE.md section 2), as unquoted upper-case names (``SYMBOL``, ``OPEN_TIME``,
…, ``LAST_TRADE_ID``); times are ``TIMESTAMP_NTZ(6)`` holding UTC.

Examples:
    >>> import daap
    >>> from daap.engines import get_engine
    >>> get_engine("snowpark").capabilities.output_type
    'snowflake.snowpark.DataFrame'
    >>> trades = trades_to_snowpark(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"), session)
    >>> candles = daap.CandleBuilder("1m", engine="snowpark").build(trades)
    >>> candles.columns[:4], int(candles.count())
    (['SYMBOL', 'INTERVAL', 'OPEN_TIME', 'CLOSE_TIME'], 3)
"""

from __future__ import annotations

import os
import tempfile
import time as _time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from daap.contract import CANDLE_COLUMNS, TRADE_COLUMNS
from daap.engines import BuildSummary, Capabilities
from daap.errors import (
    DaapError,
    ImplausibleTimestampError,
    InputFormatError,
    InvalidIntervalError,
    MissingDependencyError,
    ValidationError,
)
from daap.intervals import US_PER_DAY, Interval
from daap.sources.binance import PLAUSIBLE_MAX_S, PLAUSIBLE_MIN_S

_SNOWPARK_MISSING: ImportError | None = None
try:  # imported only when the engine is requested; a missing extra surfaces as MissingDependencyError
    from snowflake.snowpark import types as _types
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    _SNOWPARK_MISSING = _exc

if TYPE_CHECKING:
    import pandas as pd
    from snowflake.snowpark import Column, DataFrame, Session

__all__ = [
    "SnowparkEngine",
    "SnowparkSessionError",
    "add_indicators",
    "candles_to_pandas",
    "candles_to_snowpark",
    "get_session",
    "trades_to_snowpark",
]

#: The contract's columns as Snowflake stores them: unquoted, upper case.
CANDLE_COLUMNS_SF = tuple(c.upper() for c in CANDLE_COLUMNS)
_TRADE_VALUE_COLUMNS = ("TRADE_ID", "PRICE", "QTY", "QUOTE_QTY", "TIME", "IS_BUYER_MAKER")
# Internal column names (never in the contract).
_T, _IDX, _B, _S, _LO, _HI, _ID = "_DAAP_T", "_DAAP_IDX", "_DAAP_B", "_DAAP_S", "_DAAP_LO", "_DAAP_HI", "ID"
_K, _DAY, _OBV_STEP = "_DAAP_K", "_DAAP_DAY", "_DAAP_OBV_STEP"
#: Digits of the order key's parts: µs times before 2100 have 16 digits, int64 trade ids at most 19.
_TIME_DIGITS, _ID_DIGITS = 17, 20


class SnowparkSessionError(DaapError):
    """No Snowpark session to run on: pass ``session=`` or create one first.

    Examples:
        >>> issubclass(SnowparkSessionError, DaapError)
        True
    """


def get_session(session: Session | None = None, frame: Any = None) -> Session:
    """The session to use: the given one, the frame's, or the active one (never a new one: that needs credentials).

    Examples:
        >>> get_session(session) is session
        True
    """
    if session is not None:
        return session
    if frame is not None and getattr(frame, "session", None) is not None:
        return frame.session  # type: ignore[no-any-return]
    from snowflake.snowpark.context import get_active_session

    try:
        return get_active_session()
    except Exception as exc:
        raise SnowparkSessionError(
            "no active Snowpark session: create one (Session.builder.configs({...}).create(), or inside Snowflake "
            "get_active_session()) and pass session=, or pass a Snowpark DataFrame"
        ) from exc


def _columns(df: DataFrame) -> dict[str, str]:
    """Upper-cased column name → the DataFrame's own (possibly quoted) name."""
    return {name.strip('"').upper(): name for name in df.columns}


def trades_to_snowpark(trades: Any, session: Session | None = None, *, symbol: str | None = None) -> DataFrame:
    """Normalized trades (pandas DataFrame or Arrow table) as a Snowpark DataFrame, ``TIME`` as integer µs.

    Integer µs keep every timestamp exact on the way in; the engine reads them by magnitude. aggTrades (with a
    ``last_trade_id`` column) keep it as ``LAST_TRADE_ID``.

    Examples:
        >>> import daap
        >>> df = trades_to_snowpark(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"), session)
        >>> df.columns
        ['SYMBOL', 'TRADE_ID', 'PRICE', 'QTY', 'QUOTE_QTY', 'TIME', 'IS_BUYER_MAKER']
    """
    import pandas as pd
    import pyarrow as pa

    if not isinstance(trades, (pd.DataFrame, pa.Table)):
        frame: DataFrame = trades  # already a Snowpark DataFrame
        return frame
    pdf = trades.to_pandas() if isinstance(trades, pa.Table) else trades
    if "symbol" not in pdf.columns:
        if symbol is None:
            raise InputFormatError("the trades have no symbol column; pass symbol=")
        pdf = pdf.assign(symbol=symbol)
    missing = [c for c in TRADE_COLUMNS if c not in pdf.columns]
    if missing:
        raise InputFormatError(f"the trades lack column(s) {missing}; expected {list(TRADE_COLUMNS)}")
    time = pdf["time"]
    if hasattr(time, "dt"):
        time = time.dt.tz_convert("UTC").dt.tz_localize(None) if time.dt.tz is not None else time
        time = time.astype("datetime64[us]").astype("int64")
    out = pd.DataFrame(
        {
            "SYMBOL": pdf["symbol"].astype(str).to_numpy(),
            "TRADE_ID": pdf["trade_id"].astype("int64").to_numpy(),
            "PRICE": pdf["price"].astype("float64").to_numpy(),
            "QTY": pdf["qty"].astype("float64").to_numpy(),
            "QUOTE_QTY": pdf["quote_qty"].astype("float64").to_numpy(),
            "TIME": time.astype("int64").to_numpy(),
            "IS_BUYER_MAKER": pdf["is_buyer_maker"].astype(bool).to_numpy(),
        }
    )
    if "last_trade_id" in pdf.columns:
        out["LAST_TRADE_ID"] = pdf["last_trade_id"].astype("int64").to_numpy()
    return get_session(session).create_dataframe(out)


def candles_to_snowpark(candles: pd.DataFrame, session: Session | None = None) -> DataFrame:
    """Contract candles (pandas) as a Snowpark DataFrame with upper-case columns and ``TIMESTAMP_NTZ`` UTC times.

    Examples:
        >>> import daap
        >>> pdf = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"))
        >>> int(candles_to_snowpark(pdf, session).count())
        3
    """
    import pandas as pd

    out = pd.DataFrame({c.upper(): candles[c] for c in CANDLE_COLUMNS})
    for col in ("OPEN_TIME", "CLOSE_TIME"):
        s = out[col]
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        out[col] = s.astype("datetime64[us]")
    for col in ("FIRST_TRADE_ID", "LAST_TRADE_ID"):
        out[col] = pd.Series([None if pd.isna(v) else int(v) for v in out[col]], index=out.index, dtype=object)
    return get_session(session).create_dataframe(out)


def candles_to_pandas(candles: DataFrame) -> pd.DataFrame:
    """Snowpark candles as a pandas DataFrame in the pandas engine's contract dtypes (lower-case names, UTC times).

    Examples:
        >>> import daap
        >>> trades = trades_to_snowpark(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"), session)
        >>> pdf = candles_to_pandas(daap.CandleBuilder("1m", engine="snowpark").build(trades))
        >>> str(pdf["open_time"].dtype), int(pdf["trades"].sum())
        ('datetime64[us, UTC]', 3243)
    """
    import pandas as pd

    raw = candles.to_pandas()
    raw.columns = [str(c).strip('"').lower() for c in raw.columns]
    out = raw.copy()
    for col in ("open_time", "close_time"):
        s = pd.to_datetime(out[col])
        s = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
        out[col] = s.astype("datetime64[us, UTC]")
    out["trades"] = out["trades"].astype("int64")
    for col in ("first_trade_id", "last_trade_id"):
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    for col in CANDLE_COLUMNS:
        if col not in ("symbol", "interval", "open_time", "close_time", "trades", "first_trade_id", "last_trade_id"):
            out[col] = out[col].astype("float64")
    extra = [c for c in out.columns if c not in CANDLE_COLUMNS]
    for col in extra:
        out[col] = out[col].astype("float64")
    return out[[*CANDLE_COLUMNS, *extra]].sort_values(["symbol", "open_time"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------------ expressions
def _within(t: Column, scale: int) -> Column:
    return (t >= PLAUSIBLE_MIN_S * scale) & (t < PLAUSIBLE_MAX_S * scale)


def _micros(df: DataFrame, name: str) -> Column:
    """µs since the epoch of a timestamp or integer time column (integers: s, ms or µs by magnitude, else NULL)."""
    from snowflake.snowpark import functions as F

    field = next(f for f in df.schema.fields if f.name.strip('"').upper() == name.strip('"').upper())
    col = F.col(field.name)
    dtype = field.datatype
    if isinstance(dtype, _types.TimestampType):
        return F.date_part("epoch_microsecond", col).cast(_types.LongType())
    if isinstance(dtype, (_types.LongType, _types.IntegerType, _types.ShortType, _types.ByteType)) or (
        isinstance(dtype, _types.DecimalType) and dtype.scale == 0
    ):
        t = col.cast(_types.LongType())
        return (
            F.when(_within(t, 1_000_000), t)
            .when(_within(t, 1_000), t * 1_000)
            .when(_within(t, 1), t * 1_000_000)
            .otherwise(F.lit(None))
            .cast(_types.LongType())
        )
    raise InputFormatError(f"column {name!r} has Snowflake type {dtype}; expected a timestamp or an integer of s/ms/µs")


def _floor_div(x: Column, n: int) -> Column:
    """floor(x / n) for x >= 0, exact: (x - x mod n) / n is a whole number."""
    return ((x - x % n) / n).cast(_types.LongType())


def _ts(us: Column) -> Column:
    from snowflake.snowpark import functions as F

    return F.to_timestamp_ntz(us, F.lit(6))


def _bucket_index(interval: Interval, t: Column) -> Column:
    """Bucket index of the µs column ``t``: as :meth:`Interval.index_of`."""
    from snowflake.snowpark import functions as F

    if interval.kind == "month":
        epoch = F.to_timestamp_ntz(F.lit(0), F.lit(6))
        return F.datediff("month", epoch, _ts(t)).cast(_types.LongType())
    x = t - interval.offset_us if interval.offset_us else t
    return _floor_div(x, interval.step_us)


def _bucket_start(interval: Interval, idx: Column) -> Column:
    """Start (µs) of the bucket index column ``idx``: as :meth:`Interval.start_of`."""
    from snowflake.snowpark import functions as F

    if interval.kind == "month":
        month = F.dateadd("month", idx, F.to_timestamp_ntz(F.lit(0), F.lit(6)))
        return F.date_part("epoch_microsecond", month).cast(_types.LongType())
    start = idx * interval.step_us
    return start + interval.offset_us if interval.offset_us else start


def _prepare_trades(trades: DataFrame, symbol: str | None) -> DataFrame:
    """Trades with SYMBOL, the value columns and the time in µs (``_DAAP_T``), checked for implausible times.

    aggTrades keep ``LAST_TRADE_ID``, checked too: not null and not below ``TRADE_ID``.
    """
    from snowflake.snowpark import functions as F

    cols = _columns(trades)
    missing = [c for c in _TRADE_VALUE_COLUMNS if c not in cols]
    if "SYMBOL" not in cols and symbol is None:
        missing.insert(0, "SYMBOL")
    if missing:
        raise InputFormatError(
            f"the trades lack column(s) {missing}; expected {[c.upper() for c in TRADE_COLUMNS]} "
            "(or pass symbol= when there is no SYMBOL column)"
        )
    sym = F.col(cols["SYMBOL"]).cast(_types.StringType()) if "SYMBOL" in cols else F.lit(symbol)
    agg = "LAST_TRADE_ID" in cols
    df = trades.select(
        sym.alias("SYMBOL"),
        F.col(cols["TRADE_ID"]).cast(_types.LongType()).alias("TRADE_ID"),
        F.col(cols["PRICE"]).cast(_types.DoubleType()).alias("PRICE"),
        F.col(cols["QTY"]).cast(_types.DoubleType()).alias("QTY"),
        F.col(cols["QUOTE_QTY"]).cast(_types.DoubleType()).alias("QUOTE_QTY"),
        F.col(cols["IS_BUYER_MAKER"]).cast(_types.BooleanType()).alias("IS_BUYER_MAKER"),
        _micros(trades, cols["TIME"]).alias(_T),
        F.col(cols["TIME"]).alias("_DAAP_RAW_TIME"),
        *([F.col(cols["LAST_TRADE_ID"]).cast(_types.LongType()).alias("LAST_TRADE_ID")] if agg else []),
    )
    wrong: Column | None = None
    if not isinstance(trades.schema[cols["TIME"]].datatype, _types.TimestampType):
        wrong = F.col(_T).is_null()
    if agg:
        last = F.col("LAST_TRADE_ID")
        bad_range = last.is_null() | (last < F.col("TRADE_ID"))
        wrong = bad_range if wrong is None else wrong | bad_range
    if wrong is not None:  # one query checks both
        extra = ["LAST_TRADE_ID"] if agg else []
        bad = df.filter(wrong).select("_DAAP_RAW_TIME", "TRADE_ID", _T, *extra).limit(1).collect()
        if bad and bad[0][2] is None:
            raise ImplausibleTimestampError(
                f"trade {bad[0][1]}: time {bad[0][0]!r} in column TIME is not seconds, milliseconds or "
                f"microseconds of a date in 2009-2100"
            )
        if bad:
            last_id, first_id = bad[0][3], bad[0][1]
            reason = f"last_trade_id {last_id} is less than first_trade_id {first_id}"
            if last_id is None:
                reason = f"last_trade_id is null (first_trade_id {first_id})"
            raise InputFormatError(reason, column="LAST_TRADE_ID")
    return df.drop("_DAAP_RAW_TIME")


def _aggregate_trades(df: DataFrame, interval: Interval) -> DataFrame:
    """One row per (symbol, bucket) with every candle column of the traded buckets.

    With ``LAST_TRADE_ID`` (aggTrades) a row counts ``LAST_TRADE_ID - TRADE_ID + 1`` trades and the bucket's last id
    is the largest ``LAST_TRADE_ID``; without it, a row is one trade.
    """
    from snowflake.snowpark import functions as F

    agg = "LAST_TRADE_ID" in df.columns

    def digits(col: str, width: int) -> Column:
        return F.lpad(F.col(col).cast(_types.StringType()), width, F.lit("0"))

    taker = ~F.col("IS_BUYER_MAKER")
    keyed = df.select(
        "SYMBOL",
        "PRICE",
        "QTY",
        "QUOTE_QTY",
        "TRADE_ID",
        *(["LAST_TRADE_ID"] if agg else []),
        _bucket_index(interval, F.col(_T)).alias(_IDX),
        # (time, trade_id) as one fixed-width decimal string: its order is the pair's order, exactly.
        F.concat(digits(_T, _TIME_DIGITS), digits("TRADE_ID", _ID_DIGITS)).alias(_K),
        F.iff(taker, F.col("QTY"), F.lit(0.0)).alias("_DAAP_TBV"),
        F.iff(taker, F.col("QUOTE_QTY"), F.lit(0.0)).alias("_DAAP_TBQ"),
    )
    if agg:
        trades = F.sum(F.col("LAST_TRADE_ID") - F.col("TRADE_ID") + F.lit(1))
        last_id = F.max("LAST_TRADE_ID")
    else:
        trades, last_id = F.count(F.lit(1)), F.max("TRADE_ID")
    # The close keeps the (time, trade_id) key: aggTrades id ranges are disjoint, so it orders as (time, last id).
    return keyed.group_by("SYMBOL", _IDX).agg(
        F.min_by("PRICE", _K).alias("OPEN"),
        F.max("PRICE").alias("HIGH"),
        F.min("PRICE").alias("LOW"),
        F.max_by("PRICE", _K).alias("CLOSE"),
        F.sum("QTY").alias("VOLUME"),
        F.sum("QUOTE_QTY").alias("QUOTE_VOLUME"),
        trades.alias("TRADES"),
        F.sum("_DAAP_TBV").alias("TAKER_BUY_VOLUME"),
        F.sum("_DAAP_TBQ").alias("TAKER_BUY_QUOTE_VOLUME"),
        F.min("TRADE_ID").alias("FIRST_TRADE_ID"),
        last_id.alias("LAST_TRADE_ID"),
    )


def _merge_candles(df: DataFrame) -> DataFrame:
    """Finer traded candles merged per (symbol, bucket index): open/close at the smallest/largest open time."""
    from snowflake.snowpark import functions as F

    return df.group_by("SYMBOL", _IDX).agg(
        F.min_by("OPEN", _T).alias("OPEN"),
        F.max("HIGH").alias("HIGH"),
        F.min("LOW").alias("LOW"),
        F.max_by("CLOSE", _T).alias("CLOSE"),
        F.sum("VOLUME").alias("VOLUME"),
        F.sum("QUOTE_VOLUME").alias("QUOTE_VOLUME"),
        F.sum("TRADES").alias("TRADES"),
        F.sum("TAKER_BUY_VOLUME").alias("TAKER_BUY_VOLUME"),
        F.sum("TAKER_BUY_QUOTE_VOLUME").alias("TAKER_BUY_QUOTE_VOLUME"),
        F.min("FIRST_TRADE_ID").alias("FIRST_TRADE_ID"),
        F.max("LAST_TRADE_ID").alias("LAST_TRADE_ID"),
    )


def _finish(traded: DataFrame, interval: Interval, fill_gaps: bool, session: Session) -> DataFrame:
    """Contract candles from traded buckets: times, vwap, and (with ``fill_gaps``) the gap rows."""
    from snowflake.snowpark import Window
    from snowflake.snowpark import functions as F

    long, double = _types.LongType(), _types.DoubleType()
    if fill_gaps:
        # The traded buckets feed both the span query and the grid join: computed once, into a temporary table
        # (one row per traded bucket), rather than aggregating the trades twice.
        traded = traded.cache_result()
        bounds = traded.group_by("SYMBOL").agg(F.min(_IDX).alias(_LO), F.max(_IDX).alias(_HI))
        span = bounds.select(F.max(F.col(_HI) - F.col(_LO))).collect()[0][0]
        grid = (
            session.range(0, int(span or 0) + 1)
            .cross_join(bounds.with_column_renamed("SYMBOL", _S))
            .filter(F.col(_ID) <= F.col(_HI) - F.col(_LO))
            .select(F.col(_S), (F.col(_LO) + F.col(_ID)).cast(long).alias(_B))
        )
        joined = grid.join(traded, (grid[_S] == traded["SYMBOL"]) & (grid[_B] == traded[_IDX]), "left")
        series = Window.partition_by(_S).order_by(_B).rows_between(Window.UNBOUNDED_PRECEDING, Window.CURRENT_ROW)
        close = F.last_value(F.col("CLOSE"), ignore_nulls=True).over(series)
        gap = F.col(_IDX).is_null()
        df = joined.select(
            F.col(_S).alias("SYMBOL"),
            F.col(_B),
            *(F.col(c) for c in ("OPEN", "HIGH", "LOW", "VOLUME", "QUOTE_VOLUME", "TRADES")),
            *(F.col(c) for c in ("TAKER_BUY_VOLUME", "TAKER_BUY_QUOTE_VOLUME", "FIRST_TRADE_ID", "LAST_TRADE_ID")),
            gap.alias("_DAAP_GAP"),
            close.alias("CLOSE"),
        )
    else:
        df = traded.with_column(_B, F.col(_IDX)).with_column("_DAAP_GAP", F.lit(False))

    is_gap = F.col("_DAAP_GAP")

    def traded_or(name: str, fill: Column, kind: Any) -> Column:
        return F.iff(is_gap, fill, F.col(name)).cast(kind).alias(name)

    zero, close = F.lit(0.0), F.col("CLOSE")
    start = _bucket_start(interval, F.col(_B))
    nxt = _bucket_start(interval, F.col(_B) + 1) if interval.kind == "month" else start + interval.step_us
    out = df.select(
        F.col("SYMBOL").cast(_types.StringType()).alias("SYMBOL"),
        F.lit(interval.name).alias("INTERVAL"),
        _ts(start).alias("OPEN_TIME"),
        _ts(nxt - 1).alias("CLOSE_TIME"),
        traded_or("OPEN", close, double),
        traded_or("HIGH", close, double),
        traded_or("LOW", close, double),
        close.cast(double).alias("CLOSE"),
        traded_or("VOLUME", zero, double),
        traded_or("QUOTE_VOLUME", zero, double),
        traded_or("TRADES", F.lit(0), long),
        traded_or("TAKER_BUY_VOLUME", zero, double),
        traded_or("TAKER_BUY_QUOTE_VOLUME", zero, double),
        traded_or("FIRST_TRADE_ID", F.lit(None), long),
        traded_or("LAST_TRADE_ID", F.lit(None), long),
    )
    vwap = F.iff(F.col("VOLUME") != 0, F.col("QUOTE_VOLUME") / F.col("VOLUME"), F.lit(None)).cast(double)
    return out.select(*CANDLE_COLUMNS_SF[:13], vwap.alias("VWAP"), "FIRST_TRADE_ID", "LAST_TRADE_ID")


def _as_frame(trades: Any, session: Session | None, symbol: str | None) -> DataFrame:
    if isinstance(trades, str):
        return get_session(session).table(trades)
    return trades_to_snowpark(trades, session, symbol=symbol)


# --------------------------------------------------------------------------------------------------------- engine
class SnowparkEngine:
    """Snowflake Snowpark engine: inputs and results are Snowpark DataFrames (or table names), run in Snowflake.

    Examples:
        >>> from daap.intervals import Interval
        >>> candles = SnowparkEngine().build(trades, Interval.parse("1m"))
        >>> sorted(int(r[0]) for r in candles.select("TRADES").collect())
        [964, 1000, 1279]
    """

    name: ClassVar[str] = "snowpark"
    capabilities: ClassVar[Capabilities] = Capabilities(
        streaming_files=True,
        lazy=True,
        input_types=("snowflake.snowpark.DataFrame", "table name (str)", "pandas.DataFrame", "pyarrow.Table"),
        output_type="snowflake.snowpark.DataFrame",
        notes=(
            "with fill_gaps, build() aggregates the trades at once into a temporary table (one row per traded "
            "bucket) and fetches one number, the largest bucket span of a symbol; the rest is lazy",
            "open/close by MIN_BY/MAX_BY over an exact (time, trade_id) key: zero-padded decimal strings",
            "columns in upper case (SYMBOL, OPEN_TIME, ...); times are TIMESTAMP_NTZ(6) in UTC",
            "build_files uploads local trade files to a temporary table batch by batch, then builds in Snowflake",
        ),
    )

    def __init__(self) -> None:
        if _SNOWPARK_MISSING is not None:  # pragma: no cover - exercised only without the extra
            raise MissingDependencyError("engine 'snowpark'", "snowflake") from _SNOWPARK_MISSING

    def build(
        self,
        trades: Any,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        symbol: str | None = None,
        session: Session | None = None,
        validate: bool = False,
        progress: bool | None = None,
        **options: Any,
    ) -> DataFrame:
        """Candles (a Snowpark DataFrame in the contract) from Snowpark trades or a table name.

        Args:
            trades: a Snowpark DataFrame or table name with ``SYMBOL, TRADE_ID, PRICE, QTY, QUOTE_QTY, TIME,
                IS_BUYER_MAKER`` (any case); ``TIME`` a timestamp, or integer s/ms/µs (detected per value).
                aggTrades add ``LAST_TRADE_ID``: a row stands for the trades ``TRADE_ID`` to ``LAST_TRADE_ID``. A
                pandas DataFrame or Arrow table is uploaded with :func:`trades_to_snowpark`.
            interval: the candle interval.
            fill_gaps: add gap rows.
            symbol: the symbol when the trades have no ``SYMBOL`` column.
            session: the session (default: the frame's, else the active one).
            validate: check the candles with :meth:`validate_candles` (one aggregation query).
            progress: accepted for compatibility with the pandas engine; ignored.
            **options: none other; an unknown option is a TypeError.

        Raises:
            InputFormatError: missing columns, an unusable ``TIME`` type, or a ``LAST_TRADE_ID`` that is null or
                below ``TRADE_ID``.
            ImplausibleTimestampError: an integer time that is not s, ms or µs of a date in 2009-2100.

        Examples:
            >>> from daap.intervals import Interval
            >>> int(SnowparkEngine().build(trades, Interval.parse("1m")).count())
            3
        """
        _no_options(options)
        df = _as_frame(trades, session, symbol)
        sess = get_session(session, df)
        candles = _finish(_aggregate_trades(_prepare_trades(df, symbol), interval), interval, fill_gaps, sess)
        return self.validate_candles(candles) if validate else candles

    def rollup(
        self,
        candles: Any,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        session: Session | None = None,
        validate: bool = False,
        progress: bool | None = None,
        **options: Any,
    ) -> DataFrame:
        """Roll finer Snowpark candles up to ``interval``, exactly as building ``interval`` from the trades would.

        Gap rows of the input are dropped, buckets merge by ``MIN_BY``/``MAX_BY`` over ``OPEN_TIME``, and gap rows
        are made again for the coarser interval. One small query reads the distinct source intervals.

        Raises:
            InvalidIntervalError: the source interval does not nest in ``interval``, or contract columns are missing.

        Examples:
            >>> from daap.intervals import Interval
            >>> one_minute = SnowparkEngine().build(trades, Interval.parse("1m"))
            >>> int(SnowparkEngine().rollup(one_minute, Interval.parse("5m")).select("TRADES").collect()[0][0])
            3243
        """
        from snowflake.snowpark import functions as F

        _no_options(options)
        if isinstance(candles, str):
            candles = get_session(session).table(candles)
        cols = _columns(candles)
        missing = [c for c in CANDLE_COLUMNS_SF if c not in cols]
        if missing:
            raise InvalidIntervalError(f"rollup needs candles in the contract; missing columns {missing}")
        for row in candles.select(F.col(cols["INTERVAL"])).distinct().collect():
            src = Interval.parse(str(row[0]))
            if not src.divides(interval):
                raise InvalidIntervalError(
                    f"cannot roll {src} candles up to {interval}: {src} buckets do not nest in {interval} buckets"
                )
        df = candles.select(*(F.col(cols[c]).alias(c) for c in CANDLE_COLUMNS_SF))
        df = df.with_column(_T, _micros(df, "OPEN_TIME"))
        df = df.with_column(_IDX, _bucket_index(interval, F.col(_T)))
        traded = _merge_candles(df.filter(F.col("TRADES") > 0))  # gap rows of the source are dropped
        out = _finish(traded, interval, fill_gaps, get_session(session, candles))
        return self.validate_candles(out) if validate else out

    def build_files(
        self,
        inputs: Sequence[str | Path],
        output: str | Path,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        symbol: str | None = None,
        session: Session | None = None,
        validate: bool = False,
        progress: bool | None = None,
        **options: Any,
    ) -> BuildSummary:
        """Build candles in Snowflake from local trade files and write them to a local Parquet file.

        The files are read by daap's streaming reader and uploaded batch by batch to a temporary table (memory
        stays bounded); Snowflake builds the candles; the (small) result is written atomically to ``output``.
        aggTrades files go to a table of their own (with ``LAST_TRADE_ID``), so trades and aggTrades may be mixed.
        For data already in Snowflake or on a stage, call :meth:`build` on the table instead.

        Examples:
            >>> import tempfile, pathlib
            >>> out = pathlib.Path(tempfile.mkdtemp()) / "candles.parquet"
            >>> SnowparkEngine().build_files(["tests/data/BTCUSDT-trades-2021-01-02.csv"], out,
            ...                              Interval.parse("1m"), session=session).candles_out
            3
        """
        import pyarrow as pa
        import pyarrow.parquet as pq
        from snowflake.snowpark import functions as F

        from daap.contract import CANDLES_SCHEMA
        from daap.trades import iter_trade_batches

        _no_options(options)
        started = _time.perf_counter()
        sess = get_session(session)
        name = f"DAAP_TRADES_{uuid.uuid4().hex[:12].upper()}"
        tables: dict[bool, str] = {}  # is aggTrades -> its temporary table
        paths = [p for item in inputs for p in _files(Path(item))]
        rows_in = 0
        for path in paths:
            for batch in iter_trade_batches(path, symbol):
                rows_in += batch.num_rows
                agg = "last_trade_id" in batch.schema.names
                table = tables.setdefault(agg, f"{name}_AGG" if agg else name)
                frame = trades_to_snowpark(pa.Table.from_batches([batch]).to_pandas(), sess)
                frame.write.save_as_table(table, mode="append", table_type="temporary")
        if not rows_in:
            raise DaapError(f"no trades in {[str(p) for p in paths]}")
        trades: DataFrame
        if len(tables) == 1:
            trades = sess.table(next(iter(tables.values())))
        else:  # trades and aggTrades: a plain trade is the aggregate of itself
            plain = sess.table(tables[False]).with_column("LAST_TRADE_ID", F.col("TRADE_ID"))
            trades = plain.union_all_by_name(sess.table(tables[True]))
        candles = self.build(trades, interval, fill_gaps=fill_gaps, validate=validate)
        pdf = candles_to_pandas(candles)
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.close(fd)
        try:
            pq.write_table(pa.Table.from_pandas(pdf, schema=CANDLES_SCHEMA, preserve_index=False), tmp)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return BuildSummary(
            output=str(output),
            files=len(paths),
            rows_in=rows_in,
            candles_out=len(pdf),
            gap_rows=int((pdf["trades"] == 0).sum()),
            symbols=tuple(sorted(pdf["symbol"].unique())),
            interval=interval.name,
            seconds=_time.perf_counter() - started,
        )

    def add_indicators(self, candles: DataFrame, specs: Sequence[Any]) -> DataFrame:
        """Append indicator columns; see :func:`add_indicators`.

        Examples:
            >>> import daap
            >>> candles = SnowparkEngine().build(trades, daap.Interval.parse("1m"))
            >>> SnowparkEngine().add_indicators(candles, [daap.indicators.SMA(2)]).columns[-1]
            'SMA_2'
        """
        return add_indicators(candles, specs)

    def validate_candles(self, candles: DataFrame) -> DataFrame:
        """Check Snowpark candles against the contract's row rules in one aggregation query; return them unchanged.

        Raises:
            ValidationError: naming each failed rule and how many rows break it.

        Examples:
            >>> from daap.intervals import Interval
            >>> int(SnowparkEngine().validate_candles(SnowparkEngine().build(trades, Interval.parse("1m"))).count())
            3
        """
        from snowflake.snowpark import functions as F

        c = F.col
        gap = c("TRADES") == 0
        rules = {
            "high >= max(open, close)": (c("HIGH") >= c("OPEN")) & (c("HIGH") >= c("CLOSE")),
            "low <= min(open, close)": (c("LOW") <= c("OPEN")) & (c("LOW") <= c("CLOSE")),
            "volumes >= 0": (c("VOLUME") >= 0) & (c("QUOTE_VOLUME") >= 0) & (c("TRADES") >= 0),
            "taker buy <= total": (c("TAKER_BUY_VOLUME") <= c("VOLUME"))
            & (c("TAKER_BUY_QUOTE_VOLUME") <= c("QUOTE_VOLUME")),
            "close_time > open_time": c("CLOSE_TIME") > c("OPEN_TIME"),
            "gap rows are flat with no ids": ~gap
            | (
                (c("OPEN") == c("CLOSE"))
                & (c("HIGH") == c("CLOSE"))
                & (c("LOW") == c("CLOSE"))
                & (c("VOLUME") == 0)
                & c("FIRST_TRADE_ID").is_null()
            ),
            "traded rows have ids in order": gap | (c("FIRST_TRADE_ID") <= c("LAST_TRADE_ID")),
            "no nulls": c("SYMBOL").is_not_null() & c("OPEN_TIME").is_not_null() & c("CLOSE").is_not_null(),
        }
        counts = candles.select(
            *(F.sum(F.iff(rule, F.lit(0), F.lit(1))).alias(f"R{i}") for i, rule in enumerate(rules.values()))
        ).collect()[0]
        failed = [f"{name}: {int(n)} row(s)" for name, n in zip(rules, counts, strict=True) if n]
        if failed:
            raise ValidationError("candles break the contract: " + "; ".join(failed))
        return candles


def _files(item: Path) -> list[Path]:
    if item.is_dir():
        return sorted(p for p in item.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not item.exists():
        raise FileNotFoundError(f"no such trades file: {item}")
    return [item]


def _no_options(options: dict[str, Any]) -> None:
    if options:
        raise TypeError(f"the snowpark engine does not take option(s) {sorted(options)}")


# ----------------------------------------------------------------------------------------------------- indicators
def _window_columns(spec: Any) -> list[tuple[str, Column]] | None:
    from snowflake.snowpark import Window
    from snowflake.snowpark import functions as F

    from daap import indicators as ind

    # Specs computed with window functions; None sends a spec to the exact per-series pandas UDTF.
    c = F.col
    series = Window.partition_by("SYMBOL", "INTERVAL").order_by("OPEN_TIME")

    def last(n: int) -> Any:
        return series.rows_between(-(n - 1), Window.CURRENT_ROW)

    row = F.row_number().over(series)
    prev = F.coalesce(F.lag("CLOSE").over(series), c("CLOSE"))  # the first row compares with itself
    if isinstance(spec, ind.SMA):
        return [(spec.columns[0], F.iff(row >= spec.n, F.avg("CLOSE").over(last(spec.n)), F.lit(None)))]
    if isinstance(spec, ind.VWAP):
        if spec.window is None:
            w = Window.partition_by("SYMBOL", "INTERVAL", _DAY).order_by("OPEN_TIME")
            w = w.rows_between(Window.UNBOUNDED_PRECEDING, Window.CURRENT_ROW)
            ok = F.lit(True)
        else:
            w, ok = last(spec.window), row >= spec.window
        vol, quote = F.sum("VOLUME").over(w), F.sum("QUOTE_VOLUME").over(w)
        return [(spec.columns[0], F.iff(ok & (vol > 0), quote / vol, F.lit(None)))]
    if isinstance(spec, ind.Returns) and not spec.log:
        return [(spec.columns[0], F.iff(row > 1, (c("CLOSE") - prev) / prev, F.lit(None)))]
    if isinstance(spec, ind.OBV):
        rose, fell = c("CLOSE") > prev, c("CLOSE") < prev
        step = F.iff(rose | (row == 1), c("VOLUME"), F.iff(fell, -c("VOLUME"), F.lit(0.0)))
        return [(_OBV_STEP, step)]
    return None


def add_indicators(candles: DataFrame, specs: Sequence[Any]) -> DataFrame:
    """Append indicator columns (upper case, e.g. ``SMA_7``, ``RSI_14``) to Snowpark candles.

    SMA, VWAP, simple returns and OBV are window functions over ``(SYMBOL, INTERVAL)`` ordered by ``OPEN_TIME``;
    their values equal the pandas ones to rounding (≤ 1e-12 relative). The other indicators are computed per
    series by :func:`daap.indicators.add` in a vectorized UDTF (``apply_in_pandas``) and joined back on
    ``(SYMBOL, INTERVAL, OPEN_TIME)``; the UDTF ships the ``daap`` package to Snowflake's Python runtime, with
    ``numpy`` and ``pandas`` from its Anaconda channel: exact, and equal to every other engine's values.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m", engine="snowpark").build(trades)
        >>> out = add_indicators(candles, [daap.indicators.SMA(2), daap.indicators.EMA(2)])
        >>> out.columns[-2:], int(out.count())
        (['SMA_2', 'EMA_2'], 3)
    """
    from snowflake.snowpark import Window
    from snowflake.snowpark import functions as F

    specs = list(specs)
    cols = _columns(candles)
    df = candles.select(*(F.col(cols[c]).alias(c) for c in CANDLE_COLUMNS_SF))
    base = list(df.columns)
    udtf_specs = []
    windowed: list[tuple[str, Column]] = []
    obv: str | None = None
    for spec in specs:
        found = _window_columns(spec)
        if found is None:
            udtf_specs.append(spec)
            continue
        if found[0][0] == _OBV_STEP:
            obv = spec.columns[0].upper()
        windowed.extend(found)
    if windowed:
        # Window partitions name columns only (no expressions): the UTC day of the session VWAP is one.
        df = df.with_column(_T, _micros(df, "OPEN_TIME"))
        df = df.with_column(_DAY, _floor_div(F.col(_T), US_PER_DAY))
        df = df.select(*base, *(expr.cast(_types.DoubleType()).alias(name.upper()) for name, expr in windowed))
    if obv is not None:
        running = Window.partition_by("SYMBOL", "INTERVAL").order_by("OPEN_TIME")
        running = running.rows_between(Window.UNBOUNDED_PRECEDING, Window.CURRENT_ROW)
        df = df.with_column(obv, F.sum(_OBV_STEP).over(running)).drop(_OBV_STEP)
    if udtf_specs:
        df = _udtf_indicators(df, udtf_specs)
    return df.select(*base, *(c.upper() for s in specs for c in s.columns))


def _udtf_indicators(df: DataFrame, specs: list[Any]) -> DataFrame:
    """``df`` joined with the indicators of ``specs``, computed per (SYMBOL, INTERVAL) by daap in a vectorized UDTF.

    The UDTF gets only what the indicators read, with the open time as integer µs, and returns the keys and the new
    columns.
    """
    import daap

    new = [c.upper() for s in specs for c in s.columns]
    inputs = dict.fromkeys(c for s in specs for c in s.inputs)
    reads = [c.upper() for c in inputs if c not in ("open_time", "interval")]
    keyed = df.select("SYMBOL", "INTERVAL", _micros(df, "OPEN_TIME").alias(_T), *reads)
    names = list(keyed.columns)
    t = _types
    schema = t.StructType(
        [
            t.StructField("SYMBOL", t.StringType(), True),
            t.StructField("INTERVAL", t.StringType(), True),
            t.StructField(_T, t.LongType(), True),
            *(t.StructField(c, t.DoubleType(), True) for c in new),
        ]
    )

    def compute(pdf: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        from daap import indicators

        frame = pdf.copy()
        frame.columns = names
        lower = frame.rename(columns={c: c.lower() for c in names if c != _T})
        lower["open_time"] = pd.to_datetime(frame[_T].astype("int64"), unit="us", utc=True)
        result = indicators.add(lower, specs)
        out = frame[["SYMBOL", "INTERVAL", _T]].copy()
        for c in new:
            out[c] = result[c.lower()].to_numpy(dtype="float64")
        return out

    package = Path(daap.__file__).parent
    values = keyed.group_by("SYMBOL", "INTERVAL").apply_in_pandas(
        compute,
        output_schema=schema,
        input_names=names,
        packages=["numpy", "pandas"],
        imports=[(str(package), "daap")],
    )
    # The UDTF runs once, into a temporary table (one row per candle), which is then joined back by key.
    values = values.select("SYMBOL", "INTERVAL", _T, *new).cache_result()
    left = df.with_column(_T, _micros(df, "OPEN_TIME"))
    return left.join(values, on=["SYMBOL", "INTERVAL", _T], how="left").drop(_T)
