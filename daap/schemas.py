"""Pandera models of daap's two data contracts: normalized trades and candles.

:class:`Trades` and :class:`Candles` say what a valid frame is (section 2 of the architecture page).
:func:`validate_trades` and :func:`validate_candles` run them and raise :class:`daap.errors.ValidationError`, never a
pandera exception, with a message that names every failed check and its first failure cases.

Examples:
    >>> import pandas as pd
    >>> from daap.schemas import validate_trades
    >>> trades = pd.DataFrame({
    ...     "symbol": ["BTCUSDT"], "trade_id": [1], "price": [100.0], "qty": [0.5], "quote_qty": [50.0],
    ...     "time": pd.to_datetime(["2025-01-01 00:00:01"], utc=True).as_unit("us"), "is_buyer_maker": [True],
    ... })
    >>> len(validate_trades(trades))
    1

"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrorReason, SchemaErrors
from pandera.typing import Series

from daap.errors import InvalidIntervalError, ValidationError
from daap.intervals import I64, Interval

__all__ = ["REL_TOL", "Candles", "Trades", "validate_candles", "validate_trades"]

#: Relative tolerance for comparisons between float sums (volumes, vwap against high/low).
REL_TOL = 1e-9
#: How many failure cases of each failed check the error message shows.
_MAX_CASES = 5

UtcMicros = Annotated[pd.DatetimeTZDtype, "us", "UTC"]
Mask = npt.NDArray[np.bool_]


# --- helpers shared by the checks ----------------------------------------------------------------------------------


def _is_utc_datetime(dtype: object) -> bool:
    """Tell whether ``dtype`` is a tz-aware pandas datetime in UTC, at any resolution."""
    return isinstance(dtype, pd.DatetimeTZDtype) and dtype == pd.DatetimeTZDtype(dtype.unit, "UTC")


def _micros(s: pd.Series[Any]) -> tuple[I64, Mask] | None:
    """Return integer µs since the epoch of a UTC datetime column and its not-null mask, or None for another dtype."""
    if not _is_utc_datetime(s.dtype):
        return None
    idx = pd.DatetimeIndex(s).as_unit("us")
    values = np.asarray(idx.to_numpy(dtype="datetime64[us]")).view(np.int64)  # NaT -> int64 min, masked below
    return values.astype(np.int64), np.asarray(idx.notna(), dtype=np.bool_)


def _interval_or_none(value: object) -> Interval | None:
    """Return the interval that ``value`` names canonically (``"1m"``, not ``" 1m"``), or None."""
    if not isinstance(value, str):
        return None
    try:
        iv = Interval.parse(value)
    except InvalidIntervalError:
        return None
    return iv if iv.name == value else None


def _per_interval(df: pd.DataFrame, test: Callable[[Interval, I64, Mask], Mask]) -> pd.Series[bool]:
    """Run ``test(interval, open_time_us, rows)`` once per distinct interval; other rows pass vacuously.

    Rows whose interval is invalid, whose ``open_time`` is null, or whose ``open_time`` is not a UTC datetime pass:
    the ``valid_interval``, not-null and dtype checks report those.
    """
    ok = np.ones(len(df), dtype=np.bool_)
    got = _micros(df["open_time"])
    if got is not None:
        open_us, present = got
        intervals = df["interval"].to_numpy(dtype=object)
        for value in pd.unique(intervals):
            iv = _interval_or_none(value)
            if iv is None:
                continue
            rows = (intervals == value) & present
            ok[rows] = test(iv, open_us[rows], rows)
    return pd.Series(ok, index=df.index)


def _le(a: pd.Series[float], b: pd.Series[float]) -> pd.Series[bool]:
    """Compare ``a <= b`` up to a relative tolerance of :data:`REL_TOL` (of the larger magnitude)."""
    return a <= b + REL_TOL * np.maximum(a.abs(), b.abs())


def _bool(s: pd.Series[Any]) -> pd.Series[bool]:
    """Make a plain bool series; missing values (from nullable comparisons) count as passing."""
    return s.fillna(True).astype(bool)


# --- models ----------------------------------------------------------------------------------------------------------


class Trades(pa.DataFrameModel):
    """Normalized trades: one row per trade, the input of every engine.

    ``time`` is a tz-aware UTC datetime at any resolution (engines write µs). ``(symbol, trade_id)`` is unique and no
    value is null.

    Examples:
        >>> list(Trades.to_schema().columns)
        ['symbol', 'trade_id', 'price', 'qty', 'quote_qty', 'time', 'is_buyer_maker']

    """

    symbol: Series[str]
    trade_id: Series[np.int64]
    price: Series[np.float64] = pa.Field(gt=0)
    qty: Series[np.float64] = pa.Field(gt=0)
    quote_qty: Series[np.float64] = pa.Field(ge=0)
    time: Series[Any]
    is_buyer_maker: Series[bool]

    class Config:
        """Exactly these columns, in this order."""

        strict = True
        ordered = True

    @pa.check("time", name="utc_datetime", error="utc_datetime: time must be a tz-aware UTC datetime")
    @classmethod
    def _time_is_utc(cls, time: pd.Series[Any]) -> bool:
        return _is_utc_datetime(time.dtype)

    @pa.dataframe_check(name="unique_symbol_trade_id", error="unique_symbol_trade_id")
    @classmethod
    def _unique_ids(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return ~df.duplicated(["symbol", "trade_id"], keep=False)


class Candles(pa.DataFrameModel):
    """OHLCV candles, identical in every engine: columns in this order, ``open_time``/``close_time`` in µs UTC.

    Gap rows (``trades == 0``) are flat at the previous close with zero volumes and null ``vwap`` and trade ids.
    Sums are compared with a relative tolerance of :data:`REL_TOL`.

    Examples:
        >>> list(Candles.to_schema().columns)[:4]
        ['symbol', 'interval', 'open_time', 'close_time']

    """

    symbol: Series[str]
    interval: Series[str]
    open_time: Series[UtcMicros]
    close_time: Series[UtcMicros]
    open: Series[np.float64] = pa.Field(gt=0)
    high: Series[np.float64] = pa.Field(gt=0)
    low: Series[np.float64] = pa.Field(gt=0)
    close: Series[np.float64] = pa.Field(gt=0)
    volume: Series[np.float64] = pa.Field(ge=0)
    quote_volume: Series[np.float64] = pa.Field(ge=0)
    trades: Series[np.int64] = pa.Field(ge=0)
    taker_buy_volume: Series[np.float64] = pa.Field(ge=0)
    taker_buy_quote_volume: Series[np.float64] = pa.Field(ge=0)
    vwap: Series[np.float64] = pa.Field(nullable=True)
    first_trade_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    last_trade_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)

    class Config:
        """Exactly these columns, in this order."""

        strict = True
        ordered = True

    @pa.check("interval", name="valid_interval", error="valid_interval")
    @classmethod
    def _valid_interval(cls, interval: pd.Series[Any]) -> pd.Series[bool]:
        valid = {v: _interval_or_none(v) is not None for v in pd.unique(interval.to_numpy(dtype=object))}
        return interval.map(valid).astype(bool)

    @pa.dataframe_check(name="low_le_high", error="low_le_high")
    @classmethod
    def _low_le_high(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return df["low"] <= df["high"]

    @pa.dataframe_check(name="open_close_within_low_high", error="open_close_within_low_high")
    @classmethod
    def _open_close_in_range(cls, df: pd.DataFrame) -> pd.Series[bool]:
        low, high = df["low"], df["high"]
        return (low <= df["open"]) & (df["open"] <= high) & (low <= df["close"]) & (df["close"] <= high)

    @pa.dataframe_check(name="taker_buy_volume_le_volume", error="taker_buy_volume_le_volume")
    @classmethod
    def _taker_volume(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return _le(df["taker_buy_volume"], df["volume"])

    @pa.dataframe_check(name="taker_buy_quote_volume_le_quote_volume", error="taker_buy_quote_volume_le_quote_volume")
    @classmethod
    def _taker_quote_volume(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return _le(df["taker_buy_quote_volume"], df["quote_volume"])

    @pa.dataframe_check(name="unique_symbol_interval_open_time", error="unique_symbol_interval_open_time")
    @classmethod
    def _unique_buckets(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return ~df.duplicated(["symbol", "interval", "open_time"], keep=False)

    @pa.dataframe_check(name="open_time_aligned", error="open_time_aligned")
    @classmethod
    def _aligned(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return _per_interval(df, lambda iv, open_us, _rows: iv.is_aligned(open_us))

    @pa.dataframe_check(name="close_time_matches_interval", error="close_time_matches_interval")
    @classmethod
    def _close_time(cls, df: pd.DataFrame) -> pd.Series[bool]:
        got = _micros(df["close_time"])
        if got is None:
            return pd.Series(True, index=df.index)
        close_us, present = got

        def test(iv: Interval, open_us: I64, rows: Mask) -> Mask:
            return np.asarray((iv.close_of(iv.index_of(open_us)) == close_us[rows]) | ~present[rows])

        return _per_interval(df, test)

    @pa.dataframe_check(name="traded_rows_have_volume", error="traded_rows_have_volume")
    @classmethod
    def _traded_volume(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return (df["trades"] == 0) | (df["volume"] > 0)

    @pa.dataframe_check(name="vwap_null_iff_zero_volume", error="vwap_null_iff_zero_volume", ignore_na=False)
    @classmethod
    def _vwap_null(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return df["vwap"].isna() == (df["volume"] == 0)

    @pa.dataframe_check(name="vwap_within_low_high", error="vwap_within_low_high", ignore_na=False)
    @classmethod
    def _vwap_range(cls, df: pd.DataFrame) -> pd.Series[bool]:
        vwap = df["vwap"]
        return vwap.isna() | (_le(df["low"], vwap) & _le(vwap, df["high"]))

    @pa.dataframe_check(name="trade_ids_null_iff_no_trades", error="trade_ids_null_iff_no_trades", ignore_na=False)
    @classmethod
    def _ids_null(cls, df: pd.DataFrame) -> pd.Series[bool]:
        gap = df["trades"] == 0
        return (df["first_trade_id"].isna() == gap) & (df["last_trade_id"].isna() == gap)

    @pa.dataframe_check(name="first_trade_id_le_last_trade_id", error="first_trade_id_le_last_trade_id")
    @classmethod
    def _ids_ordered(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return _bool(df["first_trade_id"] <= df["last_trade_id"])

    @pa.dataframe_check(name="gap_rows_flat_and_empty", error="gap_rows_flat_and_empty")
    @classmethod
    def _gap_rows(cls, df: pd.DataFrame) -> pd.Series[bool]:
        empty = (df[["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]] == 0).all(axis=1)
        flat = (df["open"] == df["high"]) & (df["high"] == df["low"]) & (df["low"] == df["close"])
        return (df["trades"] != 0) | (empty & flat)


# --- validation entry points -------------------------------------------------------------------------------------

_TRADE_KEY = ("symbol", "trade_id")
_CANDLE_KEY = ("symbol", "interval", "open_time")
#: The columns shown for each failing row of a dataframe-level check: the row's key, then what the check compares.
_CONTEXT: dict[str, tuple[str, ...]] = {
    "unique_symbol_trade_id": _TRADE_KEY,
    "unique_symbol_interval_open_time": _CANDLE_KEY,
    "low_le_high": (*_CANDLE_KEY, "low", "high"),
    "open_close_within_low_high": (*_CANDLE_KEY, "open", "high", "low", "close"),
    "taker_buy_volume_le_volume": (*_CANDLE_KEY, "taker_buy_volume", "volume"),
    "taker_buy_quote_volume_le_quote_volume": (*_CANDLE_KEY, "taker_buy_quote_volume", "quote_volume"),
    "open_time_aligned": _CANDLE_KEY,
    "close_time_matches_interval": (*_CANDLE_KEY, "close_time"),
    "traded_rows_have_volume": (*_CANDLE_KEY, "trades", "volume"),
    "vwap_null_iff_zero_volume": (*_CANDLE_KEY, "volume", "vwap"),
    "vwap_within_low_high": (*_CANDLE_KEY, "low", "high", "vwap"),
    "trade_ids_null_iff_no_trades": (*_CANDLE_KEY, "trades", "first_trade_id", "last_trade_id"),
    "first_trade_id_le_last_trade_id": (*_CANDLE_KEY, "first_trade_id", "last_trade_id"),
    "gap_rows_flat_and_empty": (
        *_CANDLE_KEY,
        *("trades", "open", "high", "low", "close"),
        *("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"),
    ),
}


def _fmt(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _describe(err: SchemaError, df: pd.DataFrame) -> str:
    """Describe one failed check in one line: where, which check, how many rows fail and the first few of them."""
    check = err.check
    name = None if check is None else str(getattr(check, "error", None) or getattr(check, "name", None) or check)
    if name is not None and err.reason_code == SchemaErrorReason.DATAFRAME_CHECK:
        what = name
    elif name is not None and err.reason_code == SchemaErrorReason.CHECK_ERROR:
        return f"- {name}: the check could not run ({err.failure_cases}), see the other failures"
    else:  # dtype, nullability, a check that raised...: pandera's own first line says it well
        what = str(err).split("\n", 1)[0].rstrip(":")
        if err.reason_code is not None:
            what = f"{err.reason_code.name.lower()}: {what}"
    line = f"- column {err.column_name!r}: {what}" if err.column_name else f"- {what}"
    cases = err.failure_cases
    if not isinstance(cases, pd.DataFrame) or "index" not in cases or "failure_case" not in cases:
        if err.reason_code == SchemaErrorReason.DATAFRAME_CHECK and err.column_name in df:
            line += f"; got dtype {df[err.column_name].dtype}"  # a whole-column check, e.g. utc_datetime
        return line
    cases = cases[cases["index"].notna()]
    rows = list(dict.fromkeys(cases["index"].tolist()))
    if not rows:
        return line
    if "column" in cases and err.column_name is None:  # a dataframe-level check: one case per (row, column)
        wanted = _CONTEXT.get(what, tuple(dict.fromkeys(cases["column"].tolist())))
        examples = []
        for row in rows[:_MAX_CASES]:
            here = cases[cases["index"] == row]
            values = dict(zip(here["column"], here["failure_case"], strict=True))
            shown = ", ".join(f"{c}={_fmt(values[c]) if c in values else '<NA>'}" for c in wanted)
            examples.append(f"row {_fmt(row)} ({shown})")
    else:
        pairs = zip(cases["index"], cases["failure_case"], strict=True)
        examples = [f"row {_fmt(i)}: {_fmt(v)}" for i, v in pairs][:_MAX_CASES]
    more = ", ..." if len(rows) > _MAX_CASES else ""
    return f"{line}; {len(rows)} row(s) fail, e.g. " + "; ".join(examples) + more


def _check_columns(what: str, expected: list[str], got: list[str]) -> None:
    """Raise :class:`ValidationError` unless ``got`` is exactly ``expected``, in order (the checks need the columns)."""
    if got == expected:
        return
    missing = [c for c in expected if c not in got]
    unexpected = [c for c in got if c not in expected]
    dups = sorted({str(c) for c in got if got.count(c) > 1})
    problems = [f"missing {missing}"] if missing else []
    problems += [f"unexpected {unexpected}"] if unexpected else []
    problems += [f"duplicated {dups}"] if dups else []
    problems = problems or [f"out of order: got {got}"]
    raise ValidationError(
        f"{what} failed validation: columns must be exactly {expected} in this order: " + "; ".join(problems)
    )


def _validate(model: type[pa.DataFrameModel], what: str, df: object, lazy: bool) -> pd.DataFrame:
    """Run ``model`` on ``df`` and turn pandera's errors into :class:`ValidationError`."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"{what} failed validation: expected a pandas DataFrame, got {type(df).__name__}")
    _check_columns(what, list(model.to_schema().columns), list(df.columns))
    try:
        return cast(pd.DataFrame, model.validate(df, lazy=lazy))
    except (SchemaError, SchemaErrors) as err:
        errors = err.schema_errors if isinstance(err, SchemaErrors) else [err]
        lines = [_describe(e, df) for e in errors]
        header = f"{what} failed validation: {len(lines)} check(s) failed"
        raise ValidationError("\n".join([header, *lines])) from err


