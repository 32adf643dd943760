"""Binance ``aggTrades``: aggregate synthetic (or real) trades and write them in Binance's exact aggTrades format.

An aggregate trade is what Binance publishes for the fills of one taker order at one price: the trades
``first_trade_id`` to ``last_trade_id``, all at the same time and price, with their total quantity. aggTrades files
are several times smaller than trades files and determine the same candles (see ``docs``: which fields and why).

Formats, as published:

* spot (no header, 8 columns): ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,
  is_buyer_maker,is_best_match``, 8 fractional digits, ``True``/``False``, µs from 2025-01-01 and ms before;
* USD-M futures (7 columns): the header ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,
  is_buyer_maker`` (files from 2022-08-11; older daily files have none), shortest decimals, ``true``/``false``, ms.

Examples:
    >>> from daap.sources.synthetic import SyntheticConfig, generate_day
    >>> trades = generate_day(SyntheticConfig(trades_per_day=2_000, seed=3), 0)
    >>> agg = aggregate_trades(trades)
    >>> agg.num_rows < trades.num_rows, pc.sum(pc.subtract(agg["last_trade_id"], agg["first_trade_id"])).as_py() + agg.num_rows
    (True, 2000)
"""  # noqa: E501

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from daap.sources.synthetic import (
    Market,
    SyntheticConfig,
    _atomic_path,
    _decimal_text,
    _scaled8,
    csv_lines,
    has_header,
    iter_days,
    time_unit,
    write_zip_with_checksum,
)

__all__ = [
    "AGG_TRADE_SCHEMA",
    "FIRST_AGG_TRADE_ID",
    "aggregate_trades",
    "aggtrades_file_name",
    "to_binance_aggtrades_csv",
    "write_aggtrades_files",
]

#: Aggregate trade id of the first aggregate of synthetic day 0 (day ``k`` starts ``k * trades_per_day`` later).
FIRST_AGG_TRADE_ID = 300_000_000
UM_AGG_HEADER = b"agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"

