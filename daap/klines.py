"""Binance kline files: read them, write them in the exact official format, and compute reference klines from trades.

Binance publishes klines (candles) as ``SYMBOL-INTERVAL-YYYY-MM-DD.zip`` (daily) and ``SYMBOL-INTERVAL-YYYY-MM.zip``
(monthly), each holding one CSV with the twelve columns of :data:`FILE_COLUMNS`:

* **Spot:** no header, every decimal with 8 fractional digits; times in microseconds from 2025-01-01, in
  milliseconds before.
* **USD-M futures:** the header line :data:`KLINE_HEADER` (files from about 2022 on; older files have none), times
  in milliseconds, decimals in the symbol's precision (BTCUSDT: ``16537.50``, ``170.576``, ``2820697.45580``).

:func:`read_klines` normalizes both to µs times, with ``close_time`` the last µs of the bucket (a millisecond file's
``...59999`` becomes ``...59999999``), which equals daap's candle ``close_time``. :func:`klines_from_trades` is a
plain pandas computation of klines from trades, kept independent of daap's candle engines so that it can serve as
their oracle and as the source of synthetic kline files (:func:`write_kline_files`).

Examples:
    >>> k = read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")
    >>> len(k), int(k["trades"].iloc[0]), str(k["close_time"].iloc[0])
    (10, 2631, '2025-01-01 00:00:59.999999+00:00')
    >>> to_kline_csv(k.head(1), "spot") == open("tests/data/klines/BTCUSDT-1m-2025-01-01.csv", "rb").readline()
    True
"""

from __future__ import annotations

import datetime
import gzip
import os
import re
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import IO, Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from daap._inflate import ZipCorruptError
from daap.download import KLINE_INTERVALS
from daap.errors import EmptyInputError, InputFormatError
from daap.intervals import US_PER_DAY, Interval
from daap.sources.binance import PLAUSIBLE_MAX_S, PLAUSIBLE_MIN_S
from daap.sources.synthetic import csv_lines, write_zip_with_checksum
from daap.trades import open_text_source

__all__ = [
    "FILE_COLUMNS",
    "KLINES_SCHEMA",
    "KLINE_COLUMNS",
    "KLINE_HEADER",
    "Market",
    "binance_interval",
    "daap_interval",
    "kline_file_name",
    "klines_from_trades",
    "parse_kline_file_name",
    "read_klines",
    "to_kline_csv",
    "write_kline_files",
]

Market = Literal["spot", "um"]
PathLike = str | Path
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: The twelve columns of Binance's kline CSV files, in file order.
FILE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
#: The kline columns daap returns (after ``symbol`` and ``interval``); ``trades`` is the file's ``count``.
KLINE_COLUMNS: tuple[str, ...] = tuple("trades" if c == "count" else c for c in FILE_COLUMNS[:-1])
#: The header line of USD-M futures kline files from about 2022 on (spot files and older futures files have none).
KLINE_HEADER = ",".join(FILE_COLUMNS)

_TS: Any = pa.timestamp("us", tz="UTC")
#: Klines as daap returns them: ``interval`` is daap's name (``1M`` for the calendar month).
KLINES_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("interval", pa.string(), nullable=False),
        pa.field("open_time", _TS, nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("close_time", _TS, nullable=False),
        pa.field("quote_volume", pa.float64(), nullable=False),
        pa.field("trades", pa.int64(), nullable=False),
        pa.field("taker_buy_volume", pa.float64(), nullable=False),
        pa.field("taker_buy_quote_volume", pa.float64(), nullable=False),
    ]
)

_INT_COLUMNS = ("open_time", "close_time", "count")
_FLOAT_COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_volume",
    "taker_buy_quote_volume",
)
_PRICE_COLUMNS = ("open", "high", "low", "close")
_QTY_COLUMNS = ("volume", "taker_buy_volume")
_QUOTE_COLUMNS = ("quote_volume", "taker_buy_quote_volume")
_CSV_TYPES: dict[str, pa.DataType] = {c: pa.int64() for c in _INT_COLUMNS} | {c: pa.float64() for c in _FLOAT_COLUMNS}
_READ_COLUMNS = [c for c in FILE_COLUMNS if c != "ignore"]
_INT_RE = re.compile(rb"^\s*-?\d+\s*$")
_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,30}(?:_[A-Z0-9]+)?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800, "mo": 2_678_400}
_NAME_RE = re.compile(
    r"(?:^|-)(?P<symbol>[A-Z0-9]{2,30}(?:_[A-Z0-9]+)?)"
    r"-(?P<interval>" + "|".join(sorted(map(re.escape, KLINE_INTERVALS), key=len, reverse=True)) + ")"
    r"-\d{4}-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?\.(?:zip|csv|csv\.gz)$"
)
#: Spot files switch from millisecond to microsecond times with the files of 2025-01-01.
_SPOT_US_FROM = 1_735_689_600_000_000
_POW10 = 10.0 ** np.arange(16)
_MAX_DECIMAL = 1e15
_CSV_CHUNK_ROWS = 1 << 18
_CSV_WORKERS = 4
_ARROW_BLOCK_BYTES = 1 << 20
_EPOCH = datetime.date(1970, 1, 1)


