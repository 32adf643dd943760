"""The ``daap`` command: parses arguments, calls the library, prints. It holds no logic of its own.

Examples:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(main, ["--help"])
    >>> result.exit_code, "candles" in result.output
    (0, True)
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from daap.errors import DaapError

__all__ = ["main"]


class _Group(click.Group):
    """Turns daap errors into a one-line message and exit code 1 (2 for usage errors, as click does)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DaapError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except OSError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="daap", prog_name="daap")
def main() -> None:
    """daap: exact OHLCV candles from raw Binance trades."""


def _summary_line(summary: Any) -> str:
    order = "" if summary.in_order else " (input was out of time order: built in memory)"
    return (
        f"{summary.rows_in:,} trades from {summary.files} file(s) -> {summary.candles_out:,} {summary.interval} "
        f"candles ({summary.gap_rows:,} gap rows) for {', '.join(summary.symbols)} in {summary.seconds:.2f} s: "
        f"{summary.output}{order}"
    )


_LAKE_HELP = "Lake URI: a local path or s3://bucket/prefix (default ./daap-lake, or $DAAP_LAKE)."


def _lake(uri: str | None) -> Any:
    import os

    from daap.lake import DEFAULT_LAKE, Lake

    return Lake(uri or os.environ.get("DAAP_LAKE") or DEFAULT_LAKE)


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from exc


def _manifest_line(m: Any) -> str:
    days = ", ".join(p.date for p in m.partitions[:3]) + (" ..." if len(m.partitions) > 3 else "")
    if m.status == "unchanged":
        return f"{m.name}: unchanged (same sha256 already ingested), {m.rows_written:,} rows"
    return (
        f"{m.name}: {m.rows_read:,} rows read, {m.rows_written:,} written, {m.rows_quarantined:,} quarantined "
        f"-> {m.market}/{m.symbol} {days}"
    )


@main.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Candles Parquet file to write (file inputs).")
@click.option("--lake", "lake_uri", default=None, help="Read bronze trades from this lake and write its candles zone.")
@click.option("--start", default=None, help="With --lake: first UTC day (YYYY-MM-DD).")
@click.option("--end", default=None, help="With --lake: last UTC day (YYYY-MM-DD).")
@click.option("--market", default="spot", show_default=True, type=click.Choice(["spot", "um"]), help="With --lake.")
@click.option("--interval", "-i", default="1m", show_default=True, help="Candle interval, e.g. 1s, 1m, 4h, 1d, 1w, 1M.")
@click.option("--engine", default="pandas", show_default=True, help="Engine that builds the candles.")
@click.option("--fill-gaps/--no-fill-gaps", default=True, show_default=True, help="Add zero-trade gap rows.")
@click.option("--symbol", default=None, help="Symbol, when the file names do not say it.")
@click.option("--validate", is_flag=True, help="Check every candle against the pandera schema.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
def candles(
    inputs: tuple[Path, ...],
    output: Path | None,
    lake_uri: str | None,
    start: str | None,
    end: str | None,
    market: str,
    interval: str,
    engine: str,
    fill_gaps: bool,
    symbol: str | None,
    validate: bool,
    progress: bool | None,
) -> None:
    """Build candles from trade files (.zip, .csv, .csv.gz, .parquet, or folders), or from a lake's bronze zone.

    Files hold Binance trades or aggTrades (told apart from their content).

    \b
    Files:  daap candles BTCUSDT-trades-2025-01-01.zip -o candles.parquet
    Lake:   daap candles --lake ./daap-lake --symbol BTCUSDT --start 2025-01-01 --end 2025-01-31
    """  # noqa: D301 - click needs the real \b character to keep the example lines as they are
    from daap.candles import CandleBuilder

    builder = CandleBuilder(interval, engine=engine, fill_gaps=fill_gaps, validate=validate)
    if lake_uri is not None:
        if inputs or output:
            raise click.UsageError("give either INPUT files with -o, or --lake with --symbol, not both")
        if not symbol:
            raise click.UsageError("--lake needs --symbol")
        summary = builder.build_lake(
            _lake(lake_uri),
            symbol,
            market=market,
            start=_date(start, "--start"),
            end=_date(end, "--end"),
            progress=progress,
        )
    else:
        if not inputs or output is None:
            raise click.UsageError("give INPUT files and -o OUT.parquet (or --lake URI --symbol S)")
        summary = builder.build_files(list(inputs), output, symbol=symbol, progress=progress)
    click.echo(_summary_line(summary))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lake", "lake_uri", default=None, help=_LAKE_HELP)
@click.option("--symbol", default=None, help="Symbol, when the file names do not say it.")
@click.option("--market", default=None, type=click.Choice(["spot", "um"]), help="Default: detected from the file.")
def ingest(files: tuple[Path, ...], lake_uri: str | None, symbol: str | None, market: str | None) -> None:
    """Ingest local trade files (.zip, .csv, .csv.gz) into the lake: raw, bronze, quarantine and a manifest."""
    from daap.ingest import Ingestor

    ingestor = Ingestor(_lake(lake_uri))
    for f in files:
        click.echo(_manifest_line(ingestor.ingest_file(f, symbol=symbol, market=market)))


@main.command()
@click.argument("symbol")
@click.option("--month", default=None, help="A monthly file, YYYY-MM.")
@click.option("--date", "day", default=None, help="A daily file, YYYY-MM-DD.")
@click.option("--start", default=None, help="First daily file, YYYY-MM-DD (with --end).")
@click.option("--end", default=None, help="Last daily file, YYYY-MM-DD (with --start).")
@click.option("--market", default="spot", show_default=True, type=click.Choice(["spot", "um"]))
@click.option("--base-url", default=None, help="Binance public-data mirror (default: $DAAP_BINANCE_BASE_URL, Binance).")
@click.option("--lake", "lake_uri", default=None, help=_LAKE_HELP)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 32), help="Parallel downloads.")
def download(
    symbol: str,
    month: str | None,
    day: str | None,
    start: str | None,
    end: str | None,
    market: str,
    base_url: str | None,
    lake_uri: str | None,
    workers: int,
) -> None:
    """Download Binance trade files, verify their .CHECKSUM, and ingest them into the lake."""
    from daap.ingest import Ingestor

    if sum(x is not None for x in (month, day, start or end)) != 1:
        raise click.UsageError("give exactly one of --month, --date, or --start with --end")
    ingestor = Ingestor(_lake(lake_uri), base_url=base_url, max_workers=workers)
    ingestor.download(
        symbol,
        month=month,
        date=_date(day, "--date"),
        start=_date(start, "--start"),
        end=_date(end, "--end"),
        market=market,
        on_file=lambda m: click.echo(_manifest_line(m)),
    )


