"""Benchmark: ``daap ingest`` of one Binance daily zip against DuckDB's CSV -> Parquet, plus S3 upload speed.

Every local contender runs in its own process (the launcher of bench/candles.py), so wall time, CPU time and peak
RSS are that process's own. The S3 part starts a SeaweedFS (``weed mini``) with ``tests/s3_server.py``. See
bench/README.md.

    python bench/ingest.py                                  # 20M trades, 3 repeats, S3 included
    python bench/ingest.py --trades 200000 --repeat 1       # smoke run, well under a minute once the data exists
    python bench/ingest.py --no-s3 --profile                # local only, then a cProfile of one ingest
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from candles import (
    BENCH,
    REPO,
    START,
    SYMBOL,
    Result,
    RunError,
    Target,
    _daap_cli,
    _fmt,
    _json_safe,
    _mib,
    begin,
    exit_code,
    run_once,
    warm,
)

RATIO_TARGET = 1.5
DATASET_META = "dataset.json"
S3_BUCKET = "bench"
S3_PUT_URI = f"s3://{S3_BUCKET}/lake"
S3_LAKE_URI = f"s3://{S3_BUCKET}/lake2"
#: Headerless Binance spot CSV columns and the DuckDB types they are read as.
SPOT_COLUMNS = {
    "id": "BIGINT",
    "price": "DOUBLE",
    "qty": "DOUBLE",
    "quote_qty": "DOUBLE",
    "time": "BIGINT",
    "is_buyer_maker": "BOOLEAN",
    "is_best_match": "BOOLEAN",
}
#: Columns compared between daap's bronze Parquet and DuckDB's Parquet (``time`` as µs integers).
COMPARED = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker")

# The DuckDB contender: a bare interpreter that imports only duckdb and runs one statement (argv[1]).
_DUCKDB_CHILD = "import sys, duckdb; con = duckdb.connect(); con.execute(sys.argv[1]); con.close()"


# ---------------------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Dataset:
    trades: int
    seed: int
    zip: Path  # Binance daily zip, with ``<zip>.CHECKSUM`` beside it
    csv: Path  # the same CSV, unzipped (for DuckDB)

    @property
    def checksum(self) -> Path:
        return self.zip.with_name(self.zip.name + ".CHECKSUM")


def dataset(data_dir: Path, trades: int, seed: int) -> Dataset:
    """``trades`` synthetic spot trades of one UTC day as a Binance zip + CHECKSUM and as plain CSV, cached."""
    from daap.sources.synthetic import SyntheticConfig, write_binance_files

    folder = data_dir / f"ingest-spot-{trades}-seed{seed}"
    meta_path = folder / DATASET_META
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        data = Dataset(trades, seed, folder / meta["zip"], folder / meta["csv"])
        if (
            meta.get("trades") == trades
            and meta.get("seed") == seed
            and data.zip.exists()
            and data.csv.exists()
            and data.checksum.exists()
            and data.zip.stat().st_size == meta["zip_bytes"]
            and data.csv.stat().st_size == meta["csv_bytes"]
        ):
            return data
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = SyntheticConfig(symbol=SYMBOL, start=START, days=1, trades_per_day=trades, market="spot", seed=seed)
    started = time.perf_counter()
    print(f"generating {trades:,} trades (seed {seed}) as a Binance zip in {folder} ...", flush=True)
    (zip_path,) = write_binance_files(folder, config, zipped=True)
    with zipfile.ZipFile(zip_path) as zf:
        (member,) = zf.infolist()
        csv = folder / member.filename
        tmp = csv.with_name(csv.name + ".tmp")
        with zf.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 24)
        os.replace(tmp, csv)
    meta = {
        "trades": trades,
        "seed": seed,
        "symbol": SYMBOL,
        "day": START.isoformat(),
        "zip": zip_path.name,
        "csv": csv.name,
        "zip_bytes": zip_path.stat().st_size,
        "csv_bytes": csv.stat().st_size,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"  done in {time.perf_counter() - started:.1f} s: zip {_mib(zip_path.stat().st_size):,.0f} MiB, "
        f"CSV {_mib(csv.stat().st_size):,.0f} MiB",
        flush=True,
    )
    return Dataset(trades, seed, zip_path, csv)


# ---------------------------------------------------------------------------------------------------------------------
# Contenders


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_sql(csv: Path, out: Path) -> str:
    """CSV -> Parquet (zstd) in DuckDB, with daap's bronze column names (no ``symbol`` column)."""
    columns = ", ".join(f"{_sql_str(c)}: {_sql_str(t)}" for c, t in SPOT_COLUMNS.items())
    return (
        "COPY (SELECT id AS trade_id, price, qty, quote_qty, make_timestamp(time) AS time, is_buyer_maker "
        f"FROM read_csv({_sql_str(str(csv))}, header = false, auto_detect = false, delim = ',', quote = '', "
        f"columns = {{{columns}}})) TO {_sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd)"
    )


