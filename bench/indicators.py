"""Benchmark: daap.indicators against TA-Lib on one month of 1m candles (44,640 rows), in the same process.

The candles are built with ``daap.CandleBuilder("1m")`` from 31 days of ``daap.sources.synthetic`` trades (cached
as Parquet in ``bench/.data/``). Two totals are timed, each as the median of ``--repeat`` runs:

* ``daap``: ``Spec.compute`` of every spec of ``daap.indicators.DEFAULT`` (the listed indicators), on numpy columns.
* ``talib``: TA-Lib for the same indicators: SMA, EMA, RSI, MACD, BBANDS, ATR, ROCP (+ ``np.log1p``), OBV; the
  two TA-Lib lacks are composed as a TA-Lib user would: the session VWAP from numpy cumulative sums per UTC day
  (the same code as daap's), and realized volatility as ``STDDEV(log returns) * sqrt(n / (n - 1))``.

The ``add`` row times the public :func:`daap.indicators.add` (copying the frame, grouping, scattering back).

    python bench/indicators.py                 # 31 days, 11 repeats
    python bench/indicators.py --days 3        # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import daap
from daap import indicators
from daap.sources.synthetic import SyntheticConfig, write_parquet

BENCH = Path(__file__).resolve().parent
TARGET_RATIO = 2.0


def month_of_candles(days: int, trades_per_day: int, data_dir: Path) -> pd.DataFrame:
    """1m candles of ``days`` days of synthetic BTCUSDT trades, from a cached Parquet file of trades."""
    cfg = SyntheticConfig(start=dt.date(2025, 5, 1), days=days, trades_per_day=trades_per_day, seed=0)
    path = data_dir / f"indicators-trades-{days}d-{trades_per_day}.parquet"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_parquet(path, cfg)
    candles: pd.DataFrame = daap.CandleBuilder("1m").build(pq.read_table(path).to_pandas())
    return candles


def talib_all(cols: dict[str, Any]) -> list[Any]:
    import talib

    close, high, low, volume, quote = cols["close"], cols["high"], cols["low"], cols["volume"], cols["quote_volume"]
    out: list[Any] = [talib.SMA(close, 7), talib.EMA(close, 21), talib.RSI(close, 14), *talib.MACD(close, 12, 26, 9)]
    out += [*talib.BBANDS(close, 20, 2.0, 2.0, 0), talib.ATR(high, low, close, 14)]
    t, day_us = cols["open_time"], 86_400_000_000
    days = np.arange(t[0] // day_us + 1, t[-1] // day_us + 1) * day_us
    bounds = [0, *np.searchsorted(t, days).tolist(), len(t)]
    vol, qv = np.empty(len(t)), np.empty(len(t))
    for s, e in itertools.pairwise(bounds):
        np.cumsum(volume[s:e], out=vol[s:e])
        np.cumsum(quote[s:e], out=qv[s:e])
    session_vwap = np.full(len(t), np.nan)
    np.divide(qv, vol, out=session_vwap, where=vol > 0)
    out.append(session_vwap)
    log_returns = np.log1p(talib.ROCP(close, 1))
    out += [log_returns, talib.STDDEV(log_returns, 20, 1.0) * math.sqrt(20 / 19), talib.OBV(close, volume)]
    return out


def daap_all(cols: dict[str, Any]) -> list[Any]:
    return [spec.compute(cols) for spec in indicators.DEFAULT]


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--trades-per-day", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--per-indicator", action="store_true", help="also time each spec alone")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data")
    args = parser.parse_args()

    candles = month_of_candles(args.days, args.trades_per_day, args.data_dir)
    names = ["open_time", "close", "high", "low", "volume", "quote_volume", "interval"]
    cols: dict[str, Any] = {c: candles[c].to_numpy() for c in names}
    cols["open_time"] = indicators.specs.micros(candles["open_time"])
    for c in names[1:-1]:
        cols[c] = np.ascontiguousarray(cols[c], dtype=np.float64)

    t_talib = median_time(lambda: talib_all(cols), args.repeat)
    t_daap = median_time(lambda: daap_all(cols), args.repeat)
    t_add = median_time(lambda: indicators.add(candles, indicators.DEFAULT), args.repeat)
    ratio = t_daap / t_talib
    print(f"{len(candles):,} 1m candles ({(candles['trades'] == 0).sum():,} gap rows), median of {args.repeat} runs")
    print("| what | ms | ratio to TA-Lib |\n|---|---:|---:|")
    print(f"| TA-Lib, same indicators | {t_talib * 1e3:.2f} | 1.00 |")
    print(f"| daap Spec.compute, DEFAULT | {t_daap * 1e3:.2f} | {ratio:.2f} |")
    print(f"| daap indicators.add(candles, DEFAULT) | {t_add * 1e3:.2f} | {t_add / t_talib:.2f} |")
    if args.per_indicator:
        print("\n| indicator | daap ms |\n|---|---:|")
        for spec in indicators.DEFAULT:
            print(f"| {spec!r} | {median_time(lambda spec=spec: spec.compute(cols), args.repeat) * 1e3:.3f} |")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"{verdict}: daap/TA-Lib = {ratio:.2f} (target <= {TARGET_RATIO})")


if __name__ == "__main__":
    main()
