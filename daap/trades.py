"""Reading Binance trades into the normalized trade schema, streaming and in bounded memory.

Reads ``.csv``, ``.csv.gz`` and Binance ``.zip`` files (in place, never extracted) in any Binance dialect, and
Parquet files already in the normalized schema (the lake's bronze zone). The dialect and the time unit are detected
from the content. Malformed input raises an :class:`~daap.errors.InputFormatError` naming the file, line and column.

Examples:
    >>> import daap
    >>> df = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
    >>> list(df.columns)
    ['symbol', 'trade_id', 'price', 'qty', 'quote_qty', 'time', 'is_buyer_maker']
    >>> len(df), str(df["time"].dtype)
    (3243, 'datetime64[us, UTC]')
"""

from __future__ import annotations

import contextlib
import gzip
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from daap._inflate import ZipCorruptError, ZipMemberReader, can_read_fast
from daap.contract import AGG_TRADES_SCHEMA, TRADES_SCHEMA
from daap.errors import EmptyInputError, InputFormatError, UnsafeArchiveError
from daap.sources.binance import (
    PLAUSIBLE_MAX_S,
    PLAUSIBLE_MIN_S,
    Dialect,
    detect_dialect,
    implausible_time_error,
    symbol_from_filename,
    to_microseconds,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRADES_SCHEMA", "TradeBlock", "iter_trade_batches", "read_trades"]

_VALUE_COLUMNS = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
_CSV_TYPES = {
    "trade_id": pa.int64(),
    "agg_trade_id": pa.int64(),
    "first_trade_id": pa.int64(),
    "last_trade_id": pa.int64(),
    "price": pa.float64(),
    "qty": pa.float64(),
    "quote_qty": pa.float64(),
    "time": pa.int64(),
    "is_buyer_maker": pa.bool_(),
}
_TRUE = {b"True", b"true", b"TRUE", b"1"}
_FALSE = {b"False", b"false", b"FALSE", b"0"}
#: Bytes of CSV parsed at once: big enough for pyarrow's threads, small enough for bounded memory.
DEFAULT_BLOCK_BYTES = 16 << 20
#: pyarrow's parallel unit inside a block.
_ARROW_BLOCK_BYTES = 1 << 20
#: A zip member that inflates more than this many times its compressed size is refused (Binance's are ~5x).
MAX_ZIP_RATIO = 100
_PARQUET_BATCH_ROWS = 1 << 20
_EMPTY_DTYPES = {
    "trade_id": np.int64,
    "price": np.float64,
    "qty": np.float64,
    "quote_qty": np.float64,
    "time": np.int64,
    "is_buyer_maker": np.bool_,
    "first_trade_id": np.int64,
    "last_trade_id": np.int64,
}
_PARQUET_MAX_GROUP_ROWS = 4 << 20

PathLike = str | Path
T = TypeVar("T")
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass
class TradeBlock:
    """A batch of normalized trades as numpy arrays: what the engines consume.

    Attributes:
        symbols: the distinct symbols; ``codes`` index into it.
        codes: per-row symbol code (int32), or None when every row is ``symbols[0]``.
        time: trade time in µs since the epoch (UTC).
        source: the file name, or ``"<frame>"``.
        nbytes: input bytes this block consumed (for progress).
        lines: CSV lines this block covered, including rows sent to quarantine.
        last_trade_id: for aggregate trades (aggTrades), the last trade id of each row (``trade_id`` is the
            first); None for plain trades, where each row is one trade.

    Examples:
        >>> block = next(iter_blocks("tests/data/BTCUSDT-trades-2021-01-02.csv", prefetch=False))
        >>> len(block), block.symbols, block.codes, block.time[:2].tolist()
        (3243, ('BTCUSDT',), None, [1609545600029000, 1609545600495000])
    """

    symbols: tuple[str, ...]
    codes: npt.NDArray[np.int32] | None
    trade_id: I64
    price: F64
    qty: F64
    quote_qty: F64
    time: I64
    is_buyer_maker: npt.NDArray[np.bool_]
    source: str = "<frame>"
    nbytes: int = 0
    lines: int = 0
    last_trade_id: I64 | None = None

    def __len__(self) -> int:
        return int(self.trade_id.shape[0])

    def to_arrow(self) -> pa.RecordBatch:
        """This block as an Arrow record batch in :data:`TRADES_SCHEMA` (aggTrades: :data:`AGG_TRADES_SCHEMA`).

        Examples:
            >>> batch = next(iter_blocks("tests/data/BTCUSDT-trades-2021-01-02.csv", prefetch=False)).to_arrow()
            >>> batch.num_rows, batch.schema.names[:3], str(batch.schema.field("time").type)
            (3243, ['symbol', 'trade_id', 'price'], 'timestamp[us, tz=UTC]')
        """
        codes = np.zeros(len(self), dtype=np.int32) if self.codes is None else self.codes
        # Expanding a dictionary in C++ is far cheaper than building a million Python strings.
        symbol = pa.DictionaryArray.from_arrays(codes, pa.array(list(self.symbols), pa.string())).cast(pa.string())
        return pa.RecordBatch.from_arrays(
            [
                symbol,
                pa.array(self.trade_id),
                pa.array(self.price),
                pa.array(self.qty),
                pa.array(self.quote_qty),
                pa.array(self.time).cast(pa.timestamp("us", tz="UTC")),
                pa.array(self.is_buyer_maker),
                *([] if self.last_trade_id is None else [pa.array(self.last_trade_id)]),
            ],
            schema=TRADES_SCHEMA if self.last_trade_id is None else AGG_TRADES_SCHEMA,
        )


# --------------------------------------------------------------------------------------------------------- opening
def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with contextlib.suppress(OSError), path.open("rb") as f:
        return f.read(4) == b"PAR1"
    return False


@contextlib.contextmanager
def open_text_source(path: PathLike) -> Iterator[tuple[IO[bytes], int | None]]:
    """Open a CSV, ``.csv.gz`` or single-member ``.zip`` as a binary stream of CSV bytes.

    Yields:
        The stream and its uncompressed size when known.

    Raises:
        UnsafeArchiveError: a zip with other than one member, a member path with ``..`` or ``/``, or a member
            that inflates suspiciously (a zip bomb).
        InputFormatError: a file that is not a readable zip or gzip.

    Examples:
        >>> import tempfile
        >>> from daap.sources.synthetic import SyntheticConfig, write_binance_files
        >>> [path] = write_binance_files(tempfile.mkdtemp(), SyntheticConfig(trades_per_day=3))
        >>> with open_text_source(path) as (f, size):  # the zip's CSV member, read in place
        ...     f.readline().split(b",")[:5], size
        ([b'1000000000', b'61901.67000000', b'0.00010000', b'6.19016700', b'1746124215317544'], 228)
    """
    p = Path(path)
    if not p.exists():
        raise InputFormatError("no such file", path=p)
    if p.suffix.lower() == ".zip" or zipfile.is_zipfile(p):
        try:
            zf = zipfile.ZipFile(p)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputFormatError(f"not a readable zip archive ({exc})", path=p) from exc
        with zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise UnsafeArchiveError(
                    f"a Binance zip holds exactly one CSV member, this one holds {len(members)}", path=p
                )
            m = members[0]
            name = m.filename
            if ".." in name or "/" in name or "\\" in name or name.startswith("/") or ":" in name:
                raise UnsafeArchiveError(f"refusing zip member with an unsafe path {name!r}", path=p)
            if m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1) and m.file_size > (1 << 20):
                raise UnsafeArchiveError(
                    f"refusing zip member {name!r}: it inflates {m.file_size / max(m.compress_size, 1):.0f}x "
                    f"(limit {MAX_ZIP_RATIO}x), which looks like a zip bomb",
                    path=p,
                )
            reader: Any = ZipMemberReader(p, m) if can_read_fast(m) else zf.open(m)
            with reader as f:
                yield f, m.file_size
        return
    if p.suffix.lower() == ".gz":
        with gzip.open(p, "rb") as g:
            yield cast(IO[bytes], g), None
        return
    with p.open("rb") as f:
        yield f, p.stat().st_size


