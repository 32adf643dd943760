"""aggTrades determine the same candles as the trades they aggregate: a property run on every engine.

The synthetic generator writes both files of one config; the candles from the aggTrades must equal those from the
trades on every field: prices, counts and trade ids exactly, sums to the contract's 1e-9 (an aggregate's quantity
is one sum instead of several, and its quote quantity is ``price * qty`` instead of Binance's per-trade values).
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import daap
from daap.sources.aggtrades import aggregate_trades, write_aggtrades_files
from daap.sources.synthetic import SyntheticConfig, generate_day, write_binance_files
from tests.conformance.conftest import Harness
from tests.conftest import assert_candles_equal

SUMS_RTOL = 1e-9
#: (market, first day): spot µs (2025), spot ms (2024), USD-M futures with a header and without (before 2022-08-11).
FORMATS = [
    ("spot", datetime.date(2025, 5, 1)),
    ("spot", datetime.date(2024, 2, 28)),
    ("um", datetime.date(2025, 5, 1)),
    ("um", datetime.date(2021, 3, 1)),
]


def _normalized_trades(table: pa.Table, symbol: str) -> pd.DataFrame:
    df = table.to_pandas()
    df.insert(0, "symbol", symbol)
    df["time"] = pd.to_datetime(df["time"], unit="us", utc=True).astype("datetime64[us, UTC]")
    return df


def _normalized_aggs(agg: pa.Table, symbol: str) -> pd.DataFrame:
    df = agg.to_pandas()
    return pd.DataFrame(
        {
            "symbol": symbol,
            "trade_id": df["first_trade_id"],
            "price": df["price"],
            "qty": df["qty"],
            "quote_qty": df["price"] * df["qty"],
            "time": pd.to_datetime(df["time"], unit="us", utc=True).astype("datetime64[us, UTC]"),
            "is_buyer_maker": df["is_buyer_maker"],
            "last_trade_id": df["last_trade_id"],
        }
    )


def _window(trades: pa.Table, minutes: int) -> pa.Table:
    """The trades of the first ``minutes`` minutes after the first trade (a contiguous slice: ids stay consecutive)."""
    t = trades.column("time").to_numpy()
    return trades.slice(0, int(np.searchsorted(t, t[0] + minutes * 60_000_000)))


def _slow(engine: Harness) -> bool:
    """Engines evaluated by a row-by-row emulator (Snowpark local testing) get fewer buckets per example."""
    return engine.max_span_minutes < 600


def test_aggtrades_give_the_candles_of_their_trades(engine: Harness) -> None:
    # 1s buckets are exercised on the fast engines; the emulator spends minutes on thousands of gap-row candidates.
    intervals = ["1m", "15m", "1h"] if _slow(engine) else ["1s", "1m", "15m", "1h"]

    @settings(max_examples=engine.examples, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        trades_per_day=st.integers(1, 3_000),
        fmt=st.sampled_from(FORMATS),
        interval=st.sampled_from(intervals),
    )
    def check(seed: int, trades_per_day: int, fmt: tuple[str, datetime.date], interval: str) -> None:
        market, start = fmt
        cfg = SyntheticConfig(seed=seed, trades_per_day=trades_per_day, market=market, start=start)  # type: ignore[arg-type]
        # A day of 1s buckets is 86,400 gap-row candidates: engines with a slow emulator get a shorter span.
        trades = _window(generate_day(cfg, 0), engine.max_span_minutes)
        agg = aggregate_trades(trades)
        assert agg.num_rows <= trades.num_rows
        from_trades = engine.build(_normalized_trades(trades, cfg.symbol), interval)
        from_aggs = engine.build(_normalized_aggs(agg, cfg.symbol), interval)
        assert_candles_equal(from_aggs, from_trades, sums_rtol=SUMS_RTOL)
        assert int(from_aggs["trades"].sum()) == trades.num_rows

    check()


def test_aggtrades_files_in_every_format(engine: Harness) -> None:
    """Files written in each official format read back and give the trades' candles (two days, across midnight)."""
    # Two days of 1m candles are slow in the Snowpark emulator; the reader is engine-independent, so two formats do.
    interval, formats, n = ("1h", FORMATS[::2], 1_000) if _slow(engine) else ("1m", FORMATS, 4_000)
    for market, start in formats:
        cfg = SyntheticConfig(seed=11, trades_per_day=n, days=2, market=market, start=start)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as d:
            trade_files = write_binance_files(Path(d) / "t", cfg)
            agg_files = write_aggtrades_files(Path(d) / "a", cfg)
            aggs = daap.read_trades(agg_files)
            assert list(aggs.columns)[-1] == "last_trade_id"
            assert len(aggs) < 2 * cfg.trades_per_day
            want = engine.build(daap.read_trades(trade_files), interval)
            got = engine.build(aggs, interval)
        assert_candles_equal(got, want, sums_rtol=SUMS_RTOL)
        assert np.array_equal(got["trades"].to_numpy(), want["trades"].to_numpy())
