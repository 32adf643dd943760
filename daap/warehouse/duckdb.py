"""The DuckDB warehouse client: a local file, the embedded default warehouse.

Importing this module does not import ``duckdb``; :class:`DuckDBClient` connects on its first query. Every load
runs in one transaction (``BEGIN`` / ``COMMIT``, ``ROLLBACK`` on any error): stage the source, classify each row
against ``raw_candles`` (new, changed, identical), ``MERGE`` the new and changed rows, log the counts. The SQL lives
in ``daap/warehouse/sql/*.sql``; values are always bound as parameters.

Example:
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> client = DuckDBClient.from_url(f"duckdb:///{pathlib.Path(tempfile.mkdtemp()) / 'w.duckdb'}")
    >>> t = pd.Timestamp("2025-01-01", tz="UTC")
    >>> candles = pd.DataFrame({
    ...     "symbol": ["BTCUSDT"], "interval": ["1m"], "open_time": [t],
    ...     "close_time": [t + pd.Timedelta(minutes=1) - pd.Timedelta(microseconds=1)],
    ...     "open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5], "volume": [3.0], "quote_volume": [4.5],
    ...     "trades": [2], "taker_buy_volume": [1.0], "taker_buy_quote_volume": [1.5], "vwap": [1.5],
    ...     "first_trade_id": [10], "last_trade_id": [11]})
    >>> r = client.load_candles(candles)
    >>> (r.inserted, r.updated, r.unchanged)
    (1, 0, 0)
    >>> r = client.load_candles(candles)
    >>> (r.inserted, r.updated, r.unchanged)
    (0, 0, 1)
    >>> client.close()
"""

from __future__ import annotations

import datetime as dt
import re
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daap.contract import CANDLE_COLUMNS
from daap.warehouse import LoadResult, MartsResult, UnsupportedWarehouseError, WarehouseError, quote_identifier

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["DuckDBClient", "read_model"]

_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_KEY_DATE = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/")
#: The original marts' name for SMA(7) of the close.
SMA7_ALIAS = "close_price_7_period_sma"