def _read_into(f: IO[bytes], view: memoryview, path: PathLike) -> int:
    """Fill ``view`` as far as the stream allows; 0 means the end."""
    got = 0
    try:
        while got < len(view):
            n = f.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
    except (zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile, ZipCorruptError) as exc:
        raise InputFormatError(f"corrupt or truncated compressed data ({exc})", path=path) from exc
    return got


def _raw_blocks(f: IO[bytes], block_bytes: int, path: PathLike, buffers: int = 2) -> Iterator[memoryview]:
    """Blocks of whole lines, as views into rotating buffers: no block is copied.

    With two buffers a yielded view stays valid until the next one is requested; each extra buffer lets a consumer
    run one more block behind (for reading ahead in a thread). Blank lines at the end of the file are dropped.
    """
    bufs = [bytearray(block_bytes) for _ in range(buffers)]
    which = 0
    start = 0  # bytes of an unfinished line carried at the front of the current buffer
    held: memoryview | None = None
    while True:
        buf = bufs[which]
        if start >= len(buf):  # a line longer than a block: use a bigger buffer
            bigger = bytearray(2 * len(buf))
            bigger[:start] = buf[:start]
            bufs[which] = buf = bigger
        view = memoryview(buf)
        got = _read_into(f, view[start:], path)
        end = start + got
        if got == 0:
            tail = ((bytes(held) if held is not None else b"") + bytes(view[:end])).rstrip(b"\r\n\t ")
            if tail:
                yield memoryview(tail + b"\n")
            return
        cut = buf.rfind(b"\n", 0, end) + 1
        if cut == 0:
            start = end
            continue
        if held is not None:
            yield held
        held = view[:cut]
        nxt = (which + 1) % len(bufs)
        if len(bufs[nxt]) < end - cut + block_bytes:
            bufs[nxt] = bytearray(end - cut + block_bytes)
        bufs[nxt][: end - cut] = view[cut:end]
        start = end - cut
        which = nxt