@main.group()
def lake() -> None:
    """Inspect the lake."""


@lake.command("ls")
@click.option("--lake", "lake_uri", default=None, help=_LAKE_HELP)
def lake_ls(lake_uri: str | None) -> None:
    """Show what is ingested: symbols, days, rows, quarantined rows."""
    the_lake = _lake(lake_uri)
    rows = the_lake.summary()
    if not rows:
        click.echo(f"{the_lake.uri}: empty")
        return
    click.echo(f"{'market':<7}{'symbol':<12}{'files':>6}{'days':>6}{'rows':>16}{'quarantined':>13}  first .. last")
    for r in rows:
        click.echo(
            f"{r['market']:<7}{r['symbol']:<12}{r['files']:>6}{r['days']:>6}{r['rows']:>16,}{r['quarantined']:>13,}"
            f"  {r['first']} .. {r['last']}"
        )


_WAREHOUSE_HELP = "Warehouse URL (default $DAAP_WAREHOUSE or duckdb:///daap.duckdb)."


@main.command()
@click.option("--lake", "lake_uri", default=None, help=_LAKE_HELP)
@click.option("--warehouse", "warehouse_url", default=None, help=_WAREHOUSE_HELP)
@click.option("--symbol", default=None, help="Only this symbol (default: every symbol in the lake).")
@click.option("--interval", "-i", default="1m", show_default=True, help="Candle interval to load.")
@click.option("--start", default=None, help="First UTC day (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last UTC day (YYYY-MM-DD).")
def load(
    lake_uri: str | None,
    warehouse_url: str | None,
    symbol: str | None,
    interval: str,
    start: str | None,
    end: str | None,
) -> None:
    """Upsert the lake's candles into the warehouse's raw_candles (idempotent: a rerun changes nothing)."""
    from daap.warehouse import WarehouseLoader

    with WarehouseLoader(warehouse_url) as wh:
        result = wh.load_candles(
            _lake(lake_uri), symbol=symbol, interval=interval, start=_date(start, "--start"), end=_date(end, "--end")
        )
        click.echo(f"{wh.url}: {result}")


