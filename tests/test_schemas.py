"""The trade and candle contracts (daap.schemas): valid frames pass, each broken invariant is named."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daap.errors import DaapError, ValidationError
from daap.intervals import Interval
from daap.schemas import Candles, Trades, validate_candles, validate_trades

# --- building frames by hand -----------------------------------------------------------------------------------------

CANDLE_COLUMNS = [
    "symbol",
    "interval",
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "vwap",
    "first_trade_id",
    "last_trade_id",
]
FLOATS = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "vwap",
]


def traded(symbol: str, interval: str, open_time: str, close_time: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "symbol": symbol,
        "interval": interval,
        "open_time": open_time,
        "close_time": close_time,
        "open": 100.0,
        "high": 110.0,
        "low": 95.0,
        "close": 105.0,
        "volume": 2.0,
        "quote_volume": 205.0,
        "trades": 3,
        "taker_buy_volume": 1.0,
        "taker_buy_quote_volume": 102.0,
        "vwap": 102.5,
        "first_trade_id": 10,
        "last_trade_id": 12,
    }
    row.update(over)
    return row


def gap(symbol: str, interval: str, open_time: str, close_time: str, price: float) -> dict[str, Any]:
    zeros = dict.fromkeys(["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"], 0.0)
    flat = dict.fromkeys(["open", "high", "low", "close"], price)
    return traded(
        symbol,
        interval,
        open_time,
        close_time,
        **flat,
        **zeros,
        trades=0,
        vwap=None,
        first_trade_id=None,
        last_trade_id=None,
    )


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Candles with the contract's dtypes: object str, datetime64[us, UTC], float64, int64 and nullable Int64."""
    col = {name: [r[name] for r in rows] for name in CANDLE_COLUMNS}
    data: dict[str, Any] = {
        "symbol": pd.Series(col["symbol"], dtype=object),
        "interval": pd.Series(col["interval"], dtype=object),
        "open_time": pd.to_datetime(col["open_time"], utc=True, format="ISO8601").as_unit("us"),
        "close_time": pd.to_datetime(col["close_time"], utc=True, format="ISO8601").as_unit("us"),
        "trades": np.array(col["trades"], dtype=np.int64),
        "first_trade_id": pd.array(col["first_trade_id"], dtype="Int64"),
        "last_trade_id": pd.array(col["last_trade_id"], dtype="Int64"),
    }
    data.update({name: np.array([np.nan if v is None else v for v in col[name]], dtype=np.float64) for name in FLOATS})
    return pd.DataFrame({name: data[name] for name in CANDLE_COLUMNS})


# Row numbers of VALID, used by the corruptions below.
BTC_1M_TRADED, BTC_1M_GAP, BTC_1M_TRADED_2, ETH_1M, JAN, FEB, LEAP_FEB, WEEK = range(8)
VALID_ROWS = [
    traded("BTCUSDT", "1m", "2025-01-01 00:00", "2025-01-01 00:00:59.999999"),
    gap("BTCUSDT", "1m", "2025-01-01 00:01", "2025-01-01 00:01:59.999999", price=105.0),
    traded(
        "BTCUSDT",
        "1m",
        "2025-01-01 00:02",
        "2025-01-01 00:02:59.999999",
        first_trade_id=13,
        last_trade_id=13,
        trades=1,
        open=104.0,
        high=104.0,
        low=104.0,
        close=104.0,
        volume=0.5,
        quote_volume=52.0,
        taker_buy_volume=0.0,
        taker_buy_quote_volume=0.0,
        vwap=104.0,
    ),
    traded("ETHUSDT", "1m", "2025-01-01 00:00", "2025-01-01 00:00:59.999999", first_trade_id=10, last_trade_id=12),
    traded("BTCUSDT", "1M", "2025-01-01", "2025-01-31 23:59:59.999999"),  # 31 days
    traded("BTCUSDT", "1M", "2025-02-01", "2025-02-28 23:59:59.999999", first_trade_id=20, last_trade_id=22),  # 28
    traded("BTCUSDT", "1M", "2024-02-01", "2024-02-29 23:59:59.999999", first_trade_id=1, last_trade_id=3),  # 29
    traded("BTCUSDT", "1w", "2024-12-30", "2025-01-05 23:59:59.999999"),  # 2024-12-30 is a Monday
]