# ----------------------------------------------------------------------------------------------------- diagnosis
def _diagnose(
    data: bytes | memoryview, dialect: Dialect, path: PathLike, first_line: int, exc: Exception
) -> InputFormatError:
    """Find the first malformed line of a block that pyarrow refused, and say what is wrong with it."""
    for i, raw in enumerate(bytes(data).split(b"\n")[:-1]):
        problem = _line_problem(raw.rstrip(b"\r"), dialect)
        if problem is not None:
            return InputFormatError(problem[1], path=path, line=first_line + i, column=problem[0])
    return InputFormatError(f"cannot parse CSV ({exc})", path=path, line=first_line)


def _line_problem(s: bytes, dialect: Dialect) -> tuple[str | None, str] | None:
    """What is wrong with one CSV line, as (column, reason), or None when it parses."""
    if not s.strip():
        return None, "empty line in the middle of the data"
    fields = s.split(b",")
    ncols = len(dialect.columns)
    if len(fields) != ncols:
        return None, f"expected {ncols} columns ({dialect.name} {dialect.kind}), got {len(fields)}"
    for name, raw in zip(dialect.columns, fields, strict=True):
        kind = _CSV_TYPES.get(name)
        value = raw.strip()
        try:
            if kind == pa.int64():
                int(value)
            elif kind == pa.float64():
                float(value)
            elif kind == pa.bool_() and value not in _TRUE | _FALSE:
                raise ValueError
        except ValueError:
            what = {pa.int64(): "an integer", pa.float64(): "a number", pa.bool_(): "True/False"}[kind]
            return name, f"expected {what}, got {value.decode('utf-8', 'replace')[:40]!r}"
    return None


@dataclass(frozen=True)
class RejectedRow:
    """One row sent to quarantine: where it was, why, and its original text."""

    source: str
    line: int | None
    column: str | None
    reason: str
    raw: str


class IdRanges:
    """The trade ids seen so far, as merged ranges: finds duplicates and lists the gaps.

    Examples:
        >>> ids = IdRanges()
        >>> ids.add(np.array([1, 2, 3, 7, 8])).tolist(), ids.add(np.array([8, 9])).tolist()
        ([False, False, False, False, False], [True, False])
        >>> ids.gaps(), ids.count
        ([(4, 6)], 6)
    """

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.count = 0

    def add(self, ids: I64) -> npt.NDArray[np.bool_]:
        """Record ids; returns True for each id seen before (in an earlier call or earlier in ``ids``)."""
        n = ids.shape[0]
        if n == 0:
            return np.zeros(0, dtype=bool)
        if (not self.ends or int(ids[0]) > self.ends[-1]) and (n == 1 or bool((ids[1:] > ids[:-1]).all())):
            self._append_sorted_unique(ids)
            return np.zeros(n, dtype=bool)
        _, first = np.unique(ids, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if self.starts:
            starts, ends = np.asarray(self.starts), np.asarray(self.ends)
            pos = np.searchsorted(starts, ids, side="right") - 1
            dup |= (pos >= 0) & (ids <= ends[np.maximum(pos, 0)])
        new = np.unique(ids[~dup])
        breaks = np.flatnonzero(np.diff(new) != 1)
        lo, hi = np.concatenate(([0], breaks + 1)), np.append(breaks, new.shape[0] - 1)
        s = np.concatenate([np.asarray(self.starts, dtype=np.int64), new[lo]])
        e = np.concatenate([np.asarray(self.ends, dtype=np.int64), new[hi]])
        order = np.argsort(s, kind="stable")
        s, e = s[order], e[order]
        reach = np.maximum.accumulate(e)
        group = np.concatenate(([0], np.flatnonzero(s[1:] > reach[:-1] + 1) + 1))
        self.starts = s[group].tolist()
        self.ends = np.maximum.reduceat(e, group).tolist()
        self.count += int(new.shape[0])
        return dup

    def _append_sorted_unique(self, ids: I64) -> None:
        breaks = np.flatnonzero(np.diff(ids) != 1)
        lo = np.concatenate(([0], breaks + 1))
        hi = np.append(breaks, ids.shape[0] - 1)
        starts, ends = ids[lo].tolist(), ids[hi].tolist()
        if self.ends and starts[0] == self.ends[-1] + 1:
            self.ends[-1] = ends[0]
            starts, ends = starts[1:], ends[1:]
        self.starts.extend(starts)
        self.ends.extend(ends)
        self.count += int(ids.shape[0])

    def gaps(self) -> list[tuple[int, int]]:
        """Missing id ranges ``(first, last)`` between the smallest and largest id seen."""
        return [(b + 1, a - 1) for b, a in zip(self.ends[:-1], self.starts[1:], strict=True)]


class Rejects:
    """Collects the rows a quarantine-mode read refused, the rows read, and the trade ids seen.

    Attributes:
        rows: the rejected rows, in file order.
        rows_read: data rows read, good and bad.
        ids: the trade ids accepted so far (duplicates are rejected).
        units: the time units seen (``s``, ``ms``, ``us``).
    """

    def __init__(self) -> None:
        self.rows: list[RejectedRow] = []
        self.rows_read = 0
        self.ids = IdRanges()
        self.units: set[str] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        """The rejected rows as a table (source, line, column, reason, raw)."""
        return pa.table(
            {
                "source": pa.array([r.source for r in self.rows], pa.string()),
                "line": pa.array([r.line for r in self.rows], pa.int64()),
                "column": pa.array([r.column for r in self.rows], pa.string()),
                "reason": pa.array([r.reason for r in self.rows], pa.string()),
                "raw": pa.array([r.raw for r in self.rows], pa.string()),
            }
        )


# ------------------------------------------------------------------------------------------------------- parsing
def _read_csv_bytes(data: bytes | memoryview, dialect: Dialect) -> pa.Table:
    return pacsv.read_csv(
        cast(Any, pa.BufferReader(pa.py_buffer(data))),
        read_options=pacsv.ReadOptions(column_names=list(dialect.columns), block_size=_ARROW_BLOCK_BYTES),
        # Blank lines are errors, so that a block's rows map one to one to its lines (for messages).
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: t for c, t in _CSV_TYPES.items() if c in dialect.columns},
            include_columns=list(dialect.value_columns),
            null_values=[],
            strings_can_be_null=False,
        ),
    )


