"""Benchmark: trades -> 1m candles with ``daap candles`` against DuckDB SQL and Polars streaming.

Every contender runs in its own process; wall time is measured around it and peak RSS is the child's own
``ru_maxrss`` from ``os.wait4``. See bench/README.md.

    python bench/candles.py                                                # 20M trades, 3 repeats, memory check
    python bench/candles.py --trades 200000 --repeat 1 --skip-memory      # smoke run, well under a minute
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / "peers.py"
SYMBOL = "BTCUSDT"
START = dt.date(2025, 5, 1)
MANIFEST = "manifest.json"

CSV_RATIO_TARGET = 1.3
CSV_RSS_TARGET_MIB = 1024.0
PARQUET_RATIO_TARGET = 1.2
FLATNESS_TARGET = 1.2
FLATNESS_SIZES = (5_000_000, 40_000_000)

EXACT_COLUMNS = ("open_time", "close_time", "open", "high", "low", "close", "trades", "first_trade_id", "last_trade_id")
SUM_COLUMNS = ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume", "vwap")
REL_TOL = 1e-9


# ---------------------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Dataset:
    trades: int
    seed: int
    csv: Path
    parquet: Path


def dataset(data_dir: Path, trades: int, seed: int) -> Dataset:
    """The data set of ``trades`` synthetic spot trades (one UTC day), generated once and cached in ``data_dir``."""
    from daap.sources.synthetic import SyntheticConfig, write_binance_files, write_parquet

    folder = data_dir / f"spot-{trades}-seed{seed}"
    manifest = folder / MANIFEST
    if manifest.exists():
        meta = json.loads(manifest.read_text())
        csv, parquet = folder / meta["csv"], folder / meta["parquet"]
        if (
            meta.get("trades") == trades
            and meta.get("seed") == seed
            and csv.exists()
            and parquet.exists()
            and csv.stat().st_size == meta["csv_bytes"]
            and parquet.stat().st_size == meta["parquet_bytes"]
        ):
            return Dataset(trades, seed, csv, parquet)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = SyntheticConfig(symbol=SYMBOL, start=START, days=1, trades_per_day=trades, market="spot", seed=seed)
    started = time.perf_counter()
    print(f"generating {trades:,} trades (seed {seed}) in {folder} ...", flush=True)
    (csv,) = write_binance_files(folder, config, zipped=False)
    parquet = write_parquet(folder / f"{SYMBOL}-trades-{START.isoformat()}.parquet", config)
    rows = pq.ParquetFile(parquet).metadata.num_rows
    if rows != trades:
        raise SystemExit(f"generator wrote {rows:,} Parquet rows, expected {trades:,}")
    meta = {
        "trades": trades,
        "seed": seed,
        "symbol": SYMBOL,
        "day": START.isoformat(),
        "csv": csv.name,
        "parquet": parquet.name,
        "csv_bytes": csv.stat().st_size,
        "parquet_bytes": parquet.stat().st_size,
    }
    manifest.write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"  done in {time.perf_counter() - started:.1f} s: CSV {_mib(csv.stat().st_size):,.0f} MiB, "
        f"Parquet {_mib(parquet.stat().st_size):,.0f} MiB",
        flush=True,
    )
    return Dataset(trades, seed, csv, parquet)


def _mib(nbytes: float) -> float:
    return nbytes / (1 << 20)


def warm(path: Path) -> None:
    """Read a file once so every contender starts with it in the page cache."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


# ---------------------------------------------------------------------------------------------------------------------
# Running one contender


@dataclass(frozen=True)
class Contender:
    name: str
    fmt: str  # "csv" or "parquet"

    @property
    def label(self) -> str:
        return f"{self.name}/{self.fmt}"

    def command(self, data: Dataset, out: Path) -> list[str]:
        src = data.csv if self.fmt == "csv" else data.parquet
        if self.name == "daap":
            return [*_daap_cli(), "candles", str(src), "-o", str(out), "--interval", "1m", "--no-progress"]
        return [sys.executable, str(PEERS), self.name, self.fmt, str(src), str(out), "--symbol", SYMBOL]


def _daap_cli() -> list[str]:
    script = Path(sys.executable).with_name("daap")
    return [str(script)] if script.exists() else [sys.executable, "-m", "daap.cli"]


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    maxrss_mib: float


