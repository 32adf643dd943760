"""Gap rows across the edges of a partial rebuild of a lake's candles, so that building by parts equals one build.

Building May 16-31 alone cannot know May 15's last close: the gap rows between the last trade before May 16 and the
first one after it (the end of May 15, the start of May 16, and whole days in a halt) would be missing, or would be
left over from an earlier build. :func:`stitch` takes the freshly built days and the neighbouring days already in the
lake and returns every day file to (re)write: the neighbours with their edge gap rows recomputed, gap-only days in
between, and the new days with their leading or trailing gap rows. Rows with trades are never changed.

Examples:
    >>> import daap, tempfile
    >>> from daap.intervals import Interval
    >>> lake = daap.Lake(tempfile.mkdtemp())
    >>> new = {"2025-01-01": daap.CandleBuilder("1m").build(
    ...     daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))}
    >>> sorted(stitch(lake, "BTCUSDT", Interval.parse("1m"), new))   # nothing around it in the lake yet
    ['2025-01-01']
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from daap.intervals import Interval

if TYPE_CHECKING:
    import pandas as pd

    from daap.lake import Lake

__all__ = ["stitch"]


def _day_of(us: int) -> str:
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)).date().isoformat()


def _micros(frame: pd.DataFrame, col: str) -> Any:
    return frame[col].astype("datetime64[us, UTC]").astype("int64").to_numpy()


def _gap_rows(template: pd.DataFrame, interval: Interval, after_us: int, before_us: int, close: float) -> pd.DataFrame:
    """Gap rows for the buckets strictly between the buckets of ``after_us`` and ``before_us``, priced at ``close``."""
    from daap.engines.pandas import candles_to_pandas, gap_rows

    first, last = interval.index_of(np.array([after_us, before_us], dtype=np.int64)).tolist()
    rows = candles_to_pandas(gap_rows(interval, str(template["symbol"].iloc[0]), int(first), int(last), close))
    return rows[list(template.columns)]


def _split_by_day(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if rows.empty:
        return {}
    days = np.array([_day_of(int(t)) for t in _micros(rows, "open_time")])
    return {d: rows[days == d] for d in sorted(set(days.tolist()))}


def stitch(lake: Lake, symbol: str, interval: Interval, new: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every candles day file to write after building the days of ``new`` (date → that day's candles).

    Args:
        lake: the lake, whose candles zone holds the neighbouring days.
        symbol: the symbol.
        interval: the candles' interval.
        new: the freshly built days, consecutive, in the contract (pandas).

    Returns:
        Date → candles for the new days, the rewritten neighbours and any gap-only days between them.
    """
    import pandas as pd

    if not new:
        return {}
    out = {d: f.reset_index(drop=True) for d, f in sorted(new.items())}
    existing = [lake.day_of_key(k) for k in lake.candle_keys(interval.name, symbol)]
    first_day, last_day = min(out), max(out)

    def read(day: str) -> pd.DataFrame:
        with lake.local_files([lake.candles_key(interval.name, symbol, day)]) as paths:
            return pd.read_parquet(paths[0])

    template = out[first_day]
    before = [d for d in existing if d < first_day]
    if before:
        prev_day = before[-1]
        prev = read(prev_day)
        traded = prev[prev["trades"] > 0]
        anchor = traded.iloc[-1] if len(traded) else prev.iloc[-1]
        anchor_us = int(_micros(anchor.to_frame().T, "open_time")[0])
        first = out[first_day].iloc[0]
        first_us = int(_micros(first.to_frame().T, "open_time")[0])
        kept = prev[_micros(prev, "open_time") <= anchor_us]
        gaps = _split_by_day(_gap_rows(template, interval, anchor_us, first_us, float(anchor["close"])))
        out[prev_day] = _concat(kept, gaps.pop(prev_day, kept.iloc[:0]))
        if first_day in gaps:
            out[first_day] = _concat(gaps.pop(first_day), out[first_day])
        out.update(gaps)
    after = [d for d in existing if d > last_day]
    if after:
        next_day = after[0]
        nxt = read(next_day)
        traded = nxt[nxt["trades"] > 0]
        if len(traded):  # a gap-only next day is rebuilt when its own trades are
            head_us = int(_micros(traded.iloc[[0]], "open_time")[0])
            last = out[last_day].iloc[-1]
            last_us = int(_micros(last.to_frame().T, "open_time")[0])
            kept = nxt[_micros(nxt, "open_time") >= head_us]
            gaps = _split_by_day(_gap_rows(template, interval, last_us, head_us, float(last["close"])))
            out[next_day] = _concat(gaps.pop(next_day, kept.iloc[:0]), kept)
            if last_day in gaps:
                out[last_day] = _concat(out[last_day], gaps.pop(last_day))
            out.update(gaps)
    return dict(sorted(out.items()))


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """``a`` then ``b`` in ``a``'s dtypes; an empty side is left out (no pandas FutureWarning on all-null columns)."""
    import pandas as pd

    parts = [f for f in (a, b) if len(f)] or [a]
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    return pd.concat([a, b.astype(a.dtypes.to_dict())], ignore_index=True)
