"""Benchmark: the daap Spark engine against a hand-written Spark job, and the pandas engine, trades -> 1m candles.

In ONE local Spark session, interleaved round-robin, each timed run reads the benchmark's normalized-trade Parquet
and writes 1m candles to Parquet:

- ``daap spark``: ``CandleBuilder("1m", engine="spark").build(spark.read.parquet(IN)).write.parquet(OUT)`` (with gap
  rows, as the contract requires);
- ``hand spark``: the idiomatic job one would write by hand: ``groupBy(symbol, date_trunc('minute', time))`` with
  ``min_by``/``max_by`` over ``struct(time, trade_id)``, sums, count, the same columns, no gap rows.

Then the pandas engine on the same file (``daap candles IN -o OUT.parquet``, a subprocess: wall time includes the
interpreter start). See bench/README.md.

    python bench/spark.py --trades 200000 --repeat 1      # smoke run
    python bench/spark.py                                 # 20M trades, median of 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from candles import _daap_cli, _json_safe, compare, dataset, environment, warm  # noqa: E402

RATIO_TARGET = 1.1
STEP_US = 60_000_000


def start_spark(driver_memory: str) -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("daap-bench")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", f"-Xms{driver_memory}")  # a fixed heap: no shrinking after GCs
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def daap_job(spark: Any, src: Path, out: Path) -> None:
    import daap

    trades = spark.read.parquet(str(src))
    candles = daap.CandleBuilder("1m", engine="spark").build(trades)
    candles.write.mode("overwrite").parquet(str(out))


def hand_job(spark: Any, src: Path, out: Path) -> None:
    from pyspark.sql import functions as F

    trades = spark.read.parquet(str(src))
    key = F.struct("time", "trade_id")
    taker = ~F.col("is_buyer_maker")
    candles = (
        trades.groupBy("symbol", F.date_trunc("minute", "time").alias("open_time"))
        .agg(
            F.min_by("price", key).alias("open"),
            F.max("price").alias("high"),
            F.min("price").alias("low"),
            F.max_by("price", key).alias("close"),
            F.sum("qty").alias("volume"),
            F.sum("quote_qty").alias("quote_volume"),
            F.count(F.lit(1)).alias("trades"),
            F.sum(F.when(taker, F.col("qty")).otherwise(0.0)).alias("taker_buy_volume"),
            F.sum(F.when(taker, F.col("quote_qty")).otherwise(0.0)).alias("taker_buy_quote_volume"),
            F.min("trade_id").alias("first_trade_id"),
            F.max("trade_id").alias("last_trade_id"),
        )
        .select(
            "symbol",
            F.lit("1m").alias("interval"),
            "open_time",
            (F.col("open_time") + F.expr("INTERVAL 59999999 MICROSECONDS")).alias("close_time"),
            "open", "high", "low", "close", "volume", "quote_volume", "trades",
            "taker_buy_volume", "taker_buy_quote_volume",
            (F.col("quote_volume") / F.col("volume")).alias("vwap"),
            "first_trade_id", "last_trade_id",
        )
    )
    candles.write.mode("overwrite").parquet(str(out))


def timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def settle(spark: Any) -> None:
    """Full JVM garbage collection between runs, so that no run pays for the previous one's garbage."""
    spark.sparkContext._jvm.System.gc()
    time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Trades -> 1m candles on Spark: daap engine vs a hand-written job.")
    parser.add_argument("--trades", type=int, default=20_000_000, help="trades in the data set (cached per size)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per contender (the median is reported)")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data", help="cache for generated data and outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.trades < 1 or args.repeat < 1:
        parser.error("--trades and --repeat must be positive")

    data_dir: Path = args.data_dir.resolve()
    out_dir = data_dir / "out-spark"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    env = environment()
    from importlib.metadata import version

    env["pyspark"] = version("pyspark")
    print(f"spark bench {stamp}: {args.trades:,} trades, repeat {args.repeat}, {env['cpus']} CPUs", flush=True)
    data = dataset(data_dir, args.trades, args.seed)
    warm(data.parquet)

    started = time.perf_counter()
    spark = start_spark(args.driver_memory)
    startup_s = time.perf_counter() - started
    print(f"Spark {spark.version} session started in {startup_s:.1f} s ({spark.sparkContext.master})", flush=True)

    outs = {"daap spark": out_dir / "daap-spark", "hand spark": out_dir / "hand-spark"}
    jobs: dict[str, Callable[[], None]] = {
        "daap spark": lambda: daap_job(spark, data.parquet, outs["daap spark"]),
        "hand spark": lambda: hand_job(spark, data.parquet, outs["hand spark"]),
    }
    # One untimed run each: JIT and Spark's code generation warm up for both alike.
    warmup = {name: timed(job) for name, job in jobs.items()}
    print("warm-up (untimed): " + ", ".join(f"{k} {v:.2f} s" for k, v in warmup.items()), flush=True)
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for r in range(args.repeat):
        order = list(jobs) if r % 2 == 0 else list(reversed(jobs))  # interleaved, alternating who goes first
        for name in order:
            settle(spark)
            times[name].append(timed(jobs[name]))
            print(f"  run {r + 1}: {name} {times[name][-1]:.2f} s", flush=True)
    spark.stop()

    pandas_out = out_dir / "pandas.parquet"
    cmd = [*_daap_cli(), "candles", str(data.parquet), "-o", str(pandas_out), "--interval", "1m", "--no-progress"]
    pandas_times = []
    for r in range(args.repeat):
        pandas_times.append(timed(lambda: subprocess.run(cmd, check=True, capture_output=True)))
        print(f"  run {r + 1}: pandas CLI {pandas_times[-1]:.2f} s", flush=True)

    # Correctness guard: every contender's traded buckets agree (prices, ids, counts, times exact; sums 1e-9).
    mismatches = {
        "daap spark vs hand spark": compare(outs["daap spark"], outs["hand spark"]),
        "pandas vs hand spark": compare(pandas_out, outs["hand spark"]),
    }
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    gap_rows = {
        name: int(pc.sum(pc.equal(pq.read_table(path, columns=["trades"])["trades"], 0)).as_py() or 0)
        for name, path in (("daap spark", outs["daap spark"]), ("pandas", pandas_out))
    }
    if gap_rows["daap spark"] != gap_rows["pandas"]:
        mismatches["gap rows"] = [f"daap spark {gap_rows['daap spark']} vs pandas {gap_rows['pandas']}"]

    med = {name: statistics.median(v) for name, v in times.items()}
    med["pandas CLI"] = statistics.median(pandas_times)
    mins = {**{name: min(v) for name, v in times.items()}, "pandas CLI": min(pandas_times)}
    ratio = med["daap spark"] / med["hand spark"]
    print()
    print(
        f"trades -> 1m candles on Spark {env.get('pyspark', '')}: {args.trades:,} trades "
        f"({data.parquet.stat().st_size / (1 << 20):,.0f} MiB Parquet), median of {args.repeat}, {env['cpus']} CPUs"
    )
    head = f"{'contender':<12} {'median s':>9} {'min s':>8}  how"
    how = {
        "daap spark": "CandleBuilder(engine='spark').build(df) -> write.parquet (with gap rows)",
        "hand spark": "groupBy(date_trunc('minute')) + min_by/max_by(struct(time, trade_id)) -> write.parquet",
        "pandas CLI": "daap candles IN.parquet -o OUT.parquet (subprocess, incl. interpreter start)",
    }
    print(head)
    print("-" * len(head))
    for name in ("daap spark", "hand spark", "pandas CLI"):
        print(f"{name:<12} {med[name]:>9.2f} {mins[name]:>8.2f}  {how[name]}")
    print(f"Spark session start-up: {startup_s:.1f} s (not in the times above)")
    print(f"gap rows: daap spark {gap_rows['daap spark']}, pandas {gap_rows['pandas']}")
    ok = ratio <= RATIO_TARGET
    print(f"target: daap spark / hand spark = {ratio:.2f}x (<= {RATIO_TARGET}x) {'PASS' if ok else 'FAIL'}")
    bad = {k: v for k, v in mismatches.items() if v}
    for k, v in bad.items():
        print(f"MISMATCH {k}: " + "; ".join(v))

    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    record = {
        "bench": "spark",
        "stamp": stamp,
        "trades": args.trades,
        "repeat": args.repeat,
        "env": env,
        "spark_startup_s": startup_s,
        "warmup_s": warmup,
        "times_s": {**times, "pandas CLI": pandas_times},
        "median_s": med,
        "ratio_daap_over_hand": ratio,
        "target": RATIO_TARGET,
        "pass": ok,
        "gap_rows": gap_rows,
        "mismatches": bad,
    }
    path = results / f"spark-{stamp}.json"
    path.write_text(json.dumps(_json_safe(record), indent=2) + "\n")
    print(f"results: {path.relative_to(BENCH.parent)}")
    if bad:
        return 2
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
