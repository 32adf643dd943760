"""The warehouse: a light factory (:class:`WarehouseLoader`) and heavy clients, one module per backend.

``WarehouseLoader(url)`` only parses its URL. The backend module is imported, and the database connected, on the
first call that needs it (``load_candles``, ``build_marts``, ``sql``), as dlt destinations do.

URLs:

- ``duckdb:///daap.duckdb`` (the default, relative to the working directory), ``duckdb:////abs/path.duckdb``,
  ``duckdb:///:memory:``, or a plain path ending in ``.duckdb``.
- ``snowflake://user@account/database/schema?warehouse=WH&role=ROLE`` (or ``snowflake://?connection=NAME`` for a
  ``connections.toml`` profile): :class:`daap.warehouse.snowflake.SnowflakeClient` (``pip install 'daap[snowflake]'``).

Other backends plug in through the ``daap.warehouses`` entry-point group: ``scheme = "pkg.module:ClientClass"``,
where the class has a ``from_url(url, **options)`` constructor and the methods of :class:`WarehouseClient`.

Examples:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "daap.duckdb"
    >>> wh = WarehouseLoader(f"duckdb:///{path}")
    >>> wh.backend, wh.connected
    ('duckdb', False)
    >>> wh.sql("SELECT 1 AS one").to_dict("records"), wh.connected
    ([{'one': 1}], True)
    >>> wh.close()
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from daap.errors import DaapError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_WAREHOUSE",
    "LoadResult",
    "MartsResult",
    "UnsafeIdentifierError",
    "UnsupportedWarehouseError",
    "WarehouseClient",
    "WarehouseError",
    "WarehouseLoader",
    "quote_identifier",
]

#: The warehouse used when none is given (or ``$DAAP_WAREHOUSE``).
DEFAULT_WAREHOUSE = "duckdb:///daap.duckdb"

#: Built-in backends: URL scheme -> "module:Client". Imported only when a client is first needed.
_BACKENDS: dict[str, str] = {
    "duckdb": "daap.warehouse.duckdb:DuckDBClient",
    "snowflake": "daap.warehouse.snowflake:SnowflakeClient",
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class WarehouseError(DaapError):
    """A warehouse operation failed (bad URL, bad input, failed load). The previous state is kept.

    Examples:
        >>> WarehouseLoader("duckdb:///:memory:").sql("SELECT nope")
        Traceback (most recent call last):
        ...
        daap.warehouse.WarehouseError: query failed: Binder Error: Referenced column "nope" ...
    """


class UnsupportedWarehouseError(WarehouseError, ValueError):
    """The URL names a backend daap does not provide (yet).

    Examples:
        >>> WarehouseLoader("mysql://localhost/db")
        Traceback (most recent call last):
        ...
        daap.warehouse.UnsupportedWarehouseError: unsupported warehouse scheme 'mysql': ...
    """


class UnsafeIdentifierError(WarehouseError, ValueError):
    """A name that would be spliced into SQL is not a plain identifier.

    Examples:
        >>> quote_identifier("7d-return")
        Traceback (most recent call last):
        ...
        daap.warehouse.UnsafeIdentifierError: unsafe SQL identifier '7d-return': ...
    """


def quote_identifier(name: str, *, upper: bool = False) -> str:
    """Validate a SQL identifier and quote it.

    Only letters, digits and underscores are accepted (not starting with a digit), so quoting cannot be escaped.

    Args:
        name: a column or table name.
        upper: upper-case it first, as Snowflake stores unquoted names (``"SMA_7"`` is the column ``sma_7``).

    Returns:
        The name in double quotes.

    Raises:
        UnsafeIdentifierError: for anything else.

    Examples:
        >>> quote_identifier("sma_7"), quote_identifier("sma_7", upper=True)
        ('"sma_7"', '"SMA_7"')
        >>> quote_identifier('x"; DROP TABLE raw_candles; --')
        Traceback (most recent call last):
        ...
        daap.warehouse.UnsafeIdentifierError: unsafe SQL identifier 'x"; DROP TABLE raw_candles; --': ...
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise UnsafeIdentifierError(
            f"unsafe SQL identifier {name!r}: use letters, digits and underscores, not starting with a digit"
        )
    return f'"{name.upper() if upper else name}"'


