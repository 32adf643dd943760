"""The engine contract and the registry of engines, loaded lazily by name.

An engine turns trades into candles (ARCHITECTURE.md section 2). Engines are found through the entry-point group
``daap.engines`` and imported only when asked for, so ``import daap`` never imports pyspark or snowpark. An engine
whose optional dependencies are missing raises :class:`~daap.errors.MissingDependencyError` with the pip command.

Examples:
    >>> from daap.engines import get_engine, available_engines
    >>> "pandas" in available_engines()
    True
    >>> get_engine("pandas").capabilities.streaming_files
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from daap.errors import MissingDependencyError, UnknownEngineError
from daap.intervals import Interval

__all__ = [
    "BuildSummary",
    "Capabilities",
    "Engine",
    "available_engines",
    "capabilities",
    "get_engine",
    "register_engine",
]

ENTRY_POINT_GROUP = "daap.engines"
#: The extra that installs each engine shipped with daap (used when an entry point does not name one).
_KNOWN_EXTRAS = {"spark": "spark", "snowpark": "snowflake"}


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, as data (the docs' feature matrix is built from this).

    Attributes:
        streaming_files: builds candles from files in bounded memory (``build_files``).
        input_types: the in-memory trade types ``build`` accepts.
        output_type: the type ``build`` returns.
        intervals: ``"all"`` or the interval names it supports.
        rollup: supports ``rollup``.
        fill_gaps: supports Binance-style gap rows.
        agg_trades: accepts aggTrades rows (a ``last_trade_id`` column).
        indicators: computes the indicators (``add_indicators``).
        lazy: ``build`` returns a plan that runs on an action or a write.

    Examples:
        >>> caps = get_engine("pandas").capabilities
        >>> caps.streaming_files, caps.input_types, caps.output_type
        (True, ('pandas.DataFrame', 'pyarrow.Table'), 'pandas.DataFrame')
    """

    streaming_files: bool
    input_types: tuple[str, ...]
    output_type: str
    intervals: str | tuple[str, ...] = "all"
    rollup: bool = True
    fill_gaps: bool = True
    agg_trades: bool = True
    indicators: bool = True
    lazy: bool = False
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class BuildSummary:
    """What ``build_files`` did.

    Attributes:
        output: the Parquet file written.
        files: input files read.
        rows_in: trades read.
        candles_out: candles written (including gap rows).
        gap_rows: zero-trade gap rows among them.
        symbols: the symbols seen.
        interval: the interval built.
        seconds: wall time.
        in_order: True when the input streamed in time order (False means the slower, in-memory path was used).

    Examples:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "candles.parquet"
        >>> inputs = ["tests/data/BTCUSDT-trades-2021-01-02.csv"]
        >>> s = get_engine("pandas").build_files(inputs, out, Interval.parse("1m"))
        >>> s.files, s.rows_in, s.candles_out, s.gap_rows, s.symbols, s.interval, s.in_order
        (1, 3243, 3, 0, ('BTCUSDT',), '1m', True)
    """

    output: str
    files: int
    rows_in: int
    candles_out: int
    gap_rows: int
    symbols: tuple[str, ...]
    interval: str
    seconds: float
    in_order: bool = True


