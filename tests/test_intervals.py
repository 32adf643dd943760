from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import daap
from daap.errors import InvalidIntervalError
from daap.intervals import BINANCE_INTERVALS, Interval


@pytest.mark.parametrize("name", BINANCE_INTERVALS)
def test_binance_intervals_parse(name: str) -> None:
    assert Interval.parse(name).name == name


@pytest.mark.parametrize("name", ["2s", "10m", "90m", "45s", "3h", "24h"])
def test_intervals_dividing_a_day(name: str) -> None:
    iv = Interval.parse(name)
    assert 86_400_000_000 % iv.step_us == 0


@pytest.mark.parametrize("name", ["7m", "5h", "0m", "1y", "2w", "3d", "2M", "m", "1H", "", "1.5m"])
def test_invalid_intervals_are_clear_errors(name: str) -> None:
    with pytest.raises(InvalidIntervalError, match="interval"):
        Interval.parse(name)
    with pytest.raises(InvalidIntervalError):
        daap.CandleBuilder(name)


def test_week_starts_monday_and_month_is_calendar() -> None:
    t = int(pd.Timestamp("2025-01-01 12:34:56.789", tz="UTC").value // 1000)
    w, m = Interval.parse("1w"), Interval.parse("1M")
    assert pd.Timestamp(int(w.start_of(w.index_of(t))), unit="us", tz="UTC") == pd.Timestamp("2024-12-30", tz="UTC")
    assert pd.Timestamp(int(w.start_of(w.index_of(t))), unit="us").day_name() == "Monday"
    feb = int(pd.Timestamp("2024-02-10", tz="UTC").value // 1000)
    close = pd.Timestamp(int(m.close_of(m.index_of(feb))), unit="us", tz="UTC")
    assert close == pd.Timestamp("2024-02-29 23:59:59.999999", tz="UTC")  # leap year


@given(t=st.integers(1_230_768_000_000_000, 4_102_444_800_000_000), name=st.sampled_from(BINANCE_INTERVALS))
def test_bucket_contains_its_time(t: int, name: str) -> None:
    iv = Interval.parse(name)
    i = iv.index_of(t)
    assert iv.start_of(i) <= t <= iv.close_of(i)
    assert iv.is_aligned(iv.start_of(i))
    assert iv.close_of(i) + 1 == iv.start_of(i + 1)


def test_rollup_compatibility() -> None:
    assert Interval.parse("1m").divides(Interval.parse("5m"))
    assert Interval.parse("1h").divides(Interval.parse("1w"))
    assert not Interval.parse("3m").divides(Interval.parse("5m"))
    assert not Interval.parse("1w").divides(Interval.parse("1M"))
    trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
    candles = daap.CandleBuilder("3m").build(trades)
    with pytest.raises(InvalidIntervalError, match="cannot roll 3m candles up to 5m"):
        daap.CandleBuilder("3m").rollup(candles, "5m")
    assert np.array_equal(
        daap.CandleBuilder("1m").rollup(daap.CandleBuilder("1m").build(trades), "3m")["trades"], candles["trades"]
    )