@dataclass(frozen=True)
class Contender:
    name: str  # "daap" or "duckdb"
    fmt: str  # "zip" or "csv"

    @property
    def label(self) -> str:
        return f"{self.name}/{self.fmt}"

    def output(self, out_dir: Path) -> Path:
        """A lake folder (daap) or a Parquet file (DuckDB)."""
        return out_dir / (f"lake-{self.fmt}" if self.name == "daap" else f"duckdb-{self.fmt}.parquet")

    def command(self, data: Dataset, out: Path) -> list[str]:
        src = data.zip if self.fmt == "zip" else data.csv
        if self.name == "daap":
            return [*_daap_cli(), "ingest", str(src), "--lake", str(out)]
        return [sys.executable, "-c", _DUCKDB_CHILD, duckdb_sql(src, out)]


def _clear(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def bench(contenders: list[Contender], data: Dataset, repeat: int, out_dir: Path) -> dict[Contender, Result]:
    """Each contender ``repeat`` times, round-robin, each run into a fresh, empty lake or output file."""
    results = {c: Result(c.name, c.fmt, data.trades) for c in contenders}
    for i in range(repeat):
        for c in contenders:
            if results[c].error:
                continue
            out = c.output(out_dir)
            _clear(out)
            try:
                run = run_once(c.command(data, out), out_dir / f"{c.name}-{c.fmt}.log")
            except RunError as exc:
                results[c].error = str(exc)
                print(f"  [{i + 1}/{repeat}] {c.label:<12} FAILED {exc}", flush=True)
                continue
            results[c].runs.append(run)
            print(
                f"  [{i + 1}/{repeat}] {c.label:<12} {run.wall_s:7.2f} s  {run.cpu_s:7.2f} cpu-s  "
                f"{run.maxrss_mib:7.0f} MiB",
                flush=True,
            )
    return results


# ---------------------------------------------------------------------------------------------------------------------
# Correctness


def check_lake(lake_uri: str, data: Dataset, source_name: str, **store_options: Any) -> tuple[list[str], list[str]]:
    """Check the lake one ``daap ingest`` produced: (problems, bronze part keys).

    The manifest reconciles (read = written + quarantined), nothing is quarantined, written == N, the partitions'
    row counts and the bronze Parquet footers say N, and the raw copy has the source's size and sha256.
    """
    from daap.lake import Lake

    lake = Lake(lake_uri, **store_options)
    problems: list[str] = []
    manifests = [m for m in lake.manifests() if m.name == source_name]
    if len(manifests) != 1:
        return [f"{len(manifests)} manifests for {source_name} in {lake_uri}"], []
    m = manifests[0]
    if not m.reconciled:
        problems.append(f"manifest does not reconcile: read {m.rows_read} != {m.rows_written} + {m.rows_quarantined}")
    if m.rows_quarantined:
        problems.append(f"{m.rows_quarantined} rows quarantined")
    if m.rows_written != data.trades:
        problems.append(f"manifest rows_written {m.rows_written:,} != {data.trades:,}")
    if sum(p.rows for p in m.partitions) != data.trades:
        problems.append(f"partition rows {sum(p.rows for p in m.partitions):,} != {data.trades:,}")
    keys = [p.key for p in m.partitions]
    footer_rows = 0
    with lake.local_files(keys) as files:
        for f in files:
            footer_rows += pq.ParquetFile(f).metadata.num_rows
    if footer_rows != data.trades:
        problems.append(f"bronze Parquet holds {footer_rows:,} rows, expected {data.trades:,}")
    src = data.zip if source_name == data.zip.name else data.csv
    raw = {o.key: o.size for o in lake.store.list(m.raw_key)}
    if raw.get(m.raw_key) != src.stat().st_size:
        problems.append(f"raw copy {m.raw_key} has {raw.get(m.raw_key)} bytes, source {src.stat().st_size}")
    if m.size != src.stat().st_size:
        problems.append(f"manifest size {m.size} != source size {src.stat().st_size}")
    return problems, keys


def compare_with_duckdb(bronze: list[Path], theirs: Path) -> list[str]:
    """Column-by-column equality of daap's bronze rows and DuckDB's output (both in file order)."""
    problems: list[str] = []
    for col in COMPARED:
        a = pa.concat_arrays([pq.read_table(p, columns=[col])[col].combine_chunks() for p in bronze])
        b = pq.read_table(theirs, columns=[col])[col].combine_chunks()
        if pa.types.is_timestamp(a.type):
            a = a.cast(pa.timestamp("us", tz=a.type.tz)).cast(pa.int64())
        if pa.types.is_timestamp(b.type):
            b = b.cast(pa.timestamp("us", tz=b.type.tz)).cast(pa.int64())
        if len(a) != len(b):
            problems.append(f"{col}: {len(a):,} rows vs {len(b):,}")
            continue
        if not a.equals(b):
            diff = pc.sum(pc.cast(pc.invert(pc.fill_null(pc.equal(a, b), False)), pa.int64())).as_py()
            problems.append(f"{col}: {diff:,} of {len(a):,} rows differ")
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# S3 (SeaweedFS)


@dataclass
class S3Result:
    put_wall_s: list[float] = field(default_factory=list)
    put_mb_s: list[float] = field(default_factory=list)  # S3Store.last_upload: sha256 + upload + HEAD verify
    ingest: Result | None = None
    startup_s: float = math.nan
    error: str | None = None
    problems: list[str] = field(default_factory=list)


def _start_seaweedfs(base: Path) -> Any:
    """``tests.s3_server.start_server`` (free ports, own credentials, polls until a write succeeds)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.s3_server import start_server

    try:
        return start_server(base)
    except Exception:
        raise
    except BaseException as exc:  # pytest.fail() raises an OutcomeException (a BaseException) outside pytest too
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise RuntimeError(str(exc)) from None


def _s3_environment(server: Any) -> None:
    """Point boto3 and daap (here and in the child processes) at the server, away from any ~/.aws setup."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ.update(server.env())


def bench_s3(data: Dataset, repeat: int, out_dir: Path) -> S3Result:
    """Median ``S3Store.put_file`` of the zip and full ``daap ingest <zip> --lake s3://...``, round-robin."""
    from daap.storage import open_store

    result = S3Result()
    with tempfile.TemporaryDirectory(prefix="daap-bench-s3-") as tmp:
        print("starting SeaweedFS (weed mini) ...", flush=True)
        try:
            server = _start_seaweedfs(Path(tmp))
        except Exception as exc:
            result.error = f"SeaweedFS did not start: {exc}"
            print(f"  {result.error}", flush=True)
            return result
        try:
            result.startup_s = server.startup_seconds
            print(f"  up in {server.startup_seconds:.1f} s at {server.endpoint_url}", flush=True)
            _s3_environment(server)
            server.client().create_bucket(Bucket=S3_BUCKET)
            store = open_store(S3_PUT_URI, endpoint_url=server.endpoint_url)
            store.write_bytes("warm-up", b"x" * (1 << 20))  # the bucket's first write grows its volumes
            store.delete(["warm-up"])
            ingest = Result("daap", "zip->s3", data.trades)
            result.ingest = ingest
            for i in range(repeat):
                key = f"put/{i}/{data.zip.name}"
                started = time.perf_counter()
                store.put_file(data.zip, key)
                wall = time.perf_counter() - started
                up = store.last_upload  # type: ignore[attr-defined]
                result.put_wall_s.append(wall)
                result.put_mb_s.append(up.mb_per_s)
                store.delete([key])
                print(
                    f"  [{i + 1}/{repeat}] put_file     {wall:7.2f} s  {up.mb_per_s:7.0f} MB/s "
                    f"({data.zip.stat().st_size / 1e6:,.0f} MB)",
                    flush=True,
                )
                if ingest.error:
                    continue
                lake_uri = f"{S3_LAKE_URI}/run{i}"
                cmd = [*_daap_cli(), "ingest", str(data.zip), "--lake", lake_uri]
                try:
                    run = run_once(cmd, out_dir / "daap-zip-s3.log")
                except RunError as exc:
                    ingest.error = str(exc)
                    print(f"  [{i + 1}/{repeat}] daap/zip->s3 FAILED {exc}", flush=True)
                    continue
                ingest.runs.append(run)
                print(
                    f"  [{i + 1}/{repeat}] daap/zip->s3 {run.wall_s:7.2f} s  {run.cpu_s:7.2f} cpu-s  "
                    f"{run.maxrss_mib:7.0f} MiB",
                    flush=True,
                )
                problems, _keys = check_lake(lake_uri, data, data.zip.name, endpoint_url=server.endpoint_url)
                result.problems += [f"run {i + 1}: {p}" for p in problems]
                lake_store = open_store(lake_uri, endpoint_url=server.endpoint_url)
                lake_store.delete([o.key for o in lake_store.list("")])
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            print(f"  S3 FAILED {result.error}\n{server.log_tail(10)}", flush=True)
        finally:
            print("stopping SeaweedFS ...", flush=True)
            server.stop()
    return result


# ---------------------------------------------------------------------------------------------------------------------
# Profile


def profile_ingest(data: Dataset, out_dir: Path, top: int = 10) -> str:
    """cProfile of ``Ingestor(lake).ingest_file(zip)`` in this process, top functions by own time.

    The ingest parses blocks in a prefetch thread, which cProfile does not see; the profile therefore runs with
    prefetching off (everything on the main thread), so it is a little slower than the CLI.
    """
    import functools

    import daap.ingest
    from daap.ingest import Ingestor
    from daap.trades import iter_blocks

    lake = out_dir / "lake-profile"
    _clear(lake)
    profiler = cProfile.Profile()
    original = daap.ingest.iter_blocks
    daap.ingest.iter_blocks = functools.partial(iter_blocks, prefetch=False)  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        profiler.runcall(Ingestor(lake).ingest_file, data.zip)
        wall = time.perf_counter() - started
    finally:
        daap.ingest.iter_blocks = original
    _clear(lake)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
    body = lines[next((i for i, ln in enumerate(lines) if "ncalls" in ln), 0) :]
    return f"cProfile of Ingestor.ingest_file(zip), no prefetch thread: {wall:.2f} s, top {top} by tottime\n" + (
        "\n".join(body)
    )


# ---------------------------------------------------------------------------------------------------------------------
# Report


def table(results: dict[Contender, Result]) -> str:
    ref = results.get(Contender("duckdb", "csv"))
    cols = f"{'contender':<10} {'input':<8} {'median s':>9} {'min s':>8} {'cpu s':>8} {'peak MiB':>9} {'vs DuckDB':>10}"
    lines = [cols, "-" * len(cols)]
    for c, r in results.items():
        ratio = _fmt(r.median_s / ref.median_s, ".2f") + "x" if ref and r.ok and ref.ok else "-"
        lines.append(
            f"{c.name:<10} {c.fmt:<8} {_fmt(r.median_s, '9.2f'):>9} {_fmt(r.min_s, '8.2f'):>8} "
            f"{_fmt(r.cpu_s, '8.2f'):>8} {_fmt(r.peak_mib, '9.0f'):>9} {ratio:>10}"
        )
    return "\n".join(lines)


def s3_table(s3: S3Result, data: Dataset, local: Result | None) -> str:
    mb = data.zip.stat().st_size / 1e6
    lines = [f"S3: SeaweedFS `weed mini` on 127.0.0.1 (same machine), started in {_fmt(s3.startup_s, '.1f')} s"]
    if s3.put_wall_s:
        wall = statistics.median(s3.put_wall_s)
        label = f"S3Store.put_file(zip, {mb:,.0f} MB)"
        lines.append(
            f"  {label:<34} median {wall:6.2f} s  min {min(s3.put_wall_s):6.2f} s  "
            f"{statistics.median(s3.put_mb_s):5.0f} MB/s (median; incl. sha256 + HEAD verify)"
        )
    r = s3.ingest
    if r is not None and r.ok:
        vs = f"{r.median_s / local.median_s:.2f}x local daap/zip" if local is not None and local.ok else "-"
        lines.append(
            f"  {'daap ingest zip --lake s3://...':<34} median {r.median_s:6.2f} s  min {r.min_s:6.2f} s  "
            f"cpu {r.cpu_s:6.2f} s  peak {r.peak_mib:5.0f} MiB  ({vs})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="daap ingest (zip -> lake) vs DuckDB CSV -> Parquet, and S3 upload.")
    parser.add_argument("--trades", type=int, default=20_000_000, help="synthetic trades in the day's file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (the median is reported)")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data", help="cache for generated data and outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--s3", action=argparse.BooleanOptionalAction, default=True, help="also benchmark S3 (SeaweedFS)"
    )
    parser.add_argument("--profile", action="store_true", help="finally, cProfile one ingest (top 10 by tottime)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.trades < 1 or args.repeat < 1:
        parser.error("--trades and --repeat must be positive")

    data_dir, out_dir, stamp, env = begin("ingest", args, "out-ingest")

    data = dataset(data_dir, args.trades, args.seed)
    warm(data.zip)
    warm(data.csv)

    contenders = [Contender("daap", "zip"), Contender("duckdb", "csv"), Contender("daap", "csv")]
    print(f"running {len(contenders)} contenders x {args.repeat}:", flush=True)
    results = bench(contenders, data, args.repeat, out_dir)

    # Correctness: the lakes of the last runs, and daap's bronze rows against DuckDB's, column by column.
    problems: dict[str, list[str]] = {}
    bronze: dict[Contender, list[Path]] = {}
    for c in contenders:
        if c.name != "daap" or not results[c].ok:
            continue
        lake = c.output(out_dir)
        found, keys = check_lake(str(lake), data, (data.zip if c.fmt == "zip" else data.csv).name)
        bronze[c] = [lake / k for k in keys]
        if found:
            problems[c.label] = found
    ref = Contender("duckdb", "csv")
    daap_zip = Contender("daap", "zip")
    if results[ref].ok and daap_zip in bronze and daap_zip.label not in problems:
        found = compare_with_duckdb(bronze[daap_zip], ref.output(out_dir))
        if found:
            problems[f"{daap_zip.label} vs {ref.label}"] = found

    s3 = bench_s3(data, args.repeat, out_dir) if args.s3 else None
    if s3 is not None and s3.problems:
        problems["daap/zip->s3"] = s3.problems
    profile = profile_ingest(data, out_dir) if args.profile else None

    ratio = results[daap_zip].median_s / results[ref].median_s
    targets = [Target("ingest: daap wall (zip) / DuckDB wall (CSV)", ratio, RATIO_TARGET, "x")]

    print()
    print(
        f"ingest -> bronze Parquet: {args.trades:,} trades (Binance zip {_mib(data.zip.stat().st_size):,.0f} MiB, "
        f"CSV {_mib(data.csv.stat().st_size):,.0f} MiB), median of {args.repeat}, {env['cpus']} CPUs"
    )
    print(table(results))
    if s3 is not None:
        print()
        print(s3_table(s3, data, results[daap_zip]))
    print()
    print("targets")
    for t in targets:
        print(t.line())
    print(f"  {'ingest: daap peak RSS (zip), reported':<46} {_fmt(results[daap_zip].peak_mib, '.0f') + ' MiB':>10}")
    # On a noisy machine the medians drift; the best runs and the CPU times are steadier (information only).
    for what, value in (
        ("min wall", results[daap_zip].min_s / results[ref].min_s),
        ("cpu time", results[daap_zip].cpu_s / results[ref].cpu_s),
    ):
        print(f"  {f'information: daap/zip / DuckDB on {what}':<46} {_fmt(value, '.2f') + 'x':>10}")
    print()
    failed = {f"{r.contender}/{r.fmt}": r.error for r in results.values() if r.error}
    if s3 is not None and s3.error:
        failed["s3"] = s3.error
    if s3 is not None and s3.ingest is not None and s3.ingest.error:
        failed["daap/zip->s3"] = s3.ingest.error
    for label, error in failed.items():
        print(f"FAILED {label}: {error}")
    for label, found in problems.items():
        for problem in found:
            print(f"MISMATCH {label}: {problem}")
    if not problems:
        checked = [c.label for c in contenders if c in bronze]
        if s3 is not None and s3.ingest is not None and s3.ingest.ok:
            checked.append("daap/zip->s3")
        print(
            f"correctness: {', '.join(checked) or 'nothing'}: manifest reconciles, 0 quarantined, "
            f"{data.trades:,} bronze rows, raw copy intact"
            + ("; daap/zip bronze == DuckDB's Parquet, column by column" if daap_zip in bronze else "")
        )
    if profile:
        print()
        print(profile)

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    report = {
        "timestamp": stamp,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": env,
        "data": {
            "trades": data.trades,
            "seed": data.seed,
            "zip_bytes": data.zip.stat().st_size,
            "csv_bytes": data.csv.stat().st_size,
        },
        "duckdb_sql": duckdb_sql(data.csv, ref.output(out_dir)),
        "results": [
            {
                **asdict(r),
                "median_s": r.median_s,
                "min_s": r.min_s,
                "cpu_s": r.cpu_s,
                "peak_mib": r.peak_mib,
                "ratio_vs_duckdb": r.median_s / results[ref].median_s,
            }
            for r in results.values()
        ],
        "s3": None
        if s3 is None
        else {
            **asdict(s3),
            "put_median_s": statistics.median(s3.put_wall_s) if s3.put_wall_s else None,
            "put_median_mb_s": statistics.median(s3.put_mb_s) if s3.put_mb_s else None,
            "ingest_median_s": s3.ingest.median_s if s3.ingest else None,
            "ingest_peak_mib": s3.ingest.peak_mib if s3.ingest else None,
        },
        "targets": [{**asdict(t), "ok": t.ok} for t in targets],
        "failed": failed,
        "problems": problems,
        "profile": profile,
    }
    dest = results_dir / f"ingest-{stamp}.json"
    dest.write_text(json.dumps(_json_safe(report), indent=2) + "\n")
    print(f"results: {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest}")
    with contextlib.suppress(OSError):  # keep the last run's outputs small on disk: the lakes are ~0.6 GiB each
        for c in contenders:
            _clear(c.output(out_dir))

    return exit_code(mismatches=bool(problems), failed=bool(failed), strict=args.strict, targets=targets)


if __name__ == "__main__":
    sys.exit(main())
