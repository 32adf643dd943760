"""The default engine: streaming pyarrow parsing and numpy kernels, returning pandas DataFrames.

How it works. Every batch of trades is reduced to *partial candles* (one row per symbol and bucket, carrying the
``(time, trade_id)`` of its open and close trades). Partial candles merge associatively, so the result does not
depend on row order, chunk size or file split. When the input arrives in time order (Binance files do), buckets
older than the newest one are final: they are spilled to disk and memory stays flat. Out-of-order input is still
exact; it keeps the partial candles in memory instead.

Examples:
    >>> import daap
    >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
    >>> candles = daap.CandleBuilder("1m").build(trades)
    >>> candles["trades"].tolist()
    [1279, 964, 1000]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time as _time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from daap.contract import CANDLE_COLUMNS, CANDLES_SCHEMA
from daap.engines import BuildSummary, Capabilities
from daap.errors import InputFormatError, InvalidIntervalError
from daap.intervals import Interval
from daap.progress import bar, content_size
from daap.trades import DEFAULT_BLOCK_BYTES, TradeBlock, block_from_frame, iter_blocks, peek_first_time

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PandasEngine", "candles_to_pandas"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_INT64_MIN = np.iinfo(np.int64).min
_SPILL_ROWS = 1 << 16
_INPUT_SUFFIXES = (".zip", ".csv", ".gz", ".parquet", ".pq")


@dataclass
class Partial:
    """Partial candles: one row per (symbol code, bucket index), mergeable in any order."""

    sym: npt.NDArray[np.int32]
    idx: I64
    o_t: I64
    o_id: I64
    open: F64
    c_t: I64
    c_id: I64
    close: F64
    high: F64
    low: F64
    volume: F64
    quote_volume: F64
    trades: I64
    tb_volume: F64
    tb_quote_volume: F64
    id_min: I64
    id_max: I64

    def __len__(self) -> int:
        return int(self.idx.shape[0])

    def take(self, sel: Any) -> Partial:
        """Rows selected by a mask or an index array."""
        cols: dict[str, Any] = {f.name: getattr(self, f.name)[sel] for f in fields(self)}
        return Partial(**cols)

    @staticmethod
    def concat(parts: Sequence[Partial]) -> Partial:
        """Rows of all parts, in order."""
        parts = [p for p in parts if len(p)] or list(parts[:1]) or [Partial.empty()]
        if len(parts) == 1:
            return parts[0]
        cols: dict[str, Any] = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Partial)}
        return Partial(**cols)

    @staticmethod
    def empty() -> Partial:
        """No rows."""
        cols: dict[str, Any] = {
            f.name: np.empty(0, dtype=np.int32 if f.name == "sym" else np.float64 if f.type == "F64" else np.int64)
            for f in fields(Partial)
        }
        return Partial(**cols)

    def to_arrow(self) -> pa.Table:
        """As an Arrow table (for spilling)."""
        return pa.table({f.name: getattr(self, f.name) for f in fields(self)})

    @staticmethod
    def from_arrow(table: pa.Table | pa.RecordBatch) -> Partial:
        """Back from :meth:`to_arrow`."""
        return Partial(**{f.name: table.column(f.name).to_numpy() for f in fields(Partial)})


def _group_starts(sym: npt.NDArray[np.int32] | None, idx: I64) -> I64:
    change = np.diff(idx) != 0
    if sym is not None:
        change |= np.diff(sym) != 0
    return np.concatenate((np.zeros(1, dtype=np.int64), np.flatnonzero(change) + 1))


_UNORDERED, _ORDERED, _IDS_INCREASING = 0, 1, 2


def _order_state(sym: npt.NDArray[np.int32] | None, t: I64, tid: I64) -> int:
    """Whether rows are sorted by (symbol, time, trade_id), and whether ids also increase (Binance files)."""
    if sym is not None:
        ds = np.diff(sym)
        dt, did = np.diff(t), np.diff(tid)
        return _ORDERED if ((ds > 0) | ((ds == 0) & ((dt > 0) | ((dt == 0) & (did > 0))))).all() else _UNORDERED
    if not (t[1:] >= t[:-1]).all():
        return _UNORDERED
    if (tid[1:] > tid[:-1]).all():
        return _IDS_INCREASING
    return _ORDERED if ((tid[1:] > tid[:-1]) | (t[1:] != t[:-1])).all() else _UNORDERED


def partial_from_trades(block: TradeBlock, interval: Interval, code_map: npt.NDArray[np.int32]) -> Partial:
    """Reduce a batch of trades to partial candles.

    Args:
        block: the trades.
        interval: the candle interval.
        code_map: global symbol code of each of ``block.symbols``.
    """
    n = len(block)
    if n == 0:
        return Partial.empty()
    t, tid, price = block.time, block.trade_id, block.price
    qty, qq, ibm = block.qty, block.quote_qty, block.is_buyer_maker
    # aggTrades: a row stands for the trades tid..last (one taker order, one price, one time).
    last = block.last_trade_id
    sym = None if block.codes is None else code_map[block.codes]
    # Order by (symbol, time, trade_id) unless it already is (Binance files are).
    state = _order_state(sym, t, tid)
    if state == _UNORDERED:
        order = np.lexsort((tid, t) if sym is None else (tid, t, sym))
        t, tid, price, qty, qq, ibm = t[order], tid[order], price[order], qty[order], qq[order], ibm[order]
        if sym is not None:
            sym = sym[order]
        if last is not None:
            last = last[order]
    first, final = int(interval.index_of(t[0])), int(interval.index_of(t[-1]))
    if sym is None and final - first < n:
        # One symbol in time order: find the bucket edges by binary search instead of bucketing every row.
        bucket_idx = np.arange(first, final + 1, dtype=np.int64)
        starts = np.searchsorted(t, interval.start_of(bucket_idx), side="left")
        starts[0] = 0
        nonempty = np.diff(np.append(starts, n)) > 0
        starts, idx_of_start = starts[nonempty], bucket_idx[nonempty]
    else:
        idx = interval.index_of(t)
        starts = _group_starts(sym, idx)
        idx_of_start = idx[starts]
    ends = np.append(starts[1:], n) - 1
    taker = ~ibm
    hi_id = tid if last is None else last
    trades = np.diff(np.append(starts, n)) if last is None else np.add.reduceat(last - tid + 1, starts)
    return Partial(
        sym=np.full(starts.shape[0], code_map[0], dtype=np.int32) if sym is None else sym[starts],
        idx=idx_of_start,
        o_t=t[starts],
        o_id=tid[starts],
        open=price[starts],
        c_t=t[ends],
        c_id=hi_id[ends],
        close=price[ends],
        high=np.maximum.reduceat(price, starts),
        low=np.minimum.reduceat(price, starts),
        volume=np.add.reduceat(qty, starts),
        quote_volume=np.add.reduceat(qq, starts),
        trades=trades,
        tb_volume=np.add.reduceat(np.where(taker, qty, 0.0), starts),
        tb_quote_volume=np.add.reduceat(np.where(taker, qq, 0.0), starts),
        id_min=tid[starts] if state == _IDS_INCREASING else np.minimum.reduceat(tid, starts),
        id_max=hi_id[ends] if state == _IDS_INCREASING else np.maximum.reduceat(hi_id, starts),
    )


def merge_partials(parts: Sequence[Partial]) -> Partial:
    """Merge partial candles that may share buckets; the result is sorted by (symbol, bucket).

    Open and close come from the smallest and largest ``(time, trade_id)``, whatever the order of ``parts``.
    """
    a = Partial.concat(parts)
    if len(a) <= 1:
        return a
    order = np.lexsort((a.o_id, a.o_t, a.idx, a.sym))
    a = a.take(order)
    starts = _group_starts(a.sym, a.idx)
    if starts.shape[0] == len(a):
        return a
    close_order = np.lexsort((a.c_id, a.c_t, a.idx, a.sym))
    ends = np.append(starts[1:], len(a)) - 1
    last = close_order[ends]
    return Partial(
        sym=a.sym[starts],
        idx=a.idx[starts],
        o_t=a.o_t[starts],
        o_id=a.o_id[starts],
        open=a.open[starts],
        c_t=a.c_t[last],
        c_id=a.c_id[last],
        close=a.close[last],
        high=np.maximum.reduceat(a.high, starts),
        low=np.minimum.reduceat(a.low, starts),
        volume=np.add.reduceat(a.volume, starts),
        quote_volume=np.add.reduceat(a.quote_volume, starts),
        trades=np.add.reduceat(a.trades, starts),
        tb_volume=np.add.reduceat(a.tb_volume, starts),
        tb_quote_volume=np.add.reduceat(a.tb_quote_volume, starts),
        id_min=np.minimum.reduceat(a.id_min, starts),
        id_max=np.maximum.reduceat(a.id_max, starts),
    )


@dataclass
class _Carry:
    """The last finalized bucket of a symbol, for gap rows across batches."""

    idx: int
    close: float


def finalize(
    p: Partial, interval: Interval, symbol: str, *, fill_gaps: bool, carry: _Carry | None = None
) -> tuple[pa.Table, _Carry | None]:
    """Turn one symbol's merged partial candles (sorted by bucket) into contract candles.

    With ``fill_gaps``, buckets between traded ones (and after ``carry``, the previous batch's last bucket) become
    gap rows priced at the previous close.
    """
    if len(p) == 0:
        return CANDLES_SCHEMA.empty_table(), carry
    idx, open_, high, low, close = p.idx, p.open, p.high, p.low, p.close
    vol, qvol, n, tbv, tbq = p.volume, p.quote_volume, p.trades, p.tb_volume, p.tb_quote_volume
    traded = np.ones(len(p), dtype=bool)
    if fill_gaps:
        lo = int(idx[0]) if carry is None else carry.idx + 1
        span = int(idx[-1]) - lo + 1
        if span != len(p):
            pos = idx - lo
            traded = np.zeros(span, dtype=bool)
            traded[pos] = True
            last = np.maximum.accumulate(np.where(traded, np.arange(span), -1))
            close_full = np.zeros(span)
            close_full[pos] = close
            prev = np.where(last >= 0, close_full[np.maximum(last, 0)], carry.close if carry else np.nan)

            def spread(values: Any, fill: Any) -> Any:
                out = np.full(span, fill, dtype=np.asarray(values).dtype)
                out[pos] = values
                return out

            idx = np.arange(lo, lo + span, dtype=np.int64)
            open_, high, low, close = (np.where(traded, spread(v, 0.0), prev) for v in (open_, high, low, close))
            vol, qvol, tbv, tbq = (spread(v, 0.0) for v in (vol, qvol, tbv, tbq))
            n = spread(n, 0)
            first_id, last_id = spread(p.id_min, 0), spread(p.id_max, 0)
        else:
            first_id, last_id = p.id_min, p.id_max
    else:
        first_id, last_id = p.id_min, p.id_max
    new_carry = _Carry(int(idx[-1]), float(close[-1]))
    no_trades = ~traded
    ts = pa.timestamp("us", tz="UTC")
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = qvol / vol
    table = pa.Table.from_arrays(
        [
            pa.repeat(pa.scalar(symbol, pa.string()), len(idx)),
            pa.repeat(pa.scalar(interval.name, pa.string()), len(idx)),
            pa.array(interval.start_of(idx)).cast(ts),
            pa.array(interval.close_of(idx)).cast(ts),
            pa.array(open_),
            pa.array(high),
            pa.array(low),
            pa.array(close),
            pa.array(vol),
            pa.array(qvol),
            pa.array(n),
            pa.array(tbv),
            pa.array(tbq),
            pa.array(vwap, mask=vol == 0),
            pa.array(first_id, mask=no_trades),
            pa.array(last_id, mask=no_trades),
        ],
        schema=CANDLES_SCHEMA,
    )
    return table, new_carry


def gap_rows(interval: Interval, symbol: str, after_idx: int, before_idx: int, close: float) -> pa.Table:
    """The gap rows of the buckets strictly between bucket ``after_idx`` (last close ``close``) and ``before_idx``.

    The same rows :func:`finalize` makes between two traded buckets (it makes them here).

    Examples:
        >>> from daap.intervals import Interval
        >>> gap_rows(Interval.parse("1m"), "BTCUSDT", 10, 13, 5.0).column("close").to_pylist()
        [5.0, 5.0]
    """
    row = Partial.empty()
    one: dict[str, Any] = {f.name: np.zeros(1, dtype=getattr(row, f.name).dtype) for f in fields(Partial)}
    one["idx"] = np.array([before_idx], dtype=np.int64)
    one["trades"] = np.ones(1, dtype=np.int64)  # a traded bucket at ``before_idx``, dropped below
    table, _ = finalize(Partial(**one), interval, symbol, fill_gaps=True, carry=_Carry(after_idx, close))
    return table.slice(0, table.num_rows - 1)


def _nullable_int(t: pa.DataType) -> Any:
    import pandas as pd

    return pd.Int64Dtype() if t == pa.int64() else None


def candles_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Candles as pandas: ``datetime64[us, UTC]`` times and nullable ``Int64`` trade ids.

    Examples:
        >>> from daap.contract import CANDLES_SCHEMA
        >>> candles_to_pandas(CANDLES_SCHEMA.empty_table())["first_trade_id"].dtype
        Int64Dtype()
    """
    df: pd.DataFrame = table.select(list(CANDLE_COLUMNS)).to_pandas(coerce_temporal_nanoseconds=False)
    for col in ("first_trade_id", "last_trade_id"):
        df[col] = table.column(col).to_pandas(types_mapper=_nullable_int)
    for col in ("symbol", "interval"):
        df[col] = df[col].astype(object)
    return df


class _Spill:
    """Final partial candles of each symbol, buffered in memory and spilled to Parquet in a scratch folder."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.buffers: dict[int, list[Partial]] = {}
        self.rows: dict[int, int] = {}
        self.writers: dict[int, pq.ParquetWriter] = {}

    def append(self, p: Partial) -> None:
        for code in np.unique(p.sym).tolist():
            part = p.take(p.sym == code) if len(np.unique(p.sym)) > 1 else p
            self.buffers.setdefault(code, []).append(part)
            self.rows[code] = self.rows.get(code, 0) + len(part)
            if self.folder is not None and self.rows[code] >= _SPILL_ROWS:
                self._write(code)

    def _write(self, code: int) -> None:
        assert self.folder is not None
        table = Partial.concat(self.buffers.pop(code, [])).to_arrow()
        self.rows[code] = 0
        if code not in self.writers:
            self.writers[code] = pq.ParquetWriter(self.folder / f"{code}.parquet", table.schema)
        self.writers[code].write_table(table)

    def codes(self) -> list[int]:
        return sorted(set(self.buffers) | set(self.writers))

    def iter(self, code: int) -> Iterator[Partial]:
        """The symbol's partial candles, in the order they were appended."""
        if code in self.writers:
            self.writers.pop(code).close()
            assert self.folder is not None
            pf = pq.ParquetFile(self.folder / f"{code}.parquet")
            for batch in pf.iter_batches(batch_size=_SPILL_ROWS):
                yield Partial.from_arrow(batch)
        yield from self.buffers.pop(code, [])

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.writers.clear()


class CandleAccumulator:
    """Streams trade blocks into candles: the heart of the pandas engine.

    Examples:
        >>> from daap.trades import iter_blocks
        >>> acc = CandleAccumulator(Interval.parse("1m"))
        >>> for block in iter_blocks("tests/data/BTCUSDT-trades-2021-01-02.csv", block_bytes=1 << 15):
        ...     acc.add(block)
        >>> sum(t.num_rows for t in acc.finish(fill_gaps=True)), acc.in_order
        (3, True)
    """

    def __init__(self, interval: Interval, spill_folder: Path | None = None) -> None:
        self.interval = interval
        self.symbols: list[str] = []
        self._codes: dict[str, int] = {}
        self.state = Partial.empty()
        self.flushed_max = np.empty(0, dtype=np.int64)
        self.in_order = True
        self.rows_in = 0
        self._spill = _Spill(spill_folder)

    def _code_map(self, symbols: Sequence[str]) -> npt.NDArray[np.int32]:
        out = np.empty(len(symbols), dtype=np.int32)
        for i, s in enumerate(symbols):
            if s not in self._codes:
                self._codes[s] = len(self.symbols)
                self.symbols.append(s)
                self.flushed_max = np.append(self.flushed_max, _INT64_MIN)
            out[i] = self._codes[s]
        return out

    def add(self, block: TradeBlock) -> None:
        """Fold one block of trades in."""
        if len(block) == 0:
            return
        self.rows_in += len(block)
        part = partial_from_trades(block, self.interval, self._code_map(block.symbols))
        if self.in_order and bool((part.idx <= self.flushed_max[part.sym]).any()):
            self.in_order = False  # a bucket already spilled gets more trades: keep everything from now on
        self.state = merge_partials([self.state, part])
        if self.in_order:
            self._flush()

    def _flush(self) -> None:
        s = self.state
        if len(s) <= len(self.symbols):
            return
        last_of_sym = np.append(np.flatnonzero(np.diff(s.sym)), len(s) - 1)
        newest = np.full(len(self.symbols), _INT64_MIN, dtype=np.int64)
        newest[s.sym[last_of_sym]] = s.idx[last_of_sym]
        keep = s.idx >= newest[s.sym]
        done = s.take(~keep)
        if len(done):
            np.maximum.at(self.flushed_max, done.sym, done.idx)
            self._spill.append(done)
            self.state = s.take(keep)

    def finish(self, *, fill_gaps: bool) -> Iterator[pa.Table]:
        """Yield the candles, one or more tables per symbol, symbols in name order, rows by ``open_time``."""
        order = sorted(range(len(self.symbols)), key=lambda c: self.symbols[c])
        try:
            if self.in_order:
                for code in order:
                    carry: _Carry | None = None
                    rest = self.state.take(self.state.sym == code)
                    for p in (*self._spill.iter(code), rest):
                        table, carry = finalize(p, self.interval, self.symbols[code], fill_gaps=fill_gaps, carry=carry)
                        if table.num_rows:
                            yield table
            else:
                everything = [p for code in self._spill.codes() for p in self._spill.iter(code)]
                merged = merge_partials([*everything, self.state])
                for code in order:
                    table, _ = finalize(
                        merged.take(merged.sym == code), self.interval, self.symbols[code], fill_gaps=fill_gaps
                    )
                    if table.num_rows:
                        yield table
        finally:
            self._spill.close()


def _expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(_INPUT_SUFFIXES))
            if not found:
                raise InputFormatError("the folder holds no .zip, .csv, .csv.gz or .parquet trade files", path=p)
            out.extend(found)
        elif not p.exists():
            raise InputFormatError("no such file", path=p)
        else:
            out.append(p)
    if not out:
        raise InputFormatError("no input files given")
    return out


