"""Reconciliation bench (issue 9): verify a month of 1m candles against Binance-format klines, and aggTrades input.

Part 1, ``verify``: 31 days x 1,440 = 44,640 1m candles in a lake, and the same buckets as 31 official-format daily
kline zips (spot, µs) served from a ``file://`` mirror. Timed, median of ``--repeat`` runs:

- ``read``: :func:`daap.klines.read_klines` of the 31 zips (checked as it parses: grid, close times, units);
- ``compare``: :func:`daap.quality.verify_against_klines` of the candles against those klines;
- ``lake first`` / ``lake rerun``: :func:`daap.reconcile.verify_lake` end to end into a fresh lake's
  ``reference/klines/`` zone (CHECKSUM-verified copies), then again (CHECKSUMs only);
- peer ``duckdb``: the same comparison as one DuckDB query over the extracted CSVs and the lake's candle Parquet
  (``read_csv`` + ``FULL JOIN`` + the same exact and tolerance rules), all threads. DuckDB cannot read zips, so it gets
  the CSVs already extracted: an advantage.

Part 2, ``aggTrades``: one synthetic day of ``--trades`` trades (3.5M: a busy BTCUSDT day) written both as a trades
zip and as the aggTrades zip of the same trades; 1m candles from each with ``CandleBuilder.build_files``
(median of ``--repeat``), equal candles asserted, and the file sizes.

    python bench/verify.py                      # ~1-2 minutes
    python bench/verify.py --trades 500000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from warehouse import month_of_candles, to_lake

import daap
from daap.engines.pandas import candles_to_pandas
from daap.klines import KLINE_COLUMNS, read_klines, write_kline_files
from daap.quality import verify_against_klines
from daap.reconcile import verify_lake
from daap.sources.aggtrades import write_aggtrades_files
from daap.sources.synthetic import SyntheticConfig, write_binance_files

DATA = Path(__file__).parent / ".data"

DUCKDB_COMPARE = """
WITH k AS (
    SELECT column00 AS open_us, column01::DOUBLE AS open, column02::DOUBLE AS high,
           column03::DOUBLE AS low, column04::DOUBLE AS close, column05::DOUBLE AS volume,
           column06 AS close_us, column07::DOUBLE AS quote_volume, column08::BIGINT AS trades,
           column09::DOUBLE AS taker_buy_volume, column10::DOUBLE AS taker_buy_quote_volume
    FROM read_csv({csvs}, header = false, all_varchar = false)
), c AS (
    SELECT *, epoch_us(open_time::TIMESTAMPTZ) AS open_us, epoch_us(close_time::TIMESTAMPTZ) AS close_us
    FROM read_parquet({parquet})
)
SELECT count(*) FILTER (WHERE c.open_us IS NOT NULL AND k.open_us IS NOT NULL) AS compared,
       count(*) FILTER (WHERE c.open_us IS NOT NULL AND k.open_us IS NOT NULL AND (
            c.open <> k.open OR c.high <> k.high OR c.low <> k.low OR c.close <> k.close OR c.trades <> k.trades
            OR c.close_us <> k.close_us
            OR abs(c.volume - k.volume) > 1e-9 * greatest(abs(c.volume), abs(k.volume)) + 1e-8
            OR abs(c.quote_volume - k.quote_volume) > 1e-9 * greatest(abs(c.quote_volume), abs(k.quote_volume)) + 1e-8
            OR abs(c.taker_buy_volume - k.taker_buy_volume)
               > 1e-9 * greatest(abs(c.taker_buy_volume), abs(k.taker_buy_volume)) + 1e-8
            OR abs(c.taker_buy_quote_volume - k.taker_buy_quote_volume)
               > 1e-9 * greatest(abs(c.taker_buy_quote_volume), abs(k.taker_buy_quote_volume)) + 1e-8)) AS mismatched,
       count(*) FILTER (WHERE c.open_us IS NULL) AS missing_in_candles,
       count(*) FILTER (WHERE k.open_us IS NULL) AS missing_in_klines
