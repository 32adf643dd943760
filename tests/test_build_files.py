"""Streaming files: any split of the trades across files and blocks gives the candles of one in-memory build."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daap import CandleBuilder
from tests.conftest import assert_candles_equal
from tests.strategies import trades_frames

pytestmark = pytest.mark.pandas


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