@pytest.fixture
def candles() -> pd.DataFrame:
    return frame(VALID_ROWS)


def trades_frame(**over: Any) -> pd.DataFrame:
    data: dict[str, Any] = {
        "symbol": pd.Series(["BTCUSDT", "BTCUSDT", "ETHUSDT"], dtype=object),
        "trade_id": np.array([1, 2, 1], dtype=np.int64),  # the same id in two symbols is fine
        "price": [100.0, 101.0, 5.0],
        "qty": [0.5, 1.0, 2.0],
        "quote_qty": [50.0, 101.0, 0.0],
        "time": pd.to_datetime(["2025-01-01 00:00:01", "2025-01-01 00:00:01", "2025-01-01 00:00:02"], utc=True).as_unit(
            "us"
        ),
        "is_buyer_maker": [True, False, True],
    }
    data.update(over)
    return pd.DataFrame(data)


def raises(validate: Callable[[pd.DataFrame], pd.DataFrame], df: pd.DataFrame, *names: str) -> str:
    """Assert that validation fails with ValidationError naming every one of ``names``; return the message."""
    with pytest.raises(ValidationError) as info:
        validate(df)
    message = str(info.value)
    for name in names:
        assert name in message, f"{name!r} not in:\n{message}"
    return message


# --- candles: valid frames ------------------------------------------------------------------------------------------


def test_valid_candles_pass_unchanged(candles: pd.DataFrame) -> None:
    out = validate_candles(candles)
    pd.testing.assert_frame_equal(out, candles)
    assert list(out.columns) == CANDLE_COLUMNS
    assert str(out["open_time"].dtype) == "datetime64[us, UTC]"


def test_each_valid_row_passes_alone(candles: pd.DataFrame) -> None:
    for i in range(len(candles)):
        validate_candles(candles.iloc[[i]])


def test_empty_candles_pass(candles: pd.DataFrame) -> None:
    validate_candles(candles.iloc[:0])


def test_schema_column_order_matches_contract() -> None:
    assert list(Candles.to_schema().columns) == CANDLE_COLUMNS
    assert list(Trades.to_schema().columns) == [
        "symbol",
        "trade_id",
        "price",
        "qty",
        "quote_qty",
        "time",
        "is_buyer_maker",
    ]


def test_float_sums_within_relative_tolerance_pass(candles: pd.DataFrame) -> None:
    df = candles.copy()
    df.loc[BTC_1M_TRADED, "taker_buy_volume"] = 2.0 * (1 + 1e-12)
    df.loc[BTC_1M_TRADED, "taker_buy_quote_volume"] = 205.0 * (1 + 1e-12)
    df.loc[ETH_1M, "vwap"] = 110.0 * (1 + 1e-12)
    df.loc[JAN, "vwap"] = 95.0 * (1 - 1e-12)
    validate_candles(df)


def test_int64_trade_ids_without_gaps_are_accepted(candles: pd.DataFrame) -> None:
    # pandera treats numpy int64 as compatible with the nullable Int64 column.
    df = candles.drop(index=BTC_1M_GAP).reset_index(drop=True)
    validate_candles(df.assign(first_trade_id=df["first_trade_id"].astype("int64")))


# --- candles: one test per invariant ----------------------------------------------------------------------------------

Corrupt = Callable[[pd.DataFrame], None]


def setter(row: int, **values: Any) -> Corrupt:
    def corrupt(df: pd.DataFrame) -> None:
        for name, value in values.items():
            df.loc[row, name] = value

    return corrupt


def times(row: int, **values: str) -> Corrupt:
    return setter(row, **{k: pd.Timestamp(v, tz="UTC") for k, v in values.items()})


