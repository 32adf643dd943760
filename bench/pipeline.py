"""Benchmark: the whole pipeline on a month of synthetic BTCUSDT spot trades (issue 7), pandas engine + DuckDB.

31 days x 3.5M trades (~109M trades) go through ``daap.pipeline``'s steps ingest -> build_candles -> load ->
build_marts -> check -> dashboard, in ONE child process (started by the launcher of bench/candles.py, so its peak
RSS is its own ``ru_maxrss`` from ``os.wait4``). The input, Binance-style daily zips with their ``.CHECKSUM``, is
generated once by the pipeline's own ``download`` step (``source = "synthetic"``), timed apart, and cached in
``bench/.data/pipeline-<days>d-<trades>-seed<S>/work/downloads/``. Every timed run starts from a fresh lake and
warehouse. Targets: the timed child process (steps after download) <= 4 minutes, its peak RSS <= 2 GiB.

    python bench/pipeline.py --days 2 --trades-per-day 200000      # smoke run, ~30 s
    python bench/pipeline.py                                        # the month: ~10 min generation once, then ~4 min
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import resource
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from candles import (
    BENCH,
    RunError,
    Target,
    _fmt,
    _mib,
    begin,
    exit_code,
    run_once,
    save_results,
    warm,
)

SYMBOL = "BTCUSDT"
START = dt.date(2025, 5, 1)
TIMED_STEPS = ("ingest", "build_candles", "load", "build_marts", "check", "dashboard")
WALL_TARGET_S = 240.0
RSS_TARGET_MIB = 2048.0
#: Free disk space wanted for the full month (zips ~2-3 GB, the lake's raw copy of them, bronze Parquet, candles,
#: DuckDB), scaled down linearly for smaller runs (never below MIN_FREE_BYTES).
FULL_TRADES = 31 * 3_500_000
FULL_FREE_BYTES = 15 * 10**9
MIN_FREE_BYTES = 1 << 30
GENERATED = "generated.json"


# ---------------------------------------------------------------------------------------------------------------------
# Configuration and the run folder


def mapping(root: Path, days: int, trades_per_day: int, seed: int) -> dict[str, Any]:
    """The ``PipelineConfig`` mapping of the bench: one symbol, ``days`` days from 2025-05-01, under ``root``."""
    return {
        "symbols": [SYMBOL],
        "market": "spot",
        "start": START.isoformat(),
        "end": (START + dt.timedelta(days=days - 1)).isoformat(),
        "source": "synthetic",
        "trades_per_day": trades_per_day,
        "seed": seed,
        "lake": str(root / "lake"),
        "warehouse": f"duckdb:///{root / 'daap.duckdb'}",
        "work_dir": str(root / "work"),
        "engine": "pandas",
        "intervals": ["1m"],
    }


def downloads(root: Path) -> Path:
    """Where the download step keeps the generated zips (``PipelineConfig.downloads``)."""
    return root / "work" / "downloads" / "spot" / SYMBOL


def clean_outputs(root: Path) -> None:
    """Remove the lake, the warehouse and the work dir's run state, report and dashboard; keep the downloads."""
    work = root / "work"
    shutil.rmtree(root / "lake", ignore_errors=True)
    shutil.rmtree(work / "runs", ignore_errors=True)
    for path in (root / "daap.duckdb", root / "daap.duckdb.wal", work / "quality.json", work / "dashboard.html"):
        path.unlink(missing_ok=True)


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def check_disk(root: Path, total_trades: int) -> str | None:
    """None when there is room for the run, else the reason (the zips already generated count as present)."""
    need = max(MIN_FREE_BYTES, FULL_FREE_BYTES * total_trades // FULL_TRADES) - _tree_bytes(downloads(root))
    free = shutil.disk_usage(root).free
    if free >= need:
        return None
    return (
        f"not enough disk space in {root}: {free / 1e9:.1f} GB free, the run needs about {need / 1e9:.1f} GB "
        f"({total_trades:,} trades: the zips, the lake's raw copy of them, bronze Parquet, candles and DuckDB; "
        f"~{FULL_FREE_BYTES / 1e9:.0f} GB for the full month). Free some space or pass --data-dir on a bigger disk."
    )


# ---------------------------------------------------------------------------------------------------------------------
# The child: runs pipeline steps in-process and writes what each did (plus its RSS high-water mark so far) as JSON


def child(config_path: Path, result_path: Path, steps: list[str]) -> int:
    from daap import pipeline

    cfg = pipeline.PipelineConfig.from_mapping(json.loads(config_path.read_text()))
    record: dict[str, Any] = {"steps": [], "error": None}

    def save() -> None:
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(result_path)

    def on_step(result: pipeline.StepResult) -> None:
        maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":
            maxrss_kib //= 1024
        record["steps"].append({**result.to_dict(), "maxrss_mib": maxrss_kib / 1024})
        print(f"{result.step:<14} {result.seconds:8.2f} s  {maxrss_kib / 1024:6.0f} MiB  {result.summary}", flush=True)
        save()

    try:
        pipeline.run(cfg, resume=False, steps=steps, on_step=on_step)
    except pipeline.PipelineError as exc:
        record["error"] = str(exc)
        save()
        print(f"error: {exc}", flush=True)
        return 1
    save()
    return 0


def run_steps(root: Path, config: dict[str, Any], steps: tuple[str, ...], tag: str) -> tuple[Any, dict[str, Any]]:
    """Run ``steps`` in a child (through the launcher): its wall, CPU and peak RSS, and the child's step records."""
    config_path = root / "config.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    result_path = root / f"{tag}.json"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(config_path), str(result_path), *steps]
    log = root / f"{tag}.log"
    print(f"  running {', '.join(steps)} in a child process (log: {log})", flush=True)
    try:
        run = run_once(cmd, log)
    except RunError as exc:
        record = json.loads(result_path.read_text()) if result_path.exists() else {"steps": [], "error": None}
        record["error"] = record.get("error") or str(exc)
        return None, record
    return run, json.loads(result_path.read_text())


# ---------------------------------------------------------------------------------------------------------------------
# Generation (the download step), cached


def generate(root: Path, config: dict[str, Any], total_trades: int) -> dict[str, Any]:
    """Run the download step (generates the missing zips); the figures of the generation that made them."""
    meta_path = root / GENERATED
    run, record = run_steps(root, config, ("download",), "download")
    if run is None or record["error"]:
        raise SystemExit(f"generation failed: {record['error']}")
    (step,) = record["steps"]
    zips = sorted(downloads(root).glob("*.zip"))
    info = {
        "trades": total_trades,
        "files": len(zips),
        "zip_bytes": sum(z.stat().st_size for z in zips),
    }
    if step["details"]["fetched"]:
        info |= {
            "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "fetched": step["details"]["fetched"],
            "wall_s": run.wall_s,
            "cpu_s": run.cpu_s,
            "peak_mib": run.maxrss_mib,
            "step_s": step["seconds"],
        }
        meta_path.write_text(json.dumps(info, indent=2) + "\n")
        print(
            f"  generated {info['fetched']} zip(s) in {run.wall_s:.1f} s ({run.cpu_s:.1f} cpu-s, "
            f"{run.maxrss_mib:.0f} MiB peak): {_mib(info['zip_bytes']):,.0f} MiB of zips",
            flush=True,
        )
        info["cached"] = False
        return info
    earlier = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    info |= {k: earlier.get(k) for k in ("generated_at", "fetched", "wall_s", "cpu_s", "peak_mib", "step_s")}
    info["cached"] = True
    print(
        f"  {len(zips)} zip(s) cached ({_mib(info['zip_bytes']):,.0f} MiB), generated "
        f"{info['generated_at'] or 'earlier'} in {_fmt(info['wall_s'] or math.nan, '.1f')} s",
        flush=True,
    )
    return info


# ---------------------------------------------------------------------------------------------------------------------
# Report


@dataclass
class Timed:
    wall_s: float
    cpu_s: float
    peak_mib: float
    steps: list[dict[str, Any]] = field(default_factory=list)


def guard(record: dict[str, Any], days: int, trades_per_day: int) -> list[str]:
    """What is wrong with a finished run's counts (empty when every trade and candle is where it should be)."""
    steps = {s["step"]: s for s in record["steps"]}
    problems: list[str] = []
    expected = days * trades_per_day
    ing = steps["ingest"]["details"]
    if ing["rows"] != expected or ing["quarantined"] != 0 or ing["ingested"] != days:
        problems.append(f"ingest: {ing} (expected {days} files, {expected:,} rows, 0 quarantined)")
    built = steps["build_candles"]["details"]["series"]
    candles = sum(s["candles"] for s in built)
    trades = sum(s["trades"] for s in built)
    if candles != days * 1440 or trades != expected:
        problems.append(f"build_candles: {candles:,} candles from {trades:,} trades (expected {days * 1440:,})")
    loaded = steps["load"]["details"]
    if loaded["inserted"] != days * 1440:
        problems.append(f"load: {loaded} (expected {days * 1440:,} inserted into a fresh warehouse)")
    if steps["check"]["details"]["status"] == "error":
        problems.append(f"check: {steps['check']['summary']}")
    return problems


def table(runs: list[Timed], root: Path) -> str:
    """Per step: median and min seconds, the child's RSS high-water mark at the end of the step, the summary."""
    header = f"{'step':<14} {'median s':>9} {'min s':>8} {'RSS MiB':>8}  summary (last run; <run> = {root})"
    lines = [header, "-" * 120]
    last = {s["step"]: s for s in runs[-1].steps}
    for name in TIMED_STEPS:
        secs = [s["seconds"] for r in runs for s in r.steps if s["step"] == name]
        if not secs:
            lines.append(f"{name:<14} {'-':>9} {'-':>8} {'-':>8}  did not run")
            continue
        rss = max(s["maxrss_mib"] for r in runs for s in r.steps if s["step"] == name)
        summary = last[name]["summary"].replace(str(root), "<run>") if name in last else ""
        lines.append(
            f"{name:<14} {statistics.median(secs):9.2f} {min(secs):8.2f} {rss:8.0f}  {summary[:80]}"
            + ("..." if len(summary) > 80 else "")
        )
    step_totals = [sum(s["seconds"] for s in r.steps) for r in runs]
    lines.append("-" * 120)
    lines.append(f"{'steps total':<14} {statistics.median(step_totals):9.2f} {min(step_totals):8.2f}")
    walls = [r.wall_s for r in runs]
    lines.append(
        f"{'process':<14} {statistics.median(walls):9.2f} {min(walls):8.2f} {max(r.peak_mib for r in runs):8.0f}  "
        f"whole child: interpreter start, imports and the steps; "
        f"{statistics.median(r.cpu_s for r in runs):.1f} cpu-s (median)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return child(Path(argv[1]), Path(argv[2]), argv[3:])
    parser = argparse.ArgumentParser(description="The whole pipeline on a month of synthetic trades: time and RSS.")
    parser.add_argument("--days", type=int, default=31, help="days from 2025-05-01 (default 31: May 2025)")
    parser.add_argument("--trades-per-day", type=int, default=3_500_000, help="synthetic trades per day")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs, each on a fresh lake and warehouse")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data", help="cache for generated data and outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the last run's lake, warehouse and dashboard")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.days < 1 or args.trades_per_day < 1 or args.repeat < 1:
        parser.error("--days, --trades-per-day and --repeat must be positive")
    args.trades = args.days * args.trades_per_day  # for begin()'s header line

    name = f"pipeline-{args.days}d-{args.trades_per_day}-seed{args.seed}"
    _, root, stamp, env = begin("pipeline", args, name)
    config = mapping(root, args.days, args.trades_per_day, args.seed)
    clean_outputs(root)
    refused = check_disk(root, args.trades)
    if refused:
        print(refused, file=sys.stderr)
        return 4

    print(f"input: {args.days} daily zip(s) of {args.trades_per_day:,} {SYMBOL} spot trades in {downloads(root)}")
    gen = generate(root, config, args.trades)
    for z in sorted(downloads(root).glob("*.zip")):
        warm(z)

    runs: list[Timed] = []
    errors: list[str] = []
    problems: list[str] = []
    for i in range(args.repeat):
        clean_outputs(root)
        print(f"[{i + 1}/{args.repeat}] timed steps on a fresh lake and warehouse:", flush=True)
        started = time.perf_counter()
        run, record = run_steps(root, config, TIMED_STEPS, f"steps-{i + 1}")
        if run is None or record["error"]:
            errors.append(f"run {i + 1}: {record['error']}")
            print(f"  FAILED after {time.perf_counter() - started:.1f} s: {record['error']}", flush=True)
            break
        runs.append(Timed(run.wall_s, run.cpu_s, run.maxrss_mib, record["steps"]))
        for s in record["steps"]:
            print(f"    {s['step']:<14} {s['seconds']:8.2f} s  {s['maxrss_mib']:6.0f} MiB", flush=True)
        print(f"  process {run.wall_s:.1f} s, {run.cpu_s:.1f} cpu-s, peak {run.maxrss_mib:.0f} MiB", flush=True)
        problems += [f"run {i + 1}: {p}" for p in guard(record, args.days, args.trades_per_day)]

    lake_bytes = _tree_bytes(root / "lake")
    db = root / "daap.duckdb"
    db_bytes = db.stat().st_size if db.exists() else 0
    if not args.keep:
        clean_outputs(root)

    print()
    print(
        f"pipeline: {args.days} day(s) x {args.trades_per_day:,} = {args.trades:,} {SYMBOL} trades, pandas engine, "
        f"DuckDB, {env['cpus']} CPUs, repeat {args.repeat}"
    )
    gen_s = _fmt(gen["wall_s"] if gen["wall_s"] is not None else math.nan, ".1f")
    print(
        f"input: {gen['files']} zip(s), {_mib(gen['zip_bytes']):,.0f} MiB; generation (download step, not timed "
        f"below): {gen_s} s{' (cached)' if gen['cached'] else ''}, peak {_fmt(gen['peak_mib'] or math.nan, '.0f')} MiB"
    )
    if runs:
        print(f"outputs: lake {_mib(lake_bytes):,.0f} MiB, DuckDB {_mib(db_bytes):,.0f} MiB")
        print()
        print(table(runs, root))
    targets = [
        Target(
            "steps after download: process wall",
            statistics.median(r.wall_s for r in runs) if runs else math.nan,
            WALL_TARGET_S,
            "s",
        ),
        Target(
            "steps after download: peak RSS", max((r.peak_mib for r in runs), default=math.nan), RSS_TARGET_MIB, "MiB"
        ),
    ]
    print()
    print("targets")
    for t in targets:
        print(t.line())
    print()
    for e in errors:
        print(f"FAILED {e}")
    for p in problems:
        print(f"MISMATCH {p}")
    if runs and not problems:
        print(
            f"correctness: {args.trades:,} trades ingested, 0 quarantined, {args.days * 1440:,} 1m candles built and "
            f"loaded, quality check not in error"
        )

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    report = {
        "timestamp": stamp,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": env,
        "config": config,
        "generation": gen,
        "runs": [asdict(r) for r in runs],
        "outputs": {"lake_bytes": lake_bytes, "duckdb_bytes": db_bytes},
        "targets": [{**asdict(t), "ok": t.ok} for t in targets],
        "errors": errors,
        "mismatches": problems,
    }
    save_results(report, results_dir / f"pipeline-{stamp}.json")
    return exit_code(mismatches=bool(problems), failed=bool(errors), strict=args.strict, targets=targets)


if __name__ == "__main__":
    sys.exit(main())
