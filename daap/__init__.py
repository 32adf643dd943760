"""daap, the Digital Asset Analytics Platform: exact OHLCV candles from raw exchange trades.

Importing daap is cheap: engines, pandera schemas and optional backends load when first used.

Example:
    >>> import daap
    >>> daap.CandleBuilder("5m").interval.step_us
    300000000
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daap.candles import CandleBuilder
from daap.errors import DaapError
from daap.ingest import Ingestor
from daap.intervals import Interval
from daap.lake import Lake
from daap.trades import iter_trade_batches, read_trades

if TYPE_CHECKING:
    from daap import schemas

__version__ = "0.1.0"
__all__ = [
    "CandleBuilder",
    "DaapError",
    "Ingestor",
    "Interval",
    "Lake",
    "iter_trade_batches",
    "read_trades",
    "schemas",
]


def __getattr__(name: str) -> Any:
    if name == "schemas":
        import importlib

        return importlib.import_module("daap.schemas")
    raise AttributeError(f"module 'daap' has no attribute {name!r}")