@dataclass(frozen=True)
class LoadResult:
    """What one ``load_candles`` call did.

    Attributes:
        inserted: rows new to ``raw_candles``.
        updated: rows whose key existed with different values.
        unchanged: rows identical to what was there (not rewritten).
        seconds: wall time of the load.
        source: what was loaded (``DataFrame``, or the lake and the number of day files).
        deleted: rows of a reloaded lake day that its new file no longer has (removed).

    Examples:
        >>> print(LoadResult(inserted=2, updated=1, unchanged=7, seconds=0.5, source="DataFrame"))
        10 candles from DataFrame: 2 inserted, 1 updated, 7 unchanged in 0.50 s
    """

    inserted: int
    updated: int
    unchanged: int
    seconds: float
    source: str
    deleted: int = 0

    @property
    def rows(self) -> int:
        """Rows read from the source: inserted + updated + unchanged.

        Examples:
            >>> LoadResult(inserted=2, updated=1, unchanged=7, seconds=0.5, source="DataFrame").rows
            10
        """
        return self.inserted + self.updated + self.unchanged

    def __str__(self) -> str:
        return (
            f"{self.rows:,} candles from {self.source}: {self.inserted:,} inserted, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged"
            + (f", {self.deleted:,} deleted" if self.deleted else "")
            + f" in {self.seconds:.2f} s"
        )


@dataclass(frozen=True)
class MartsResult:
    """What one ``build_marts`` call did.

    Attributes:
        rows: rows in ``fct_candle_metrics``.
        indicator_columns: the indicator columns it holds, in order.
        seconds: wall time.

    Examples:
        >>> print(MartsResult(rows=1440, indicator_columns=("sma_7", "close_price_7_period_sma"), seconds=0.25))
        stg_candles, fct_candle_metrics: 1,440 rows with sma_7, close_price_7_period_sma in 0.25 s
    """

    rows: int
    indicator_columns: tuple[str, ...]
    seconds: float

    def __str__(self) -> str:
        return (
            f"stg_candles, fct_candle_metrics: {self.rows:,} rows with {', '.join(self.indicator_columns)} "
            f"in {self.seconds:.2f} s"
        )