# ------------------------------------------------------------------------------------------------------------ names
def _duration(binance_name: str) -> int:
    m = re.fullmatch(r"(\d+)([a-z]+)", binance_name)
    return int(m.group(1)) * _UNIT_SECONDS.get(m.group(2), 0) if m else 0


def _allowed(daap_names: bool) -> list[str]:
    names = sorted(KLINE_INTERVALS, key=_duration)
    return [("1M" if n == "1mo" else n) for n in names] if daap_names else names


def binance_interval(name: str) -> str:
    """Binance's file-path name of a daap interval: the same, except the calendar month ``1M`` is ``1mo``.

    Raises:
        ValueError: a name that is not one of Binance's kline intervals (the message lists them).

    Examples:
        >>> binance_interval("1M"), binance_interval("1m"), binance_interval("1w")
        ('1mo', '1m', '1w')
    """
    out = "1mo" if name == "1M" else name
    if name == "1mo" or out not in KLINE_INTERVALS:
        raise ValueError(f"not a Binance kline interval: {name!r}; use one of {_allowed(True)}")
    return out


def daap_interval(name: str) -> str:
    """Daap's name of a Binance kline interval from a file path: the same, except ``1mo`` is ``1M``.

    Raises:
        ValueError: a name that is not one of Binance's kline intervals (the message lists them).

    Examples:
        >>> daap_interval("1mo"), daap_interval("15m")
        ('1M', '15m')
    """
    if name not in KLINE_INTERVALS:
        raise ValueError(f"not a Binance kline interval name: {name!r}; use one of {_allowed(False)}")
    return "1M" if name == "1mo" else name


def _day_text(date: datetime.date | str) -> str:
    if isinstance(date, datetime.datetime):
        raise ValueError(f"date must be a datetime.date or 'YYYY-MM-DD', not a datetime: {date!r}")
    if isinstance(date, datetime.date):
        return date.isoformat()
    try:
        return datetime.date.fromisoformat(date).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else ""
    except ValueError:
        return ""