def _parse_block(
    data: bytes | memoryview,
    dialect: Dialect,
    symbol: str,
    path: PathLike,
    first_line: int,
    nbytes: int,
    rejects: Rejects | None = None,
) -> TradeBlock:
    """Parse whole CSV lines. Bad input raises, or with ``rejects`` goes to quarantine with its line and text."""
    lines: I64 | None = None  # line number of each row, when some lines were dropped
    try:
        table = _read_csv_bytes(data, dialect)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        if rejects is None:
            raise _diagnose(data, dialect, path, first_line, exc) from exc
        good, numbers = [], []
        split = bytes(data).split(b"\n")[:-1]
        for i, raw in enumerate(split):
            s = raw.rstrip(b"\r")
            problem = _line_problem(s, dialect)
            if problem is None:
                good.append(s)
                numbers.append(first_line + i)
            else:
                rejects.rows.append(
                    RejectedRow(str(path), first_line + i, problem[0], problem[1], s.decode("utf-8", "replace")[:500])
                )
        rejects.rows_read += len(split)
        nlines = len(split)
        lines = np.asarray(numbers, dtype=np.int64)
        table = _read_csv_bytes(b"\n".join(good) + b"\n", dialect) if good else None  # type: ignore[assignment]
    else:
        nlines = table.num_rows
        if rejects is not None:
            rejects.rows_read += table.num_rows
    if table is None:
        cols: dict[str, Any] = {n: np.empty(0, dtype=_EMPTY_DTYPES[n]) for n in dialect.value_columns}
    else:
        cols = {name: table.column(name).to_numpy() for name in dialect.value_columns}
    if dialect.kind == "aggTrades":  # aggTrades carry no quote quantity: every trade of a row has the row's price
        cols["trade_id"] = cols.pop("first_trade_id")
        cols["quote_qty"] = cols["price"] * cols["qty"]
    block = TradeBlock(
        symbols=(symbol,),
        codes=None,
        trade_id=cols["trade_id"],
        price=cols["price"],
        qty=cols["qty"],
        quote_qty=cols["quote_qty"],
        time=cols["time"],
        is_buyer_maker=cols["is_buyer_maker"],
        source=str(path),
        nbytes=nbytes,
        lines=nlines,
        last_trade_id=cols.get("last_trade_id"),
    )

    def line_of(row: int) -> int:
        return int(lines[row]) if lines is not None else first_line + row

    if rejects is None:
        _check_values(block, line_of)
        return block
    return _quarantine_values(block, rejects, line_of, lambda rows: _raw_lines(data, rows, line_of, first_line))


def _raw_lines(data: bytes | memoryview, rows: I64, line_of: Any, first_line: int) -> list[str]:
    text = bytes(data).split(b"\n")
    return [text[line_of(int(r)) - first_line].rstrip(b"\r").decode("utf-8", "replace")[:500] for r in rows]