@main.command()
@click.option("--warehouse", "warehouse_url", default=None, help=_WAREHOUSE_HELP)
@click.option("--indicators", "specs", default=None, help='e.g. "sma:7,ema:21,rsi:14" (default: the standard set).')
def marts(warehouse_url: str | None, specs: str | None) -> None:
    """Rebuild stg_candles and fct_candle_metrics (candles plus indicators) from raw_candles."""
    from daap.warehouse import WarehouseLoader

    with WarehouseLoader(warehouse_url) as wh:
        click.echo(f"{wh.url}: {wh.build_marts(specs)}")


@main.command()
@click.argument("query")
@click.option("--warehouse", "warehouse_url", default=None, help=_WAREHOUSE_HELP)
@click.option("--max-rows", default=40, show_default=True, type=click.IntRange(min=1), help="Rows to print.")
def sql(query: str, warehouse_url: str | None, max_rows: int) -> None:
    """Run a SQL query on the warehouse and print the result as a small table."""
    from daap.warehouse import WarehouseLoader

    with WarehouseLoader(warehouse_url) as wh:
        frame = wh.sql(query)
    if frame.columns.empty:
        click.echo("ok")
    else:
        click.echo(frame.to_string(index=False, max_rows=max_rows, max_colwidth=40))
        click.echo(f"({len(frame):,} row{'s' if len(frame) != 1 else ''})")


@main.group()
def snowflake() -> None:
    """Prepare Snowflake as the warehouse (then: daap load / marts --warehouse snowflake://...)."""


@snowflake.command("setup")
@click.option("--print", "mode", flag_value="print", default=True, help="Print the DDL (the default).")
@click.option("--apply", "mode", flag_value="apply", help="Run the DDL with --url's connection (an administrator's).")
@click.option("--bucket", required=True, help="The lake, s3://bucket/prefix: the stage reads its candles/ zone.")
@click.option("--role-arn", required=True, help="The AWS IAM role Snowflake assumes to read the bucket.")
@click.option("--database", default="DAAP", show_default=True)
@click.option("--schema", default="MARTS", show_default=True)
@click.option("--warehouse", default="DAAP_WH", show_default=True, help="The virtual warehouse to create.")
@click.option("--role", default="DAAP_LOADER", show_default=True, help="The loader's role to create.")
@click.option("--user", default=None, help="Grant the loader's role to this user.")
@click.option("--integration", default="DAAP_LAKE", show_default=True, help="The storage integration to create.")
@click.option("--stage", default="DAAP_CANDLES", show_default=True, help="The external stage to create.")
@click.option("--url", default=None, help="With --apply: snowflake://admin@account?role=ACCOUNTADMIN (default: env).")
def snowflake_setup(
    mode: str,
    bucket: str,
    role_arn: str,
    database: str,
    schema: str,
    warehouse: str,
    role: str,
    user: str | None,
    integration: str,
    stage: str,
    url: str | None,
) -> None:
    """Print or apply the DDL: warehouse, database, schema, storage integration, stage, tables, loader role.

    For example: daap snowflake setup --bucket s3://my-lake/daap --role-arn arn:aws:iam::123456789012:role/daap-sf
    """
    from daap.warehouse.snowflake import SnowflakeClient, SnowflakeSetup, setup_sql

    config = SnowflakeSetup(
        bucket=bucket,
        role_arn=role_arn,
        database=database,
        schema=schema,
        warehouse=warehouse,
        role=role,
        user=user,
        integration=integration,
        stage=stage,
    )
    if mode == "print":
        click.echo(setup_sql(config), nl=False)
        return
    client = SnowflakeClient.from_url(url or "snowflake://")
    try:
        applied = client.setup(config)
    finally:
        client.close()
    click.echo(
        f"{client.url}: {len(applied)} statements applied. Next, in AWS: trust Snowflake's IAM user "
        f"(DESC INTEGRATION {config.integration}; see docs/snowflake.md)."
    )


def _synth_options(f: Any) -> Any:
    for opt in reversed(
        [
            click.option("--symbol", default="BTCUSDT", show_default=True),
            click.option("--start", default="2025-05-01", show_default=True, help="First UTC day (YYYY-MM-DD)."),
            click.option("--days", default=1, show_default=True, type=click.IntRange(min=1)),
            click.option("--trades-per-day", default=200_000, show_default=True, type=click.IntRange(min=1)),
            click.option("--market", default="spot", show_default=True, type=click.Choice(["spot", "um"])),
            click.option("--seed", default=0, show_default=True, type=int),
        ]
    ):
        f = opt(f)
    return f


