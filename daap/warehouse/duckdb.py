"""The DuckDB warehouse client: a local file, the embedded default warehouse.

Importing this module does not import ``duckdb``; :class:`DuckDBClient` connects on its first query. Every load
runs in one transaction (``BEGIN`` / ``COMMIT``, ``ROLLBACK`` on any error): stage the source, classify each row
against ``raw_candles`` (new, changed, identical), ``MERGE`` the new and changed rows, log the counts. The SQL lives
in ``daap/warehouse/sql/*.sql`` (:mod:`daap.warehouse.models`); values are always bound as parameters.

Examples:
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
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daap.warehouse import LoadResult, MartsResult, UnsupportedWarehouseError, WarehouseError
from daap.warehouse._common import (
    RECORD_LOAD_SQL,
    REPEATED_KEYS_SQL,
    SMA7_ALIAS,
    STAGED_PAIRS_SQL,
    LoadWindow,
    as_lake,
    candles_table,
    check_staged,
    indicator_frame,
    indicator_select,
    indicator_specs,
)
from daap.warehouse.models import read_model

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["DuckDBClient", "read_model"]


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

        Examples:
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

        Examples:
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
        t0 = time.perf_counter()
        window = LoadWindow.of(symbol, interval, start, end)
        lake = as_lake(source)
        if lake is not None:
            keys = window.lake_keys(lake)
            with lake.local_files(keys) as paths:
                files = [str(p) for p in paths]
                counts, deleted = self._load(
                    "read_parquet($files)", {**window.params, "files": files}, "lake", None, prune=True
                )
            label = f"{lake.uri} ({len(keys)} day file(s))"
        else:
            counts, deleted = self._load("_daap_src", window.params, "DataFrame", candles_table(source))
            label = "DataFrame"
        return LoadResult(*counts, seconds=time.perf_counter() - t0, source=label, deleted=deleted)

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
        ((repeated,),) = con.execute(REPEATED_KEYS_SQL).fetchall()
        check_staged(con.execute(STAGED_PAIRS_SQL).fetchall(), repeated)

    def _classify(self) -> tuple[int, int, int]:
        con = self.con
        con.execute(read_model("classify_candles"))
        counts = dict(con.execute("SELECT _change, count(*) FROM _daap_delta GROUP BY _change").fetchall())
        return int(counts.get("inserted", 0)), int(counts.get("updated", 0)), int(counts.get("unchanged", 0))

    def _merge(self) -> None:
        self.con.execute(read_model("merge_raw_candles"))

    def _record(self, what: str, counts: tuple[int, int, int]) -> None:
        self.con.execute(RECORD_LOAD_SQL, [what, sum(counts), *counts])

    # -------------------------------------------------------------------------------------------------- marts
    def build_marts(self, indicators: Any = None) -> MartsResult:
        """Rebuild ``stg_candles`` and ``fct_candle_metrics`` (see :meth:`daap.WarehouseLoader.build_marts`)."""
        import duckdb

        t0 = time.perf_counter()
        frame, columns = self._indicator_frame(indicators)
        fct = read_model("fct_candle_metrics").replace("{{indicator_columns}}", indicator_select(columns))
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
        specs, columns = indicator_specs(indicators)
        candles = self.con.execute("SELECT * FROM raw_candles ORDER BY symbol, interval, open_time").df()
        return indicator_frame(candles, specs, columns), columns
