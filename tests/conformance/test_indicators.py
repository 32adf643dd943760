"""Indicators through every engine: the values equal the pandas implementation's (which equals TA-Lib's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import daap
from daap import indicators
from tests.conformance.conftest import Harness


def _with_indicators(engine: Harness, candles: pd.DataFrame) -> pd.DataFrame:
    native = engine.candles_to_native(candles)
    out = indicators.add(native, indicators.DEFAULT, engine=engine.name)
    if not isinstance(out, pd.DataFrame):
        out = engine.frame_to_pandas(out)
    return out.sort_values(["symbol", "open_time"]).reset_index(drop=True)


def test_default_indicators_equal_the_pandas_values(engine: Harness, data_dir: Path) -> None:
    trades = pd.concat(
        [
            daap.read_trades(data_dir / "BTCUSDT-trades-2025-01-01.csv"),
            daap.read_trades(data_dir / "BTCUSDT-trades-2023-03-24.csv").assign(symbol="ETHUSDT"),  # gap rows
        ],
        ignore_index=True,
    )
    candles = daap.CandleBuilder("1m").build(trades)
    got = _with_indicators(engine, candles)
    want = indicators.add(candles, indicators.DEFAULT).sort_values(["symbol", "open_time"]).reset_index(drop=True)
    for spec in indicators.DEFAULT:
        for col in spec.columns:
            a, b = got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float)
            assert np.array_equal(np.isnan(a), np.isnan(b)), col
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            atol = engine.indicator_rtol * float(np.abs(b).max(initial=0.0))  # OBV crosses zero
            np.testing.assert_allclose(a, b, rtol=engine.indicator_rtol, atol=atol, err_msg=col)
