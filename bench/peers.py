"""Peer implementations of trades -> 1m candles, for ``bench/candles.py``.

Each peer reads one trades file (a headerless Binance spot CSV or a Parquet file in daap's normalized schema) and
writes candles to Parquet with the columns of daap's candle contract (ARCHITECTURE.md section 2, without gap rows).
Open/close are exact: the price of the trade with the smallest/largest ``(time, trade_id)`` in the bucket.

Run one as its own process, so its peak RSS can be measured alone::

    python bench/peers.py duckdb csv TRADES.csv OUT.parquet [--symbol BTCUSDT]
    python bench/peers.py polars parquet TRADES.parquet OUT.parquet
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

INTERVAL_US = 60_000_000
INTERVAL_NAME = "1m"
#: Columns of a headerless Binance spot trades CSV.
SPOT_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_candles(fmt: str, src: Path, out: Path, symbol: str) -> None:
    """Candles with DuckDB SQL (all threads), written with ``COPY ... TO``."""
    import duckdb

    if fmt == "csv":
        types = ("BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "BIGINT", "BOOLEAN", "BOOLEAN")
        columns = ", ".join(f"{_sql_str(c)}: {_sql_str(t)}" for c, t in zip(SPOT_COLUMNS, types, strict=True))
        relation = (
            f"SELECT id, price, qty, quote_qty, time, is_buyer_maker FROM read_csv({_sql_str(str(src))}, "
            f"header = false, auto_detect = false, delim = ',', quote = '', columns = {{{columns}}})"
        )
    elif fmt == "parquet":
        relation = (
            "SELECT trade_id AS id, price, qty, quote_qty, epoch_us(time) AS time, is_buyer_maker "
            f"FROM read_parquet({_sql_str(str(src))})"
        )
    else:
        raise ValueError(f"unknown input format {fmt!r}")
    # An exact, totally ordered key for (time, id): time in the high 64 bits, id (offset to unsigned) in the low 64.
    key = "((time::HUGEINT << 64) + (id::HUGEINT + 9223372036854775808))"
    query = f"""
        WITH t AS ({relation}),
        agg AS (
            SELECT
                time // {INTERVAL_US} AS bucket,
                arg_min(price, {key}) AS open,
                max(price) AS high,
                min(price) AS low,
                arg_max(price, {key}) AS close,
                sum(qty) AS volume,
                sum(quote_qty) AS quote_volume,
                count(*) AS trades,
                coalesce(sum(qty) FILTER (WHERE NOT is_buyer_maker), 0) AS taker_buy_volume,
                coalesce(sum(quote_qty) FILTER (WHERE NOT is_buyer_maker), 0) AS taker_buy_quote_volume,
                min(id) AS first_trade_id,
                max(id) AS last_trade_id
            FROM t
            GROUP BY bucket
        )
        SELECT
            {_sql_str(symbol)} AS symbol,
            {_sql_str(INTERVAL_NAME)} AS interval,
            make_timestamp(bucket * {INTERVAL_US})::TIMESTAMPTZ AS open_time,
            make_timestamp(bucket * {INTERVAL_US} + {INTERVAL_US - 1})::TIMESTAMPTZ AS close_time,
            open, high, low, close, volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume,
            CASE WHEN volume = 0 THEN NULL ELSE quote_volume / volume END AS vwap,
            first_trade_id, last_trade_id
        FROM agg
        ORDER BY bucket
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"COPY ({query}) TO {_sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd)")
    con.close()


def polars_candles(fmt: str, src: Path, out: Path, symbol: str) -> None:
    """Candles with the Polars streaming engine, written with ``sink_parquet``."""
    import polars as pl

    if fmt == "csv":
        schema = {
            "id": pl.Int64,
            "price": pl.Float64,
            "qty": pl.Float64,
            "quote_qty": pl.Float64,
            "time": pl.Int64,
            "is_buyer_maker": pl.Boolean,
            "is_best_match": pl.Boolean,
        }
        lf = pl.scan_csv(src, has_header=False, schema=schema, quote_char=None)
    elif fmt == "parquet":
        lf = pl.scan_parquet(src).select(
            pl.col("trade_id").alias("id"),
            "price",
            "qty",
            "quote_qty",
            pl.col("time").dt.epoch("us").alias("time"),
            "is_buyer_maker",
        )
    else:
        raise ValueError(f"unknown input format {fmt!r}")
    taker_buy = ~pl.col("is_buyer_maker")
    by_time = pl.col("price").sort_by(["time", "id"])
    open_us = pl.col("bucket") * INTERVAL_US
    candles = (
        lf.group_by((pl.col("time") // INTERVAL_US).alias("bucket"))
        .agg(
            by_time.first().alias("open"),
            pl.col("price").max().alias("high"),
            pl.col("price").min().alias("low"),
            by_time.last().alias("close"),
            pl.col("qty").sum().alias("volume"),
            pl.col("quote_qty").sum().alias("quote_volume"),
            pl.len().cast(pl.Int64).alias("trades"),
            pl.col("qty").filter(taker_buy).sum().alias("taker_buy_volume"),
            pl.col("quote_qty").filter(taker_buy).sum().alias("taker_buy_quote_volume"),
            pl.col("id").min().alias("first_trade_id"),
            pl.col("id").max().alias("last_trade_id"),
        )
        .sort("bucket")
        .select(
            pl.lit(symbol).alias("symbol"),
            pl.lit(INTERVAL_NAME).alias("interval"),
            open_us.cast(pl.Datetime("us", "UTC")).alias("open_time"),
            (open_us + INTERVAL_US - 1).cast(pl.Datetime("us", "UTC")).alias("close_time"),
            "open",
            "high",
            "low",
            "close",
            "volume",
            "quote_volume",
            "trades",
            "taker_buy_volume",
            "taker_buy_quote_volume",
            pl.when(pl.col("volume") == 0)
            .then(None)
            .otherwise(pl.col("quote_volume") / pl.col("volume"))
            .alias("vwap"),
            "first_trade_id",
            "last_trade_id",
        )
    )
    candles.sink_parquet(out, compression="zstd")


PEERS: dict[str, Callable[[str, Path, Path, str], None]] = {"duckdb": duckdb_candles, "polars": polars_candles}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build 1m candles from one trades file with a peer engine.")
    parser.add_argument("engine", choices=sorted(PEERS))
    parser.add_argument("fmt", choices=["csv", "parquet"])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--symbol", default="BTCUSDT")
    args = parser.parse_args(argv)
    PEERS[args.engine](args.fmt, args.src, args.out, args.symbol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
