"""What every warehouse client does alike: validate a load, pick day files, check staged rows, compute indicators.

Nothing here imports a database driver.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daap.contract import CANDLE_COLUMNS
from daap.warehouse import WarehouseError, quote_identifier

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from daap.indicators import Spec
    from daap.lake import Lake

_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
#: The original marts' name for SMA(7) of the close.
SMA7_ALIAS = "close_price_7_period_sma"

#: The (symbol, interval) pairs of the staged rows, validated in Python by :func:`check_staged`.
STAGED_PAIRS_SQL = "SELECT DISTINCT symbol, interval FROM _daap_stage"
#: Staged rows beyond the first of each (symbol, interval, open_time) key (0 when the keys are unique).
REPEATED_KEYS_SQL = (
    "SELECT COALESCE(SUM(n - 1), 0) AS repeated FROM "
    "(SELECT count(*) AS n FROM _daap_stage GROUP BY symbol, interval, open_time HAVING count(*) > 1) AS k"
)

#: One line of ``_daap_loads`` per load: the source kind, then rows in, inserted, updated, unchanged (bound).
RECORD_LOAD_SQL = (
    "INSERT INTO _daap_loads (loaded_at, source, rows_in, inserted, updated, unchanged) "
    "SELECT current_timestamp, ?, ?, ?, ?, ?"
)


def check_symbol(symbol: Any) -> str:
    """Validate a symbol: upper-case letters and digits, as Binance writes them.

    Examples:
        >>> check_symbol("BTCUSDT")
        'BTCUSDT'
        >>> check_symbol("BTC'; --")
        Traceback (most recent call last):
        ...
        daap.warehouse.WarehouseError: invalid symbol "BTC'; --": expected upper-case letters and digits, e.g. BTCUSDT
    """
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise WarehouseError(f"invalid symbol {symbol!r}: expected upper-case letters and digits, e.g. BTCUSDT")
    return symbol


def check_interval(interval: Any) -> str:
    """Validate an interval and return its canonical name.

    Examples:
        >>> check_interval("1m")
        '1m'
    """
    from daap.errors import InvalidIntervalError
    from daap.intervals import Interval

    try:
        return Interval.parse(interval).name
    except (InvalidIntervalError, TypeError) as exc:
        raise WarehouseError(f"invalid interval {interval!r}: {exc}") from exc


def _day(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise WarehouseError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from exc


def _utc(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class LoadWindow:
    """The validated filters of one ``load_candles`` call.

    Attributes:
        symbol: only this symbol, or every one.
        interval: only this interval (canonical name), or every one (a lake defaults to ``1m``).
        first: first UTC day, inclusive.
        last: last UTC day, inclusive.

    Examples:
        >>> w = LoadWindow.of("BTCUSDT", "1m", "2025-01-01", "2025-01-02")
        >>> w.params["end"].isoformat()
        '2025-01-03T00:00:00+00:00'
    """

    symbol: str | None
    interval: str | None
    first: dt.date | None
    last: dt.date | None

    @classmethod
    def of(
        cls, symbol: str | None, interval: str | None, start: dt.date | str | None, end: dt.date | str | None
    ) -> LoadWindow:
        """Validate the arguments of ``load_candles``."""
        if symbol is not None:
            check_symbol(symbol)
        if interval is not None:
            interval = check_interval(interval)
        first, last = _day(start, "start"), _day(end, "end")
        if first and last and first > last:
            raise WarehouseError(f"start {first} is after end {last}")
        return cls(symbol, interval, first, last)

    @property
    def params(self) -> dict[str, Any]:
        """Bind parameters: ``symbol``, ``interval``, ``start`` (inclusive) and ``end`` (exclusive), as UTC times."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "start": _utc(self.first),
            "end": _utc(self.last + dt.timedelta(days=1)) if self.last else None,
        }

    def lake_keys(self, lake: Lake) -> list[str]:
        """The day files of the lake's ``candles/`` zone in this window (interval ``1m`` unless given).

        Raises:
            WarehouseError: when there are none.
        """
        interval = self.interval or "1m"
        keys = lake.candle_keys(interval, self.symbol, start=self.first, end=self.last)
        if not keys:
            raise WarehouseError(
                f"no candles in {lake.uri} for interval={interval}"
                + (f", symbol={self.symbol}" if self.symbol else "")
                + (f", {self.first} .. {self.last}" if self.first or self.last else "")
                + ": build them first (daap candles --lake ...)"
            )
        return keys

    def filter(self, table: pa.Table) -> pa.Table:
        """The rows of a candles table inside this window."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keep = pa.array([True] * table.num_rows, pa.bool_())
        params = self.params
        for column, op, value in (
            ("symbol", pc.equal, params["symbol"]),
            ("interval", pc.equal, params["interval"]),
            ("open_time", pc.greater_equal, params["start"]),
            ("open_time", pc.less, params["end"]),
        ):
            if value is not None:
                keep = pc.and_kleene(keep, op(table[column], pa.scalar(value, table.schema.field(column).type)))
        return table.filter(keep)


def as_lake(source: Any) -> Lake | None:
    """``source`` as a :class:`daap.Lake` when it is one or names one (``str``/``Path``), else ``None``."""
    from daap.lake import Lake

    if isinstance(source, (str, Path)):
        return Lake(source)
    return source if isinstance(source, Lake) else None


def candles_table(source: Any) -> pa.Table:
    """A candles DataFrame or Arrow table as an Arrow table with the contract columns, in order.

    Raises:
        WarehouseError: for another type, or missing columns.
    """
    import pandas as pd
    import pyarrow as pa

    if isinstance(source, pd.DataFrame):
        columns = list(source.columns)
        table = pa.Table.from_pandas(source, preserve_index=False)
    elif isinstance(source, pa.Table):
        columns, table = list(source.column_names), source
    else:
        raise WarehouseError(
            f"cannot load {type(source).__name__}: give a candles DataFrame or Arrow table, or a daap.Lake"
        )
    missing = [c for c in CANDLE_COLUMNS if c not in columns]
    if missing:
        raise WarehouseError(f"candles lack the contract column(s) {', '.join(missing)}")
    return table.select(list(CANDLE_COLUMNS))


def check_staged(pairs: Iterable[tuple[Any, Any]], repeated: int) -> None:
    """Refuse staged rows with an invalid symbol or interval, or a repeated key, before anything is written.

    Args:
        pairs: the distinct (symbol, interval) pairs of the staged rows (:data:`STAGED_PAIRS_SQL`).
        repeated: the result of :data:`REPEATED_KEYS_SQL`.
    """
    pairs = list(pairs)
    bad = sorted({repr(s) for s, _ in pairs if not (isinstance(s, str) and _SYMBOL.match(s))})
    if bad:
        raise WarehouseError(f"invalid symbol(s) in the candles: {', '.join(bad[:3])}")
    for _, interval in pairs:
        check_interval(interval)
    if repeated:
        raise WarehouseError(f"the candles repeat {int(repeated):,} (symbol, interval, open_time) key(s)")


def indicator_specs(indicators: Any) -> tuple[list[Spec], list[str]]:
    """The specs to compute and their columns, SMA(7) always included (for ``close_price_7_period_sma``).

    Args:
        indicators: a spec string, a list of specs, or ``None`` for :data:`daap.indicators.DEFAULT`.

    Examples:
        >>> indicator_specs("rsi:14")[1]
        ['rsi_14', 'sma_7']
    """
    from daap import indicators as ind

    if indicators is None:
        specs = list(ind.DEFAULT)
    elif isinstance(indicators, str):
        specs = list(ind.parse(indicators))
    else:
        specs = list(indicators)
    columns = [c for s in specs for c in s.columns]
    if "sma_7" not in columns:
        specs.append(ind.parse("sma:7")[0])
        columns += list(specs[-1].columns)
    for c in columns:
        quote_identifier(c)
    if len(set(columns)) != len(columns):
        raise WarehouseError(f"indicator columns repeat: {', '.join(columns)}")
    return specs, columns


def indicator_frame(candles: pd.DataFrame, specs: list[Spec], columns: list[str]) -> pd.DataFrame:
    """``symbol, interval, open_time`` and the indicator columns of every (symbol, interval) series.

    ``daap.indicators`` computes each series on its own, in ``open_time`` order, whatever the row order.
    """
    from daap import indicators as ind

    return ind.add(candles, specs)[["symbol", "interval", "open_time", *columns]]  # type: ignore[no-any-return]


def indicator_select(columns: list[str], *, upper: bool = False) -> str:
    """The indicator columns of ``fct_candle_metrics`` (its ``{{indicator_columns}}``): validated, quoted names.

    Args:
        columns: the indicator columns; ``sma_7`` is also selected as ``close_price_7_period_sma``.
        upper: upper-case the names (Snowflake).

    Examples:
        >>> print(indicator_select(["sma_7"], upper=True))
        i."SMA_7" AS "SMA_7",
            i."SMA_7" AS "CLOSE_PRICE_7_PERIOD_SMA"
    """
    pairs = [(c, c) for c in columns] + [("sma_7", SMA7_ALIAS)]
    return ",\n    ".join(
        f"i.{quote_identifier(c, upper=upper)} AS {quote_identifier(alias, upper=upper)}" for c, alias in pairs
    )
