"""Technical indicators on candles: typed specs, :func:`add` to append their columns, :func:`parse` for text.

Every indicator is computed per ``(symbol, interval)``, in ``open_time`` order, with TA-Lib's conventions (see
:mod:`daap.indicators.specs`); gap rows take part like any candle. The result keeps the input's row order.

Examples:
    >>> import daap
    >>> from daap import indicators
    >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"))
    >>> out = indicators.add(candles, [indicators.SMA(2), indicators.Returns()])
    >>> list(out.columns[-2:])
    ['sma_2', 'returns']
    >>> indicators.parse("sma:7, macd, bb:20:2.5")
    [SMA(n=7), MACD(fast=12, slow=26, signal=9), Bollinger(n=20, k=2.5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from daap.errors import ValidationError
from daap.indicators.specs import (
    ATR,
    EMA,
    MACD,
    OBV,
    RSI,
    SMA,
    VWAP,
    Bollinger,
    IndicatorSpecError,
    RealizedVol,
    Returns,
    Spec,
    micros,
)

__all__ = [
    "ATR",
    "DEFAULT",
    "EMA",
    "MACD",
    "OBV",
    "RSI",
    "SMA",
    "VWAP",
    "Bollinger",
    "IndicatorSpecError",
    "RealizedVol",
    "Returns",
    "Spec",
    "add",
    "parse",
]

DEFAULT: tuple[Spec, ...] = (
    SMA(7),
    EMA(21),
    RSI(14),
    MACD(),
    Bollinger(),
    ATR(14),
    VWAP(),
    Returns(log=True),
    RealizedVol(20),
    OBV(),
)
"""The indicators computed when none are named."""


def add(candles: Any, specs: Sequence[Spec], *, engine: str | None = None) -> Any:
    """Return a copy of ``candles`` with the columns of ``specs`` appended (float64, NaN during warm-up).

    Args:
        candles: candles in the candle contract (only the columns the specs read are needed, plus ``symbol``,
            ``interval`` and ``open_time``), any row order, any number of symbols and intervals.
        specs: the indicators, e.g. :data:`DEFAULT` or ``parse("sma:7,rsi:14")``.
        engine: compute with this engine, on its own frames (e.g. ``"spark"`` for a Spark DataFrame); the values
            are the same in every engine.

    Returns:
        A new frame, rows in the input's order, each indicator computed per ``(symbol, interval)`` over rows
        ordered by ``open_time``.

    Raises:
        IndicatorSpecError: an output column already exists, or two specs write the same column.
        ValidationError: a needed column is missing, or a ``(symbol, interval, open_time)`` repeats.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"symbol": "X", "interval": "1m", "close": [3.0, 1.0, 2.0],
        ...                       "open_time": pd.to_datetime([2, 0, 1], unit="m", utc=True)})
        >>> add(frame, [SMA(2)])["sma_2"].tolist()
        [2.5, nan, 1.5]
    """
    import pandas as pd

    if engine is not None and engine != "pandas":
        from daap.engines import get_engine

        return get_engine(engine).add_indicators(candles, specs)  # type: ignore[attr-defined]
    if not isinstance(candles, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of candles, got {type(candles).__name__}; pass engine=")
    specs = list(specs)
    names: list[str] = [c for s in specs for c in s.columns]
    seen: set[str] = set()
    for name in names:
        if name in candles.columns or name in seen:
            raise IndicatorSpecError(f"column {name!r} would be written twice (already in the candles or repeated)")
        seen.add(name)
    needed = ["symbol", "interval", "open_time", *dict.fromkeys(c for s in specs for c in s.inputs)]
    missing = [c for c in needed if c not in candles.columns]
    if missing:
        raise ValidationError(f"indicators need the candle columns {missing}, which are missing")
    m = len(candles)
    out = {name: np.full(m, np.nan, dtype=np.float64) for name in names}
    if m and specs:
        sym = pd.factorize(candles["symbol"], sort=True)[0]
        ivl = pd.factorize(candles["interval"], sort=True)[0]
        t = micros(candles["open_time"])
        order = np.lexsort((t, ivl, sym))
        key_change = (np.diff(sym[order]) != 0) | (np.diff(ivl[order]) != 0)
        if ((np.diff(t[order]) == 0) & ~key_change).any():
            raise ValidationError("candles repeat an open_time within one (symbol, interval)")
        bounds = np.concatenate(([0], np.flatnonzero(key_change) + 1, [m]))
        cols = {c: candles[c].to_numpy()[order] for c in needed[3:] if c not in ("open_time", "interval")}
        cols["open_time"] = t[order]
        cols["interval"] = np.asarray(candles["interval"].to_numpy())[order]
        for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            group = {c: v[s:e] for c, v in cols.items()}
            rows = order[s:e]
            for spec in specs:
                for name, values in spec.compute(group).items():
                    out[name][rows] = values
    if not names:
        return candles.copy()
    return pd.concat([candles, pd.DataFrame(out, index=candles.index)], axis=1)


_MAX_PARAMS = {"sma": 1, "ema": 1, "rsi": 1, "macd": 3, "bb": 2, "atr": 1, "vwap": 1, "returns": 0,
               "logreturns": 0, "rvol": 2, "obv": 0}  # fmt: skip


def parse(text: str) -> list[Spec]:
    """Parse a comma-separated list of indicators.

    Grammar (names are case-insensitive, spaces around tokens are ignored, an empty text gives ``[]``)::

        list   := token ("," token)*
        token  := "sma:" N | "ema:" N | "rsi" [":" N] | "macd" [":" N ":" N ":" N] | "bb" [":" N [":" K]]
                | "atr" [":" N] | "vwap" [":" N] | "returns" | "logreturns" | "rvol" [":" N [":ann"]] | "obv"

    ``N`` is a positive integer and ``K`` a positive number. ``vwap`` alone is the session (UTC day) VWAP,
    ``vwap:N`` the rolling one; ``rvol:N:ann`` annualizes.

    Raises:
        IndicatorSpecError: naming the bad token and why.

    Examples:
        >>> parse("sma:7,vwap,vwap:30,logreturns,rvol:20:ann")
        [SMA(n=7), VWAP(window=None), VWAP(window=30), Returns(log=True), RealizedVol(window=20, annualize=True)]
        >>> parse("sma:x")
        Traceback (most recent call last):
        ...
        daap.indicators.specs.IndicatorSpecError: bad indicator 'sma:x': 'x' is not a positive integer
    """
    if not text.strip():
        return []
    return [_parse_token(token.strip()) for token in text.split(",")]


def _parse_token(token: str) -> Spec:
    def fail(why: str) -> IndicatorSpecError:
        return IndicatorSpecError(f"bad indicator {token!r}: {why}")

    name, *params = token.lower().split(":")
    if name not in _MAX_PARAMS:
        raise fail(f"unknown name {name!r} (known: {', '.join(_MAX_PARAMS)})")
    if len(params) > _MAX_PARAMS[name]:
        raise fail(f"{name} takes at most {_MAX_PARAMS[name]} parameter(s)")

    def integer(i: int) -> int:
        p = params[i]
        if not p.isdigit() or int(p) < 1:
            raise fail(f"{p!r} is not a positive integer")
        return int(p)

    try:
        if name in ("sma", "ema"):
            if len(params) != 1:
                raise fail(f"{name} needs a period, e.g. {name}:7")
            return SMA(integer(0)) if name == "sma" else EMA(integer(0))
        if name == "rsi":
            return RSI(*(integer(i) for i in range(len(params))))
        if name == "atr":
            return ATR(*(integer(i) for i in range(len(params))))
        if name == "macd":
            if len(params) not in (0, 3):
                raise fail("macd takes no parameter or three (fast:slow:signal)")
            return MACD(*(integer(i) for i in range(len(params))))
        if name == "bb":
            n = integer(0) if params else 20
            k = 2.0
            if len(params) == 2:
                try:
                    k = float(params[1])
                except ValueError:
                    raise fail(f"{params[1]!r} is not a number") from None
            return Bollinger(n, k)
        if name == "vwap":
            return VWAP(integer(0) if params else None)
        if name == "rvol":
            if len(params) == 2 and params[1] != "ann":
                raise fail(f"{params[1]!r} should be 'ann'")
            return RealizedVol(integer(0) if params else 20, annualize=len(params) == 2)
        if name in ("returns", "logreturns"):
            return Returns(log=name == "logreturns")
        return OBV()
    except IndicatorSpecError as exc:
        if str(exc).startswith("bad indicator"):
            raise
        raise fail(str(exc)) from None
