"""Reconcile candles with the exchange: compare them, bucket by bucket, with Binance's official klines.

daap's candles claim to equal Binance's klines field for field. :func:`verify_against_klines` proves it for any
frame of candles and kline files, the way a finance team reconciles a ledger; :func:`verify_lake` does it for a
symbol and month of the lake, fetching the official kline files into the lake's ``reference/klines/`` zone first.

What is compared, per bucket ``(open_time)`` present on both sides:

- exactly: ``open``, ``high``, ``low``, ``close``, ``trades`` and ``close_time`` (prices are parsed from the same
  decimal text on both sides, so equal decimals give equal doubles);
- to a stated tolerance: ``volume``, ``quote_volume``, ``taker_buy_volume`` and ``taker_buy_quote_volume`` must agree
  within ``rtol`` relative plus ``atol`` absolute (default 1e-9 and 1e-8: Binance prints 8 decimals; daap sums
  doubles).

Buckets on one side only are *missing*, not mismatched: Binance publishes no kline during exchange maintenance,
where daap writes gap rows; and a lake that holds part of a month misses the rest. The verdict is ``match`` (every
bucket on both sides and equal), ``incomplete`` (all compared buckets equal, some missing) or ``mismatch``.

Examples:
    >>> import daap
    >>> from daap.klines import read_klines
    >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
    >>> klines = read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")
    >>> result = verify_against_klines(candles.iloc[:10], klines)
    >>> result.verdict, result.matched
    ('match', 10)
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from daap.errors import DaapError
from daap.intervals import Interval

if TYPE_CHECKING:
    import pandas as pd

    from daap.lake import Lake
    from daap.quality import Finding

__all__ = [
    "EXACT_FIELDS",
    "TOLERANT_FIELDS",
    "KlineReconciliation",
    "ReconcileError",
    "fetch_klines",
    "month_days",
    "verify_against_klines",
    "verify_lake",
]

#: Fields that must be equal bit for bit.
EXACT_FIELDS = ("open", "high", "low", "close", "trades", "close_time")
#: Fields compared at ``rtol`` relative plus ``atol`` absolute.
TOLERANT_FIELDS = ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume")
DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 1e-8
Verdict = Literal["match", "incomplete", "mismatch"]
_MAX_RUNS = 20


class ReconcileError(DaapError):
    """The reconciliation cannot run: no candles, no klines, or several symbols or intervals mixed.

    Examples:
        >>> month_days("2025-13")
        Traceback (most recent call last):
        ...
        daap.reconcile.ReconcileError: month must be YYYY-MM, got '2025-13'
    """


@dataclass
class KlineReconciliation:
    """The outcome of comparing candles with Binance klines.

    Attributes:
        symbol: the symbol.
        interval: the interval (daap's name, e.g. ``1m``).
        market: ``spot`` or ``um``, when known.
        start: first bucket considered (ISO 8601, UTC), or None for all.
        end: end of the range considered (exclusive), or None.
        rtol: relative tolerance of the volume fields.
        atol: absolute tolerance of the volume fields.
        candles: daap candles in the range.
        klines: Binance klines in the range.
        compared: buckets on both sides.
        matched: compared buckets equal on every field.
        mismatched: compared buckets with at least one difference.
        mismatches_by_field: how many buckets differ in each field.
        differences: the first few differences (open_time, field, ours, binance).
        missing_in_candles: buckets with a kline but no candle, as runs (start, end, buckets, binance_trades).
        missing_in_klines: buckets with a candle but no kline, as runs (start, end, buckets, our_trades); a run
            with no trades on our side is what an exchange maintenance window looks like.
        sources: the kline files or objects read.

    Examples:
        >>> import daap
        >>> from daap.klines import read_klines
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> klines = read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")  # 10 of the 11 minutes
        >>> result = verify_against_klines(candles, klines)
        >>> result.compared, result.matched, result.mismatched, result.missing_in_klines
        (10, 10, 0, [{'start': '2025-01-01T00:10:00Z', 'end': '2025-01-01T00:10:00Z', 'buckets': 1, 'our_trades': 387}])
    """

    symbol: str
    interval: str
    market: str | None
    start: str | None
    end: str | None
    rtol: float
    atol: float
    candles: int
    klines: int
    compared: int
    matched: int
    mismatched: int
    mismatches_by_field: dict[str, int]
    differences: list[dict[str, Any]]
    missing_in_candles: list[dict[str, Any]]
    missing_in_klines: list[dict[str, Any]]
    missing_in_candles_count: int = 0
    missing_in_klines_count: int = 0
    sources: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """``mismatch``, ``incomplete`` (a bucket missing on either side, or nothing compared) or ``match``.

        Examples:
            >>> candles, klines = _example_inputs()  # the real 2025-01-01 minutes; klines for 10 of the 11
            >>> verify_against_klines(candles.iloc[:10], klines).verdict
            'match'
            >>> verify_against_klines(candles, klines).verdict
            'incomplete'
            >>> klines.loc[3, "close"] += 0.01
            >>> verify_against_klines(candles, klines).verdict
            'mismatch'
        """
        if self.mismatched:
            return "mismatch"
        if self.missing_in_candles_count or self.missing_in_klines_count or not self.compared:
            return "incomplete"
        return "match"

    def summary(self) -> str:
        """One line: verdict and counts.

        Examples:
            >>> candles, klines = _example_inputs()  # the real 2025-01-01 minutes; klines for 10 of the 11
            >>> print(verify_against_klines(candles, klines, market="spot").summary())
            INCOMPLETE: BTCUSDT 1m spot: 10 buckets compared, 10 matched, 0 mismatched, 1 missing in Binance's klines
        """
        what = f"{self.symbol} {self.interval}" + (f" {self.market}" if self.market else "")
        parts = [f"{self.compared:,} buckets compared", f"{self.matched:,} matched", f"{self.mismatched:,} mismatched"]
        if self.missing_in_candles_count:
            parts.append(f"{self.missing_in_candles_count:,} missing in daap's candles")
        if self.missing_in_klines_count:
            parts.append(f"{self.missing_in_klines_count:,} missing in Binance's klines")
        return f"{self.verdict.upper()}: {what}: " + ", ".join(parts)

    def report(self) -> str:
        """A few lines for people: the summary, the differences by field, the first differences, the missing runs.

        Examples:
            >>> candles, klines = _example_inputs()  # the real 2025-01-01 minutes; klines for 10 of the 11
            >>> klines.loc[3, "close"] += 0.01
            >>> print(verify_against_klines(candles.iloc[:10], klines).report())
            MISMATCH: BTCUSDT 1m: 10 buckets compared, 9 matched, 1 mismatched
              candles 10, klines 10; prices, counts and close times exact, volumes within rtol 1e-09 + atol 1e-08
              differing buckets by field: close 1
                2025-01-01T00:03:00Z  close: daap 93677.98, Binance 93677.98999999999
            verdict: mismatch
        """
        lines = [self.summary()]
        lines.append(
            f"  candles {self.candles:,}, klines {self.klines:,}; prices, counts and close times exact, "
            f"volumes within rtol {self.rtol:g} + atol {self.atol:g}"
        )
        if self.mismatches_by_field:
            by = ", ".join(f"{k} {v:,}" for k, v in self.mismatches_by_field.items())
            lines.append(f"  differing buckets by field: {by}")
            for d in self.differences:
                lines.append(f"    {d['open_time']}  {d['field']}: daap {d['ours']!r}, Binance {d['binance']!r}")
        for title, runs, key in (
            ("missing in daap's candles", self.missing_in_candles, "binance_trades"),
            ("missing in Binance's klines", self.missing_in_klines, "our_trades"),
        ):
            if runs:
                lines.append(f"  {title}:")
                for r in runs:
                    quiet = key == "our_trades" and not r[key]
                    note = " (no trades on our side: maintenance or a halt)" if quiet else ""
                    lines.append(f"    {r['start']} .. {r['end']}  {r['buckets']:,} bucket(s), {key} {r[key]:,}{note}")
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, with the verdict and summary.

        Examples:
            >>> candles, klines = _example_inputs()  # the real 2025-01-01 minutes; klines for 10 of the 11
            >>> data = verify_against_klines(candles.iloc[:10], klines).to_dict()
            >>> data["verdict"], data["compared"], data["mismatches_by_field"]
            ('match', 10, {})
        """
        return {"verdict": self.verdict, "summary": self.summary(), **dataclasses.asdict(self)}

    def to_json(self) -> str:
        """The result as JSON.

        Examples:
            >>> import json
            >>> candles, klines = _example_inputs()  # the real 2025-01-01 minutes; klines for 10 of the 11
            >>> json.loads(verify_against_klines(candles, klines).to_json())["missing_in_klines_count"]
            1
        """
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_finding(self) -> Finding:
        """As a quality-report finding named ``klines``: an error on a mismatch, a warning when incomplete.

        Examples:
            >>> candles, klines = _example_inputs()  # the real 2025-01-01 minutes; klines for 10 of the 11
            >>> f = verify_against_klines(candles, klines).to_finding()
            >>> f.check, f.severity, f.target, f.passed
            ('klines', 'warn', 'klines BTCUSDT 1m', False)
        """
        from daap.quality import Finding

        severity: Literal["error", "warn"] = "error" if self.verdict == "mismatch" else "warn"
        details = self.to_dict()
        details["missing_in_candles"] = details["missing_in_candles"][:5]
        details["missing_in_klines"] = details["missing_in_klines"][:5]
        target = f"klines {self.symbol} {self.interval}"
        return Finding("klines", severity, target, self.verdict == "match", self.summary(), details)


def _example_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The examples' inputs: candles of the real 2025-01-01 trades in tests/data (11 minutes), klines of 10 of them."""
    from daap.candles import CandleBuilder
    from daap.klines import read_klines
    from daap.trades import read_trades

    candles = CandleBuilder("1m").build(read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
    return candles, read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")


# --------------------------------------------------------------------------------------------------- comparing
def _frame(data: Any, what: str) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pa.Table):
        out: pd.DataFrame = data.to_pandas(coerce_temporal_nanoseconds=False)
        return out
    raise TypeError(
        f"{what} must be a pandas DataFrame or a pyarrow Table, got {type(data).__name__} "
        "(Spark or Snowpark candles: convert with the engine's candles_to_pandas first)"
    )


def _us(series: pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    import pandas as pd

    s = series
    if getattr(s.dt, "tz", None) is None:
        s = s.dt.tz_localize("UTC")
    return np.asarray(pd.to_datetime(s).astype("datetime64[us, UTC]").astype("int64"), dtype=np.int64)


def _one(frame: pd.DataFrame, column: str, given: str | None, what: str) -> str:
    if given is not None:
        return given
    values = frame[column].dropna().unique().tolist() if column in frame.columns else []
    if len(values) != 1:
        raise ReconcileError(f"{what} hold {len(values)} {column}s {values[:5]}; pass {column}= to choose one")
    return str(values[0])


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _runs(
    interval: Interval, open_us: np.ndarray[Any, Any], trades: np.ndarray[Any, Any], key: str
) -> list[dict[str, Any]]:
    """Consecutive buckets as runs: start, end (the last bucket's open time), buckets, and their trades."""
    if open_us.shape[0] == 0:
        return []
    idx = interval.index_of(open_us)
    breaks = np.flatnonzero(np.diff(idx) != 1)
    lo = np.concatenate(([0], breaks + 1))
    hi = np.append(breaks, idx.shape[0] - 1)
    sums = np.add.reduceat(trades, lo)
    return [
        {"start": _iso(int(open_us[a])), "end": _iso(int(open_us[b])), "buckets": int(b - a + 1), key: int(s)}
        for a, b, s in zip(lo.tolist(), hi.tolist(), sums.tolist(), strict=True)
    ]


def verify_against_klines(
    candles: Any,
    klines: Any,
    *,
    symbol: str | None = None,
    interval: str | None = None,
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_differences: int = 10,
    market: str | None = None,
) -> KlineReconciliation:
    """Compare daap candles with Binance klines bucket by bucket.

    Args:
        candles: candles in the contract (pandas or Arrow), one symbol and interval (or choose with the arguments).
        klines: Binance klines: a frame from :func:`daap.klines.read_klines`, or kline file path(s).
        symbol: the symbol to compare, when the inputs hold several.
        interval: the interval, when the inputs hold several.
        start: compare buckets opening at or after this (a date means its 00:00 UTC).
        end: compare buckets opening before this (a date means the *end* of that day, inclusive).
        rtol: relative tolerance of the volume fields.
        atol: absolute tolerance of the volume fields.
        max_differences: how many individual differences to keep as examples.
        market: recorded in the result.

    Returns:
        The :class:`KlineReconciliation`; nothing is raised for differences.

    Raises:
        ReconcileError: several symbols or intervals and none chosen.

    Examples:
        >>> import daap
        >>> from daap.klines import read_klines
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> klines = read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")
        >>> klines.loc[3, "close"] += 0.01
        >>> r = verify_against_klines(candles, klines)
        >>> r.verdict, r.mismatches_by_field, r.differences[0]["open_time"], r.missing_in_klines[0]["buckets"]
        ('mismatch', {'close': 1}, '2025-01-01T00:03:00Z', 1)
    """
    import pandas as pd

    from daap.contract import CANDLE_COLUMNS

    if isinstance(klines, (str, Path)) or (
        isinstance(klines, Sequence) and not isinstance(klines, pd.DataFrame) and klines
    ):
        from daap.klines import read_klines

        sources = [str(p) for p in ([klines] if isinstance(klines, (str, Path)) else klines)]
        kl = read_klines(sources, symbol=symbol, interval=interval)
    else:
        sources = []
        kl = _frame(klines, "klines")
    cd = _frame(candles, "candles")
    missing_cols = [c for c in CANDLE_COLUMNS if c not in cd.columns]
    if missing_cols:
        raise ReconcileError(f"the candles lack column(s) {missing_cols}: expected the candle contract")
    sym = _one(cd if len(cd) else kl, "symbol", symbol, "the candles")
    iv_name = _one(cd if len(cd) else kl, "interval", interval, "the candles")
    iv = Interval.parse(iv_name)
    if "symbol" in kl.columns:
        kl = kl[kl["symbol"] == sym]
    if "interval" in kl.columns:
        kl = kl[kl["interval"] == iv.name]
    cd = cd[(cd["symbol"] == sym) & (cd["interval"] == iv.name)]

    c_open, k_open = _us(cd["open_time"]), _us(kl["open_time"])
    lo_us = _bound(start, end=False)
    hi_us = _bound(end, end=True)
    c_keep = np.ones(c_open.shape[0], dtype=bool)
    k_keep = np.ones(k_open.shape[0], dtype=bool)
    if lo_us is not None:
        c_keep &= c_open >= lo_us
        k_keep &= k_open >= lo_us
    if hi_us is not None:
        c_keep &= c_open < hi_us
        k_keep &= k_open < hi_us
    cd, c_open = cd[c_keep], c_open[c_keep]
    kl, k_open = kl[k_keep], k_open[k_keep]
    for name, keys in (("candles", c_open), ("klines", k_open)):
        if np.unique(keys).shape[0] != keys.shape[0]:
            raise ReconcileError(f"the {name} hold the same open_time more than once for {sym} {iv.name}")

    common, ci, ki = np.intersect1d(c_open, k_open, return_indices=True)
    only_c = np.setdiff1d(c_open, k_open)
    only_k = np.setdiff1d(k_open, c_open)
    c_trades = cd["trades"].to_numpy(dtype=np.int64)
    k_trades = kl["trades"].to_numpy(dtype=np.int64)

    differs = np.zeros(common.shape[0], dtype=bool)
    by_field: dict[str, int] = {}
    examples: list[tuple[int, int, str, Any, Any]] = []
    order = {f: i for i, f in enumerate((*EXACT_FIELDS, *TOLERANT_FIELDS))}
    for f in (*EXACT_FIELDS, *TOLERANT_FIELDS):
        if f == "close_time":
            ours: Any = _us(cd["close_time"])[ci]
            theirs: Any = _us(kl["close_time"])[ki]
            bad = ours != theirs
        elif f in EXACT_FIELDS:
            ours = cd[f].to_numpy()[ci]
            theirs = kl[f].to_numpy()[ki]
            bad = ours != theirs
        else:
            ours = cd[f].to_numpy(dtype=np.float64)[ci]
            theirs = kl[f].to_numpy(dtype=np.float64)[ki]
            bad = ~(np.abs(ours - theirs) <= rtol * np.maximum(np.abs(ours), np.abs(theirs)) + atol)
        if bad.any():
            by_field[f] = int(bad.sum())
            differs |= bad
            for j in np.flatnonzero(bad)[:max_differences].tolist():
                o, t = ours[j], theirs[j]
                if f == "close_time":
                    o, t = _iso(int(o)), _iso(int(t))
                examples.append((int(common[j]), order[f], f, _plain(o), _plain(t)))
    examples.sort()
    differences = [
        {"open_time": _iso(t), "field": f, "ours": o, "binance": b} for t, _, f, o, b in examples[:max_differences]
    ]
    c_pos = {int(t): i for i, t in enumerate(c_open.tolist())} if only_c.shape[0] else {}
    k_pos = {int(t): i for i, t in enumerate(k_open.tolist())} if only_k.shape[0] else {}
    miss_k = _runs(iv, only_c, c_trades[[c_pos[int(t)] for t in only_c.tolist()]], "our_trades")
    miss_c = _runs(iv, only_k, k_trades[[k_pos[int(t)] for t in only_k.tolist()]], "binance_trades")
    return KlineReconciliation(
        symbol=sym,
        interval=iv.name,
        market=market,
        start=_iso(lo_us) if lo_us is not None else None,
        end=_iso(hi_us) if hi_us is not None else None,
        rtol=rtol,
        atol=atol,
        candles=int(c_open.shape[0]),
        klines=int(k_open.shape[0]),
        compared=int(common.shape[0]),
        matched=int((~differs).sum()),
        mismatched=int(differs.sum()),
        mismatches_by_field=by_field,
        differences=differences,
        missing_in_candles=miss_c[:_MAX_RUNS],
        missing_in_klines=miss_k[:_MAX_RUNS],
        missing_in_candles_count=int(only_k.shape[0]),
        missing_in_klines_count=int(only_c.shape[0]),
        sources=sources,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _bound(value: dt.datetime | dt.date | None, *, end: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    else:
        day = value + dt.timedelta(days=1) if end else value
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    return round(moment.timestamp() * 1_000_000)


# --------------------------------------------------------------------------------------------- the lake's copy
def month_days(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a ``YYYY-MM`` month.

    Examples:
        >>> month_days("2024-02")
        (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))
    """
    try:
        year, mon = (int(x) for x in month.split("-"))
        last = calendar.monthrange(year, mon)[1]
        return dt.date(year, mon, 1), dt.date(year, mon, last)
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise ReconcileError(f"month must be YYYY-MM, got {month!r}") from exc


def _plan(start: dt.date, end: dt.date) -> list[tuple[str, list[dt.date]]]:
    """Per month touched: ``(YYYY-MM, days)``; a whole month is fetched as its monthly file."""
    out: list[tuple[str, list[dt.date]]] = []
    day = start
    while day <= end:
        _, last = month_days(f"{day.year:04d}-{day.month:02d}")
        stop = min(last, end)
        days = [day + dt.timedelta(days=i) for i in range((stop - day).days + 1)]
        out.append((f"{day.year:04d}-{day.month:02d}", days))
        day = stop + dt.timedelta(days=1)
    return out


def fetch_klines(
    lake: Lake,
    symbol: str,
    *,
    start: dt.date,
    end: dt.date,
    interval: str = "1m",
    market: str = "spot",
    base_url: str | None = None,
    on_file: Callable[[str, str], None] | None = None,
) -> tuple[list[str], list[str]]:
    """Fetch Binance's kline files for UTC days ``[start, end]`` into the lake's ``reference/klines/`` zone.

    A month wholly inside the range is fetched as its monthly file, falling back to the daily files when Binance
    has not published it yet (the current month); other days as daily files. Every file is checked against its
    ``.CHECKSUM``; an object already in the lake with the server's current CHECKSUM is not downloaded again.

    Args:
        lake: the lake.
        symbol: e.g. ``BTCUSDT``.
        start: first UTC day.
        end: last UTC day.
        interval: daap interval name (``1M`` is Binance's ``1mo``).
        market: ``spot`` or ``um``.
        base_url: the public-data base URL (default ``$DAAP_BINANCE_BASE_URL`` or data.binance.vision).
        on_file: called as ``on_file(name, status)`` with status ``downloaded``, ``cached`` or ``missing``.

    Returns:
        The lake keys of the kline files, and the URLs Binance does not have (days not published).

    Raises:
        DownloadError: a transfer or checksum failure (nothing half-written is left in the lake).

    Examples:
        A ``file://`` mirror in Binance's layout stands in for data.binance.vision; it has 2025-01-01 only:

        >>> import daap, datetime, tempfile
        >>> from daap.klines import read_klines, write_kline_files
        >>> mirror = tempfile.mkdtemp()
        >>> klines = read_klines("tests/data/klines/BTCUSDT-1m-2025-01-01.csv")
        >>> _ = write_kline_files(f"{mirror}/data/spot/daily/klines/BTCUSDT/1m", klines, market="spot")
        >>> lake = daap.Lake(tempfile.mkdtemp())
        >>> day = datetime.date(2025, 1, 1)
        >>> keys, missing = fetch_klines(lake, "BTCUSDT", start=day, end=day + datetime.timedelta(days=1),
        ...                              base_url=f"file://{mirror}", on_file=lambda name, status: print(name, status))
        BTCUSDT-1m-2025-01-01.zip downloaded
        BTCUSDT-1m-2025-01-02.zip missing
        >>> keys
        ['reference/klines/market=spot/interval=1m/symbol=BTCUSDT/BTCUSDT-1m-2025-01-01.zip']
        >>> [url.rsplit("/", 1)[-1] for url in missing]
        ['BTCUSDT-1m-2025-01-02.zip']
        >>> _ = fetch_klines(lake, "BTCUSDT", start=day, end=day, base_url=f"file://{mirror}",  # not downloaded again
        ...                  on_file=lambda name, status: print(name, status))
        BTCUSDT-1m-2025-01-01.zip cached
    """
    from daap import download as dl
    from daap.klines import binance_interval

    b_iv = binance_interval(interval)
    keys: list[str] = []
    missing: list[str] = []
    notify = on_file or (lambda name, status: None)
    with tempfile.TemporaryDirectory(prefix="daap-klines-") as tmp:

        def one(**when: Any) -> bool:
            url = dl.binance_url(symbol, market=market, kind="klines", interval=b_iv, base_url=base_url, **when)  # type: ignore[arg-type]
            name = urllib.parse.unquote(url.rsplit("/", 1)[-1])
            key = lake.kline_key(market, interval, symbol, name)
            try:
                checksum = dl.fetch_text(url + ".CHECKSUM", max_bytes=64 * 1024)
            except dl.DownloadNotFoundError:
                missing.append(url)
                notify(name, "missing")
                return False
            side = key + ".CHECKSUM"
            if lake.store.exists(key) and lake.store.exists(side) and lake.store.read_bytes(side).decode() == checksum:
                keys.append(key)
                notify(name, "cached")
                return True
            local = Path(tmp) / name
            dl.download_verified(url, local)
            lake.store.put_file(local, key)
            # Last: the sidecar (the CHECKSUM the file was verified against) marks the object complete.
            lake.store.write_bytes(side, local.with_name(name + ".CHECKSUM").read_bytes())
            keys.append(key)
            notify(name, "downloaded")
            return True

        for month, days in _plan(start, end):
            whole = days[0].day == 1 and days[-1] == month_days(month)[1]
            if whole and one(month=month):
                continue
            if whole:
                missing.pop()  # the monthly file is not out yet: the daily files stand in for it
            for day in days:
                one(date=day)
    return keys, missing


def verify_lake(
    lake: Lake | str | Path,
    symbol: str,
    *,
    month: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    interval: str = "1m",
    market: str = "spot",
    base_url: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_differences: int = 10,
    on_file: Callable[[str, str], None] | None = None,
) -> KlineReconciliation:
    """Verify a symbol's candles in the lake against Binance's official klines for a month (or days).

    Fetches the kline files (:func:`fetch_klines`), reads the lake's candles of ``interval`` for the range (rolling
    ``1m`` candles up when the lake has none at ``interval``), and compares (:func:`verify_against_klines`).

    Raises:
        ReconcileError: no candles for the symbol in the lake, or no kline file for the range at Binance.

    Examples:
        >>> import daap, tempfile
        >>> verify_lake(daap.Lake(tempfile.mkdtemp()), "BTCUSDT", month="2025-01")
        Traceback (most recent call last):
        ...
        daap.reconcile.ReconcileError: no 1m candles (nor 1m to roll up) for BTCUSDT from 2025-01-01 to 2025-01-31 in the lake: build them first (daap run, or daap candles --lake)
    """  # noqa: E501
    import pyarrow as pa
    import pyarrow.parquet as pq

    from daap.candles import CandleBuilder
    from daap.engines.pandas import candles_to_pandas
    from daap.klines import read_klines
    from daap.lake import Lake

    the_lake = lake if isinstance(lake, Lake) else Lake(lake)
    if month is not None:
        if start is not None or end is not None:
            raise ReconcileError("give month= or start=/end=, not both")
        start, end = month_days(month)
    if start is None or end is None:
        raise ReconcileError("give month='YYYY-MM', or both start= and end= days")
    iv = Interval.parse(interval)
    keys = the_lake.candle_keys(iv.name, symbol, start=start, end=end)
    rolled = False
    if not keys and iv.name != "1m":
        keys = the_lake.candle_keys("1m", symbol, start=start, end=end)
        rolled = True
    if not keys:
        raise ReconcileError(
            f"no {iv.name} candles (nor 1m to roll up) for {symbol} from {start} to {end} in the lake: "
            "build them first (daap run, or daap candles --lake)"
        )
    with the_lake.local_files(keys) as paths:
        candles = candles_to_pandas(pa.concat_tables([pq.read_table(p) for p in paths]))
    if rolled:
        candles = CandleBuilder(iv).rollup(candles, iv)
    kline_keys, missing = fetch_klines(
        the_lake, symbol, start=start, end=end, interval=iv.name, market=market, base_url=base_url, on_file=on_file
    )
    if not kline_keys:
        raise ReconcileError(f"Binance has no {iv.name} kline file for {symbol} from {start} to {end}: {missing[0]}")
    with the_lake.local_files(kline_keys) as kpaths:
        klines = read_klines(kpaths, symbol=symbol, interval=iv.name)
    result = verify_against_klines(
        candles,
        klines,
        symbol=symbol,
        interval=iv.name,
        start=start,
        end=end,
        rtol=rtol,
        atol=atol,
        max_differences=max_differences,
        market=market,
    )
    result.sources = [f"{the_lake.uri.rstrip('/')}/{k}" for k in kline_keys]
    return result