def kline_file_name(
    symbol: str,
    interval: str,
    *,
    date: datetime.date | str | None = None,
    month: datetime.date | str | None = None,
    zipped: bool = True,
) -> str:
    """Binance's name of a daily (``date=``) or monthly (``month=``) kline file.

    Args:
        symbol: the upper-case symbol, e.g. ``BTCUSDT``.
        interval: daap's interval name (``1M`` becomes Binance's ``1mo``).
        date: the day of a daily file (a date or ``YYYY-MM-DD``).
        month: the month of a monthly file (``YYYY-MM`` or any date in it).
        zipped: ``.zip`` (the published file) or ``.csv`` (its member).

    Raises:
        ValueError: a bad symbol, interval, date or month, or not exactly one of ``date`` and ``month``.

    Examples:
        >>> kline_file_name("BTCUSDT", "1m", date=datetime.date(2025, 1, 1))
        'BTCUSDT-1m-2025-01-01.zip'
        >>> kline_file_name("BTCUSDT", "1M", month="2025-01", zipped=False)
        'BTCUSDT-1mo-2025-01.csv'
    """
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol):
        raise ValueError(f"symbol must be upper-case letters and digits, e.g. 'BTCUSDT', got {symbol!r}")
    if (date is None) == (month is None):
        raise ValueError("give exactly one of date= (a daily file) and month= (a monthly file)")
    if date is not None:
        stamp = _day_text(date)
        if not stamp:
            raise ValueError(f"date must be a datetime.date or 'YYYY-MM-DD', got {date!r}")
    elif isinstance(month, datetime.date):
        stamp = month.strftime("%Y-%m")
    elif isinstance(month, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        stamp = month
    else:
        raise ValueError(f"month must be 'YYYY-MM' or a datetime.date, got {month!r}")
    return f"{symbol}-{binance_interval(interval)}-{stamp}.{'zip' if zipped else 'csv'}"


def parse_kline_file_name(path: PathLike) -> tuple[str, str] | None:
    """The ``(symbol, daap interval)`` of a Binance kline file name, or None when the name is not one.

    Examples:
        >>> parse_kline_file_name("data/BTCUSDT-1mo-2025-01.zip")
        ('BTCUSDT', '1M')
        >>> parse_kline_file_name("BTCUSDT-1h-2024-03-05.csv"), parse_kline_file_name("BTCUSDT-trades-2025-01-01.zip")
        (('BTCUSDT', '1h'), None)
    """
    m = _NAME_RE.search(Path(path).name)
    if m is None:
        return None
    return m.group("symbol"), daap_interval(m.group("interval"))


# ---------------------------------------------------------------------------------------------------------- reading
def _read_all(f: IO[bytes], path: Path) -> bytes:
    chunks: list[bytes] = []
    try:
        while True:
            chunk = f.read(16 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile, ZipCorruptError) as exc:
        raise InputFormatError(f"corrupt or truncated compressed data ({exc})", path=path) from exc


def _line_problem(s: bytes) -> tuple[str | None, str] | None:
    """What is wrong with one kline line, as (column, reason), or None when it parses."""
    if not s.strip():
        return None, "empty line in the middle of the data"
    fields = s.split(b",")
    if len(fields) != len(FILE_COLUMNS):
        return None, f"expected {len(FILE_COLUMNS)} columns ({KLINE_HEADER}), got {len(fields)}"
    for name, raw in zip(FILE_COLUMNS, fields, strict=True):
        if name == "ignore":
            continue
        value = raw.strip()
        try:
            if name in _INT_COLUMNS:
                int(value)
            else:
                float(value)
        except ValueError:
            what = "an integer" if name in _INT_COLUMNS else "a number"
            return name, f"expected {what}, got {value.decode('utf-8', 'replace')[:40]!r}"
    return None


def _diagnose(data: memoryview, path: Path, first_line: int, exc: Exception) -> InputFormatError:
    """Find the first malformed line of data that pyarrow refused, and say what is wrong with it."""
    for i, raw in enumerate(bytes(data).split(b"\n")):
        problem = _line_problem(raw.rstrip(b"\r"))
        if problem is not None:
            return InputFormatError(problem[1], path=path, line=first_line + i, column=problem[0])
    return InputFormatError(f"cannot parse CSV ({exc})", path=path, line=first_line)


def _parse_csv(data: memoryview, path: Path, first_line: int) -> pa.Table:
    try:
        return pacsv.read_csv(
            cast(Any, pa.BufferReader(pa.py_buffer(data))),
            read_options=pacsv.ReadOptions(column_names=list(FILE_COLUMNS), block_size=_ARROW_BLOCK_BYTES),
            # Blank lines are errors, so that rows map one to one to lines (for messages).
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=_CSV_TYPES,
                include_columns=_READ_COLUMNS,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _diagnose(data, path, first_line, exc) from exc


def _fmt_us(t: int) -> str:
    return str(pd.Timestamp(int(t), unit="us"))


def _first(mask: npt.NDArray[np.bool_]) -> int:
    """Position of the first True, or -1."""
    return int(np.argmax(mask)) if bool(mask.any()) else -1


def _check_rows(table: pa.Table, iv: Interval, path: Path, first_line: int) -> tuple[I64, I64]:
    """Validate the rows of one file; returns open_time and close_time in µs (close = last µs of the bucket)."""
    ot: I64 = table.column("open_time").to_numpy()
    ct: I64 = table.column("close_time").to_numpy()
    ranges = {
        "us": (PLAUSIBLE_MIN_S * 1_000_000, PLAUSIBLE_MAX_S * 1_000_000),
        "ms": (PLAUSIBLE_MIN_S * 1_000, PLAUSIBLE_MAX_S * 1_000),
    }
    unit = next((u for u, (lo, hi) in ranges.items() if lo <= int(ot[0]) < hi), None)
    if unit is None:
        raise InputFormatError(
            f"open_time {int(ot[0])} is neither milliseconds nor microseconds of a date in 2009-2100",
            path=path,
            line=first_line,
            column="open_time",
        )
    lo, hi = ranges[unit]
    problems: list[tuple[int, str, str]] = []  # (row, column, reason): the first of each kind

    def note(mask: npt.NDArray[np.bool_], column: str, reason: Any) -> None:
        row = _first(mask)
        if row >= 0:
            problems.append((row, column, reason(row)))

    ok_open = (ot >= lo) & (ot < hi)
    ok_close = (ct >= lo) & (ct < hi)
    words = {"us": "microseconds", "ms": "milliseconds"}[unit]
    note(~ok_open, "open_time", lambda r: f"open_time {int(ot[r])} is not in {words} like the file's first row")
    note(~ok_close, "close_time", lambda r: f"close_time {int(ct[r])} is not in {words} like the file's open_time")
    ok = ok_open & ok_close
    safe_ot, safe_ct = np.where(ok, ot, lo), np.where(ok, ct, lo)
    if unit == "ms":
        open_us, close_us = safe_ot * 1_000, safe_ct * 1_000 + 999
    else:
        open_us, close_us = safe_ot, safe_ct
    index = iv.index_of(open_us)
    note(
        ok & ~iv.is_aligned(open_us),
        "open_time",
        lambda r: f"open_time {int(ot[r])} ({_fmt_us(int(open_us[r]))} UTC) is not on the {iv.name} grid",
    )
    want_close = iv.close_of(index)
    want_in_unit = (want_close - 999) // 1_000 if unit == "ms" else want_close
    note(
        ok & (close_us != want_close),
        "close_time",
        lambda r: (
            f"close_time {int(ct[r])} does not close the {iv.name} bucket opened at {int(ot[r])}: "
            f"expected {int(want_in_unit[r])}"
        ),
    )
    if len(ot) > 1:
        bad = np.concatenate(([False], ok[1:] & ok[:-1] & (open_us[1:] <= open_us[:-1])))
        note(
            bad,
            "open_time",
            lambda r: (
                f"open_time {int(ot[r])} is not after the previous row's {int(ot[r - 1])} "
                "(rows must be in strictly increasing open_time)"
            ),
        )
    for name in (*_FLOAT_COLUMNS, "count"):
        v = table.column(name).to_numpy()
        good = (v >= 0) & np.isfinite(v)
        note(~good, name, lambda r, v=v, name=name: f"{name} must be a non-negative finite number, got {v[r]}")
    if problems:
        row, column, reason = min(problems, key=lambda p: p[0])  # stable: the first kind wins a tie
        raise InputFormatError(reason, path=path, line=first_line + row, column=column)
    return open_us, close_us


def _resolve(path: Path, symbol: str | None, interval: str | None) -> tuple[str, Interval]:
    named = parse_kline_file_name(path)
    sym = symbol if symbol is not None else (named[0] if named else None)
    ivname = interval if interval is not None else (named[1] if named else None)
    if sym is None or ivname is None:
        raise InputFormatError(
            "cannot tell the symbol and interval from the file name (expected e.g. BTCUSDT-1m-2025-01-01.zip); "
            "pass symbol= and interval=",
            path=path,
        )
    return sym, Interval.parse("1M" if ivname == "1mo" else ivname)


def _read_one(path: Path, symbol: str | None, interval: str | None) -> pa.Table:
    sym, iv = _resolve(path, symbol, interval)
    with open_text_source(path) as (f, _size):
        raw = _read_all(f, path)
    n = len(raw)
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    while start < n and raw[start] in b" \t\r\n":
        start += 1
    end = n
    while end > start and raw[end - 1] in b" \t\r\n":
        end -= 1
    if start == end:
        raise EmptyInputError("no kline rows (empty file)", path=path)
    line = 1 + raw.count(b"\n", 0, start)
    first_nl = raw.find(b"\n", start, end)
    head = raw[start : end if first_nl < 0 else first_nl]
    if not _INT_RE.match(head.split(b",", 1)[0]):
        text = head.rstrip(b"\r").decode("utf-8", "replace").strip()
        if text != KLINE_HEADER:
            raise InputFormatError(
                f"unrecognized header {text[:120]!r}: Binance kline files have no header (spot, older USD-M "
                f"futures) or exactly {KLINE_HEADER!r}",
                path=path,
                line=line,
            )
        if first_nl < 0:
            raise EmptyInputError("no kline rows (only the header line)", path=path)
        start, line = first_nl + 1, line + 1
    table = _parse_csv(memoryview(raw)[start:end], path, line)
    open_us, close_us = _check_rows(table, iv, path, line)
    rows = table.num_rows
    columns: list[Any] = [
        pa.repeat(pa.scalar(sym, pa.string()), rows),
        pa.repeat(pa.scalar(iv.name, pa.string()), rows),
        pa.array(open_us).cast(_TS),
        *(table.column(c) for c in _PRICE_COLUMNS),
        table.column("volume"),
        pa.array(close_us).cast(_TS),
        table.column("quote_volume"),
        table.column("count"),
        table.column("taker_buy_volume"),
        table.column("taker_buy_quote_volume"),
    ]
    return pa.Table.from_arrays(
        [pa.chunked_array([c]) if isinstance(c, pa.Array) else c for c in columns], schema=KLINES_SCHEMA
    )


def _to_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(coerce_temporal_nanoseconds=False)


def read_klines(
    paths: PathLike | Sequence[PathLike], *, symbol: str | None = None, interval: str | None = None
) -> pd.DataFrame:
    """Read Binance kline files (``.csv``, ``.csv.gz`` or the published ``.zip``) into one DataFrame.

    The time unit (ms or µs) is detected per file, a header line per file (only :data:`KLINE_HEADER` is accepted).
    Times are normalized to µs, ``close_time`` to the last µs of the bucket. Every row is checked: twelve columns,
    numbers where numbers belong, ``open_time`` on the interval's grid and strictly increasing, ``close_time`` closing
    the bucket of ``open_time``.

    Args:
        paths: one path or several.
        symbol: the symbol, when the file names do not say it (it overrides the name).
        interval: daap's interval name (``1M`` for the month), when the file names do not say it.

    Returns:
        Columns ``symbol, interval`` and :data:`KLINE_COLUMNS`; times ``datetime64[us, UTC]``; sorted by symbol,
        interval and ``open_time``.

    Raises:
        InputFormatError: malformed input, naming the file, the 1-based line (a header counts) and the column;
            also for the same kline in two files.
        EmptyInputError: a file without kline rows.

    Examples:
        >>> k = read_klines(["tests/data/klines/um/BTCUSDT-1d-2020-01.csv"])
        >>> k[["symbol", "interval", "open", "trades"]].values.tolist()
        [['BTCUSDT', '1d', 7189.43, 101871], ['BTCUSDT', '1d', 7197.57, 224747]]
        >>> str(k["close_time"].iloc[0])
        '2020-01-01 23:59:59.999999+00:00'
    """
    items: list[PathLike] = [paths] if isinstance(paths, (str, Path)) else list(paths)
    tables = [_read_one(Path(p), symbol, interval) for p in items]
    if not tables:
        return _to_frame(KLINES_SCHEMA.empty_table())
    if len(tables) == 1:
        return _to_frame(tables[0])
    sources = [str(p) for p in items]
    table = pa.concat_tables(tables)
    table = table.append_column(
        "_file", pa.array(np.repeat(np.arange(len(tables)), [t.num_rows for t in tables]).astype(np.int32))
    )
    table = table.sort_by([("symbol", "ascending"), ("interval", "ascending"), ("open_time", "ascending")])
    key_same = pc.and_(
        pc.equal(table.column("symbol")[1:], table.column("symbol")[:-1]),
        pc.equal(table.column("interval")[1:], table.column("interval")[:-1]),
    )
    same = pc.and_(key_same, pc.equal(table.column("open_time")[1:], table.column("open_time")[:-1]))
    dup = _first(np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool))
    if dup >= 0:
        files = table.column("_file").to_numpy()
        raise InputFormatError(
            f"the {table.column('interval')[dup].as_py()} kline of {table.column('symbol')[dup].as_py()} at "
            f"{_fmt_us(table.column('open_time')[dup].value)} UTC is also in {sources[int(files[dup])]}",
            path=sources[int(files[dup + 1])],
            column="open_time",
        )
    return _to_frame(table.drop_columns(["_file"]))


# ---------------------------------------------------------------------------------------------------------- writing
def _exact_split(x: float) -> tuple[int, int]:
    """Integer part and units of 1e-8 of one value, from its shortest text.

    When the shortest text has more than 8 decimals, the value itself is rounded to 8 decimals (half to even).
    """
    d = Decimal(repr(x))
    exponent = d.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -8:
        d = Decimal(x).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
    units = int(d.scaleb(8))
    return units // 100_000_000, units % 100_000_000


def _split8(values: F64, column: str) -> tuple[I64, I64]:
    """Non-negative floats as (integer part, fraction in units of 1e-8): the decimal Binance wrote.

    Values are rounded to 15 significant digits (and at most 8 decimals), which recovers every decimal of up to 15
    significant digits; a value whose rounded text does not read back as the same double (a decimal of 16-17
    digits, such as a day's quote volume ``975444194.13799830``) takes its shortest exact text instead.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size and not (v.min() >= 0.0 and v.max() < _MAX_DECIMAL):  # also rejects NaN
        raise ValueError(f"{column} values must be finite, non-negative and below 1e15 to be written as decimals")
    decimals = np.clip(15 - np.searchsorted(_POW10, v, side="right"), 0, 8)
    scaled = np.rint(v * _POW10[decimals]).astype(np.int64)
    power = (10**decimals).astype(np.int64)
    int_part, frac = np.divmod(scaled, power)
    frac = frac * (10 ** (8 - decimals)).astype(np.int64)
    back = np.asarray(pc.cast(_join_decimal(int_part, frac), pa.float64()), dtype=np.float64)
    for i in np.flatnonzero(back != v).tolist():
        int_part[i], frac[i] = _exact_split(float(v[i]))
    return int_part, frac


def _join_decimal(int_part: I64, frac: I64, digits: int | None = 8) -> Any:
    """Text ``int.frac``: ``digits`` fractional digits, or the shortest with at least one (``digits=None``)."""
    whole: Any = pc.cast(pa.array(int_part), pa.string())
    if digits == 0:
        return whole
    text: Any = pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), width=8, padding="0")
    if digits is None:
        text = pc.utf8_rtrim(text, characters="0")
        text = pc.if_else(pc.equal(pc.utf8_length(text), pa.scalar(0, pa.int32())), pa.scalar("0"), text)
    elif digits < 8:
        text = pc.utf8_slice_codeunits(text, 0, digits)
    return pc.binary_join_element_wise(whole, text, pa.scalar("."))


def _decimal_column(values: F64, column: str, digits: int | None) -> Any:
    int_part, frac = _split8(values, column)
    if digits is not None and digits < 8:
        extra = frac % (10 ** (8 - digits))
        bad = _first(extra != 0)
        if bad >= 0:
            raise ValueError(f"{column} value {float(values[bad])!r} has more than {digits} decimals")
    return _join_decimal(int_part, frac, digits)


def _times_us(col: Any, name: str) -> I64:
    s = pd.Series(col)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = s.dt.tz_localize("UTC") if getattr(s.dt, "tz", None) is None else s.dt.tz_convert("UTC")
        return cast(I64, s.astype("datetime64[us, UTC]").astype("int64").to_numpy(dtype=np.int64))
    if pd.api.types.is_integer_dtype(s.dtype):
        return cast(I64, s.to_numpy(dtype=np.int64))
    raise TypeError(f"{name} must be datetime64 (UTC) or integer µs, got {s.dtype}")


def to_kline_csv(
    klines: pd.DataFrame,
    market: Market,
    *,
    header: bool | None = None,
    decimals: tuple[int, int, int] | None = None,
) -> bytes:
    r"""The exact text of Binance's kline CSV for a frame with :data:`KLINE_COLUMNS` (one file's rows).

    Spot: no header, every decimal with 8 fractional digits, times in µs when the first ``open_time`` is on or after
    2025-01-01 and in ms before (``close_time`` then ends in ``...999`` ms). USD-M futures: the header line (unless
    ``header=False``, as in the older files) and times in ms. The ``ignore`` column is ``0``; every line ends in
    ``\n``. Decimals are exact for values of at most 8 decimals and 15 significant digits (and for longer ones when
    the shortest text of the double has at most 8 decimals), so :func:`read_klines` gives back the same floats.

    Args:
        klines: the rows, e.g. from :func:`read_klines` or :func:`klines_from_trades`.
        market: ``"spot"`` or ``"um"`` (USD-M futures).
        header: futures only: write the header line (default True).
        decimals: futures only: the fractional digits of (prices, base volumes, quote volumes), as in Binance's
            files for the symbol (BTCUSDT: ``(2, 3, 5)``, so ``16537.50``). By default each value gets its shortest
            exact text with at least one fractional digit (``16537.5``).

    Raises:
        ValueError: an unknown market, a header or decimals for spot, a missing column, a negative or non-finite
            value, a value with more decimals than ``decimals`` allows, or times that a millisecond file cannot hold.

    Examples:
        >>> k = read_klines("tests/data/klines/um/BTCUSDT-1m-2023-01-01.csv")
        >>> to_kline_csv(k, "um", decimals=(2, 3, 5)).splitlines()[1]
        b'1672531200000,16537.50,16538.00,16534.30,16538.00,170.576,1672531259999,2820697.45580,946,103.782,1716164.80590,0'
        >>> to_kline_csv(k, "um", header=False)
        b'1672531200000,16537.5,16538.0,16534.3,16538.0,170.576,1672531259999,2820697.4558,946,103.782,1716164.8059,0\n'
    """
    if market not in ("spot", "um"):
        raise ValueError(f"market must be 'spot' or 'um', got {market!r}")
    if market == "spot" and (header or decimals is not None):
        raise ValueError("spot kline files have no header and always 8 fractional digits")
    missing = [c for c in KLINE_COLUMNS if c not in klines.columns]
    if missing:
        raise ValueError(f"missing kline column(s) {missing}; expected {list(KLINE_COLUMNS)}")
    if decimals is not None and (len(decimals) != 3 or not all(isinstance(d, int) and 0 <= d <= 8 for d in decimals)):
        raise ValueError(f"decimals must be three ints in [0, 8] (prices, volumes, quote volumes), got {decimals!r}")
    out = [KLINE_HEADER.encode() + b"\n"] if market == "um" and header is not False else []
    open_us = _times_us(klines["open_time"], "open_time")
    close_us = _times_us(klines["close_time"], "close_time")
    micro = market == "spot" and len(open_us) > 0 and int(open_us[0]) >= _SPOT_US_FROM
    if not micro:
        if _first(open_us % 1_000 != 0) >= 0 or _first(close_us % 1_000 != 999) >= 0:
            raise ValueError("a millisecond kline file needs whole-ms open_time and close_time ending in 999 µs")
        open_us, close_us = open_us // 1_000, close_us // 1_000
    if not pd.api.types.is_integer_dtype(klines["trades"].dtype):
        raise ValueError(f"trades must be integers, got {klines['trades'].dtype}")
    trades = klines["trades"].to_numpy(dtype=np.int64)
    if len(trades) and int(trades.min()) < 0:
        raise ValueError("trades must be non-negative")
    if market == "spot":
        digits: dict[str, int | None] = dict.fromkeys(_FLOAT_COLUMNS, 8)
    elif decimals is None:
        digits = dict.fromkeys(_FLOAT_COLUMNS, None)
    else:
        groups = (_PRICE_COLUMNS, _QTY_COLUMNS, _QUOTE_COLUMNS)
        digits = {c: d for group, d in zip(groups, decimals, strict=True) for c in group}
    values = {c: klines[c].to_numpy(dtype=np.float64) for c in _FLOAT_COLUMNS}

    def chunk(lo: int) -> bytes:
        hi = lo + _CSV_CHUNK_ROWS

        def dec(name: str) -> Any:
            return _decimal_column(values[name][lo:hi], name, digits[name])

        return csv_lines(
            [
                pc.cast(pa.array(open_us[lo:hi]), pa.string()),
                *(dec(c) for c in _PRICE_COLUMNS),
                dec("volume"),
                pc.cast(pa.array(close_us[lo:hi]), pa.string()),
                dec("quote_volume"),
                pc.cast(pa.array(trades[lo:hi]), pa.string()),
                dec("taker_buy_volume"),
                dec("taker_buy_quote_volume"),
                pa.repeat(pa.scalar("0"), len(open_us[lo:hi])),
            ]
        )

    starts = range(0, len(open_us), _CSV_CHUNK_ROWS)
    workers = min(_CSV_WORKERS, os.cpu_count() or 1, len(starts))
    if workers <= 1:
        out.extend(chunk(lo) for lo in starts)
    else:  # pyarrow's kernels release the GIL: format chunks in parallel
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="daap-klines") as pool:
            out.extend(pool.map(chunk, starts))
    return b"".join(out)


# ------------------------------------------------------------------------------------------------ reference klines
def klines_from_trades(
    trades: pd.DataFrame | pa.Table, interval: str, *, fill_gaps: bool = True, symbol: str | None = None
) -> pd.DataFrame:
    """Klines computed from trades the plain way, independently of daap's candle engines (an oracle for them).

    Trades are bucketed by ``interval`` and ordered by ``(time, trade_id)``: open and close are the first and last
    price, high and low the extremes, ``volume``/``quote_volume`` the sums of ``qty``/``quote_qty``, ``trades`` the
    count, and the taker-buy sums those of the trades with ``is_buyer_maker`` False. With ``fill_gaps``, every bucket
    between a symbol's first and last traded bucket gets a row, as Binance publishes for quiet minutes: open, high,
    low and close equal to the previous close, zero volumes and 0 trades.

    Args:
        trades: a DataFrame or Arrow table with ``trade_id, price, qty, quote_qty, time, is_buyer_maker`` and
            optionally ``symbol``; ``time`` is ``datetime64`` (UTC) or integer µs since the epoch.
        interval: daap's interval name (``1M`` for the calendar month).
        fill_gaps: add the rows of buckets without trades.
        symbol: the symbol when ``trades`` has no ``symbol`` column.

    Returns:
        Columns ``symbol, interval`` and :data:`KLINE_COLUMNS`, sorted by symbol and ``open_time``.

    Raises:
        ValueError: a missing column, or no symbol at all.

    Examples:
        >>> t = pd.DataFrame({"trade_id": [1, 2, 3], "price": [10.0, 12.0, 11.0], "qty": [1.0, 2.0, 0.5],
        ...                   "quote_qty": [10.0, 24.0, 5.5], "time": [60_000_000, 60_000_001, 185_000_000],
        ...                   "is_buyer_maker": [False, True, False]})
        >>> k = klines_from_trades(t, "1m", symbol="XUSDT")
        >>> k[["open", "high", "low", "close", "volume"]].values.tolist()
        [[10.0, 12.0, 10.0, 12.0, 3.0], [12.0, 12.0, 12.0, 12.0, 0.0], [11.0, 11.0, 11.0, 11.0, 0.5]]
        >>> k["trades"].tolist(), k["taker_buy_volume"].tolist()
        ([2, 0, 1], [1.0, 0.0, 0.5])
    """
    iv = Interval.parse(interval)
    df = trades.to_pandas(coerce_temporal_nanoseconds=False) if isinstance(trades, pa.Table) else trades
    needed = ["trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"missing trade column(s) {missing}")
    if "symbol" in df.columns:
        sym = df["symbol"].astype(str).to_numpy()
    elif symbol is not None:
        sym = np.full(len(df), symbol, dtype=object)
    else:
        raise ValueError("the trades have no symbol column: pass symbol=")
    t = _times_us(df["time"], "time")
    work = pd.DataFrame(
        {
            "symbol": sym,
            "bucket": iv.index_of(t),
            "t": t,
            "trade_id": df["trade_id"].to_numpy(dtype=np.int64),
            "price": df["price"].to_numpy(dtype=np.float64),
            "qty": df["qty"].to_numpy(dtype=np.float64),
            "quote_qty": df["quote_qty"].to_numpy(dtype=np.float64),
            "taker_buy": ~df["is_buyer_maker"].to_numpy(dtype=bool),
        }
    ).sort_values(["symbol", "t", "trade_id"], kind="stable")
    keys = ["symbol", "bucket"]
    g = work.groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["qty"].sum(),
            "quote_volume": g["quote_qty"].sum(),
            "trades": g.size(),
        }
    )
    buys = work[work["taker_buy"]].groupby(keys, sort=True)
    out["taker_buy_volume"] = buys["qty"].sum().reindex(out.index, fill_value=0.0)
    out["taker_buy_quote_volume"] = buys["quote_qty"].sum().reindex(out.index, fill_value=0.0)
    if fill_gaps and len(out):
        out = _fill_gaps(out)
    out = out.reset_index()
    bucket = out["bucket"].to_numpy(dtype=np.int64)
    n = len(out)
    table = pa.Table.from_arrays(
        [
            pa.array(out["symbol"].astype(str).tolist() if n else [], pa.string()),
            pa.repeat(pa.scalar(iv.name, pa.string()), n),
            pa.array(iv.start_of(bucket)).cast(_TS),
            *(pa.array(out[c].to_numpy(dtype=np.float64)) for c in _PRICE_COLUMNS),
            pa.array(out["volume"].to_numpy(dtype=np.float64)),
            pa.array(iv.close_of(bucket)).cast(_TS),
            pa.array(out["quote_volume"].to_numpy(dtype=np.float64)),
            pa.array(out["trades"].to_numpy(dtype=np.int64)),
            pa.array(out["taker_buy_volume"].to_numpy(dtype=np.float64)),
            pa.array(out["taker_buy_quote_volume"].to_numpy(dtype=np.float64)),
        ],
        schema=KLINES_SCHEMA,
    )
    return _to_frame(table)


def _fill_gaps(out: pd.DataFrame) -> pd.DataFrame:
    """Add a row per missing bucket between each symbol's first and last: prices at the previous close, no volume."""
    parts = []
    for sym, part in out.groupby(level="symbol", sort=True):
        buckets = part.index.get_level_values("bucket")
        full = pd.MultiIndex.from_product(
            [[sym], range(int(buckets.min()), int(buckets.max()) + 1)], names=["symbol", "bucket"]
        )
        filled = part.reindex(full)
        quiet = filled["trades"].isna()
        close = filled["close"].ffill()
        for c in _PRICE_COLUMNS:
            filled[c] = filled[c].where(~quiet, close)
        for c in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume", "trades"):
            filled[c] = filled[c].fillna(0)
        filled["trades"] = filled["trades"].astype(np.int64)
        parts.append(filled)
    return pd.concat(parts)