@dataclass
class Result:
    contender: str
    fmt: str
    trades: int
    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.runs)

    @property
    def median_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs) if self.ok else math.nan

    @property
    def min_s(self) -> float:
        return min(r.wall_s for r in self.runs) if self.ok else math.nan

    @property
    def peak_mib(self) -> float:
        return max(r.maxrss_mib for r in self.runs) if self.ok else math.nan

    @property
    def cpu_s(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs) if self.ok else math.nan


class RunError(Exception):
    pass


# Linux quirk: a child's ru_maxrss starts at its parent's RSS high-water mark at fork/exec time, so children of this
# (large: pyarrow, daap) process would all report at least its RSS. Each contender is therefore started by a tiny,
# fresh launcher process (a bare interpreter, ~10 MiB), which times it and reads its rusage with os.wait4.
_LAUNCHER = """
import json, os, subprocess, sys, time
log, cwd, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(log, "wb") as fh:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
proc.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"exit": proc.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "maxrss": usage.ru_maxrss}))
"""


def run_once(cmd: list[str], log: Path) -> Run:
    """Run ``cmd`` in a child process: wall time around it, peak RSS and CPU time of exactly that child."""
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(log), str(REPO), *cmd],
        capture_output=True,
        text=True,
        check=False,
    )
    if launched.returncode != 0:
        raise RunError(f"launcher failed: {launched.stderr.strip()}")
    info = json.loads(launched.stdout)
    if info["exit"] != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise RunError(f"exit {info['exit']}: " + " | ".join(tail))
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    rss_kib = info["maxrss"] / 1024 if sys.platform == "darwin" else info["maxrss"]
    return Run(wall_s=info["wall_s"], cpu_s=info["cpu_s"], maxrss_mib=rss_kib / 1024)


def out_path(out_dir: Path, c: Contender, trades: int) -> Path:
    return out_dir / f"{c.name}-{c.fmt}-{trades}.parquet"


def bench(contenders: list[Contender], data: Dataset, repeat: int, out_dir: Path) -> dict[Contender, Result]:
    """Run every contender ``repeat`` times, round-robin (so machine noise spreads over all of them)."""
    results = {c: Result(c.name, c.fmt, data.trades) for c in contenders}
    for i in range(repeat):
        for c in contenders:
            out = out_path(out_dir, c, data.trades)
            out.unlink(missing_ok=True)
            if results[c].error:
                continue
            try:
                run = run_once(c.command(data, out), out.with_suffix(".log"))
            except RunError as exc:
                results[c].error = str(exc)
                print(f"  [{i + 1}/{repeat}] {c.label:<15} FAILED {exc}", flush=True)
                continue
            results[c].runs.append(run)
            print(
                f"  [{i + 1}/{repeat}] {c.label:<15} {run.wall_s:7.2f} s  {run.cpu_s:7.2f} cpu-s  "
                f"{run.maxrss_mib:7.0f} MiB",
                flush=True,
            )
    return results


# ---------------------------------------------------------------------------------------------------------------------
# Correctness guard


def compare(ours: Path, theirs: Path) -> list[str]:
    """Differences between daap's candles and a peer's (which has no gap rows); empty when they agree."""
    a = pq.read_table(ours)
    b = pq.read_table(theirs)
    gaps = a.filter(pc.equal(a["trades"], 0)).num_rows
    a = a.filter(pc.greater(a["trades"], 0)).sort_by("open_time")
    b = b.sort_by("open_time")
    problems: list[str] = []
    if a.num_rows != b.num_rows:
        return [f"{a.num_rows} traded buckets (+{gaps} gap rows) vs {b.num_rows} buckets"]
    for col in EXACT_COLUMNS:
        x, y = _plain(a[col]), _plain(b[col])
        if not x.equals(y):
            diff = pc.sum(pc.cast(pc.invert(pc.fill_null(pc.equal(x, y), False)), pa.int64())).as_py()
            problems.append(f"{col}: {diff} of {a.num_rows} buckets differ")
    for col in SUM_COLUMNS:
        xs, ys = _plain(a[col]).to_pylist(), _plain(b[col]).to_pylist()
        bad = sum(
            1
            for x, y in zip(xs, ys, strict=True)
            if (x is None) != (y is None)
            or (x is not None and y is not None and not math.isclose(x, y, rel_tol=REL_TOL, abs_tol=0.0))
        )
        if bad:
            problems.append(f"{col}: {bad} of {a.num_rows} buckets differ by more than {REL_TOL:g} relative")
    return problems