def _quarantine_values(block: TradeBlock, rejects: Rejects, line_of: Any, raw_of: Any) -> TradeBlock:
    """Move rows with implausible times, non-positive or non-finite values, or repeated trade ids to quarantine."""
    raw_t = block.time
    block.time, bad_t = to_microseconds(raw_t)
    if len(block):
        for unit, scale in (("s", 1), ("ms", 1_000), ("us", 1_000_000)):
            lo, hi = PLAUSIBLE_MIN_S * scale, PLAUSIBLE_MAX_S * scale
            if bool(((raw_t >= lo) & (raw_t < hi)).any()):
                rejects.units.add(unit)
    ok = np.ones(len(block), dtype=bool)
    reason: list[tuple[int, str, str]] = []
    if bad_t >= 0:
        t = raw_t
        plausible = np.zeros(len(block), dtype=bool)
        for scale in (1, 1_000, 1_000_000):
            plausible |= (t >= PLAUSIBLE_MIN_S * scale) & (t < PLAUSIBLE_MAX_S * scale)
        for r in np.flatnonzero(~plausible).tolist():
            reason.append((r, "time", implausible_time_error(int(t[r]), None, None).reason))
        ok &= plausible
    for name, strict in (("price", True), ("qty", True), ("quote_qty", False)):
        v = getattr(block, name)
        good = ((v > 0) if strict else (v >= 0)) & np.isfinite(v)
        if not good.all():
            for r in np.flatnonzero(~good & ok).tolist():
                reason.append((r, name, f"{name} must be a positive finite number, got {float(v[r])!r}"))
            ok &= good
    if block.last_trade_id is not None:
        good = block.last_trade_id >= block.trade_id
        if not good.all():
            for r in np.flatnonzero(~good & ok).tolist():
                reason.append((r, "last_trade_id", _range_reason(block, r)))
            ok &= good
    if not ok.all():
        block = _take(block, ok)
        keep = np.flatnonzero(ok)
        old_line_of = line_of
        raw_rows = np.array(sorted(r for r, _, _ in reason), dtype=np.int64)
        texts = dict(zip(raw_rows.tolist(), raw_of(raw_rows), strict=True))
        for r, col, why in sorted(reason):
            rejects.rows.append(RejectedRow(block.source, old_line_of(r), col, why, texts[r]))

        def line_of(row: int) -> int:
            return int(old_line_of(int(keep[row])))

        raw_of_kept = raw_of

        def raw_of(rows: I64) -> list[str]:
            return list(raw_of_kept(keep[rows]))

    dup = rejects.ids.add(block.trade_id)
    if dup.any():
        rows = np.flatnonzero(dup)
        for r, text in zip(rows.tolist(), raw_of(rows), strict=True):
            rejects.rows.append(
                RejectedRow(block.source, line_of(r), "trade_id", f"duplicate trade_id {int(block.trade_id[r])}", text)
            )
        block = _take(block, ~dup)
    return block


def _take(block: TradeBlock, mask: npt.NDArray[np.bool_]) -> TradeBlock:
    return TradeBlock(
        symbols=block.symbols,
        codes=None if block.codes is None else block.codes[mask],
        trade_id=block.trade_id[mask],
        price=block.price[mask],
        qty=block.qty[mask],
        quote_qty=block.quote_qty[mask],
        time=block.time[mask],
        is_buyer_maker=block.is_buyer_maker[mask],
        source=block.source,
        nbytes=block.nbytes,
        lines=block.lines,
        last_trade_id=None if block.last_trade_id is None else block.last_trade_id[mask],
    )


def _range_reason(block: TradeBlock, row: int) -> str:
    assert block.last_trade_id is not None
    first, last = int(block.trade_id[row]), int(block.last_trade_id[row])
    return f"last_trade_id {last} is less than first_trade_id {first}"


def _check_values(block: TradeBlock, line_of: Any, *, proven_by_stats: bool = False) -> None:
    """Normalize time to µs and refuse implausible times and non-positive or non-finite prices and quantities.

    ``proven_by_stats``: Parquet statistics already show µs times in range and finite maxima (NaN is never in
    statistics, so the minima are still computed here).
    """
    if not proven_by_stats:
        raw = block.time
        block.time, bad = to_microseconds(raw)
        if bad >= 0:
            raise implausible_time_error(int(raw[bad]), block.source, line_of(bad))
    if len(block) == 0:
        return
    if block.last_trade_id is not None and not (block.last_trade_id >= block.trade_id).all():
        row = int(np.argmin(block.last_trade_id >= block.trade_id))
        raise InputFormatError(_range_reason(block, row), path=block.source, line=line_of(row), column="last_trade_id")
    # min/max reductions allocate nothing; NaN fails every comparison.
    if not (
        block.price.min() > 0
        and block.qty.min() > 0
        and block.quote_qty.min() >= 0
        and (proven_by_stats or max(block.price.max(), block.qty.max(), block.quote_qty.max()) < np.inf)
    ):
        ok = (block.price > 0) & (block.qty > 0) & (block.quote_qty >= 0) & np.isfinite(block.quote_qty)
        ok &= np.isfinite(block.price) & np.isfinite(block.qty)
        row = int(np.argmin(ok))
        for name in ("price", "qty", "quote_qty"):
            v = float(getattr(block, name)[row])
            if not (v > 0 or (name == "quote_qty" and v == 0)) or not np.isfinite(v):
                raise InputFormatError(
                    f"{name} must be a positive finite number, got {v!r}",
                    path=block.source,
                    line=line_of(row),
                    column=name,
                )