@runtime_checkable
class Engine(Protocol):
    """The small contract every engine implements. Engine-specific options go through ``**options``.

    Examples:
        >>> engine = get_engine("pandas")
        >>> isinstance(engine, Engine), engine.name
        (True, 'pandas')
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def build(self, trades: Any, interval: Interval, *, fill_gaps: bool = True, **options: Any) -> Any:
        """Candles from in-memory trades (the engine's frame type).

        Examples:
            >>> import daap
            >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
            >>> get_engine("pandas").build(trades, Interval.parse("1m"))["trades"].tolist()
            [1279, 964, 1000]
        """
        ...

    def rollup(self, candles: Any, interval: Interval, *, fill_gaps: bool = True, **options: Any) -> Any:
        """Coarser candles from finer ones; equal to building ``interval`` from the trades.

        Examples:
            >>> import daap
            >>> engine = get_engine("pandas")
            >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
            >>> minutes = engine.build(trades, Interval.parse("1m"))
            >>> engine.rollup(minutes, Interval.parse("1h"))["trades"].tolist()
            [3243]
        """
        ...

    def build_files(
        self,
        inputs: Sequence[str | Path],
        output: str | Path,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        **options: Any,
    ) -> BuildSummary:
        """Candles from trade files, written to ``output`` as Parquet.

        Examples:
            >>> import tempfile
            >>> import pyarrow.parquet as pq
            >>> out = Path(tempfile.mkdtemp()) / "candles.parquet"
            >>> inputs = ["tests/data/BTCUSDT-trades-2021-01-02.csv"]
            >>> get_engine("pandas").build_files(inputs, out, Interval.parse("5m")).candles_out
            1
            >>> pq.read_table(out).column("trades").to_pylist()
            [3243]
        """
        ...


_registered: dict[str, tuple[str, str | None]] = {}
_loaded: dict[str, Engine] = {}


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def register_engine(name: str, target: str, *, extra: str | None = None) -> None:
    """Register an engine by ``"module:Class"`` without an installed entry point (plugins and tests).

    Examples:
        >>> register_engine("pandas2", "daap.engines.pandas:PandasEngine")
        >>> get_engine("pandas2").name
        'pandas'
    """
    _registered[name] = (target, extra)
    _loaded.pop(name, None)


def available_engines() -> list[str]:
    """Names of all registered engines, installed or not.

    Examples:
        >>> {"pandas", "spark", "snowpark"} <= set(available_engines())
        True
    """
    names = set(_entry_points()) | set(_registered) | {"pandas"}
    return sorted(names)


def _import(target: str, name: str, extra: str | None) -> Engine:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or ""
        if missing and (missing == module_name or module_name.startswith(missing + ".")):
            raise UnknownEngineError(f"engine {name!r} points to {target!r}, which does not exist") from exc
        raise MissingDependencyError(f"engine {name!r}", extra or _KNOWN_EXTRAS.get(name, name)) from exc
    cls = getattr(module, attr)
    engine = cls()
    if not isinstance(engine, Engine):
        raise UnknownEngineError(f"{target!r} does not implement the daap Engine contract")
    return engine


def get_engine(name: str | Engine) -> Engine:
    """The engine registered under ``name`` (an engine instance is returned as is).

    Raises:
        UnknownEngineError: no engine has that name.
        MissingDependencyError: the engine's extra is not installed.

    Examples:
        >>> engine = get_engine("pandas")
        >>> engine.name, get_engine(engine) is engine
        ('pandas', True)
        >>> get_engine("polars")
        Traceback (most recent call last):
        ...
        daap.errors.UnknownEngineError: unknown engine 'polars'; available: ...
    """
    if not isinstance(name, str):
        return name
    if name in _loaded:
        return _loaded[name]
    target, extra = _target(name)
    engine = _import(target, name, extra)
    _loaded[name] = engine
    return engine


def _target(name: str) -> tuple[str, str | None]:
    """``("module:Class", extra)`` of a registered engine."""
    if name in _registered:
        return _registered[name]
    if name == "pandas":  # built in: no need to scan every installed distribution's entry points
        return "daap.engines.pandas:PandasEngine", None
    eps = _entry_points()
    if name in eps:
        ep = eps[name]
        return ep.value.split("[")[0].strip(), (ep.extras[0] if ep.extras else None)
    raise UnknownEngineError(f"unknown engine {name!r}; available: {', '.join(available_engines())}")


def capabilities(name: str) -> Capabilities:
    """An engine's declared capabilities, read from its class without starting it (its extra need not be installed).

    Raises:
        UnknownEngineError: no engine has that name.

    Examples:
        >>> capabilities("snowpark").output_type
        'snowflake.snowpark.DataFrame'
    """
    target, _ = _target(name)
    module_name, _, attr = target.partition(":")
    caps: Capabilities = getattr(importlib.import_module(module_name), attr).capabilities
    return caps
