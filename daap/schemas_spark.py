"""Pandera models of daap's trades and candles for Spark DataFrames (``pandera.pyspark``), imported lazily.

The rules are those of :mod:`daap.schemas` (the pandas models): exact column names, order and Spark types,
nullability, positive prices, non-negative volumes, OHLC order, taker volumes within the totals (to a relative
tolerance of :data:`daap.schemas.REL_TOL`), aligned bucket times, flat gap rows. :func:`validate_candles` and
:func:`validate_trades` run them and raise :class:`daap.errors.ValidationError`, never a pandera exception, with a
message that names every failed check and shows a few failing rows.

Checks run as Spark jobs; the row rules of a model are evaluated together in one aggregation. Nothing is collected
to the driver except counts and a few example rows on failure.

Examples:
    >>> from daap.schemas_spark import Candles, Trades
    >>> list(Trades.to_schema().columns)
    ['symbol', 'trade_id', 'price', 'qty', 'quote_qty', 'time', 'is_buyer_maker']
    >>> list(Candles.to_schema().columns)[-3:]
    ['vwap', 'first_trade_id', 'last_trade_id']
    >>> import daap
    >>> validate_candles(daap.CandleBuilder("1m", engine="spark").build(trades)).count()
    3
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from daap.errors import ValidationError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["Candles", "Trades", "validate_candles", "validate_trades"]

REL_TOL = 1e-9  # as daap.schemas.REL_TOL (not imported: that module loads pandas' pandera backend)
_MAX_EXAMPLES = 3
_US_PER_DAY = 86_400_000_000


@contextlib.contextmanager
def _without_spark_connect() -> Iterator[None]:
    """Hide ``pyspark.sql.connect`` while pandera is imported, when Spark Connect's client (grpc) is missing.

    pandera probes ``pyspark.sql.connect``, whose import calls ``sys.exit(0)`` (meant for pyspark's own doctests)
    under ``python -c`` when grpc is not installed. Hidden, the probe is a plain ImportError, which pandera handles
    (classic DataFrames only, which is all there is without grpc).
    """
    hide = "pyspark.sql.connect" not in sys.modules and importlib.util.find_spec("grpc") is None
    if hide:
        sys.modules["pyspark.sql.connect"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if hide and sys.modules.get("pyspark.sql.connect", 0) is None:
            del sys.modules["pyspark.sql.connect"]


with _without_spark_connect():
    import pandera.pyspark as pa

from pandera.config import ValidationDepth, config_context  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

# ------------------------------------------------------------------------------------------------- row rules
# Each rule is a boolean Column (True = the row passes) and the columns shown for a failing row. Nulls pass where
# the column may be null or where another check (nullability, types, valid_interval) reports the problem.
Rule = tuple[Callable[[], "Column"], tuple[str, ...]]
_CANDLE_KEY = ("symbol", "interval", "open_time")
_IV_RE = "^([1-9][0-9]{0,5})([smhdwM])$"


def _ok(cond: Column) -> Column:
    return F.coalesce(cond, F.lit(True))


def _le(a: str, b: str) -> Column:
    """``a <= b`` up to :data:`REL_TOL` of the larger magnitude."""
    x, y = F.col(a), F.col(b)
    return _ok(x <= y + F.lit(REL_TOL) * F.greatest(F.abs(x), F.abs(y)))


def _interval_sql() -> tuple[str, str, str]:
    """SQL for (unit, step in µs for fixed intervals, offset in µs) of the ``interval`` column."""
    unit = f"regexp_extract(`interval`, '{_IV_RE}', 2)"
    n = f"try_cast(regexp_extract(`interval`, '{_IV_RE}', 1) as long)"
    per = (
        f"CASE {unit} WHEN 's' THEN 1000000 WHEN 'm' THEN 60000000 WHEN 'h' THEN 3600000000 "
        f"WHEN 'd' THEN {_US_PER_DAY} WHEN 'w' THEN {7 * _US_PER_DAY} END"
    )
    step = f"(CASE WHEN `interval` RLIKE '{_IV_RE}' THEN {n} * ({per}) END)"
    offset = f"(CASE WHEN {unit} = 'w' THEN {4 * _US_PER_DAY} ELSE 0 END)"
    return unit, step, offset


def _valid_interval() -> Column:
    unit, step, _ = _interval_sql()
    sub_day = f"({unit} IN ('s', 'm', 'h') AND pmod({_US_PER_DAY}, {step}) = 0)"
    return _ok(F.expr(f"`interval` IN ('1d', '1w', '1M') OR coalesce({sub_day}, false)"))


def _open_us(name: str = "open_time") -> str:
    return f"unix_micros(`{name}`)"


def _month_day(us: str) -> str:
    return f"date_from_unix_date(cast(({us} - pmod({us}, {_US_PER_DAY})) div {_US_PER_DAY} as int))"


def _aligned() -> Column:
    _, step, offset = _interval_sql()
    o = _open_us()
    month = f"pmod({o}, {_US_PER_DAY}) = 0 AND dayofmonth({_month_day(o)}) = 1"
    return _ok(F.expr(f"CASE WHEN `interval` = '1M' THEN {month} ELSE pmod({o} - {offset}, {step}) = 0 END"))


def _close_time() -> Column:
    _, step, _ = _interval_sql()
    o, c = _open_us(), _open_us("close_time")
    month_end = f"cast(unix_date(add_months({_month_day(o)}, 1)) as long) * {_US_PER_DAY} - 1"
    return _ok(F.expr(f"{c} = CASE WHEN `interval` = '1M' THEN {month_end} ELSE {o} + {step} - 1 END"))


def _gap_rows_flat_and_empty() -> Column:
    empty = (
        (F.col("volume") == 0)
        & (F.col("quote_volume") == 0)
        & (F.col("taker_buy_volume") == 0)
        & (F.col("taker_buy_quote_volume") == 0)
    )
    flat = (F.col("open") == F.col("high")) & (F.col("high") == F.col("low")) & (F.col("low") == F.col("close"))
    return _ok((F.col("trades") != 0) | (empty & flat))


_CANDLE_RULES: dict[str, Rule] = {
    "valid_interval": (_valid_interval, ("symbol", "interval", "open_time")),
    "low_le_high": (lambda: _ok(F.col("low") <= F.col("high")), (*_CANDLE_KEY, "low", "high")),
    "open_close_within_low_high": (
        lambda: _ok(
            (F.col("low") <= F.col("open"))
            & (F.col("open") <= F.col("high"))
            & (F.col("low") <= F.col("close"))
            & (F.col("close") <= F.col("high"))
        ),
        (*_CANDLE_KEY, "open", "high", "low", "close"),
    ),
    "taker_buy_volume_le_volume": (
        lambda: _le("taker_buy_volume", "volume"),
        (*_CANDLE_KEY, "taker_buy_volume", "volume"),
    ),
    "taker_buy_quote_volume_le_quote_volume": (
        lambda: _le("taker_buy_quote_volume", "quote_volume"),
        (*_CANDLE_KEY, "taker_buy_quote_volume", "quote_volume"),
    ),
    "open_time_aligned": (_aligned, _CANDLE_KEY),
    "close_time_matches_interval": (_close_time, (*_CANDLE_KEY, "close_time")),
    "traded_rows_have_volume": (
        lambda: _ok((F.col("trades") == 0) | (F.col("volume") > 0)),
        (*_CANDLE_KEY, "trades", "volume"),
    ),
    "vwap_null_iff_zero_volume": (
        lambda: _ok(F.col("vwap").isNull() == (F.col("volume") == 0)),
        (*_CANDLE_KEY, "volume", "vwap"),
    ),
    "vwap_within_low_high": (
        lambda: F.col("vwap").isNull() | (_le("low", "vwap") & _le("vwap", "high")),
        (*_CANDLE_KEY, "low", "high", "vwap"),
    ),
    "trade_ids_null_iff_no_trades": (
        lambda: _ok(
            (F.col("first_trade_id").isNull() == (F.col("trades") == 0))
            & (F.col("last_trade_id").isNull() == (F.col("trades") == 0))
        ),
        (*_CANDLE_KEY, "trades", "first_trade_id", "last_trade_id"),
    ),
    "first_trade_id_le_last_trade_id": (
        lambda: _ok(F.col("first_trade_id") <= F.col("last_trade_id")),
        (*_CANDLE_KEY, "first_trade_id", "last_trade_id"),
    ),
    "gap_rows_flat_and_empty": (
        _gap_rows_flat_and_empty,
        (*_CANDLE_KEY, "trades", "open", "high", "low", "close", "volume", "quote_volume"),
    ),
}
#: Rules that compare times: they need TimestampType columns (the dtype checks report anything else).
_TIME_RULES = {"open_time_aligned", "close_time_matches_interval"}


class _RowRules:
    """Evaluates a model's row rules on a DataFrame in one Spark job, once per validation."""

    def __init__(self, rules: dict[str, Rule]) -> None:
        self.rules = rules
        self._memo: dict[int, tuple[Any, dict[str, int]]] = {}

    def applicable(self, df: DataFrame) -> dict[str, Rule]:
        times_ok = all(
            c in df.columns and isinstance(df.schema[c].dataType, T.TimestampType) for c in ("open_time", "close_time")
        )
        needed = {"interval", "open_time", "close_time", "open", "high", "low", "close", "volume", "quote_volume"}
        if not needed <= set(df.columns):
            return {}
        return {k: v for k, v in self.rules.items() if times_ok or k not in _TIME_RULES}

    def failures(self, df: DataFrame, nulls: Sequence[str] = ()) -> dict[str, int]:
        """Failing row count per rule, and null count (key ``null:<column>``) of each of ``nulls``: one Spark job."""
        hit = self._memo.get(id(df))
        if hit is not None and hit[0] is df:
            return hit[1]
        rules = self.applicable(df)
        aggs = [F.count(F.when(~cond(), 1)).alias(name) for name, (cond, _) in rules.items()]
        aggs += [F.count(F.when(F.col(c).isNull(), 1)).alias(f"null:{c}") for c in nulls]
        counts: dict[str, int] = {}
        if aggs:
            row = df.agg(*aggs).first()
            counts = {k: int(v) for k, v in row.asDict().items()} if row is not None else {}
        self.remember(df, counts)
        return counts

    def remember(self, df: DataFrame, counts: dict[str, int]) -> None:
        self._memo[id(df)] = (df, counts)

    def forget(self, df: DataFrame) -> None:
        self._memo.pop(id(df), None)

    def examples(self, df: DataFrame, name: str) -> str:
        cond, context = self.rules[name]
        cols = [c for c in context if c in df.columns]
        rows = df.filter(~cond()).select(*cols).limit(_MAX_EXAMPLES).collect()
        return "; ".join("{" + ", ".join(f"{c}={r[c]!r}" for c in cols) + "}" for r in rows)


_candle_rules = _RowRules(_CANDLE_RULES)
_trade_rules = _RowRules({})  # trades have no row rules beyond pandera's: only the null counts


def _rule_check(name: str) -> Callable[[Any, DataFrame], bool]:
    def check(cls: Any, df: DataFrame) -> bool:
        return _candle_rules.failures(df).get(name, 0) == 0

    check.__name__ = f"_{name}"
    return check


def _no_duplicates(df: DataFrame, key: tuple[str, ...]) -> bool:
    if not set(key) <= set(df.columns):
        return True
    return df.groupBy(*key).count().filter(F.col("count") > 1).limit(1).count() == 0


# ------------------------------------------------------------------------------------------------------- models
class Trades(pa.DataFrameModel):  # type: ignore[type-arg]
    """Normalized trades as a Spark DataFrame: the input of the Spark engine.

    ``time`` is a ``TimestampType`` (UTC instants, not ``TIMESTAMP_NTZ``); ``(symbol, trade_id)`` is unique and
    no value is null.

    Examples:
        >>> Trades.to_schema().columns["price"].checks
        [<Check greater_than: greater_than(0)>]
    """

    symbol: T.StringType = pa.Field()
    trade_id: T.LongType = pa.Field()
    price: T.DoubleType = pa.Field(gt=0)
    qty: T.DoubleType = pa.Field(gt=0)
    quote_qty: T.DoubleType = pa.Field(ge=0)
    time: T.TimestampType = pa.Field()
    is_buyer_maker: T.BooleanType = pa.Field()

    class Config:
        """Exactly these columns (their order is checked before pandera runs: its pyspark ``ordered`` is broken)."""

        strict = True

    @pa.dataframe_check(name="time_is_utc_timestamp", error="time must be TimestampType (UTC), not TIMESTAMP_NTZ")
    @classmethod
    def _time_is_utc(cls, df: DataFrame) -> bool:
        return "time" not in df.columns or isinstance(df.schema["time"].dataType, T.TimestampType)

    @pa.dataframe_check(name="unique_symbol_trade_id", error="unique_symbol_trade_id")
    @classmethod
    def _unique_ids(cls, df: DataFrame) -> bool:
        return _no_duplicates(df, ("symbol", "trade_id"))


class Candles(pa.DataFrameModel):  # type: ignore[type-arg]
    """OHLCV candles as a Spark DataFrame: the contract of :mod:`daap.contract` in Spark types.

    Times are ``TimestampType``; ids and counts ``LongType``; prices and volumes ``DoubleType``. ``vwap`` and the
    trade ids are null exactly on gap rows (``trades == 0``), which are flat at the previous close.

    Examples:
        >>> [c for c in Candles.to_schema().columns if Candles.to_schema().columns[c].nullable]
        ['vwap', 'first_trade_id', 'last_trade_id']
    """

    symbol: T.StringType = pa.Field()
    interval: T.StringType = pa.Field()
    open_time: T.TimestampType = pa.Field()
    close_time: T.TimestampType = pa.Field()
    open: T.DoubleType = pa.Field(gt=0)
    high: T.DoubleType = pa.Field(gt=0)
    low: T.DoubleType = pa.Field(gt=0)
    close: T.DoubleType = pa.Field(gt=0)
    volume: T.DoubleType = pa.Field(ge=0)
    quote_volume: T.DoubleType = pa.Field(ge=0)
    trades: T.LongType = pa.Field(ge=0)
    taker_buy_volume: T.DoubleType = pa.Field(ge=0)
    taker_buy_quote_volume: T.DoubleType = pa.Field(ge=0)
    vwap: T.DoubleType = pa.Field(nullable=True)
    first_trade_id: T.LongType = pa.Field(nullable=True)
    last_trade_id: T.LongType = pa.Field(nullable=True)

    class Config:
        """Exactly these columns (their order is checked before pandera runs: its pyspark ``ordered`` is broken)."""

        strict = True

    @pa.dataframe_check(name="times_are_utc_timestamps", error="open_time/close_time must be TimestampType (UTC)")
    @classmethod
    def _times_utc(cls, df: DataFrame) -> bool:
        return all(c not in df.columns or isinstance(df.schema[c].dataType, T.TimestampType)
                   for c in ("open_time", "close_time"))

    @pa.dataframe_check(name="unique_symbol_interval_open_time", error="unique_symbol_interval_open_time")
    @classmethod
    def _unique_buckets(cls, df: DataFrame) -> bool:
        return _no_duplicates(df, _CANDLE_KEY)


for _name in _CANDLE_RULES:  # one pandera check per row rule, all answered by one Spark aggregation
    setattr(
        Candles,
        f"_{_name}",
        pa.dataframe_check(name=_name, error=_name)(classmethod(_rule_check(_name))),
    )


# ---------------------------------------------------------------------------------------------------- validation
_ATOMIC = {"string", "bigint", "int", "smallint", "tinyint", "double", "float", "boolean", "timestamp", "decimal"}
_SHOW_ERROR = ("SERIES_CONTAINS_NULLS", "WRONG_DATATYPE", "COLUMN_NOT_IN_DATAFRAME", "COLUMN_NOT_IN_SCHEMA")


def _message(what: str, df: DataFrame, errors: dict[str, Any]) -> str:
    lines: list[str] = []
    for by_type in errors.values():
        for kind, items in by_type.items():
            for item in items:
                check = str(item.get("check"))
                column = item.get("column")
                where = f"column {column!r}" if column and column != item.get("schema") else "dataframe"
                line = f"- {where}: {check}"
                if kind in _SHOW_ERROR:
                    line += f" ({item.get('error')})"
                if check in _CANDLE_RULES:
                    n = _candle_rules.failures(df).get(check, 0)
                    line += f"; {n} row(s) fail, e.g. {_candle_rules.examples(df, check)}"
                lines.append(line)
    return "\n".join([f"{what} failed validation: {len(lines)} check(s) failed", *lines])


def _validate(model: Any, what: str, df: Any) -> DataFrame:
    from pyspark.sql import DataFrame as SparkDataFrame

    if not isinstance(df, SparkDataFrame):
        raise ValidationError(f"{what} failed validation: expected a Spark DataFrame, got {type(df).__name__}")
    expected = list(model.to_schema().columns)
    if list(df.columns) != expected:
        missing = [c for c in expected if c not in df.columns]
        unexpected = [c for c in df.columns if c not in expected]
        problems = [f"missing {missing}"] if missing else []
        problems += [f"unexpected {unexpected}"] if unexpected else []
        raise ValidationError(
            f"{what} failed validation: columns must be exactly {expected} in this order: "
            + ("; ".join(problems) or f"out of order: got {list(df.columns)}")
        )
    # One job answers every row rule and says which non-nullable columns hold no null. Those columns are handed to
    # pandera wrapped in coalesce(), a no-op on them that Spark marks non-nullable, so pandera skips one job per
    # column for its not-null check. Columns with nulls stay as they are: pandera reports them.
    schema = model.to_schema()
    maybe_null = [c for c, col in schema.columns.items() if not col.nullable and df.schema[c].nullable]
    counts = _candle_rules.failures(df, maybe_null) if model is Candles else _trade_rules.failures(df, maybe_null)
    proven = {c for c, t in df.dtypes if counts.get(f"null:{c}") == 0 and t.split("(")[0] in _ATOMIC}
    checked = df.select(
        *[F.coalesce(F.col(c), F.lit(0).cast(t)).alias(c) if c in proven else F.col(c) for c, t in df.dtypes]
    )
    (_candle_rules if model is Candles else _trade_rules).remember(checked, counts)
    try:
        with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            out = model.validate(checked, lazy=True)
        errors = dict(out.pandera.errors or {})
        if errors:
            raise ValidationError(_message(what, df, errors))
    finally:
        for rules in (_candle_rules, _trade_rules):
            rules.forget(df)
            rules.forget(checked)
    return df


def validate_trades(df: DataFrame) -> DataFrame:
    """Check a Spark DataFrame against :class:`Trades` and return it unchanged.

    Raises:
        ValidationError: naming each failed check.

    Examples:
        >>> validate_trades(spark.createDataFrame([], "symbol string"))
        Traceback (most recent call last):
        ...
        daap.errors.ValidationError: trades failed validation: columns must be exactly [...]
    """
    return _validate(Trades, "trades", df)


def validate_candles(df: DataFrame) -> DataFrame:
    """Check a Spark DataFrame against :class:`Candles` and return it unchanged.

    Cache ``df`` first if it is expensive to compute: each check is a Spark job.

    Raises:
        ValidationError: naming each failed check and a few failing rows.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m", engine="spark").build(trades).cache()
        >>> validate_candles(candles.withColumn("low", candles.high + 1))
        Traceback (most recent call last):
        ...
        daap.errors.ValidationError: candles failed validation: 3 check(s) failed
        - dataframe: low_le_high; 3 row(s) fail, e.g. ...
    """
    return _validate(Candles, "candles", df)