def _synth_config(symbol: str, start: str, days: int, trades_per_day: int, market: str, seed: int) -> Any:
    from daap.sources.synthetic import SyntheticConfig

    try:
        day = dt.date.fromisoformat(start)
    except ValueError as exc:
        raise click.BadParameter(f"{start!r} is not a date (YYYY-MM-DD)", param_hint="--start") from exc
    try:
        return SyntheticConfig(
            symbol=symbol,
            start=day,
            days=days,
            trades_per_day=trades_per_day,
            market=market,  # type: ignore[arg-type]
            seed=seed,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command()
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@_synth_options
@click.option("--csv", "plain_csv", is_flag=True, help="Write plain .csv files instead of Binance zips.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
def synth(
    out_dir: Path,
    symbol: str,
    start: str,
    days: int,
    trades_per_day: int,
    market: str,
    seed: int,
    plain_csv: bool,
    progress: bool | None,
) -> None:
    """Write seeded synthetic trades as Binance daily files (zip + .CHECKSUM)."""
    from tqdm.auto import tqdm

    from daap.sources.synthetic import write_binance_files

    config = _synth_config(symbol, start, days, trades_per_day, market, seed)
    with tqdm(total=days, unit="day", desc="synth", disable=None if progress is None else not progress) as bar:

        def tick(day: dt.date, path: Path) -> None:
            bar.update()

        paths = write_binance_files(out_dir, config, zipped=not plain_csv, progress=tick)
    click.echo(f"wrote {len(paths)} file(s), {days * trades_per_day:,} trades, to {out_dir}")


def _print_step(result: Any) -> None:
    mark = "skip" if result.skipped else "done"
    click.echo(f"[{mark}] {result.step:<13} {result.summary} ({result.seconds:.1f} s)")


def _run_pipeline(cfg: Any, *, resume: bool, steps: tuple[str, ...] | None = None) -> Any:
    from daap.pipeline import PipelineError, QualityGateError, run

    try:
        return run(cfg, resume=resume, steps=steps or None, on_step=_print_step)
    except QualityGateError as exc:
        click.echo(f"quality gate: {exc}", err=True)
        raise SystemExit(1) from exc
    except PipelineError as exc:
        raise click.ClickException(f"{exc} (fix it, then run the same command again: finished steps are kept)") from exc


@main.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="daap.toml (top-level keys or a [pipeline] table); flags override it.",
)
@click.option("--symbol", "symbols", multiple=True, help="Symbol (repeat for several).")
@click.option("--month", "months", multiple=True, help="Month YYYY-MM (repeat for several), instead of --start/--end.")
@click.option("--start", default=None, help="First UTC day (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last UTC day (YYYY-MM-DD).")
@click.option("--market", default=None, type=click.Choice(["spot", "um"]))
@click.option("--source", default=None, type=click.Choice(["binance", "synthetic"]), help="Download or generate.")
@click.option("--lake", "lake_uri", default=None, help=_LAKE_HELP)
@click.option("--warehouse", "warehouse_url", default=None, help=_WAREHOUSE_HELP)
@click.option("--engine", default=None, help="Candle engine: pandas, spark, snowpark.")
@click.option("--interval", "intervals", multiple=True, help="Candle interval (repeat for several).")
@click.option("--indicators", default=None, help='Indicators of the marts, e.g. "sma:7,ema:21,rsi:14".')
@click.option("--work-dir", default=None, help="Downloads, run state, report and dashboard (default ./daap-work).")
@click.option("--step", "steps", multiple=True, help="Run only this step (repeat for several).")
@click.option("--no-resume", is_flag=True, help="Redo every step, even those an earlier run finished.")
@click.option(
    "--verify/--no-verify", default=None, help="Also reconcile the candles with Binance's klines (config: verify)."
)
def run_cmd(
    config_path: Path | None,
    symbols: tuple[str, ...],
    months: tuple[str, ...],
    start: str | None,
    end: str | None,
    market: str | None,
    source: str | None,
    lake_uri: str | None,
    warehouse_url: str | None,
    engine: str | None,
    intervals: tuple[str, ...],
    indicators: str | None,
    work_dir: str | None,
    steps: tuple[str, ...],
    no_resume: bool,
    verify: bool | None,
) -> None:
    """Run the pipeline: download, ingest, candles, load, marts, quality check, dashboard.

    Finished steps are remembered (per configuration) in the work dir, so a rerun after a failure resumes. Exit
    code 1 when the quality check finds an error.
    """
    from daap.pipeline import ConfigError, PipelineConfig

    flags = {
        "symbols": symbols or None, "months": months or None, "start": start, "end": end, "market": market,
        "source": source, "lake": lake_uri, "warehouse": warehouse_url, "engine": engine,
        "intervals": intervals or None, "indicators": indicators, "work_dir": work_dir, "verify": verify,
    }  # fmt: skip
    try:
        if config_path is not None:
            cfg = PipelineConfig.from_toml(config_path, **flags)
        else:
            cfg = PipelineConfig.from_mapping({}, **flags)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    result = _run_pipeline(cfg, resume=not no_resume, steps=steps)
    click.echo(f"pipeline done in {result.seconds:.1f} s")


@main.command()
@click.option("--lake", "lake_uri", default=None, help="Also reconcile the lake's candles with its trades.")
@click.option("--warehouse", "warehouse_url", default=None, help=_WAREHOUSE_HELP)
@click.option("--symbol", default=None, help="With --lake: the symbol to reconcile (default: every symbol).")
@click.option("--interval", "-i", default="1m", show_default=True, help="With --lake: the interval.")
@click.option("--start", default=None, help="First expected UTC day (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last expected UTC day (YYYY-MM-DD).")
@click.option(
    "--json",
    "json_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JSON here.",
)
def check(
    lake_uri: str | None,
    warehouse_url: str | None,
    symbol: str | None,
    interval: str,
    start: str | None,
    end: str | None,
    json_path: Path | None,
) -> None:
    """Run the data quality checks; print the findings; exit 1 on an error-severity finding."""
    from daap import quality
    from daap.warehouse import WarehouseLoader

    day0, day1 = _date(start, "--start"), _date(end, "--end")
    try:
        with WarehouseLoader(warehouse_url) as wh:
            report = quality.check_warehouse(wh, expected_start=day0, expected_end=day1)
        if lake_uri is not None:
            the_lake = _lake(lake_uri)
            names = [symbol] if symbol else sorted({m.symbol for m in the_lake.manifests()})
            for name in names:
                report.extend(quality.check_lake(the_lake, name, interval=interval, start=day0, end=day1,
                                                 checks=["reconciliation"]))  # fmt: skip
    except DaapError as exc:
        raise click.ClickException(str(exc)) from exc
    for f in report.findings:
        mark = "ok  " if f.passed else ("FAIL" if f.severity == "error" else "warn")
        click.echo(f"{mark} {f.check:<20} {f.target:<18} {f.message}")
    click.echo(report.summary())
    if json_path is not None:
        report.to_json(json_path)
        click.echo(f"report: {json_path}")
    if report.errors:
        raise SystemExit(1)


@main.command()
@click.argument("symbol")
@click.option("--month", default=None, help="The month to verify (YYYY-MM). Or give --start and --end.")
@click.option("--start", default=None, help="First UTC day (YYYY-MM-DD), instead of --month.")
@click.option("--end", default=None, help="Last UTC day (YYYY-MM-DD), instead of --month.")
@click.option("--interval", "-i", default="1m", show_default=True, help="Candle interval, e.g. 1m, 1h, 1d, 1M.")
@click.option("--market", default="spot", show_default=True, type=click.Choice(["spot", "um"]))
@click.option("--lake", "lake_uri", default=None, help=_LAKE_HELP)
@click.option("--base-url", default=None, help="Binance public-data base URL (default $DAAP_BINANCE_BASE_URL).")
@click.option("--rtol", default=1e-9, show_default=True, type=float, help="Relative tolerance of the volumes.")
@click.option("--atol", default=1e-8, show_default=True, type=float, help="Absolute tolerance of the volumes.")
@click.option("--strict", is_flag=True, help="Exit 1 when buckets are missing on either side, too.")
@click.option(
    "--json", "json_path", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Write the result here."
)
def verify(
    symbol: str,
    month: str | None,
    start: str | None,
    end: str | None,
    interval: str,
    market: str,
    lake_uri: str | None,
    base_url: str | None,
    rtol: float,
    atol: float,
    strict: bool,
    json_path: Path | None,
) -> None:
    """Verify the lake's candles of SYMBOL against Binance's official klines, bucket by bucket.

    Downloads the kline files (checksum-verified) into the lake's reference/klines/ zone, compares open, high, low,
    close, trades and close time exactly and the four volumes within the tolerances, and prints matched,
    mismatched (with the first differences) and missing buckets on either side. Exit 1 on a mismatch.
    """
    from daap.reconcile import verify_lake

    day0, day1 = _date(start, "--start"), _date(end, "--end")
    if (month is None) == (day0 is None and day1 is None):
        raise click.UsageError("give --month YYYY-MM, or --start and --end")

    def on_file(name: str, status: str) -> None:
        click.echo(f"  {status:<10} {name}", err=True)

    result = verify_lake(
        _lake(lake_uri), symbol, month=month, start=day0, end=day1, interval=interval, market=market,
        base_url=base_url, rtol=rtol, atol=atol, on_file=on_file,
    )  # fmt: skip
    click.echo(result.report())
    if json_path is not None:
        json_path.write_text(result.to_json() + "\n", encoding="utf-8")
        click.echo(f"result: {json_path}")
    if result.verdict == "mismatch" or (strict and result.verdict != "match"):
        raise SystemExit(1)


@main.command()
@click.option("--warehouse", "warehouse_url", default=None, help=_WAREHOUSE_HELP)
@click.option("--symbol", default=None, help="Default: the first symbol in the marts.")
@click.option("--interval", "-i", default="1m", show_default=True)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A quality report (daap check --json) to show on the page.",
)
@click.option("-o", "--output", default="dashboard.html", show_default=True, type=click.Path(path_type=Path))
def dashboard(
    warehouse_url: str | None, symbol: str | None, interval: str, report_path: Path | None, output: Path
) -> None:
    """Write a self-contained HTML dashboard (candles, indicators, daily stats, quality status)."""
    import json

    from daap.dashboard import dashboard_from_warehouse
    from daap.warehouse import WarehouseLoader

    report = json.loads(report_path.read_text()) if report_path else None
    try:
        with WarehouseLoader(warehouse_url) as wh:
            out = dashboard_from_warehouse(wh, output, symbol=symbol, interval=interval, report=report)
    except DaapError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"dashboard: {out}")