FROM c FULL JOIN k ON c.open_us = k.open_us
"""


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (kib / 1024 / 1024 if sys.platform == "darwin" else kib / 1024)


def bench_verify(tmp: Path, days: int, repeat: int) -> dict[str, Any]:
    candles = month_of_candles(days)
    candles[["high", "low"]] = candles[["high", "low"]].round(2)  # prices on the tick grid, as Binance prints them
    lake = to_lake(candles, tmp / "lake")
    mirror = tmp / "mirror"
    folder = mirror / "data/spot/daily/klines/BTCUSDT/1m"
    zips = write_kline_files(folder, candles[["symbol", "interval", *KLINE_COLUMNS]], market="spot", period="daily")
    csv_dir = tmp / "csv"
    csv_dir.mkdir()
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            zf.extractall(csv_dir)
    start, end = dt.date(2025, 1, 1), dt.date(2025, 1, 1) + dt.timedelta(days=days - 1)
    stored = candles_to_pandas(pa.concat_tables([pq.read_table(tmp / "lake" / k) for k in lake.candle_keys("1m")]))

    t_read, klines = median_time(lambda: read_klines(zips), repeat)
    t_cmp, result = median_time(lambda: verify_against_klines(stored, klines), repeat)
    assert result.verdict == "match" and result.compared == len(candles), result.summary()

    def lake_run() -> Any:
        return verify_lake(lake, "BTCUSDT", start=start, end=end, base_url=mirror.resolve().as_uri())

    firsts = []
    for _ in range(repeat):
        shutil.rmtree(tmp / "lake" / "reference", ignore_errors=True)
        t0 = time.perf_counter()
        r = lake_run()
        firsts.append(time.perf_counter() - t0)
        assert r.verdict == "match", r.summary()
    t_rerun, _ = median_time(lake_run, repeat)

    csvs = sorted(str(p) for p in csv_dir.glob("*.csv"))
    parquet = [str(tmp / "lake" / k) for k in lake.candle_keys("1m")]
    sql = DUCKDB_COMPARE.format(csvs=csvs, parquet=parquet)
    con = duckdb.connect()
    t_duck, row = median_time(lambda: con.execute(sql).fetchone(), repeat)
    assert row is not None and row[0] == len(candles) and row[1] == 0, row
    daap_s = t_read + t_cmp
    return {
        "buckets": len(candles),
        "files": len(zips),
        "read_s": t_read,
        "compare_s": t_cmp,
        "lake_first_s": statistics.median(firsts),
        "lake_rerun_s": t_rerun,
        "duckdb_s": t_duck,
        "ratio_vs_duckdb": daap_s / t_duck,
    }


def bench_aggtrades(trades: int, repeat: int) -> dict[str, Any]:
    cfg = SyntheticConfig(trades_per_day=trades, days=1, seed=9)
    root = DATA / f"aggtrades-{trades}-seed9"
    generated = not (root / "done").exists()
    if generated:
        shutil.rmtree(root, ignore_errors=True)
        write_binance_files(root / "trades", cfg)
        write_aggtrades_files(root / "agg", cfg)
        (root / "done").write_text("ok")
    (t_zip,) = sorted((root / "trades").glob("*.zip"))
    (a_zip,) = sorted((root / "agg").glob("*.zip"))
    out = root / "out"
    out.mkdir(exist_ok=True)

    def build(src: Path, name: str) -> pd.DataFrame:
        daap.CandleBuilder("1m").build_files([src], out / name)
        return candles_to_pandas(pq.read_table(out / name))

    t_trades, c_trades = median_time(lambda: build(t_zip, "t.parquet"), repeat)
    t_agg, c_agg = median_time(lambda: build(a_zip, "a.parquet"), repeat)
    exact = [c for c in c_trades.columns if c not in ("volume", "quote_volume", "taker_buy_volume",
                                                       "taker_buy_quote_volume", "vwap")]  # fmt: skip
    pd.testing.assert_frame_equal(c_agg[exact], c_trades[exact], check_exact=True)
    rows_agg = len(daap.read_trades(a_zip)) if trades <= 1_000_000 else None
    return {
        "trades": trades,
        "trades_zip_bytes": t_zip.stat().st_size,
        "aggtrades_zip_bytes": a_zip.stat().st_size,
        "aggtrades_rows": rows_agg,
        "trades_s": t_trades,
        "aggtrades_s": t_agg,
        "ratio_agg_vs_trades": t_agg / t_trades,
        "generated_input": generated,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--trades", type=int, default=3_500_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="daap-bench-verify-") as tmp:
        v = bench_verify(Path(tmp), args.days, args.repeat)
    print(f"verify: {v['buckets']:,} 1m candles against {v['files']} daily kline zips, median of {args.repeat}:")
    print(f"  read_klines      {v['read_s']:8.3f} s")
    print(f"  compare          {v['compare_s']:8.3f} s")
    print(f"  daap read+compare {v['read_s'] + v['compare_s']:7.3f} s   DuckDB (extracted CSVs) {v['duckdb_s']:.3f} s"
          f"   ratio {v['ratio_vs_duckdb']:.2f}x")  # fmt: skip
    print(f"  verify_lake      {v['lake_first_s']:8.3f} s first (fetch + verify), {v['lake_rerun_s']:.3f} s rerun")
    a = bench_aggtrades(args.trades, max(1, min(args.repeat, 3)))
    size_ratio = a["trades_zip_bytes"] / a["aggtrades_zip_bytes"]
    print(f"aggTrades: one day of {a['trades']:,} trades, 1m candles with build_files (median):")
    print(f"  trades zip    {a['trades_zip_bytes'] / 2**20:7.1f} MiB  {a['trades_s']:7.3f} s")
    print(f"  aggTrades zip {a['aggtrades_zip_bytes'] / 2**20:7.1f} MiB  {a['aggtrades_s']:7.3f} s"
          f"   ({size_ratio:.2f}x smaller, {a['ratio_agg_vs_trades']:.2f}x the time; candles equal)")  # fmt: skip
    note = " (includes generating the aggTrades input, cached for the next run)" if a["generated_input"] else ""
    print(f"peak RSS {peak_mib():.0f} MiB{note}")
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record = {"bench": "verify", "verify": v, "aggtrades": a, "repeat": args.repeat, "peak_mib": peak_mib(),
              "python": platform.python_version(), "machine": platform.machine()}  # fmt: skip
    (args.results / f"verify-{stamp}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