#: Columns of the tables :func:`aggregate_trades` returns (``time`` is µs since the epoch, UTC).
AGG_TRADE_SCHEMA = pa.schema(
    [  # type: ignore[arg-type]
        pa.field("agg_trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("first_trade_id", pa.int64(), nullable=False),
        pa.field("last_trade_id", pa.int64(), nullable=False),
        pa.field("time", pa.int64(), nullable=False),
        pa.field("is_buyer_maker", pa.bool_(), nullable=False),
    ]
)


def aggregate_trades(trades: pa.Table, *, first_agg_id: int = FIRST_AGG_TRADE_ID) -> pa.Table:
    """Aggregate trades as Binance does: consecutive trades with one time, one price and one taker side.

    Binance aggregates the fills of one taker order at one price; fills of one order share the time and the side.
    Trades must be in trade-id order with consecutive ids (Binance and synthetic files are). Quantities are summed
    exactly in units of 1e-8, so the total is the decimal Binance would print.

    Args:
        trades: columns ``trade_id, price, qty, time, is_buyer_maker`` (``time`` as int µs or a timestamp).
        first_agg_id: the ``agg_trade_id`` of the first aggregate.

    Returns:
        A table in :data:`AGG_TRADE_SCHEMA`.

    Examples:
        >>> t = pa.table({"trade_id": [1, 2, 3], "price": [5.0, 5.0, 6.0], "qty": [0.1, 0.2, 0.3],
        ...               "time": [10, 10, 10], "is_buyer_maker": [True, True, True]})
        >>> aggregate_trades(t, first_agg_id=7).to_pydict()["qty"], aggregate_trades(t)["last_trade_id"].to_pylist()
        ([0.3, 0.3], [2, 3])
    """
    n = trades.num_rows
    tid = np.asarray(trades.column("trade_id"), dtype=np.int64)
    price = np.asarray(trades.column("price"), dtype=np.float64)
    time_col = trades.column("time")
    if pa.types.is_timestamp(time_col.type):
        time_col = time_col.cast(pa.timestamp("us", tz=time_col.type.tz)).cast(pa.int64())
    t = np.asarray(time_col, dtype=np.int64)
    ibm = np.asarray(trades.column("is_buyer_maker"), dtype=np.bool_)
    if n and not (np.diff(tid) == 1).all():
        raise ValueError("aggregate_trades needs trades in trade-id order with consecutive ids")
    units = _scaled8(trades.column("qty"))
    if n == 0:
        return AGG_TRADE_SCHEMA.empty_table()
    new = np.ones(n, dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (price[1:] != price[:-1]) | (ibm[1:] != ibm[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n) - 1
    total = np.add.reduceat(units, starts)
    return pa.table(
        [
            pa.array(np.arange(first_agg_id, first_agg_id + starts.shape[0], dtype=np.int64)),
            pa.array(price[starts]),
            pa.array(total / 1e8),
            pa.array(tid[starts]),
            pa.array(tid[ends]),
            pa.array(t[starts]),
            pa.array(ibm[starts]),
        ],
        schema=AGG_TRADE_SCHEMA,
    )


def _agg_lines(agg: pa.Table, market: Market, day: datetime.date) -> bytes:
    time = np.asarray(agg.column("time"), dtype=np.int64)
    if time_unit(market, day) == "ms":
        time = time // 1000
    true_text, false_text = ("True", "False") if market == "spot" else ("true", "false")
    columns: list[Any] = [
        pc.cast(agg.column("agg_trade_id"), pa.string()),
        _decimal_text(_scaled8(agg.column("price")), market),
        _decimal_text(_scaled8(agg.column("qty")), market),
        pc.cast(agg.column("first_trade_id"), pa.string()),
        pc.cast(agg.column("last_trade_id"), pa.string()),
        pc.cast(pa.array(time), pa.string()),
        pc.if_else(agg.column("is_buyer_maker"), pa.scalar(true_text), pa.scalar(false_text)),
    ]
    if market == "spot":
        columns.append(pa.scalar("True"))  # is_best_match
    return csv_lines(columns)


def to_binance_aggtrades_csv(agg: pa.Table, market: Market, day: datetime.date) -> bytes:
    r"""The exact text of Binance's daily aggTrades CSV for that market and day.

    Examples:
        >>> a = pa.table({"agg_trade_id": [3384404357], "price": [93576.0], "qty": [0.00136],
        ...               "first_trade_id": [4359935386], "last_trade_id": [4359935386],
        ...               "time": [1735689600010866], "is_buyer_maker": [True]})
        >>> to_binance_aggtrades_csv(a, "spot", datetime.date(2025, 1, 1))
        b'3384404357,93576.00000000,0.00136000,4359935386,4359935386,1735689600010866,True,True\n'
        >>> to_binance_aggtrades_csv(a, "um", datetime.date(2025, 1, 1)).splitlines()[1]
        b'3384404357,93576.0,0.00136,4359935386,4359935386,1735689600010,true'
    """
    head = UM_AGG_HEADER if has_header(market, day) else b""
    return head + _agg_lines(agg, market, day)


def aggtrades_file_name(symbol: str, day: datetime.date, *, zipped: bool = True) -> str:
    """Binance's name for a daily aggTrades file.

    Examples:
        >>> aggtrades_file_name("BTCUSDT", datetime.date(2025, 5, 1))
        'BTCUSDT-aggTrades-2025-05-01.zip'
    """
    return f"{symbol}-aggTrades-{day.isoformat()}.{'zip' if zipped else 'csv'}"


def write_aggtrades_files(
    out_dir: str | os.PathLike[str],
    config: SyntheticConfig,
    *,
    zipped: bool = True,
    progress: Callable[[datetime.date, Path], None] | None = None,
) -> list[Path]:
    """Write the aggTrades of the config's synthetic trades, one Binance daily file per day.

    The aggregates are those of exactly the trades :func:`~daap.sources.synthetic.write_binance_files` writes for the
    same config, so candles from either file set must be equal. Zips come with a ``.CHECKSUM`` sidecar.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     [p.name for p in write_aggtrades_files(d, SyntheticConfig(days=1, trades_per_day=100))]
        ['BTCUSDT-aggTrades-2025-05-01.zip']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for k, (day, trades) in enumerate(iter_days(config)):
        agg = aggregate_trades(trades, first_agg_id=FIRST_AGG_TRADE_ID + k * config.trades_per_day)
        text = to_binance_aggtrades_csv(agg, config.market, day)
        csv_name = aggtrades_file_name(config.symbol, day, zipped=False)
        if zipped:
            path = write_zip_with_checksum(
                out / aggtrades_file_name(config.symbol, day), csv_name, text
            )
        else:
            path = out / csv_name
            with _atomic_path(path) as tmp:
                tmp.write_bytes(text)
        written.append(path)
        if progress is not None:
            progress(day, path)
    return written