def _plain(column: pa.ChunkedArray[Any]) -> pa.Array[Any]:
    arr = column.combine_chunks()
    if pa.types.is_timestamp(arr.type):
        arr = arr.cast(pa.timestamp("us")).cast(pa.int64())
    return arr


# ---------------------------------------------------------------------------------------------------------------------
# Report


def _fmt(value: float, spec: str) -> str:
    return "error" if math.isnan(value) else format(value, spec)


def table(results: dict[Contender, Result]) -> str:
    cols = f"{'contender':<10} {'input':<8} {'median s':>9} {'min s':>8} {'cpu s':>8} {'peak MiB':>9} {'vs DuckDB':>10}"
    lines = [cols, "-" * len(cols)]
    for c, r in results.items():
        ref = results.get(Contender("duckdb", c.fmt))
        ratio = _fmt(r.median_s / ref.median_s, ".2f") + "x" if ref and r.ok and ref.ok else "-"
        lines.append(
            f"{c.name:<10} {c.fmt:<8} {_fmt(r.median_s, '9.2f'):>9} {_fmt(r.min_s, '8.2f'):>8} "
            f"{_fmt(r.cpu_s, '8.2f'):>8} {_fmt(r.peak_mib, '9.0f'):>9} {ratio:>10}"
        )
    return "\n".join(lines)


@dataclass
class Target:
    name: str
    value: float  # NaN when a contender failed
    limit: float
    unit: str

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def line(self) -> str:
        sep = "" if self.unit == "x" else " "
        shown = _fmt(self.value, ".2f" if self.unit == "x" else ".0f") + sep + self.unit
        limit = f"{self.limit:g}{sep}{self.unit}"
        return f"  {self.name:<46} {shown:>10}  (<= {limit:<9}) {'PASS' if self.ok else 'FAIL'}"


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        **{pkg: version(pkg) for pkg in ("daap", "duckdb", "polars", "pyarrow", "numpy", "pandas")},
        "git_head": git("rev-parse", "--short", "HEAD"),
        "git_dirty_daap": bool(git("status", "--porcelain", "--", "daap")),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def begin(name: str, args: argparse.Namespace, out_name: str) -> tuple[Path, Path, str, dict[str, Any]]:
    """Common start of a benchmark run: check the counts, make the output folder, print the header line.

    Returns:
        The data folder, the output folder, the run's UTC stamp and the environment record.
    """
    data_dir: Path = args.data_dir.resolve()
    out_dir = data_dir / out_name
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    env = environment()
    print(
        f"{name} bench {stamp}: {args.trades:,} trades, repeat {args.repeat}, {env['cpus']} CPUs, "
        f"load {env['loadavg'][0]:.2f}",
        flush=True,
    )
    return data_dir, out_dir, stamp, env


def save_results(report: dict[str, Any], dest: Path) -> None:
    """Write a run's results as JSON and say where."""
    dest.write_text(json.dumps(_json_safe(report), indent=2) + "\n")
    print(f"results: {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest}")