class PandasEngine:
    """Streaming pyarrow + numpy engine; in-memory results are pandas DataFrames.

    Examples:
        >>> from daap.engines import Engine, get_engine
        >>> isinstance(PandasEngine(), Engine), type(get_engine("pandas")) is PandasEngine
        (True, True)
    """

    name: ClassVar[str] = "pandas"
    capabilities: ClassVar[Capabilities] = Capabilities(
        streaming_files=True,
        input_types=("pandas.DataFrame", "pyarrow.Table"),
        output_type="pandas.DataFrame",
        notes=("bounded memory for time-ordered input; exact but in-memory for unordered input",),
    )

    def build(
        self,
        trades: Any,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        symbol: str | None = None,
        chunk_rows: int | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """Candles from a DataFrame (or Arrow table) of normalized trades.

        Args:
            trades: trades in the normalized schema.
            interval: the candle interval.
            fill_gaps: add gap rows.
            symbol: the symbol when ``trades`` has no ``symbol`` column.
            chunk_rows: process the rows in chunks of this size, for less peak memory (the same candles: prices,
                ids and counts exact, sums to 1e-12 relative).
            **options: none other; an unknown option is a TypeError.

        Examples:
            >>> import daap
            >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv").drop(columns="symbol")
            >>> candles = PandasEngine().build(trades, Interval.parse("1m"), symbol="BTCUSDT")
            >>> candles["symbol"].tolist(), candles["trades"].tolist()
            (['BTCUSDT', 'BTCUSDT', 'BTCUSDT'], [1279, 964, 1000])
        """
        _no_options(options)
        block = block_from_frame(trades, symbol)
        acc = CandleAccumulator(interval)
        step = chunk_rows or max(len(block), 1)
        if step <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        for lo in range(0, len(block), step):
            acc.add(_slice(block, lo, lo + step))
        return _to_frame(acc.finish(fill_gaps=fill_gaps))

    def rollup(self, candles: Any, interval: Interval, *, fill_gaps: bool = True, **options: Any) -> pd.DataFrame:
        """Roll finer candles up to ``interval``, exactly as building ``interval`` from the trades would.

        Examples:
            >>> import daap
            >>> engine = PandasEngine()
            >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv")
            >>> five = engine.rollup(engine.build(trades, Interval.parse("1m")), Interval.parse("5m"))
            >>> five["trades"].tolist(), five["close"].equals(engine.build(trades, Interval.parse("5m"))["close"])
            ([7448, 4165, 387], True)
        """
        _no_options(options)
        table = candles if isinstance(candles, pa.Table) else pa.Table.from_pandas(candles, preserve_index=False)
        missing = [c for c in CANDLE_COLUMNS if c not in table.schema.names]
        if missing:
            raise InvalidIntervalError(f"rollup needs candles in the contract; missing columns {missing}")
        sources = {str(v) for v in table.column("interval").unique().to_pylist()}
        for src in sources:
            if not Interval.parse(src).divides(interval):
                raise InvalidIntervalError(
                    f"cannot roll {src} candles up to {interval}: {src} buckets do not nest in {interval} buckets"
                )
        import pyarrow.compute as pc

        traded = table.filter(pc.greater(table.column("trades"), pa.scalar(0)))
        acc = CandleAccumulator(interval)
        if traded.num_rows:
            sym = traded.column("symbol").combine_chunks().dictionary_encode()
            symbols = tuple(str(s) for s in sym.dictionary.to_pylist())
            code_map = acc._code_map(symbols)
            t = traded.column("open_time").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()

            def col(name: str) -> Any:
                return traded.column(name).to_numpy()

            first, last = col("first_trade_id"), col("last_trade_id")
            part = Partial(
                sym=code_map[sym.indices.to_numpy().astype(np.int32)],
                idx=interval.index_of(t),
                o_t=t,
                o_id=first,
                open=col("open"),
                c_t=t,
                c_id=last,
                close=col("close"),
                high=col("high"),
                low=col("low"),
                volume=col("volume"),
                quote_volume=col("quote_volume"),
                trades=col("trades").astype(np.int64),
                tb_volume=col("taker_buy_volume"),
                tb_quote_volume=col("taker_buy_quote_volume"),
                id_min=first,
                id_max=last,
            )
            acc.state = merge_partials([part])
        return _to_frame(acc.finish(fill_gaps=fill_gaps))

    def add_indicators(self, candles: pd.DataFrame, specs: Sequence[Any]) -> pd.DataFrame:
        """Indicator columns; see :func:`daap.indicators.add`.

        Examples:
            >>> import daap
            >>> from daap import indicators
            >>> trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
            >>> engine = PandasEngine()
            >>> candles = engine.build(trades, Interval.parse("1m"))
            >>> engine.add_indicators(candles, indicators.parse("sma:2"))["sma_2"].tolist()
            [nan, 29284.765, 29268.625]
        """
        from daap import indicators

        out: pd.DataFrame = indicators.add(candles, specs)
        return out

    def build_files(
        self,
        inputs: Sequence[str | Path],
        output: str | Path,
        interval: Interval,
        *,
        fill_gaps: bool = True,
        symbol: str | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        progress: bool | None = None,
        validate: bool = False,
        **options: Any,
    ) -> BuildSummary:
        """Stream trade files to a candles Parquet file in bounded memory.

        The output appears atomically: it is written under a temporary name and renamed when complete.

        Args:
            inputs: files or folders of ``.zip``, ``.csv``, ``.csv.gz`` or ``.parquet`` trades.
            output: the Parquet file to write.
            interval: the candle interval.
            fill_gaps: add gap rows.
            symbol: the symbol, when the file names do not say it.
            block_bytes: CSV bytes parsed per block.
            progress: show a progress bar (None: only on a terminal).
            validate: check every output batch against :class:`daap.schemas.Candles`.
            **options: none other; an unknown option is a TypeError.

        Examples:
            >>> import tempfile
            >>> from daap.sources.synthetic import SyntheticConfig, write_binance_files
            >>> folder = Path(tempfile.mkdtemp())
            >>> _ = write_binance_files(folder, SyntheticConfig(trades_per_day=100, days=2))
            >>> summary = PandasEngine().build_files([folder], folder / "daily.parquet", Interval.parse("1d"))
            >>> summary.files, summary.rows_in, summary.candles_out
            (2, 200, 2)
        """
        _no_options(options)
        started = _time.perf_counter()
        files = _expand_inputs(inputs)
        if len(files) > 1:  # stream files in time order, so that memory stays flat
            firsts = {f: peek_first_time(f, symbol) for f in files}
            files.sort(key=lambda f: (firsts[f] is not None, firsts[f] or 0, str(f)))
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".spill", dir=out.parent))
        tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
        sizes = [content_size(f) for f in files]
        total = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
        candles = gaps = 0
        try:
            acc = CandleAccumulator(interval, spill_folder=scratch)
            with bar(total, progress, f"candles {interval}") as pbar:
                for f in files:
                    for block in iter_blocks(f, symbol, block_bytes=block_bytes):
                        acc.add(block)
                        pbar.update(block.nbytes)
            with pq.ParquetWriter(tmp, CANDLES_SCHEMA, compression="zstd") as writer:
                for table in acc.finish(fill_gaps=fill_gaps):
                    if validate:
                        from daap.schemas import validate_candles

                        validate_candles(candles_to_pandas(table))
                    writer.write_table(table)
                    candles += table.num_rows
                    gaps += int(np.count_nonzero(table.column("trades").to_numpy() == 0))
            os.replace(tmp, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            shutil.rmtree(scratch, ignore_errors=True)
        return BuildSummary(
            output=str(out),
            files=len(files),
            rows_in=acc.rows_in,
            candles_out=candles,
            gap_rows=gaps,
            symbols=tuple(sorted(acc.symbols)),
            interval=interval.name,
            seconds=_time.perf_counter() - started,
            in_order=acc.in_order,
        )


def _slice(block: TradeBlock, lo: int, hi: int) -> TradeBlock:
    return TradeBlock(
        symbols=block.symbols,
        codes=None if block.codes is None else block.codes[lo:hi],
        trade_id=block.trade_id[lo:hi],
        price=block.price[lo:hi],
        qty=block.qty[lo:hi],
        quote_qty=block.quote_qty[lo:hi],
        time=block.time[lo:hi],
        is_buyer_maker=block.is_buyer_maker[lo:hi],
        source=block.source,
        last_trade_id=None if block.last_trade_id is None else block.last_trade_id[lo:hi],
    )


def _to_frame(tables: Iterator[pa.Table]) -> pd.DataFrame:
    parts = list(tables)
    table = pa.concat_tables(parts) if parts else CANDLES_SCHEMA.empty_table()
    return candles_to_pandas(table)


def _no_options(options: dict[str, Any]) -> None:
    if options:
        raise TypeError(f"the pandas engine does not take option(s) {sorted(options)}")
