"""Warehouse bench: load a month of 1m candles (31 days x 1,440 = 44,640 rows) into a fresh DuckDB file.

Times four things on the same file:

- ``first``: the initial load (all rows inserted),
- ``reload``: the same rows again (all unchanged; must take no longer than ``first``),
- ``update``: the same rows with one day changed (1,440 updated),
- ``marts``: ``build_marts()`` with the default indicators (skipped when ``daap.indicators`` is missing).

Candles are made directly (a seeded random walk in the candle contract), so the bench measures the warehouse only.

    python bench/warehouse.py                 # one month, 3 repeats
    python bench/warehouse.py --days 365 --repeat 1 --source lake
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import daap
from daap.warehouse import WarehouseLoader


def month_of_candles(days: int, symbol: str = "BTCUSDT", seed: int = 0) -> pd.DataFrame:
    n = days * 1440
    rng = np.random.default_rng(seed)
    open_time = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC").astype("datetime64[us, UTC]")
    close = np.round(95_000 * np.exp(np.cumsum(rng.normal(0, 1e-4, n))), 2)
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.round(np.abs(rng.normal(0, 5, n)), 2)
    volume = np.round(rng.gamma(2.0, 3.0, n), 8)
    trades = rng.integers(1, 2_000, n)
    last_id = 4_000_000_000 + np.cumsum(trades)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "interval": "1m",
            "open_time": open_time,
            "close_time": open_time + pd.Timedelta(minutes=1) - pd.Timedelta(microseconds=1),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": volume,
            "quote_volume": volume * close,
            "trades": trades.astype("int64"),
            "taker_buy_volume": volume / 2,
            "taker_buy_quote_volume": volume * close / 2,
            "vwap": close,
            "first_trade_id": last_id - trades + 1,
            "last_trade_id": last_id,
        }
    )


def to_lake(candles: pd.DataFrame, root: Path) -> daap.Lake:
    lake = daap.Lake(root)
    for day, part in candles.groupby(candles["open_time"].dt.date):
        path = root / lake.candles_key("1m", "BTCUSDT", str(day))
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(path, index=False)
    return lake


def run_once(candles: pd.DataFrame, source: str, tmp: Path) -> dict[str, float]:
    changed = candles.copy()
    changed.loc[:1439, "close"] += 0.01
    src: object = candles
    src_changed: object = changed
    if source == "lake":
        src, src_changed = to_lake(candles, tmp / "lake"), None
    out: dict[str, float] = {}
    with WarehouseLoader(f"duckdb:///{tmp / 'bench.duckdb'}") as wh:
        wh.sql("SELECT 1")  # connect and create the schema outside the timings
        for name, data, expect in [("first", src, "inserted"), ("reload", src, "unchanged"),
                                   ("update", src_changed, "updated")]:
            if data is None:
                data = to_lake(changed, tmp / "lake2")
            t0 = time.perf_counter()
            r = wh.load_candles(data)
            out[name] = time.perf_counter() - t0
            assert getattr(r, expect) == (1440 if name == "update" else len(candles)), (name, r)
        try:
            import daap.indicators as ind

            ind.add  # noqa: B018
        except (ImportError, AttributeError):
            return out
        t0 = time.perf_counter()
        wh.build_marts()
        out["marts"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--source", choices=["dataframe", "lake"], default="dataframe")
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    candles = month_of_candles(args.days)
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="daap-bench-wh-") as tmp:
            runs.append(run_once(candles, args.source, Path(tmp)))
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    print(f"{len(candles):,} 1m candles ({args.days} days) from a {args.source}, best of {args.repeat}:")
    for k, v in best.items():
        print(f"  {k:<7}{v:8.3f} s  ({len(candles) / v:,.0f} rows/s)")
    ok = best["reload"] <= best["first"]
    print(f"reload <= first load: {'yes' if ok else 'NO'}")
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record = {"bench": "warehouse", "rows": len(candles), "days": args.days, "source": args.source,
              "repeat": args.repeat, "best_seconds": best, "runs": runs, "reload_not_slower": ok,
              "python": platform.python_version(), "machine": platform.machine()}
    (args.results / f"warehouse-{stamp}.json").write_text(json.dumps(record, indent=2))
    if not ok:
        raise SystemExit("the reload was slower than the first load")


if __name__ == "__main__":
    main()
