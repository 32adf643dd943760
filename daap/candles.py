"""``CandleBuilder``: a thin facade that parses the interval and hands the work to an engine.

Examples:
    >>> import daap
    >>> builder = daap.CandleBuilder("1m")
    >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv")
    >>> candles = builder.build(trades)
    >>> int(candles["trades"].sum()), list(candles.columns[:4])
    (12000, ['symbol', 'interval', 'open_time', 'close_time'])
    >>> five = builder.rollup(candles, "5m")
    >>> five["trades"].tolist() == daap.CandleBuilder("5m").build(trades)["trades"].tolist()
    True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daap.engines import BuildSummary, Engine, get_engine
from daap.intervals import Interval

if TYPE_CHECKING:
    from daap.lake import Lake

__all__ = ["CandleBuilder"]


class CandleBuilder:
    """Builds OHLCV candles in the daap contract with a pluggable engine.

    Args:
        interval: ``1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M`` or any ``Ns``/``Nm``/``Nh`` dividing a day.
        engine: an engine name (``"pandas"``, the default) or an engine instance.
        fill_gaps: add Binance-style gap rows for buckets without trades between traded ones.
        validate: check the output against :class:`daap.schemas.Candles` (raises
            :class:`~daap.errors.ValidationError`).

    Raises:
        InvalidIntervalError: an unsupported interval.
        UnknownEngineError: no engine has that name.
        MissingDependencyError: the engine's extra is not installed.

    Examples:
        >>> builder = CandleBuilder("5m", fill_gaps=False)
        >>> builder
        CandleBuilder(interval='5m', engine='pandas', fill_gaps=False)
        >>> builder.interval.step_us
        300000000
    """

    def __init__(
        self,
        interval: str | Interval = "1m",
        engine: str | Engine = "pandas",
        *,
        fill_gaps: bool = True,
        validate: bool = False,
    ) -> None:
        self.interval = Interval.parse(interval)
        self.engine = get_engine(engine)
        self.fill_gaps = fill_gaps
        self.validate = validate

    def __repr__(self) -> str:
        return (
            f"CandleBuilder(interval={self.interval.name!r}, engine={self.engine.name!r}, fill_gaps={self.fill_gaps})"
        )

    def build(self, trades: Any, **options: Any) -> Any:
        """Candles from in-memory trades (for pandas: a DataFrame in the normalized trade schema).

        Examples:
            >>> import daap
            >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
            >>> candles = CandleBuilder("1m").build(trades)
            >>> candles["trades"].tolist(), str(candles["open_time"].iloc[0])
            ([1279, 964, 1000], '2021-01-02 00:00:00+00:00')
        """
        return self._checked(self.engine.build(trades, self.interval, fill_gaps=self.fill_gaps, **options))

    def rollup(self, candles: Any, interval: str | Interval, **options: Any) -> Any:
        """Roll candles up to a coarser interval (e.g. ``1m`` to ``5m``); equal to building it from trades.

        Examples:
            >>> import daap
            >>> builder = CandleBuilder("1m")
            >>> minutes = builder.build(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"))
            >>> hour = builder.rollup(minutes, "1h")
            >>> hour["interval"].tolist(), hour["open"].tolist(), hour["close"].tolist(), hour["trades"].tolist()
            (['1h'], [29331.7], [29273.13], [3243])
        """
        target = Interval.parse(interval)
        return self._checked(self.engine.rollup(candles, target, fill_gaps=self.fill_gaps, **options))

    def build_files(
        self, inputs: str | Path | Sequence[str | Path], output: str | Path, **options: Any
    ) -> BuildSummary:
        """Stream trade files (zip, csv, csv.gz, Parquet; or folders of them) to a candles Parquet file.

        Examples:
            >>> import tempfile
            >>> out = Path(tempfile.mkdtemp()) / "candles.parquet"
            >>> summary = CandleBuilder("1m").build_files("tests/data/BTCUSDT-trades-2021-01-02.csv", out)
            >>> summary.rows_in, summary.candles_out, out.exists()
            (3243, 3, True)
        """
        items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        if self.validate:
            options.setdefault("validate", True)
        return self.engine.build_files(items, output, self.interval, fill_gaps=self.fill_gaps, **options)

    def build_lake(
        self,
        lake: Lake | str | Path,
        symbol: str,
        *,
        market: str = "spot",
        start: dt.date | None = None,
        end: dt.date | None = None,
        **options: Any,
    ) -> BuildSummary:
        """Build candles from the lake's bronze trades and write them to its ``candles/`` zone, one part per day.

        Rebuilding a range overwrites the same day objects, so reruns never duplicate. Building by parts (May 1-15,
        then May 16-31) gives the same files as one build: the neighbouring days already in the lake are rewritten
        with the gap rows across the edges (engines with their own ``build_lake``, such as Spark, do not stitch yet).

        Raises:
            DaapError: when the lake holds no bronze trades for the symbol and range.

        Examples:
            >>> import tempfile, daap
            >>> lake = daap.Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> summary = CandleBuilder("1h").build_lake(lake, "BTCUSDT")
            >>> summary.candles_out, lake.candle_keys("1h")
            (4, ['candles/interval=1h/symbol=BTCUSDT/date=2023-03-24/candles.parquet'])
        """
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        from daap._stitch import stitch
        from daap.contract import CANDLES_SCHEMA
        from daap.errors import DaapError
        from daap.lake import Lake

        the_lake = lake if isinstance(lake, Lake) else Lake(lake)
        engine_build = getattr(self.engine, "build_lake", None)
        if engine_build is not None:  # e.g. Spark reads and writes the lake itself, on the cluster
            return engine_build(  # type: ignore[no-any-return]
                the_lake,
                symbol,
                self.interval,
                market=market,
                start=start,
                end=end,
                fill_gaps=self.fill_gaps,
                validate=self.validate,
                **options,
            )
        keys = the_lake.bronze_keys(symbol, market=market, start=start, end=end)
        if not keys:
            span = f" from {start or '...'} to {end or '...'}" if (start or end) else ""
            raise DaapError(f"no bronze trades for {market} {symbol}{span} in {the_lake.uri}; ingest some first")
        with the_lake.local_files(keys) as paths, tempfile.TemporaryDirectory(prefix="daap-candles-") as tmp:
            out = Path(tmp) / "candles.parquet"
            summary = self.build_files(paths, out, **options)
            table = pq.read_table(out)
            days = pc.strftime(table.column("open_time"), format="%Y-%m-%d")
            frames = {
                day: table.filter(pc.equal(days, pa.scalar(day))).to_pandas()
                for day in sorted({str(d) for d in days.to_pylist()})
            }
            if self.fill_gaps:  # gap rows across the range's edges, as one build of everything would make them
                frames = stitch(the_lake, symbol, self.interval, frames)
            for day, frame in frames.items():
                part = Path(tmp) / f"{day}.parquet"
                day_table = pa.Table.from_pandas(frame, schema=CANDLES_SCHEMA, preserve_index=False)
                # Without pandas' metadata, a day's file is the same bytes whichever path (batch, stitched) made it.
                pq.write_table(day_table.replace_schema_metadata(None), part, compression="zstd")
                the_lake.store.put_file(part, the_lake.candles_key(self.interval.name, symbol, day))
        zone = f"{the_lake.uri}/candles/interval={self.interval.name}/symbol={symbol}"
        return dataclasses.replace(summary, output=zone)

    def _checked(self, candles: Any) -> Any:
        if self.validate:
            engine_check = getattr(self.engine, "validate_candles", None)  # engines with their own frames
            if engine_check is not None:
                return engine_check(candles)
            from daap.schemas import validate_candles

            validate_candles(candles)
        return candles
