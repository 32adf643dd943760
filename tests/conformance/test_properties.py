"""Hypothesis properties of the candle aggregation, run on every engine, plus engine equality."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from daap import CandleBuilder
from daap.schemas import validate_candles
from tests.conformance.conftest import Harness
from tests.conftest import assert_candles_equal, oracle_candles

INTERVALS = ["1s", "1m", "3m", "1h"]
#: The contract: sums agree to 1e-9 relative across engines and chunkings (the pandas engine does 1e-12).
SUMS_RTOL = 1e-9


def run(engine: Harness, strategy: Any, check: Callable[..., None]) -> None:
    """Run ``check`` under hypothesis with the engine's example budget."""
    settings(max_examples=engine.examples, deadline=None)(given(**strategy)(check))()


def test_conservation_and_ohlc_order(engine: Harness) -> None:
    def check(trades: pd.DataFrame, interval: str) -> None:
        candles = engine.build(trades, interval)
        validate_candles(candles)
        for sym, g in trades.groupby("symbol"):
            c = candles[candles["symbol"] == sym]
            assert int(c["trades"].sum()) == len(g)
            np.testing.assert_allclose(c["volume"].sum(), g["qty"].sum(), rtol=1e-12)
            np.testing.assert_allclose(c["quote_volume"].sum(), g["quote_qty"].sum(), rtol=1e-12)
            taker = g[~g["is_buyer_maker"]]
            np.testing.assert_allclose(c["taker_buy_volume"].sum(), taker["qty"].sum(), rtol=1e-12, atol=1e-12)
            assert int(c["first_trade_id"].min()) == int(g["trade_id"].min())
            assert int(c["last_trade_id"].max()) == int(g["trade_id"].max())
        assert (candles["low"] <= candles[["open", "close"]].min(axis=1)).all()
        assert (candles["high"] >= candles[["open", "close"]].max(axis=1)).all()

    run(engine, {"trades": engine.trades(), "interval": st.sampled_from(INTERVALS)}, check)


def test_matches_a_slow_obvious_oracle(engine: Harness) -> None:
    def check(trades: pd.DataFrame, interval: str) -> None:
        got = engine.build(trades, interval, fill_gaps=False)
        want = oracle_candles(trades, CandleBuilder(interval).interval.step_us)
        assert len(got) == len(want)
        assert (got["open_time"].astype("int64").to_numpy() == want["open_us"].to_numpy()).all()
        for col in ["open", "high", "low", "close", "trades", "first_trade_id", "last_trade_id"]:
            assert (got[col].astype(want[col].dtype).to_numpy() == want[col].to_numpy()).all(), col
        for col in ["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]:
            np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12, atol=1e-12, err_msg=col)

    run(engine, {"trades": engine.trades(), "interval": st.sampled_from(INTERVALS)}, check)


def test_shuffled_input_gives_the_same_output(engine: Harness) -> None:
    def check(trades: pd.DataFrame, seed: int, interval: str) -> None:
        shuffled = trades.sample(frac=1.0, random_state=np.random.RandomState(seed))
        # The pandas engine sums in (symbol, time, trade_id) order whatever the input order: bit-identical.
        rtol = 0.0 if engine.name == "pandas" else SUMS_RTOL
        assert_candles_equal(engine.build(trades, interval), engine.build(shuffled, interval), sums_rtol=rtol)

    run(
        engine,
        {"trades": engine.trades(), "seed": st.integers(0, 2**32 - 1), "interval": st.sampled_from(INTERVALS)},
        check,
    )


def test_any_chunking_gives_the_same_output(engine: Harness) -> None:
    def check(trades: pd.DataFrame, chunks: int, shuffle: bool) -> None:
        if shuffle:
            trades = trades.sample(frac=1.0, random_state=0)
        # Prices, ids, counts and times exact; float sums to the contract's tolerance (summation order differs).
        assert_candles_equal(engine.build(trades, "1m"), engine.build(trades, "1m", chunks=chunks), sums_rtol=SUMS_RTOL)

    run(engine, {"trades": engine.trades(), "chunks": st.integers(1, 50), "shuffle": st.booleans()}, check)


def test_rollup_equals_direct_build(engine: Harness) -> None:
    def check(trades: pd.DataFrame, target: str) -> None:
        one = engine.build(trades, "1m")
        rolled = engine.rollup(one, target)
        validate_candles(rolled)
        assert_candles_equal(rolled, engine.build(trades, target), sums_rtol=SUMS_RTOL)

    targets = st.sampled_from(["3m", "5m", "15m", "1h", "1d", "1w", "1M"])
    run(engine, {"trades": engine.trades(), "target": targets}, check)


def test_no_fill_gaps_is_fill_gaps_minus_gap_rows(engine: Harness) -> None:
    def check(trades: pd.DataFrame, interval: str) -> None:
        filled = engine.build(trades, interval)
        bare = engine.build(trades, interval, fill_gaps=False)
        assert (bare["trades"] > 0).all()
        assert_candles_equal(filled[filled["trades"] > 0], bare)
        gaps = filled[filled["trades"] == 0]
        assert (gaps[["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]] == 0).all().all()
        assert gaps["vwap"].isna().all() and gaps["first_trade_id"].isna().all()
        for _, c in filled.groupby("symbol"):
            if interval != "1M":
                step = np.diff(c["open_time"].astype("int64").to_numpy())
                assert (step == CandleBuilder(interval).interval.step_us).all()
            prev_close = c["close"].shift(1)
            is_gap = c["trades"] == 0
            assert (c.loc[is_gap, "open"] == prev_close[is_gap]).all()
            assert (c.loc[is_gap, ["open", "high", "low"]].to_numpy() == c.loc[is_gap, ["close"]].to_numpy()).all()

    run(engine, {"trades": engine.trades(), "interval": st.sampled_from(INTERVALS)}, check)


def test_engine_equals_the_pandas_engine(engine: Harness, pandas_engine: Harness) -> None:
    def check(trades: pd.DataFrame, interval: str) -> None:
        assert_candles_equal(engine.build(trades, interval), pandas_engine.build(trades, interval), sums_rtol=SUMS_RTOL)

    intervals = st.sampled_from([*INTERVALS, "5m", "1d", "1w", "1M"])
    run(engine, {"trades": engine.trades(), "interval": intervals}, check)
