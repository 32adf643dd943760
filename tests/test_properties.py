"""Hypothesis properties of the candle aggregation (pandas engine)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daap import CandleBuilder
from daap.schemas import validate_candles
from tests.conftest import assert_candles_equal, oracle_candles
from tests.strategies import trades_frames

pytestmark = pytest.mark.pandas
INTERVALS = ["1s", "1m", "3m", "1h"]


@given(trades=trades_frames(), interval=st.sampled_from(INTERVALS))
def test_conservation_and_ohlc_order(trades: pd.DataFrame, interval: str) -> None:
    candles = CandleBuilder(interval).build(trades)
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


@given(trades=trades_frames(), interval=st.sampled_from(INTERVALS))
def test_matches_a_slow_obvious_oracle(trades: pd.DataFrame, interval: str) -> None:
    builder = CandleBuilder(interval, fill_gaps=False)
    got = builder.build(trades)
    want = oracle_candles(trades, builder.interval.step_us)
    assert len(got) == len(want)
    got_us = got["open_time"].astype("int64").to_numpy()
    assert (got_us == want["open_us"].to_numpy()).all()
    for col in ["open", "high", "low", "close", "trades", "first_trade_id", "last_trade_id"]:
        assert (got[col].astype(want[col].dtype).to_numpy() == want[col].to_numpy()).all(), col
    for col in ["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]:
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12, atol=1e-12, err_msg=col)


@given(trades=trades_frames(), seed=st.integers(0, 2**32 - 1), interval=st.sampled_from(INTERVALS))
def test_shuffled_input_gives_identical_output(trades: pd.DataFrame, seed: int, interval: str) -> None:
    builder = CandleBuilder(interval)
    shuffled = trades.sample(frac=1.0, random_state=np.random.RandomState(seed % 2**32))
    # Sorted and shuffled input are both summed in (symbol, time, trade_id) order: bit-identical.
    assert_candles_equal(builder.build(trades), builder.build(shuffled))


@given(trades=trades_frames(), chunk=st.integers(1, 50), shuffle=st.booleans())
def test_any_chunk_size_gives_the_same_output(trades: pd.DataFrame, chunk: int, shuffle: bool) -> None:
    if shuffle:
        trades = trades.sample(frac=1.0, random_state=0)
    builder = CandleBuilder("1m")
    # Prices, ids, counts and times exact; float sums to the contract's tolerance (summation order differs).
    assert_candles_equal(builder.build(trades), builder.build(trades, chunk_rows=chunk), sums_rtol=1e-12)


@given(trades=trades_frames(), target=st.sampled_from(["3m", "5m", "15m", "1h", "1d", "1w", "1M"]))
def test_rollup_equals_direct_build(trades: pd.DataFrame, target: str) -> None:
    one = CandleBuilder("1m").build(trades)
    rolled = CandleBuilder("1m").rollup(one, target)
    direct = CandleBuilder(target).build(trades)
    validate_candles(rolled)
    assert_candles_equal(rolled, direct, sums_rtol=1e-12)


@given(trades=trades_frames(), interval=st.sampled_from(INTERVALS))
def test_no_fill_gaps_is_fill_gaps_minus_gap_rows(trades: pd.DataFrame, interval: str) -> None:
    filled = CandleBuilder(interval).build(trades)
    bare = CandleBuilder(interval, fill_gaps=False).build(trades)
    assert (bare["trades"] > 0).all()
    assert_candles_equal(filled[filled["trades"] > 0], bare)
    gaps = filled[filled["trades"] == 0]
    assert (gaps[["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]] == 0).all().all()
    assert gaps["vwap"].isna().all() and gaps["first_trade_id"].isna().all()
    # Each gap row carries the previous close, and there are no holes in the grid.
    for _, c in filled.groupby("symbol"):
        step = np.diff(c["open_time"].astype("int64").to_numpy())
        if interval != "1M":
            assert (step == CandleBuilder(interval).interval.step_us).all()
        prev_close = c["close"].shift(1)
        is_gap = c["trades"] == 0
        assert (c.loc[is_gap, "open"] == prev_close[is_gap]).all()
        assert (c.loc[is_gap, ["open", "high", "low"]].to_numpy() == c.loc[is_gap, ["close"]].to_numpy()).all()


@given(trades=trades_frames(max_symbols=2, max_rows=200), interval=st.sampled_from(["1s", "1m", "5m"]))
def test_build_files_split_across_files_equals_build(
    trades: pd.DataFrame, interval: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("split")
    # Write each symbol as several Binance-style CSV files (spot format, µs), split at arbitrary rows.
    for sym, g in trades.groupby("symbol"):
        g = g.sort_values(["time", "trade_id"])
        cuts = sorted({0, len(g), *[len(g) * k // 3 for k in (1, 2)]})
        for i, (lo, hi) in enumerate(itertools.pairwise(cuts)):
            part = g.iloc[lo:hi]
            lines = [
                f"{r.trade_id},{r.price:.8f},{r.qty:.8f},{r.quote_qty:.8f},{r.time.value // 1000},"
                f"{r.is_buyer_maker},True"
                for r in part.itertuples()
            ]
            (tmp / f"{sym}-trades-2025-01-0{i + 1}.csv").write_text("\n".join(lines) + "\n")
    out = tmp / "candles.parquet"
    summary = CandleBuilder(interval).build_files(sorted(tmp.glob("*.csv")), out, block_bytes=512)
    got = pd.read_parquet(out)
    import pyarrow.parquet as pq

    from daap.engines.pandas import candles_to_pandas

    got = candles_to_pandas(pq.read_table(out))
    want = CandleBuilder(interval).build(trades)
    assert summary.rows_in == len(trades)
    assert summary.candles_out == len(want)
    assert_candles_equal(got, want, sums_rtol=1e-12)