def _utc_us(value: Any) -> int:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value) // 1_000  # Timestamp.value is in ns whatever the unit


def write_kline_files(
    out_dir: PathLike,
    klines: pd.DataFrame,
    *,
    market: Market,
    period: Literal["daily", "monthly"] = "daily",
    drop: Sequence[tuple[Any, Any]] | None = None,
    header: bool | None = None,
    decimals: tuple[int, int, int] | None = None,
) -> list[Path]:
    r"""Write klines of one symbol and interval as Binance's daily or monthly zip files, with CHECKSUM sidecars.

    Each row goes to the file of the UTC day (or month) of its ``open_time``: ``SYMBOL-1m-YYYY-MM-DD.zip`` (or
    ``SYMBOL-1m-YYYY-MM.zip``) holding the one member ``SYMBOL-1m-YYYY-MM-DD.csv`` in the format of
    :func:`to_kline_csv`, plus ``<zip name>.CHECKSUM`` containing ``<sha256>  <zip name>\n``. Files are written under
    temporary names and renamed into place. A period left without rows (all dropped) gets no file.

    Args:
        out_dir: the directory (created if missing).
        klines: rows with ``symbol``, ``interval`` and :data:`KLINE_COLUMNS`.
        market: ``"spot"`` or ``"um"``.
        period: ``"daily"`` or ``"monthly"`` files.
        drop: ``(start, end)`` ranges (timestamps; naive ones are UTC): rows whose ``open_time`` is in
            ``[start, end)`` are left out, as Binance publishes no kline during an exchange maintenance window.
        header: futures only, see :func:`to_kline_csv`.
        decimals: futures only, see :func:`to_kline_csv`.

    Returns:
        The zip paths, in date order.

    Raises:
        ValueError: several symbols or intervals, an unknown period, an empty drop range, or what
            :func:`to_kline_csv` refuses.

    Examples:
        >>> import tempfile
        >>> k = read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     paths = write_kline_files(d, k, market="spot", drop=[("2025-01-01 00:03", "2025-01-01 00:05")])
        ...     [p.name for p in paths], len(read_klines(paths))
        (['BTCUSDT-1m-2025-01-01.zip'], 8)
    """
    if period not in ("daily", "monthly"):
        raise ValueError(f"period must be 'daily' or 'monthly', got {period!r}")
    for c in ("symbol", "interval"):
        if c not in klines.columns:
            raise ValueError(f"missing column {c!r}")
        if klines[c].nunique() > 1:
            raise ValueError(f"write_kline_files writes one {c} at a time, got {sorted(map(str, klines[c].unique()))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(klines) == 0:
        return []
    symbol, interval = str(klines["symbol"].iloc[0]), str(klines["interval"].iloc[0])
    open_us = _times_us(klines["open_time"], "open_time")
    keep = np.ones(len(open_us), dtype=bool)
    for start, end in drop or ():
        lo, hi = _utc_us(start), _utc_us(end)
        if hi <= lo:
            raise ValueError(f"drop range ({start!r}, {end!r}) is empty: its end must be after its start")
        keep &= ~((open_us >= lo) & (open_us < hi))
    if period == "daily":
        key = open_us // US_PER_DAY
    else:
        key = open_us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    order = np.argsort(open_us, kind="stable")
    written: list[Path] = []
    for k in np.unique(key[keep]).tolist():
        rows = order[(key[order] == k) & keep[order]]
        if period == "daily":
            day = _EPOCH + datetime.timedelta(days=k)
            name = kline_file_name(symbol, interval, date=day)
            stamp = (day.year, day.month, day.day, 0, 0, 0)
        else:
            month = str(np.datetime64(k, "M"))
            name = kline_file_name(symbol, interval, month=month)
            stamp = (int(month[:4]), int(month[5:]), 1, 0, 0, 0)
        text = to_kline_csv(klines.iloc[rows], market, header=header, decimals=decimals)
        member = name[: -len(".zip")] + ".csv"
        written.append(write_zip_with_checksum(out / name, member, text, date_time=stamp))
    return written
