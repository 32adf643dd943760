"""The column contract shared by every engine: normalized trades and candles, as Arrow schemas.

The validity rules (OHLC order, alignment, ...) live in :mod:`daap.schemas`; this module only names the columns
and their types, in order.

Examples:
    >>> from daap.contract import CANDLE_COLUMNS
    >>> CANDLE_COLUMNS[:4]
    ('symbol', 'interval', 'open_time', 'close_time')
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_TS: Any = pa.timestamp("us", tz="UTC")

#: Normalized trades (ARCHITECTURE.md section 2).
TRADES_SCHEMA: pa.Schema = pa.schema(
    [  # type: ignore[arg-type]
        pa.field("symbol", pa.string()),
        pa.field("trade_id", pa.int64()),
        pa.field("price", pa.float64()),
        pa.field("qty", pa.float64()),
        pa.field("quote_qty", pa.float64()),
        pa.field("time", _TS),
        pa.field("is_buyer_maker", pa.bool_()),
    ]
)

#: Normalized aggregate trades (Binance ``aggTrades``): each row stands for the trades ``trade_id`` to
#: ``last_trade_id`` of one taker order, all at one price and one time; ``qty`` is their total and ``quote_qty`` is
#: ``price * qty``. Every engine accepts trades with this extra column: a row counts ``last_trade_id - trade_id + 1``
#: trades, and ``last_trade_id`` orders the close and gives the candle's last trade id.
AGG_TRADES_SCHEMA: pa.Schema = TRADES_SCHEMA.append(pa.field("last_trade_id", pa.int64()))

#: Candles, columns in contract order. ``vwap`` and the trade ids are null on gap rows.
CANDLES_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("interval", pa.string(), nullable=False),
        pa.field("open_time", _TS, nullable=False),
        pa.field("close_time", _TS, nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("quote_volume", pa.float64(), nullable=False),
        pa.field("trades", pa.int64(), nullable=False),
        pa.field("taker_buy_volume", pa.float64(), nullable=False),
        pa.field("taker_buy_quote_volume", pa.float64(), nullable=False),
        pa.field("vwap", pa.float64()),
        pa.field("first_trade_id", pa.int64()),
        pa.field("last_trade_id", pa.int64()),
    ]
)
CANDLE_COLUMNS: tuple[str, ...] = tuple(CANDLES_SCHEMA.names)

#: How bronze trades are written: zstd, and dictionary encoding only where values repeat (symbols, prices).
#: Dictionary-encoding unique ids, times and quantities costs twice the CPU for a bigger file.
BRONZE_PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": ["symbol", "price"]}
TRADE_COLUMNS: tuple[str, ...] = tuple(TRADES_SCHEMA.names)