def read_model(name: str) -> str:
    """The text of a SQL model in ``daap/warehouse/sql/``.

    Example:
        >>> "CREATE OR REPLACE VIEW stg_candles" in read_model("stg_candles")
        True
    """
    return (resources.files("daap.warehouse") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def _check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise WarehouseError(f"invalid symbol {symbol!r}: expected upper-case letters and digits, e.g. BTCUSDT")
    return symbol


def _check_interval(interval: str) -> str:
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


class DuckDBClient:
    """A DuckDB file as the warehouse (the heavy client behind :class:`daap.WarehouseLoader`).

    Args:
        path: the database file (created with its folder), or ``":memory:"``.
        read_only: open the file read-only (e.g. for ``daap sql``).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self.read_only = read_only
        self._con: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DuckDBClient:
        """Parse ``duckdb:///relative.duckdb``, ``duckdb:////absolute.duckdb``, ``duckdb:///:memory:`` or a path.

        Example:
            >>> DuckDBClient.from_url("duckdb:///daap.duckdb").path
            PosixPath('daap.duckdb')
            >>> DuckDBClient.from_url("duckdb:////tmp/w.duckdb").path
            PosixPath('/tmp/w.duckdb')
        """
        if "://" in url:
            scheme, rest = url.split("://", 1)
            if scheme.lower() != "duckdb" or not rest.startswith("/"):
                raise UnsupportedWarehouseError(f"not a DuckDB URL: {url!r} (expected duckdb:///path/daap.duckdb)")
            rest = rest[1:].split("?", 1)[0]
        else:
            rest = url
        if not rest:
            raise UnsupportedWarehouseError(f"DuckDB URL without a path: {url!r} (expected duckdb:///daap.duckdb)")
        return cls(rest, **options)

    def __repr__(self) -> str:
        return f"DuckDBClient({str(self.path)!r})"

    # ---------------------------------------------------------------------------------------------- connection
    @property
    def connected(self) -> bool:
        """Whether the connection is open."""
        return self._con is not None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection, opened (and the schema created) on first use."""
        if self._con is None:
            try:
                import duckdb
            except ImportError as exc:  # pragma: no cover - duckdb is a dependency of the default warehouse
                from daap.errors import MissingDependencyError

                raise MissingDependencyError("the DuckDB warehouse", "duckdb") from exc
            if isinstance(self.path, Path):
                if not self.read_only:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(self.path), read_only=self.read_only)
            else:
                con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")
            if not self.read_only:
                con.execute(read_model("raw_candles"))
            self._con = con
        return self._con

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Run one query with bound parameters and return its result (empty for statements without one).

        Example:
            >>> DuckDBClient(":memory:").sql("SELECT $x + 1 AS y", {"x": 41}).to_dict("records")
            [{'y': 42}]
        """
        import duckdb
        import pandas as pd

        try:
            rel = self.con.execute(query, params)
            if rel.description is None:
                return pd.DataFrame()
            return rel.df()
        except duckdb.Error as exc:
            raise WarehouseError(f"query failed: {exc}") from exc

    # -------------------------------------------------------------------------------------------------- loads
    def load_candles(
        self,
        source: Any,
        *,
        symbol: str | None = None,
        interval: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> LoadResult:
        """Upsert candles into ``raw_candles`` in one transaction (see :meth:`daap.WarehouseLoader.load_candles`)."""
        from daap.lake import Lake

        t0 = time.perf_counter()
        if symbol is not None:
            _check_symbol(symbol)
        if interval is not None:
            interval = _check_interval(interval)
        first, last = _day(start, "start"), _day(end, "end")
        if first and last and first > last:
            raise WarehouseError(f"start {first} is after end {last}")
        params = {
            "symbol": symbol,
            "interval": interval,
            "start": _utc(first),
            "end": _utc(last + dt.timedelta(days=1)) if last else None,
        }
        if isinstance(source, (str, Path)):
            source = Lake(source)
        if isinstance(source, Lake):
            keys = self._lake_keys(source, symbol, interval or "1m", first, last)
            if not keys:
                raise WarehouseError(
                    f"no candles in {source.uri} for interval={interval or '1m'}"
                    + (f", symbol={symbol}" if symbol else "")
                    + (f", {first} .. {last}" if first or last else "")
                    + ": build them first (daap candles --lake ...)"
                )
            with source.local_files(keys) as paths:
                counts, deleted = self._load(
                    "read_parquet($files)", {**params, "files": [str(p) for p in paths]}, "lake", None, prune=True
                )
            label = f"{source.uri} ({len(keys)} day file(s))"
        else:
            counts, deleted = self._load("_daap_src", params, "DataFrame", self._as_arrow(source))
            label = "DataFrame"
        return LoadResult(*counts, seconds=time.perf_counter() - t0, source=label, deleted=deleted)

    @staticmethod
    def _lake_keys(
        lake: Any, symbol: str | None, interval: str, first: dt.date | None, last: dt.date | None
    ) -> list[str]:
        prefix = f"candles/interval={interval}/" + (f"symbol={symbol}/" if symbol else "")
        keys = []
        for obj in lake.store.list(prefix):
            m = _KEY_DATE.search(obj.key)
            if not obj.key.endswith("/candles.parquet") or m is None:
                continue
            day = dt.date.fromisoformat(m.group(1))
            if (first is None or day >= first) and (last is None or day <= last):
                keys.append(obj.key)
        return keys

    @staticmethod
    def _as_arrow(source: Any) -> Any:
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

    def _load(
        self, relation: str, params: dict[str, Any], what: str, table: Any, *, prune: bool = False
    ) -> tuple[tuple[int, int, int], int]:
        """Run the load transaction; returns ((inserted, updated, unchanged), deleted).

        With ``prune`` (lake loads: whole day files), rows of a loaded day that the new file lacks are deleted.
        """
        import duckdb

        con = self.con
        if table is not None:
            con.register("_daap_src", table)
        con.execute("BEGIN TRANSACTION")
        try:
            self._stage(relation, params)
            self._check_stage()
            counts = self._classify()
            self._merge()
            deleted = 0
            if prune:
                before = self._count()
                con.execute(read_model("prune_replaced_days"))
                deleted = before - self._count()
            self._record(what, counts)
            con.execute("DROP TABLE _daap_delta")
            con.execute("DROP TABLE _daap_stage")
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise WarehouseError(f"load failed, nothing was changed: {exc}") from exc
            raise
        finally:
            if table is not None:
                con.unregister("_daap_src")
        return counts, deleted

    def _count(self) -> int:
        ((n,),) = self.con.execute("SELECT count(*) FROM raw_candles").fetchall()
        return int(n)

    def _stage(self, relation: str, params: dict[str, Any]) -> None:
        sql = read_model("stage_candles").replace("{{source}}", relation)
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        self.con.execute(sql, used)

    def _check_stage(self) -> None:
        con = self.con
        bad = con.execute(
            "SELECT DISTINCT symbol FROM _daap_stage WHERE symbol IS NULL OR NOT regexp_full_match(symbol, ?) LIMIT 3",
            [_SYMBOL.pattern.strip("^$")],
        ).fetchall()
        if bad:
            raise WarehouseError(f"invalid symbol(s) in the candles: {', '.join(repr(b[0]) for b in bad)}")
        for (iv,) in con.execute("SELECT DISTINCT interval FROM _daap_stage").fetchall():
            _check_interval(iv)
        ((repeated,),) = con.execute(
            "SELECT count(*) - count(DISTINCT (symbol, interval, open_time)) FROM _daap_stage"
        ).fetchall()
        if repeated:
            raise WarehouseError(f"the candles repeat {repeated:,} (symbol, interval, open_time) key(s)")

    def _classify(self) -> tuple[int, int, int]:
        con = self.con
        con.execute(read_model("classify_candles"))
        counts = dict(con.execute("SELECT _change, count(*) FROM _daap_delta GROUP BY _change").fetchall())
        return int(counts.get("inserted", 0)), int(counts.get("updated", 0)), int(counts.get("unchanged", 0))

    def _merge(self) -> None:
        self.con.execute(read_model("merge_raw_candles"))

    def _record(self, what: str, counts: tuple[int, int, int]) -> None:
        self.con.execute(
            "INSERT INTO _daap_loads VALUES (now(), ?, ?, ?, ?, ?)", [what, sum(counts), *counts]
        )

    # -------------------------------------------------------------------------------------------------- marts
    def build_marts(self, indicators: Any = None) -> MartsResult:
        """Rebuild ``stg_candles`` and ``fct_candle_metrics`` (see :meth:`daap.WarehouseLoader.build_marts`)."""
        import duckdb

        t0 = time.perf_counter()
        frame, columns = self._indicator_frame(indicators)
        select = [f"i.{quote_identifier(c)} AS {quote_identifier(c)}" for c in columns]
        select.append(f"i.{quote_identifier('sma_7')} AS {quote_identifier(SMA7_ALIAS)}")
        fct = read_model("fct_candle_metrics").replace("{{indicator_columns}}", ",\n    ".join(select))
        con = self.con
        con.register("_daap_indicators", frame)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(read_model("stg_candles"))
            con.execute(fct)
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise WarehouseError(f"building the marts failed, nothing was changed: {exc}") from exc
            raise
        finally:
            con.unregister("_daap_indicators")
        ((rows,),) = con.execute("SELECT count(*) FROM fct_candle_metrics").fetchall()
        return MartsResult(
            rows=int(rows),
            indicator_columns=(*columns, SMA7_ALIAS),
            seconds=time.perf_counter() - t0,
        )

    def _indicator_frame(self, indicators: Any) -> tuple[Any, list[str]]:
        """Indicators of every (symbol, interval) series, computed by ``daap.indicators`` in open_time order."""
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
        candles = self.con.execute(
            "SELECT * FROM raw_candles ORDER BY symbol, interval, open_time"
        ).df()
        # daap.indicators computes each (symbol, interval) series on its own, in open_time order.
        frame = ind.add(candles, specs)[["symbol", "interval", "open_time", *columns]]
        return frame, columns