def _iter_csv_blocks(
    path: Path, symbol: str | None, block_bytes: int, rejects: Rejects | None = None
) -> Iterator[TradeBlock]:
    sym = symbol or symbol_from_filename(path)
    if not sym:
        raise InputFormatError(
            "cannot tell the symbol from the file name (expected e.g. BTCUSDT-trades-2025-01-01.csv); pass symbol=",
            path=path,
        )
    with open_text_source(path) as (f, _size):
        first = True
        line = 1
        dialect: Dialect | None = None
        any_rows = False
        # Compressed input: inflate in its own thread, ahead of the parser (zlib releases the GIL).
        compressed = _size is None or path.suffix.lower() in (".zip", ".gz")
        raw = _raw_blocks(f, block_bytes, path, buffers=3) if compressed else _raw_blocks(f, block_bytes, path)
        for view in prefetched(raw) if compressed else raw:
            nbytes = len(view)
            data: bytes | memoryview = view
            if first:
                head_bytes = bytes(view)  # the first block only: find the header and leading blank lines
                stripped = head_bytes.lstrip(b"\r\n\t ")
                line += head_bytes[: len(head_bytes) - len(stripped)].count(b"\n")
                if not stripped:
                    continue
                first = False
                head = stripped.split(b"\n", 1)[0]
                dialect = detect_dialect(head, path)
                data = stripped
                if dialect.has_header:
                    data = stripped[len(head) + 1 :]
                    line += 1
            assert dialect is not None
            if len(data):
                any_rows = True
                block = _parse_block(data, dialect, sym, path, line, nbytes, rejects)
                line += block.lines
                yield block
        if not any_rows:
            raise EmptyInputError("no trade rows (empty file)", path=path)


def _arrow_block(
    batch: pa.RecordBatch | pa.Table, source: str, symbol: str | None, nbytes: int = 0, proven: bool = False
) -> TradeBlock:
    """Normalize an Arrow batch with the trade columns (from Parquet or a DataFrame)."""
    names = set(batch.schema.names)
    missing = [c for c in _VALUE_COLUMNS if c not in names]
    if "symbol" not in names and symbol is None:
        missing.insert(0, "symbol")
    if missing:
        raise InputFormatError(
            f"missing trade column(s) {missing}; expected the normalized schema {TRADES_SCHEMA.names}", path=source
        )
    for c in (*_VALUE_COLUMNS, "symbol", "last_trade_id"):
        if c in names and batch.column(c).null_count:
            raise InputFormatError("null values are not allowed", path=source, column=c)
    if "symbol" in names:
        col: Any = batch.column("symbol")
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        enc: Any = col if pa.types.is_dictionary(col.type) else col.cast(pa.string()).dictionary_encode()
        symbols = tuple(str(s) for s in enc.dictionary.to_pylist())
        codes: npt.NDArray[np.int32] | None = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        if len(symbols) == 1:
            codes = None
    else:
        assert symbol is not None
        symbols, codes = (symbol,), None
    t = batch.column("time")
    if pa.types.is_timestamp(t.type):
        time = _np(t.cast(pa.timestamp("us", tz=t.type.tz)).cast(pa.int64()))
    elif pa.types.is_integer(t.type):
        time = _np(t.cast(pa.int64()))
    else:
        raise InputFormatError(f"time must be a timestamp or an integer, got {t.type}", path=source, column="time")

    def num(name: str, typ: pa.DataType) -> Any:
        try:
            return _np(batch.column(name).cast(typ))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputFormatError(f"cannot convert to {typ} ({exc})", path=source, column=name) from exc

    block = TradeBlock(
        symbols=symbols,
        codes=codes,
        trade_id=num("trade_id", pa.int64()),
        price=num("price", pa.float64()),
        qty=num("qty", pa.float64()),
        quote_qty=num("quote_qty", pa.float64()),
        time=time,
        is_buyer_maker=num("is_buyer_maker", pa.bool_()),
        source=source,
        nbytes=nbytes,
        last_trade_id=num("last_trade_id", pa.int64()) if "last_trade_id" in names else None,
    )
    _check_values(block, lambda row: None, proven_by_stats=proven and pa.types.is_timestamp(t.type))
    return block


def _np(col: pa.Array[Any] | pa.ChunkedArray[Any]) -> Any:
    if isinstance(col, pa.ChunkedArray):
        return col.to_numpy()
    return col.to_numpy(zero_copy_only=False)