CORRUPTIONS: dict[str, tuple[Corrupt, tuple[str, ...]]] = {
    "low above high": (setter(BTC_1M_TRADED, low=111.0), ("low_le_high",)),
    "open above high": (setter(BTC_1M_TRADED, open=111.0), ("open_close_within_low_high",)),
    "open below low": (setter(ETH_1M, open=94.0), ("open_close_within_low_high",)),
    "close above high": (setter(JAN, close=110.5), ("open_close_within_low_high",)),
    "close below low": (setter(WEEK, close=94.0), ("open_close_within_low_high",)),
    "price zero": (setter(ETH_1M, low=0.0), ("column 'low'", "greater_than(0)")),
    "volume negative": (setter(BTC_1M_GAP, volume=-1.0), ("column 'volume'", "greater_than_or_equal_to(0)")),
    "quote volume negative": (
        setter(BTC_1M_GAP, quote_volume=-1.0),
        ("column 'quote_volume'", "greater_than_or_equal_to(0)"),
    ),
    "taker volume negative": (
        setter(BTC_1M_TRADED_2, taker_buy_volume=-1.0),
        ("column 'taker_buy_volume'", "greater_than_or_equal_to(0)"),
    ),
    "taker quote volume negative": (
        setter(BTC_1M_TRADED_2, taker_buy_quote_volume=-1.0),
        ("column 'taker_buy_quote_volume'", "greater_than_or_equal_to(0)"),
    ),
    "taker volume above volume": (setter(BTC_1M_TRADED, taker_buy_volume=2.001), ("taker_buy_volume_le_volume",)),
    "taker quote volume above quote volume": (
        setter(BTC_1M_TRADED, taker_buy_quote_volume=205.1),
        ("taker_buy_quote_volume_le_quote_volume",),
    ),
    "trades negative": (setter(BTC_1M_TRADED, trades=-1), ("column 'trades'", "greater_than_or_equal_to(0)")),
    "traded row without volume": (
        setter(BTC_1M_TRADED_2, volume=0.0, quote_volume=0.0, vwap=np.nan),
        ("traded_rows_have_volume",),
    ),
    "vwap null on traded row": (setter(BTC_1M_TRADED, vwap=np.nan), ("vwap_null_iff_zero_volume",)),
    "vwap set on gap row": (setter(BTC_1M_GAP, vwap=105.0), ("vwap_null_iff_zero_volume",)),
    "vwap above high": (setter(ETH_1M, vwap=110.01), ("vwap_within_low_high",)),
    "vwap below low": (setter(FEB, vwap=94.99), ("vwap_within_low_high",)),
    "first id null on traded row": (setter(BTC_1M_TRADED, first_trade_id=pd.NA), ("trade_ids_null_iff_no_trades",)),
    "last id set on gap row": (setter(BTC_1M_GAP, last_trade_id=12), ("trade_ids_null_iff_no_trades",)),
    "first id after last id": (setter(JAN, first_trade_id=13), ("first_trade_id_le_last_trade_id",)),
    "gap row not flat": (setter(BTC_1M_GAP, high=106.0), ("gap_rows_flat_and_empty",)),
    "gap row with taker volume": (
        setter(BTC_1M_GAP, taker_buy_quote_volume=1.0, quote_volume=1.0),
        ("gap_rows_flat_and_empty",),
    ),
    "invalid interval": (setter(WEEK, interval="3d"), ("column 'interval'", "valid_interval", "'3d'")),
    "non-canonical interval": (setter(ETH_1M, interval=" 1m"), ("valid_interval",)),
    "1m open not on the minute": (times(ETH_1M, open_time="2025-01-01 00:00:01"), ("open_time_aligned",)),
    "1w open on a Sunday": (
        times(WEEK, open_time="2024-12-29", close_time="2025-01-04 23:59:59.999999"),
        ("open_time_aligned",),
    ),
    "1M open on the 2nd": (times(FEB, open_time="2025-02-02"), ("open_time_aligned",)),
    "1m close one µs late": (times(BTC_1M_TRADED, close_time="2025-01-01 00:01:00"), ("close_time_matches_interval",)),
    "1M February given 31 days": (
        times(FEB, close_time="2025-03-03 23:59:59.999999"),
        ("close_time_matches_interval",),
    ),
    "1M leap February given 28 days": (
        times(LEAP_FEB, close_time="2024-02-28 23:59:59.999999"),
        ("close_time_matches_interval",),
    ),
    "1M January given 30 days": (times(JAN, close_time="2025-01-30 23:59:59.999999"), ("close_time_matches_interval",)),
    "symbol null": (setter(ETH_1M, symbol=None), ("column 'symbol'", "contains null values")),
    "open null": (setter(ETH_1M, open=np.nan), ("column 'open'", "contains null values")),
    "open_time null": (setter(ETH_1M, open_time=pd.NaT), ("column 'open_time'", "contains null values")),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_each_broken_invariant_is_named(candles: pd.DataFrame, case: str) -> None:
    corrupt, names = CORRUPTIONS[case]
    df = candles.copy()
    corrupt(df)
    raises(validate_candles, df, *names)


def test_duplicate_bucket(candles: pd.DataFrame) -> None:
    df = pd.concat([candles, candles.iloc[[ETH_1M]]], ignore_index=True)
    message = raises(validate_candles, df, "unique_symbol_interval_open_time", "symbol='ETHUSDT'")
    assert "2 row(s) fail" in message


def test_same_open_time_in_other_symbol_or_interval_is_not_a_duplicate(candles: pd.DataFrame) -> None:
    # BTC 1m, ETH 1m and BTC 1M all open at 2025-01-01 00:00.
    assert (candles["open_time"] == pd.Timestamp("2025-01-01", tz="UTC")).sum() == 3
    validate_candles(candles)


@pytest.mark.parametrize(
    ("column", "values", "names"),
    [
        ("open_time", lambda df: df["open_time"].dt.as_unit("ns"), ("wrong_datatype", "datetime64[us, UTC]")),
        ("close_time", lambda df: df["close_time"].dt.tz_localize(None), ("wrong_datatype", "close_time")),
        ("open_time", lambda df: df["open_time"].dt.tz_convert("Europe/Paris"), ("wrong_datatype",)),
        ("trades", lambda df: df["trades"].astype("float64"), ("wrong_datatype", "int64")),
        ("first_trade_id", lambda df: df["first_trade_id"].astype("float64"), ("wrong_datatype", "Int64")),
        ("volume", lambda df: df["volume"].astype("float32"), ("wrong_datatype", "float64")),
        ("symbol", lambda df: np.arange(len(df)), ("column 'symbol'",)),
    ],
)
def test_wrong_dtypes(
    candles: pd.DataFrame, column: str, values: Callable[[pd.DataFrame], Any], names: tuple[str]
) -> None:
    raises(validate_candles, candles.assign(**{column: values(candles)}), *names)


def test_columns_must_be_exact_and_ordered(candles: pd.DataFrame) -> None:
    raises(validate_candles, candles.drop(columns="vwap"), "missing ['vwap']")
    raises(validate_candles, candles.assign(extra=1), "unexpected ['extra']")
    raises(validate_candles, candles[CANDLE_COLUMNS[::-1]], "out of order")


def test_not_a_dataframe() -> None:
    with pytest.raises(ValidationError, match="expected a pandas DataFrame, got list"):
        validate_candles([1, 2])  # type: ignore[arg-type]


def test_lazy_reports_every_failed_check_and_first_cases(candles: pd.DataFrame) -> None:
    df = candles.copy()
    df.loc[BTC_1M_TRADED, "open_time"] = pd.Timestamp("2025-01-01 00:00:30", tz="UTC")
    df["taker_buy_volume"] = df["volume"] + 1.0  # every row
    message = raises(validate_candles, df, "open_time_aligned", "taker_buy_volume_le_volume", "gap_rows_flat_and_empty")
    assert message.startswith("candles failed validation: 3 check(s) failed")
    assert f"{len(df)} row(s) fail" in message
    taker_line = next(line for line in message.splitlines() if "taker_buy_volume_le_volume" in line)
    assert taker_line.count("(symbol=") == 5  # only the first few cases are listed
    assert taker_line.endswith(", ...")


def test_not_lazy_stops_at_first_failure(candles: pd.DataFrame) -> None:
    df = candles.copy()
    df.loc[ETH_1M, "vwap"] = 500.0
    df.loc[JAN, "first_trade_id"] = 99
    message = raises(partial(validate_candles, lazy=False), df, "check(s) failed")
    assert "1 check(s) failed" in message


def test_error_is_a_daap_error_chained_to_the_cause(candles: pd.DataFrame) -> None:
    with pytest.raises(DaapError) as info:
        validate_candles(candles.assign(low=1000.0))
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is not None  # pandera's report stays reachable for debugging


@settings(max_examples=60, deadline=None)
@given(
    interval=st.sampled_from(["1s", "1m", "5m", "1h", "4h", "1d", "1w", "1M"]),
    index=st.integers(min_value=0, max_value=2_000),
    days=st.integers(min_value=0, max_value=30 * 365),
)
def test_any_bucket_of_any_interval_passes_and_shifted_fails(interval: str, index: int, days: int) -> None:
    iv = Interval.parse(interval)
    base = iv.index_of(days * 86_400_000_000)
    i = int(base) + index
    start, close = int(iv.start_of(i)), int(iv.close_of(i))
    row = traded("BTCUSDT", interval, "2000-01-01", "2000-01-01")
    df = frame([row]).assign(
        open_time=pd.to_datetime([start], unit="us", utc=True).as_unit("us"),
        close_time=pd.to_datetime([close], unit="us", utc=True).as_unit("us"),
    )
    validate_candles(df)
    shifted = df.assign(open_time=df["open_time"] + np.timedelta64(1, "us"))
    raises(validate_candles, shifted, "open_time_aligned")


# --- trades ----------------------------------------------------------------------------------------------------------


def test_valid_trades_pass_unchanged() -> None:
    df = trades_frame()
    pd.testing.assert_frame_equal(validate_trades(df), df)
    validate_trades(df.iloc[:0])


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_trade_time_any_resolution_in_utc(unit: str) -> None:
    df = trades_frame()
    validate_trades(df.assign(time=df["time"].dt.as_unit(unit)))


@pytest.mark.parametrize(
    ("over", "names"),
    [
        ({"price": [100.0, 0.0, 5.0]}, ("column 'price'", "greater_than(0)", "row 1: 0.0")),
        ({"price": [100.0, -1.0, 5.0]}, ("column 'price'", "greater_than(0)")),
        ({"qty": [0.5, 1.0, 0.0]}, ("column 'qty'", "greater_than(0)")),
        ({"quote_qty": [50.0, -0.1, 0.0]}, ("column 'quote_qty'", "greater_than_or_equal_to(0)")),
        ({"trade_id": np.array([1, 1, 1], dtype=np.int64)}, ("unique_symbol_trade_id", "symbol='BTCUSDT', trade_id=1")),
        ({"price": [100.0, np.nan, 5.0]}, ("column 'price'", "contains null values")),
        ({"symbol": ["BTCUSDT", None, "ETHUSDT"]}, ("column 'symbol'", "contains null values")),
        ({"trade_id": [1.0, 2.0, 1.0]}, ("column 'trade_id'", "wrong_datatype")),
        ({"is_buyer_maker": [1, 0, 1]}, ("column 'is_buyer_maker'", "wrong_datatype")),
        ({"time": pd.to_datetime(["2025-01-01"] * 3)}, ("utc_datetime", "got dtype datetime64[ns]")),
        ({"time": pd.to_datetime(["2025-01-01"] * 3, utc=True).tz_convert("Asia/Tokyo")}, ("utc_datetime",)),
        ({"time": [1, 2, 3]}, ("utc_datetime", "got dtype int64")),
        ({"time": [pd.NaT] * 3}, ("column 'time'",)),
    ],
)
def test_trade_invariants(over: dict[str, Any], names: tuple[str]) -> None:
    raises(validate_trades, trades_frame(**over), *names)


def test_trade_columns_must_be_exact_and_ordered() -> None:
    df = trades_frame()
    raises(validate_trades, df.drop(columns="is_buyer_maker"), "missing ['is_buyer_maker']")
    raises(validate_trades, df[df.columns[::-1]], "out of order")
    with pytest.raises(ValidationError, match="expected a pandas DataFrame"):
        validate_trades({"symbol": []})  # type: ignore[arg-type]