def exit_code(*, mismatches: bool, failed: bool, strict: bool, targets: list[Target]) -> int:
    """2: results differ from a peer's; 3: a contender failed; 1: a target missed under --strict; else 0."""
    if mismatches:
        return 2
    if failed:
        return 3
    if strict and not all(t.ok for t in targets):
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Trades -> 1m candles: daap vs DuckDB vs Polars (wall and peak RSS).")
    parser.add_argument("--trades", type=int, default=20_000_000, help="synthetic trades in the data set")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (the median is reported)")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data", help="cache for generated data and outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-memory", action="store_true", help="skip the 5M vs 40M memory-flatness check")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.trades < 1 or args.repeat < 1:
        parser.error("--trades and --repeat must be positive")

    data_dir, out_dir, stamp, env = begin("candles", args, "out")

    data = dataset(data_dir, args.trades, args.seed)
    flat_data = [] if args.skip_memory else [dataset(data_dir, n, args.seed) for n in FLATNESS_SIZES]
    warm(data.csv)
    warm(data.parquet)

    contenders = [Contender(name, fmt) for fmt in ("csv", "parquet") for name in ("daap", "duckdb", "polars")]
    print(f"running {len(contenders)} contenders x {args.repeat}:", flush=True)
    results = bench(contenders, data, args.repeat, out_dir)

    # Correctness guard: daap (and Polars) against DuckDB, on each input.
    mismatches: dict[str, list[str]] = {}
    for c in contenders:
        ref = Contender("duckdb", c.fmt)
        if c == ref or not (results[c].ok and results[ref].ok):
            continue
        problems = compare(out_path(out_dir, c, data.trades), out_path(out_dir, ref, data.trades))
        if problems:
            mismatches[f"{c.label} vs {ref.label}"] = problems

    # Memory flatness: daap's peak RSS on a small and a big file. CSV is the target; Parquet is shown for information.
    flat: list[Result] = []
    flat_pq: list[Result] = []
    for d in flat_data:
        warm(d.csv)
        warm(d.parquet)
        print(f"memory flatness: daap on {d.trades:,} trades:", flush=True)
        both = bench([Contender("daap", "csv"), Contender("daap", "parquet")], d, 1, out_dir)
        flat.append(both[Contender("daap", "csv")])
        flat_pq.append(both[Contender("daap", "parquet")])

    def ratio(name: str, fmt: str) -> float:
        return results[Contender(name, fmt)].median_s / results[Contender("duckdb", fmt)].median_s

    targets = [
        Target("CSV -> 1m: daap wall / DuckDB wall", ratio("daap", "csv"), CSV_RATIO_TARGET, "x"),
        Target("CSV -> 1m: daap peak RSS", results[Contender("daap", "csv")].peak_mib, CSV_RSS_TARGET_MIB, "MiB"),
        Target("Parquet -> 1m: daap wall / DuckDB wall", ratio("daap", "parquet"), PARQUET_RATIO_TARGET, "x"),
    ]
    if flat:
        small, big = flat
        name = f"memory flatness: daap RSS {big.trades / 1e6:g}M / {small.trades / 1e6:g}M (CSV)"
        targets.append(Target(name, big.peak_mib / small.peak_mib, FLATNESS_TARGET, "x"))

    print()
    print(
        f"trades -> 1m candles: {args.trades:,} trades ({_mib(data.csv.stat().st_size):,.0f} MiB CSV, "
        f"{_mib(data.parquet.stat().st_size):,.0f} MiB Parquet), median of {args.repeat}, {env['cpus']} CPUs"
    )
    print(table(results))
    if flat:
        print()
        print("memory flatness (1 run each)")
    for r in [*flat, *flat_pq]:
        print(
            f"  daap/{r.fmt:<8} {r.trades:>11,} trades: {_fmt(r.median_s, '7.2f')} s "
            f"{_fmt(r.peak_mib, '6.0f')} MiB peak"
        )
    if flat_pq:
        ratio_pq = flat_pq[1].peak_mib / flat_pq[0].peak_mib
        print(f"  daap/parquet RSS ratio {_fmt(ratio_pq, '.2f')}x (information only, not a target)")
    print()
    print("targets")
    for t in targets:
        print(t.line())
    print()
    failed = {f"{r.contender}/{r.fmt} ({r.trades:,})": r.error for r in [*results.values(), *flat, *flat_pq] if r.error}
    for label, error in failed.items():
        print(f"FAILED {label}: {error}")
    for pair, problems in mismatches.items():
        for problem in problems:
            print(f"MISMATCH {pair}: {problem}")
    if not mismatches:
        checked = [
            c.label
            for c in contenders
            if c.name != "duckdb" and results[c].ok and results[Contender("duckdb", c.fmt)].ok
        ]
        print(f"correctness: {', '.join(checked) or 'nothing'} match DuckDB (prices, ids, counts exact; sums 1e-9)")

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    report = {
        "timestamp": stamp,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": env,
        "data": {
            "trades": data.trades,
            "seed": data.seed,
            "csv_bytes": data.csv.stat().st_size,
            "parquet_bytes": data.parquet.stat().st_size,
        },
        "results": [
            {
                **asdict(r),
                "median_s": r.median_s,
                "min_s": r.min_s,
                "cpu_s": r.cpu_s,
                "peak_mib": r.peak_mib,
                "ratio_vs_duckdb": ratio(c.name, c.fmt),
            }
            for c, r in results.items()
        ],
        "memory_flatness": [{**asdict(r), "peak_mib": r.peak_mib} for r in [*flat, *flat_pq]],
        "targets": [{**asdict(t), "ok": t.ok} for t in targets],
        "failed": failed,
        "mismatches": mismatches,
    }
    save_results(report, results_dir / f"candles-{stamp}.json")
    return exit_code(mismatches=bool(mismatches), failed=bool(failed), strict=args.strict, targets=targets)


if __name__ == "__main__":
    sys.exit(main())
