"""The ``daap`` command: parses arguments, calls the library, prints. It holds no logic of its own.

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(main, ["--help"])
    >>> result.exit_code, "candles" in result.output
    (0, True)
"""

from __future__ import annotations

import datetime as dt
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
    r"""Build candles from trade files (.zip, .csv, .csv.gz, .parquet, or folders), or from a lake's bronze zone.

    \b
    Files:  daap candles BTCUSDT-trades-2025-01-01.zip -o candles.parquet
    Lake:   daap candles --lake ./daap-lake --symbol BTCUSDT --start 2025-01-01 --end 2025-01-31
    """
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


@main.command()
@click.option("--dir", "work_dir", default="daap-demo", show_default=True, type=click.Path(path_type=Path))
@_synth_options
@click.option("--interval", "-i", default="1m", show_default=True)
def demo(
    work_dir: Path, symbol: str, start: str, days: int, trades_per_day: int, market: str, seed: int, interval: str
) -> None:
    """Run the pipeline on synthetic data, offline: synth, candles, load into DuckDB, marts, then the last rows."""
    import pyarrow.parquet as pq

    from daap.candles import CandleBuilder
    from daap.sources.synthetic import write_binance_files
    from daap.warehouse import WarehouseLoader

    config = _synth_config(symbol, start, days, trades_per_day, market, seed)
    raw = work_dir / "raw"
    paths = write_binance_files(raw, config, zipped=True)
    click.echo(f"1/4 synth: {len(paths)} Binance-format zip(s) with .CHECKSUM in {raw}")
    out = work_dir / "candles" / f"{symbol}-{interval}.parquet"
    summary = CandleBuilder(interval, validate=True).build_files(paths, out)
    click.echo(f"2/4 candles: {_summary_line(summary)}")
    with WarehouseLoader(f"duckdb:///{work_dir / 'daap.duckdb'}") as wh:
        click.echo(f"3/4 load into DuckDB: {wh.load_candles(pq.read_table(out))}")
        click.echo(f"4/4 marts: {wh.build_marts('sma:7,ema:21,rsi:14')}")
        last = wh.sql(
            "SELECT candle_start_time, close_price, trading_volume, close_price_7_period_sma, ema_21, rsi_14 "
            "FROM fct_candle_metrics ORDER BY symbol, interval, candle_start_time DESC LIMIT 5"
        )
    click.echo(f"last rows of fct_candle_metrics in {work_dir / 'daap.duckdb'}:")
    click.echo(last.iloc[::-1].round(4).to_string(index=False))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