def _iter_parquet_blocks(path: Path, symbol: str | None, prefetch: bool = False) -> Iterator[TradeBlock]:
    """Blocks of a Parquet file; with ``prefetch`` the decoding runs ahead in a thread, the conversion here."""
    sym = symbol or symbol_from_filename(path)
    tables = _iter_parquet_tables(path)
    for table, nbytes, proven in prefetched(tables) if prefetch else tables:
        yield _arrow_block(table, str(path), sym, nbytes, proven)


def _stats_prove_valid(pf: pq.ParquetFile, group: int) -> bool:
    """True when a row group's statistics show plausible µs times and finite price/qty maxima."""
    meta = pf.metadata.row_group(group)
    names = pf.metadata.schema.names
    typ = pf.schema_arrow.field("time").type
    if not (pa.types.is_timestamp(typ) and typ.unit == "us"):
        return False
    lo_us, hi_us = PLAUSIBLE_MIN_S * 1_000_000, PLAUSIBLE_MAX_S * 1_000_000
    try:
        stats: dict[str, Any] = {
            n: meta.column(names.index(n)).statistics for n in ("time", "price", "qty", "quote_qty")
        }
        if any(s is None or not s.has_min_max for s in stats.values()):
            return False
        t0, t1 = int(cast(Any, stats["time"].min_raw)), int(cast(Any, stats["time"].max_raw))
        finite = all(float(cast(Any, stats[n].max_raw)) < np.inf for n in ("price", "qty", "quote_qty"))
    except (ValueError, TypeError):
        return False
    return lo_us <= t0 and t1 < hi_us and finite


def _iter_parquet_tables(path: Path) -> Iterator[tuple[pa.Table | pa.RecordBatch, int, bool]]:
    try:
        # pre_buffer=False keeps memory flat in the file size; symbols stay dictionary-encoded (no strings built).
        has_symbol = "symbol" in pq.read_schema(path).names
        pf = pq.ParquetFile(path, pre_buffer=False, read_dictionary=["symbol"] if has_symbol else None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFormatError(f"not a readable Parquet file ({exc})", path=path) from exc
    cols = [c for c in ("symbol", *_VALUE_COLUMNS, "last_trade_id") if c in pf.schema_arrow.names]
    per_row = path.stat().st_size / max(pf.metadata.num_rows, 1)
    if pf.metadata.num_rows == 0:
        raise EmptyInputError("no trade rows (empty Parquet file)", path=path)
    meta = pf.metadata
    if max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= _PARQUET_MAX_GROUP_ROWS:
        # Whole row groups decode fastest (columns in parallel); bronze row groups are bounded, so memory is too.
        for i in range(meta.num_row_groups):
            table = pf.read_row_group(i, columns=cols)
            if table.num_rows:
                yield table, int(per_row * table.num_rows), _stats_prove_valid(pf, i)
        return
    for batch in pf.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=cols):
        yield batch, int(per_row * batch.num_rows), False


_END: Any = object()


def prefetched(it: Iterator[T]) -> Iterator[T]:
    """Run ``it`` one item ahead in a worker thread, so reading overlaps the consumer's work."""
    ex = ThreadPoolExecutor(1, thread_name_prefix="daap-read")
    try:
        fut = ex.submit(next, it, _END)
        while True:
            item = fut.result()
            if item is _END:
                return
            fut = ex.submit(next, it, _END)
            yield item
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
        close = getattr(it, "close", None)
        if close is not None:
            close()


def iter_blocks(
    path: PathLike,
    symbol: str | None = None,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    prefetch: bool = True,
    rejects: Rejects | None = None,
) -> Iterator[TradeBlock]:
    """Stream one file as :class:`TradeBlock` batches (what the engines consume).

    Args:
        path: a ``.csv``, ``.csv.gz``, ``.zip`` or ``.parquet`` file.
        symbol: the symbol; by default taken from the Binance file name (or the Parquet ``symbol`` column).
        block_bytes: how many CSV bytes to parse at once.
        prefetch: parse the next block in a background thread while the caller works on this one.
        rejects: quarantine mode: bad rows (malformed, implausible time, non-positive price or quantity, repeated
            trade id) are collected here with their line and text instead of raising. CSV input only.

    Examples:
        >>> sum(len(b) for b in iter_blocks("tests/data/BTCUSDT-trades-2025-01-01.csv", block_bytes=1 << 16))
        12000
    """
    p = Path(path)
    if _is_parquet(p):
        if rejects is not None:
            raise InputFormatError("quarantine mode reads CSV or zip trades, not Parquet", path=p)
        return _iter_parquet_blocks(p, symbol, prefetch)
    it = _iter_csv_blocks(p, symbol, block_bytes, rejects)
    return prefetched(it) if prefetch else it


