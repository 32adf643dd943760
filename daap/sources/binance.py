"""Binance public-data layout: file names, CSV dialects, time units and ``.CHECKSUM`` files.

Examples:
    >>> from daap.sources.binance import symbol_from_filename, detect_dialect
    >>> symbol_from_filename("BTCUSDT-trades-2025-01-01.zip")
    'BTCUSDT'
    >>> detect_dialect(b"id,price,qty,quote_qty,time,is_buyer_maker").name
    'um'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from daap.errors import ImplausibleTimestampError, InputFormatError

#: Columns of a spot trades file (no header in the file).
SPOT_COLUMNS = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
#: Columns of a USD-M futures trades file.
UM_COLUMNS = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
UM_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"
#: Columns of a spot aggTrades file (no header): ``trade_id`` is the first trade id of the aggregate.
SPOT_AGG_COLUMNS = (
    "agg_trade_id",
    "price",
    "qty",
    "first_trade_id",
    "last_trade_id",
    "time",
    "is_buyer_maker",
    "is_best_match",
)
#: Columns of a USD-M futures aggTrades file.
UM_AGG_COLUMNS = ("agg_trade_id", "price", "qty", "first_trade_id", "last_trade_id", "time", "is_buyer_maker")
UM_AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
_BOOL_RE = re.compile(rb"^\s*(true|false|True|False|TRUE|FALSE)\s*$")

_SYMBOL_RE = re.compile(r"(?:^|[-_/])([A-Z0-9]{2,30})-(?:trades|aggTrades)-\d{4}-\d{2}")
_INT_RE = re.compile(rb"^\s*-?\d+\s*$")

# Plausible trade times: 2009-01-01 to 2100-01-01, in seconds.
PLAUSIBLE_MIN_S = 1_230_768_000
PLAUSIBLE_MAX_S = 4_102_444_800


@dataclass(frozen=True)
class Dialect:
    """How one Binance trades CSV is laid out.

    Attributes:
        name: ``"spot"`` or ``"um"`` (USD-M futures).
        has_header: whether line 1 is a header to skip.
        columns: the normalized column names, in file order.
        kind: ``"trades"``, or ``"aggTrades"`` (one row per aggregate trade: the trades ``first_trade_id`` to
            ``last_trade_id`` of one taker order at one price and time; read as ``trade_id`` and ``last_trade_id``).
    """

    name: str
    has_header: bool
    columns: tuple[str, ...]
    kind: str = "trades"

    @property
    def value_columns(self) -> tuple[str, ...]:
        """The columns the reader keeps, in the normalized names."""
        if self.kind == "aggTrades":
            return ("first_trade_id", "last_trade_id", "price", "qty", "time", "is_buyer_maker")
        return ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker")


def symbol_from_filename(path: str | Path) -> str | None:
    """The symbol in a Binance file name (``BTCUSDT-trades-2025-01-01.zip``), or None.

    Examples:
        >>> symbol_from_filename("futures-ETHUSDT-trades-2026-09-16T20-00.csv")
        'ETHUSDT'
        >>> symbol_from_filename("BTCUSDT-aggTrades-2025-01.zip")
        'BTCUSDT'
    """
    m = _SYMBOL_RE.search(Path(path).name)
    return m.group(1) if m else None


def detect_dialect(first_line: bytes, path: str | Path | None = None) -> Dialect:
    """Detect the dialect (market, header, trades or aggTrades) from a file's first line.

    Trades: spot files have no header and 7 columns; USD-M futures have a header and 6 columns, except daily files
    up to 2022-08-10, which have 6 columns and no header. aggTrades: spot files have 8 columns and no header; USD-M
    futures have the header ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker``
    (old ones: the same 7 columns without it, told apart from spot trades by an integer in column 6).

    Raises:
        InputFormatError: an unknown header or a column count no Binance trades or aggTrades file has.

    Examples:
        >>> detect_dialect(b"4359935386,93576.0,0.00136,127.26336,1735689600010866,True,True").name
        'spot'
        >>> d = detect_dialect(b"3384404357,93576.00,0.00136,4359935386,4359935386,1735689600010866,True,True")
        >>> d.name, d.kind, d.columns[3:5]
        ('spot', 'aggTrades', ('first_trade_id', 'last_trade_id'))
    """
    line = first_line.rstrip(b"\r\n")
    fields = line.split(b",")
    if not _INT_RE.match(fields[0]):
        header = line.decode("utf-8", "replace").strip().lstrip("\ufeff")
        compact = header.replace(" ", "").lower()
        if compact == UM_HEADER:
            return Dialect("um", True, UM_COLUMNS)
        if compact == UM_AGG_HEADER:
            return Dialect("um", True, UM_AGG_COLUMNS, "aggTrades")
        raise InputFormatError(
            f"unrecognized header {header[:80]!r}: expected Binance trades "
            f"(spot: 7 columns, no header; USD-M futures: {UM_HEADER!r}) "
            f"or aggTrades (spot: 8 columns, no header; USD-M futures: {UM_AGG_HEADER!r})",
            path=path,
            line=1,
        )
    if len(fields) == len(SPOT_AGG_COLUMNS):
        return Dialect("spot", False, SPOT_AGG_COLUMNS, "aggTrades")
    if len(fields) == len(SPOT_COLUMNS):
        if _INT_RE.match(fields[5]) and _BOOL_RE.match(fields[6]):
            return Dialect("um", False, UM_AGG_COLUMNS, "aggTrades")
        return Dialect("spot", False, SPOT_COLUMNS)
    if len(fields) == len(UM_COLUMNS):
        return Dialect("um", False, UM_COLUMNS)
    raise InputFormatError(
        f"expected 7 columns (spot trades), 6 (USD-M futures trades) or 8/7 (aggTrades), got {len(fields)}",
        path=path,
        line=1,
    )


def to_microseconds(t: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Convert trade times in s, ms or µs (detected per value by magnitude) to µs.

    Returns:
        The times in µs and the position of the first implausible value, or -1 when all are plausible.

    Examples:
        >>> us, bad = to_microseconds(np.array([1_735_689_600, 1_735_689_600_000, 1_735_689_600_000_001]))
        >>> us.tolist(), bad
        ([1735689600000000, 1735689600000000, 1735689600000001], -1)
    """
    t = np.asarray(t, dtype=np.int64)
    if t.size == 0:
        return t, -1
    lo, hi = int(t.min()), int(t.max())
    # Fast path: the whole array in one unit.
    for scale, factor in ((1_000_000, 1), (1_000, 1_000), (1, 1_000_000)):
        if PLAUSIBLE_MIN_S * scale <= lo and hi < PLAUSIBLE_MAX_S * scale:
            return (t * factor if factor != 1 else t), -1
    is_us = (t >= PLAUSIBLE_MIN_S * 1_000_000) & (t < PLAUSIBLE_MAX_S * 1_000_000)
    is_ms = (t >= PLAUSIBLE_MIN_S * 1_000) & (t < PLAUSIBLE_MAX_S * 1_000)
    is_s = (t >= PLAUSIBLE_MIN_S) & (t < PLAUSIBLE_MAX_S)
    ok = is_us | is_ms | is_s
    bad = -1 if ok.all() else int(np.argmin(ok))
    out = np.where(is_us, t, np.where(is_ms, t * 1_000, t * 1_000_000))
    return out, bad


def implausible_time_error(value: int, path: str | Path | None, line: int | None) -> ImplausibleTimestampError:
    """The error for a time that is not s, ms or µs of a date between 2009 and 2100."""
    return ImplausibleTimestampError(
        f"implausible trade time {value}: not seconds, milliseconds or microseconds of a date in 2009-2100",
        path=path,
        line=line,
        column="time",
    )


def parse_checksum(text: str) -> tuple[str, str]:
    r"""Parse a Binance ``.CHECKSUM`` file (``<sha256>  <file name>``).

    Raises:
        InputFormatError: when the text is not in that format.

    Examples:
        >>> parse_checksum("ab" * 32 + "  BTCUSDT-trades-2025-01-01.zip\n")[1]
        'BTCUSDT-trades-2025-01-01.zip'
    """
    m = re.match(r"^\s*([0-9a-fA-F]{64})\s+\*?(\S+)\s*$", text)
    if m is None:
        raise InputFormatError(f"not a CHECKSUM line: {text[:100]!r}")
    return m.group(1).lower(), m.group(2)