class WarehouseClient(Protocol):
    """What every backend client provides (the heavy half: it owns the connection).

    Examples:
        >>> client = WarehouseLoader("duckdb:///:memory:").client  # the DuckDB client behind the loader
        >>> type(client).__name__, client.connected
        ('DuckDBClient', False)
    """

    @classmethod
    def from_url(cls, url: str, **options: Any) -> WarehouseClient:
        """Parse the URL; must not connect.

        Examples:
            >>> from daap.warehouse.duckdb import DuckDBClient
            >>> client = DuckDBClient.from_url("duckdb:////tmp/daap/w.duckdb")
            >>> client, client.connected
            (DuckDBClient('/tmp/daap/w.duckdb'), False)
        """
        ...

    @property
    def connected(self) -> bool:
        """Whether a connection is open.

        Examples:
            >>> from daap.warehouse.duckdb import DuckDBClient
            >>> client = DuckDBClient.from_url("duckdb:///:memory:")
            >>> client.connected, client.sql("SELECT 1 AS one").empty, client.connected
            (False, False, True)
        """
        ...

    def load_candles(
        self,
        source: Any,
        *,
        symbol: str | None = None,
        interval: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> LoadResult:
        """Upsert candles into ``raw_candles``.

        Examples:
            >>> import daap, tempfile
            >>> from daap.warehouse.duckdb import DuckDBClient
            >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
            >>> client = DuckDBClient.from_url(f"duckdb:///{tempfile.mkdtemp()}/w.duckdb")
            >>> client.load_candles(candles).inserted, client.load_candles(candles).unchanged
            (11, 11)
            >>> client.close()
        """
        ...

    def build_marts(self, indicators: Any = None) -> MartsResult:
        """(Re)build ``stg_candles`` and ``fct_candle_metrics``.

        Examples:
            >>> import daap, tempfile
            >>> from daap.warehouse.duckdb import DuckDBClient
            >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
            >>> client = DuckDBClient.from_url(f"duckdb:///{tempfile.mkdtemp()}/w.duckdb")
            >>> _ = client.load_candles(candles)
            >>> marts = client.build_marts("ema:3")
            >>> marts.rows, marts.indicator_columns
            (11, ('ema_3', 'sma_7', 'close_price_7_period_sma'))
            >>> client.close()
        """
        ...

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Run a query, return its result.

        Examples:
            >>> from daap.warehouse.duckdb import DuckDBClient
            >>> DuckDBClient.from_url("duckdb:///:memory:").sql("SELECT count(*) AS n FROM raw_candles")["n"].item()
            0
        """
        ...

    def close(self) -> None:
        """Close the connection, if open.

        Examples:
            >>> from daap.warehouse.duckdb import DuckDBClient
            >>> client = DuckDBClient.from_url("duckdb:///:memory:")
            >>> _ = client.sql("SELECT 1")
            >>> client.close()
            >>> client.connected
            False
        """
        ...


def _scheme(url: str) -> str:
    if "://" in url:
        return url.split("://", 1)[0].lower()
    if url == ":memory:" or url.endswith((".duckdb", ".db")):
        return "duckdb"
    raise UnsupportedWarehouseError(
        f"unsupported warehouse URL {url!r}: use duckdb:///path/daap.duckdb or snowflake://user@account/database/schema"
    )


def _client_class(scheme: str) -> Any:
    import importlib

    target = _BACKENDS.get(scheme)
    if target is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="daap.warehouses") if ep.name == scheme]
        if found:
            return found[0].load()
        raise UnsupportedWarehouseError(
            f"unsupported warehouse scheme {scheme!r}: use duckdb:///path/daap.duckdb or "
            "snowflake://user@account/database/schema"
        )
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


class WarehouseLoader:
    """Load candles into a warehouse and build its marts: the light factory over a backend client.

    Args:
        url: warehouse URL (default ``$DAAP_WAREHOUSE`` or ``duckdb:///daap.duckdb``).
        **options: passed to the backend client (e.g. ``read_only=True`` for DuckDB, ``connection=`` an open
            Snowflake connection for Snowflake).

    Raises:
        UnsupportedWarehouseError: for an unknown scheme.

    Examples:
        >>> import tempfile, daap
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> with WarehouseLoader(f"duckdb:///{tempfile.mkdtemp()}/daap.duckdb") as wh:
        ...     print(wh.load_candles(candles).inserted, wh.load_candles(candles).unchanged)
        ...     print(wh.build_marts("sma:7,rsi:14").indicator_columns)
        ...     print(wh.sql("SELECT count(*) AS n FROM fct_candle_metrics")["n"].item() == len(candles))
        11 11
        ('sma_7', 'rsi_14', 'close_price_7_period_sma')
        True
        >>> WarehouseLoader("duckdb:///:memory:")
        WarehouseLoader('duckdb:///:memory:')
        >>> sf = WarehouseLoader("snowflake://jane@myorg-acct/DAAP/MARTS?warehouse=DAAP_WH")  # parsed, not connected
        >>> sf.backend, sf.connected
        ('snowflake', False)
        >>> WarehouseLoader("postgres://localhost/db")
        Traceback (most recent call last):
        ...
        daap.warehouse.UnsupportedWarehouseError: unsupported warehouse scheme 'postgres': ...
    """

    def __init__(self, url: str | Path | None = None, **options: Any) -> None:
        text = str(url) if url is not None else os.environ.get("DAAP_WAREHOUSE") or DEFAULT_WAREHOUSE
        self.url = text
        self.backend = _scheme(text)
        # Parse eagerly (cheap: no connection, no driver import), so a bad URL fails here and not at first use.
        self._client: WarehouseClient = _client_class(self.backend).from_url(text, **options)

    def __repr__(self) -> str:
        return f"WarehouseLoader({self.url!r})"

    def __enter__(self) -> WarehouseLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> WarehouseClient:
        """The backend client (it connects on its first query).

        Examples:
            >>> WarehouseLoader("duckdb:///:memory:").client
            DuckDBClient(':memory:')
            >>> WarehouseLoader("snowflake://jane@myorg-acct/DAAP/MARTS").client
            SnowflakeClient('snowflake://jane@myorg-acct/DAAP/MARTS')
        """
        return self._client

    @property
    def connected(self) -> bool:
        """Whether the client has opened its connection.

        Examples:
            >>> wh = WarehouseLoader("duckdb:///:memory:")
            >>> wh.connected
            False
            >>> _ = wh.sql("SELECT 1")
            >>> wh.connected
            True
        """
        return self._client.connected

    def load_candles(
        self,
        source: Any,
        *,
        symbol: str | None = None,
        interval: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> LoadResult:
        """Upsert candles into ``raw_candles``, keyed ``(symbol, interval, open_time)``, in one transaction.

        Args:
            source: a candles DataFrame or Arrow table (contract columns), a :class:`daap.Lake`, or a lake URI
                as ``str``/``Path``; a lake is read from its ``candles/`` zone.
            symbol: only this symbol (validated: upper-case letters and digits).
            interval: only this interval (a lake defaults to ``1m``).
            start: first UTC day to load (inclusive).
            end: last UTC day to load (inclusive).

        Returns:
            Counts of inserted, updated and unchanged rows. Loading the same data twice inserts nothing.

        Raises:
            WarehouseError: invalid symbol or interval, missing columns, duplicate keys, or a failed load (the
                previous state is kept).

        Examples:
            >>> import daap, tempfile
            >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
            >>> wh = WarehouseLoader(f"duckdb:///{tempfile.mkdtemp()}/w.duckdb")
            >>> print(wh.load_candles(candles, symbol="BTCUSDT").inserted)
            11
            >>> candles.loc[0, "close"] += 1.0
            >>> r = wh.load_candles(candles)  # a rerun: only the changed candle is written
            >>> r.inserted, r.updated, r.unchanged
            (0, 1, 10)
            >>> wh.load_candles(candles, symbol="btcusdt")
            Traceback (most recent call last):
            ...
            daap.warehouse.WarehouseError: invalid symbol 'btcusdt': expected upper-case letters and digits, ...
            >>> wh.close()
        """
        return self.client.load_candles(source, symbol=symbol, interval=interval, start=start, end=end)

    def build_marts(self, indicators: Any = None) -> MartsResult:
        """(Re)build ``stg_candles`` (a view) and ``fct_candle_metrics`` (a table) from the SQL models.

        Args:
            indicators: a spec string (``"sma:7,ema:21,rsi:14"``), a list of :mod:`daap.indicators` specs, or
                ``None`` for ``indicators.DEFAULT``. SMA(7) is always added for ``close_price_7_period_sma``.

        Returns:
            The row count and the indicator columns.

        Examples:
            >>> import daap, tempfile
            >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
            >>> wh = WarehouseLoader(f"duckdb:///{tempfile.mkdtemp()}/w.duckdb")
            >>> _ = wh.load_candles(candles)
            >>> wh.build_marts("sma:7,rsi:14").indicator_columns
            ('sma_7', 'rsi_14', 'close_price_7_period_sma')
            >>> sma = wh.sql("SELECT round(sma_7, 2) AS s FROM fct_candle_metrics ORDER BY candle_start_time")["s"]
            >>> sma.tolist()[5:]
            [nan, 93659.19, 93659.34, 93653.61, 93640.03, 93630.87]
            >>> wh.close()
        """
        return self.client.build_marts(indicators)

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Run a SQL query (values as ``params``, never spliced) and return the result as a DataFrame.

        Examples:
            >>> wh = WarehouseLoader("duckdb:///:memory:")
            >>> wh.sql("SELECT $symbol AS symbol, $n * 2 AS n", {"symbol": "BTCUSDT", "n": 21}).to_dict("records")
            [{'symbol': 'BTCUSDT', 'n': 42}]
        """
        return self.client.sql(query, params)

    def close(self) -> None:
        """Close the connection, if one was opened (a later query reopens it).

        Examples:
            >>> wh = WarehouseLoader("duckdb:///:memory:")
            >>> _ = wh.sql("SELECT 1")
            >>> wh.close()
            >>> wh.connected
            False
        """
        self._client.close()