def peek_first_time(path: PathLike, symbol: str | None = None) -> int | None:
    """The time (µs) of the first trade of a file, read cheaply, or None if the file cannot be read.

    Examples:
        >>> peek_first_time("tests/data/BTCUSDT-trades-2021-01-02.csv")  # milliseconds in the file, µs here
        1609545600029000
        >>> peek_first_time("tests/data/no-such-file.csv") is None
        True
    """
    p = Path(path)
    if _is_parquet(p):
        try:
            pf = pq.ParquetFile(p)
            meta = pf.metadata
            col = meta.schema.names.index("time")
            stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
            mins = [int(cast(Any, s.min_raw)) for s in stats if s is not None and s.has_min_max]
            if mins and len(mins) == len(stats):
                typ = pf.schema_arrow.field("time").type
                if pa.types.is_timestamp(typ):
                    scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}[typ.unit]
                    return min(mins) * scale if typ.unit != "ns" else min(mins) // 1_000
                return int(to_microseconds(np.array([min(mins)], dtype=np.int64))[0][0])
        except (pa.ArrowInvalid, OSError, ValueError):
            return None
    try:
        for block in iter_blocks(path, symbol, block_bytes=1 << 16, prefetch=False):
            return int(block.time[0]) if len(block) else None
    except InputFormatError:
        return None
    return None


def block_from_frame(frame: Any, symbol: str | None = None) -> TradeBlock:
    """Normalize an in-memory pandas DataFrame or pyarrow Table of trades into a :class:`TradeBlock`.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"trade_id": [7, 8], "price": [100.0, 101.0], "qty": [0.5, 0.25],
        ...     "quote_qty": [50.0, 25.25], "time": [1735689600000, 1735689601500], "is_buyer_maker": [True, False]})
        >>> block = block_from_frame(frame, symbol="ETHUSDT")
        >>> block.symbols, block.time.tolist()  # millisecond times become µs
        (('ETHUSDT',), [1735689600000000, 1735689601500000])
    """
    import pandas as pd  # lazily: the streaming path does not need pandas

    table: pa.Table | pa.RecordBatch
    if isinstance(frame, pd.DataFrame):
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputFormatError(f"cannot convert the DataFrame to Arrow ({exc})") from exc
    elif isinstance(frame, (pa.Table, pa.RecordBatch)):
        table = frame
    else:
        raise TypeError(f"expected a pandas DataFrame or a pyarrow Table of trades, got {type(frame).__name__}")
    if table.num_rows == 0:
        f64 = np.empty(0, dtype=np.float64)
        i64 = np.empty(0, dtype=np.int64)
        return TradeBlock((symbol or "",), None, i64, f64, f64, f64, i64, np.empty(0, dtype=np.bool_))
    return _arrow_block(table, "<frame>", symbol)


def iter_trade_batches(path: PathLike, symbol: str | None = None) -> Iterator[pa.RecordBatch]:
    """Stream one trades file as Arrow record batches in the normalized schema.

    Examples:
        >>> next(iter_trade_batches("tests/data/BTCUSDT-trades-2023-03-24.csv")).num_rows
        2000
    """
    for block in iter_blocks(path, symbol):
        yield block.to_arrow()


def read_trades(paths: PathLike | Sequence[PathLike], symbol: str | None = None) -> pd.DataFrame:
    """Read trades files into one pandas DataFrame in the normalized trade schema.

    Args:
        paths: one path or several (``.csv``, ``.csv.gz``, ``.zip``, ``.parquet``).
        symbol: the symbol, when the file names do not say it.

    Returns:
        Columns ``symbol, trade_id, price, qty, quote_qty, time, is_buyer_maker``; ``time`` is
        ``datetime64[us, UTC]``. aggTrades files give one row per aggregate trade, with ``trade_id`` its first
        trade id, an extra ``last_trade_id`` column, and ``quote_qty = price * qty``.

    Raises:
        InputFormatError: malformed input, with the file, line and column.

    Examples:
        >>> df = read_trades("tests/data/futures-BTCUSDT-trades-2026-09-16T20-00.csv")
        >>> df["symbol"].iloc[0], int(df["trade_id"].iloc[0])
        ('BTCUSDT', 8086999560)
    """
    items: Iterable[PathLike] = [paths] if isinstance(paths, (str, Path)) else paths
    batches = [b for p in items for b in iter_trade_batches(p, symbol)]
    kinds = {b.schema.names[-1] == "last_trade_id" for b in batches}
    if len(kinds) > 1:
        raise InputFormatError("cannot read trades and aggTrades files into one frame; read each kind on its own")
    schema = AGG_TRADES_SCHEMA if kinds == {True} else TRADES_SCHEMA
    table = pa.Table.from_batches(batches, schema=schema)
    return table.to_pandas(coerce_temporal_nanoseconds=False)


__all__ += ["DEFAULT_BLOCK_BYTES", "block_from_frame", "iter_blocks", "open_text_source", "peek_first_time"]
