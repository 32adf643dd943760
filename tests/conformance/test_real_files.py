"""Real Binance rows through every engine: the same candles as the pandas engine, and the facts of the rows."""

from __future__ import annotations

from pathlib import Path

import pytest

import daap
from tests.conformance.conftest import Harness
from tests.conftest import assert_candles_equal

FILES = [
    "BTCUSDT-trades-2021-01-02.csv",
    "BTCUSDT-trades-2023-03-24.csv",
    "BTCUSDT-trades-2025-01-01.csv",
    "futures-BTCUSDT-trades-2026-09-16T20-00.csv",
]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("interval", ["1m", "1h"])
def test_real_file(engine: Harness, pandas_engine: Harness, data_dir: Path, name: str, interval: str) -> None:
    trades = daap.read_trades(data_dir / name)
    got = engine.build(trades, interval)
    assert int(got["trades"].sum()) == len(trades)
    assert_candles_equal(got, pandas_engine.build(trades, interval), sums_rtol=1e-9)


def test_exchange_halt_gap_rows(engine: Harness, data_dir: Path) -> None:
    got = engine.build(daap.read_trades(data_dir / "BTCUSDT-trades-2023-03-24.csv"), "1m")
    gaps = got[got["trades"] == 0]
    assert len(gaps) == 152 and (gaps["close"] == got[got["trades"] > 0].iloc[1]["close"]).all()
