"""daap, the Digital Asset Analytics Platform: exact OHLCV candles from raw exchange trades.

Importing daap is cheap: engines, pandera schemas and optional backends load when first used.

Examples:
    >>> import daap
    >>> daap.CandleBuilder("5m").interval.step_us
    300000000
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daap.candles import CandleBuilder
from daap.errors import DaapError
from daap.intervals import Interval
from daap.trades import iter_trade_batches, read_trades

if TYPE_CHECKING:
    from daap import indicators, pipeline, quality, schemas
    from daap.ingest import Ingestor
    from daap.lake import Lake
    from daap.warehouse import WarehouseLoader

__version__ = "0.1.0"
__all__ = [
    "CandleBuilder",
    "DaapError",
    "Ingestor",
    "Interval",
    "Lake",
    "WarehouseLoader",
    "indicators",
    "iter_trade_batches",
    "pipeline",
    "quality",
    "read_trades",
    "schemas",
]


_LAZY = {
    "schemas": ("daap.schemas", None),
    "indicators": ("daap.indicators", None),
    "quality": ("daap.quality", None),
    "pipeline": ("daap.pipeline", None),
    "Ingestor": ("daap.ingest", "Ingestor"),
    "Lake": ("daap.lake", "Lake"),
    "WarehouseLoader": ("daap.warehouse", "WarehouseLoader"),
}


def __getattr__(name: str) -> Any:
    """Load the heavier parts of the public API on first use, so that ``import daap`` stays cheap."""
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'daap' has no attribute {name!r}")