def validate_trades(df: pd.DataFrame, *, lazy: bool = True) -> pd.DataFrame:
    """Check ``df`` against :class:`Trades` and return it unchanged.

    Args:
        df: normalized trades.
        lazy: report every failed check (the default) instead of stopping at the first one.

    Raises:
        ValidationError: naming each failed check and its first failure cases.

    Examples:
        >>> import pandas as pd
        >>> bad = pd.DataFrame({
        ...     "symbol": ["BTCUSDT"], "trade_id": [1], "price": [-1.0], "qty": [0.5], "quote_qty": [50.0],
        ...     "time": pd.to_datetime([0], utc=True), "is_buyer_maker": [False],
        ... })
        >>> validate_trades(bad)
        Traceback (most recent call last):
        ...
        daap.errors.ValidationError: trades failed validation: 1 check(s) failed
        - column 'price': greater_than(0); 1 row(s) fail, e.g. row 0: -1.0

    """
    return _validate(Trades, "trades", df, lazy)


def validate_candles(df: pd.DataFrame, *, lazy: bool = True) -> pd.DataFrame:
    """Check ``df`` against :class:`Candles` and return it unchanged.

    Args:
        df: candles, columns in the contract's order.
        lazy: report every failed check (the default) instead of stopping at the first one.

    Raises:
        ValidationError: naming each failed check and its first failure cases.

    Examples:
        >>> import pandas as pd
        >>> import numpy as np
        >>> t = pd.to_datetime(["2025-01-01 00:00"], utc=True).as_unit("us")
        >>> candles = pd.DataFrame({
        ...     "symbol": ["BTCUSDT"], "interval": ["1m"],
        ...     "open_time": t, "close_time": t + np.timedelta64(59_999_999, "us"),
        ...     "open": [1.0], "high": [2.0], "low": [1.0], "close": [2.0], "volume": [2.0], "quote_volume": [3.0],
        ...     "trades": [2], "taker_buy_volume": [1.0], "taker_buy_quote_volume": [2.0], "vwap": [1.5],
        ...     "first_trade_id": pd.array([7], dtype="Int64"), "last_trade_id": pd.array([8], dtype="Int64"),
        ... })
        >>> len(validate_candles(candles))
        1
        >>> validate_candles(candles.assign(low=3.0))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        daap.errors.ValidationError: candles failed validation: ...

    """
    return _validate(Candles, "candles", df, lazy)