@main.command()
@click.option("--dir", "work_dir", default="daap-demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--symbol", "symbols", multiple=True, default=("BTCUSDT", "ETHUSDT"), show_default=True)
@click.option("--start", default="2025-05-01", show_default=True, help="First UTC day (YYYY-MM-DD).")
@click.option("--days", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--trades-per-day", default=50_000, show_default=True, type=click.IntRange(min=1))
@click.option("--interval", "-i", default="1m", show_default=True)
def demo(work_dir: Path, symbols: tuple[str, ...], start: str, days: int, trades_per_day: int, interval: str) -> None:
    """The whole pipeline on synthetic data, offline, with the embedded defaults (local lake, pandas, DuckDB).

    It ends by verifying the candles against klines computed independently from the same synthetic trades.
    """
    from daap.pipeline import ConfigError, PipelineConfig

    day0 = _date(start, "--start")
    assert day0 is not None
    try:
        cfg = PipelineConfig.from_mapping({
            "symbols": list(symbols), "start": day0, "end": day0 + dt.timedelta(days=days - 1), "source": "synthetic",
            "trades_per_day": trades_per_day, "lake": str(work_dir / "lake"),
            "warehouse": f"duckdb:///{work_dir / 'daap.duckdb'}", "work_dir": str(work_dir), "intervals": [interval],
            "verify": True,
        })  # fmt: skip
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    result = _run_pipeline(cfg, resume=True)
    from daap.warehouse import WarehouseLoader

    with WarehouseLoader(cfg.warehouse) as wh:
        last = wh.sql(
            "SELECT symbol, candle_start_time, close_price, trading_volume, close_price_7_period_sma, rsi_14 "
            "FROM fct_candle_metrics ORDER BY symbol, interval, candle_start_time DESC LIMIT 3"
        )
    click.echo(f"last rows of fct_candle_metrics in {work_dir / 'daap.duckdb'}:")
    click.echo(last.iloc[::-1].round(4).to_string(index=False))
    click.echo(f"done in {result.seconds:.1f} s")
    click.echo(f"quality report: {cfg.report_path}")
    report = json.loads(cfg.report_path.read_text(encoding="utf-8"))
    for finding in report["findings"]:
        if finding["check"] == "klines":
            click.echo(f"verified against klines: {finding['message']}")
    for sym in cfg.symbols:
        click.echo(f"dashboard ({sym}): {cfg.dashboard_path(sym)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
