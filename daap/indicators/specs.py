"""Indicator specs: small frozen dataclasses that name their output columns and compute them with numpy.

Each spec computes from one symbol's candles of one interval, ordered by ``open_time``. Conventions follow TA-Lib
(the reference the tests compare with): the first rows are NaN until the indicator is defined (its *warm-up*),
EMA is seeded with the SMA of its first ``n`` values, RSI and ATR use Wilder smoothing, Bollinger bands use the
population standard deviation, and MACD aligns its fast EMA to start where the slow one does. Gap rows (zero volume,
price carried) take part like any other candle.

Examples:
    >>> import numpy as np
    >>> close = np.array([1.0, 2.0, 3.0, 4.0])
    >>> SMA(2).compute({"close": close})["sma_2"].tolist()
    [nan, 1.5, 2.5, 3.5]
    >>> MACD().columns
    ('macd_12_26_9', 'macd_signal_12_26_9', 'macd_hist_12_26_9')
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from daap.errors import DaapError
from daap.indicators._kernels import linear_scan, rolling_sum, window_sums

__all__ = [
    "ATR",
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
    "micros",
]

F64 = npt.NDArray[np.float64]
Columns = Mapping[str, Any]

_US_PER_DAY = 86_400_000_000
_SECONDS_PER_YEAR = 365 * 86_400


class IndicatorSpecError(DaapError, ValueError):
    """An indicator spec with bad parameters, or text that does not parse as a list of specs.

    Examples:
        >>> SMA(0)
        Traceback (most recent call last):
        ...
        daap.indicators.specs.IndicatorSpecError: SMA: n must be an int >= 1, got 0
    """


def _num(value: float) -> str:
    """Name a parameter: ``2.0`` → ``2``, ``2.5`` → ``2p5`` (column names stay plain SQL identifiers)."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace(".", "p").replace("-", "m")


def _check_int(owner: str, name: str, value: object, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise IndicatorSpecError(f"{owner}: {name} must be an int >= {low}, got {value!r}")


def _col(candles: Columns, name: str) -> F64:
    values = candles[name]
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    return np.asarray(values, dtype=np.float64)


def _nan(m: int) -> F64:
    return np.full(m, np.nan, dtype=np.float64)


def _ema(x: F64, n: int, start: int = 0) -> F64:
    """TA-Lib's EMA of ``x[start:]``: seeded at ``start + n - 1`` with the mean of the first ``n`` values."""
    seed_at = start + n - 1
    if seed_at >= x.shape[0]:
        return _nan(x.shape[0])
    seed = float(np.sum(x[start : seed_at + 1])) / n
    k = 2.0 / (n + 1)
    out = linear_scan(x[seed_at + 1 :], 1.0 - k, seed, scale=k, prefix=seed_at + 1)
    out[:seed_at] = np.nan
    out[seed_at] = seed
    return out


def _wilder(u: F64, n: int, first: int) -> F64:
    """Wilder's average of ``u[first:]``: the mean of its first ``n`` values, then ``(prev * (n-1) + u) / n``."""
    seed_at = first + n - 1
    if seed_at >= u.shape[0]:
        return _nan(u.shape[0])
    seed = float(np.sum(u[first : seed_at + 1])) / n
    out = linear_scan(u[seed_at + 1 :], (n - 1) / n, seed, scale=1.0 / n, prefix=seed_at + 1)
    out[:seed_at] = np.nan
    out[seed_at] = seed
    return out


def _rolling_mean(x: F64, n: int) -> F64:
    """Mean over ``n`` rows, NaN for the first ``n - 1`` (prefix sums of ``x - x[0]``: no cancellation)."""
    mean = np.empty(x.shape[0], dtype=np.float64)
    mean[: n - 1] = np.nan
    if x.shape[0] >= n:
        np.divide(rolling_sum(x, n, float(x[0])), n, out=mean[n - 1 :])
    return mean


class Spec(ABC):
    """An indicator: what it reads (:attr:`inputs`), what it writes (:attr:`columns`) and how (:meth:`compute`).

    Examples:
        A custom indicator is a frozen dataclass naming its columns and computing them with numpy:

        >>> from dataclasses import dataclass
        >>> import numpy as np
        >>> @dataclass(frozen=True)
        ... class Range(Spec):
        ...     inputs = ("high", "low")
        ...     @property
        ...     def columns(self):
        ...         return ("range",)
        ...     def compute(self, candles):
        ...         return {"range": np.asarray(candles["high"]) - np.asarray(candles["low"])}
        >>> Range().compute({"high": np.array([3.0, 5.0]), "low": np.array([1.0, 4.5])})
        {'range': array([2. , 0.5])}
    """

    inputs: ClassVar[tuple[str, ...]] = ("close",)

    @property
    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """Names of the output columns, in order.

        Examples:
            >>> [spec.columns for spec in (SMA(7), Bollinger(20, 2.5))]
            [('sma_7',), ('bb_upper_20_2p5', 'bb_middle_20_2p5', 'bb_lower_20_2p5')]
        """

    @abstractmethod
    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the columns from one symbol's candles of one interval, ordered by ``open_time``.

        Args:
            candles: a DataFrame, or any mapping from column name to a 1-d array, holding :attr:`inputs`.

        Returns:
            One float64 array per name of :attr:`columns`, NaN during the warm-up.

        Examples:
            >>> import pandas as pd
            >>> SMA(2).compute(pd.DataFrame({"close": [1.0, 2.0, 4.0]}))
            {'sma_2': array([nan, 1.5, 3. ])}
        """


@dataclass(frozen=True)
class SMA(Spec):
    """Simple moving average of ``close`` over ``n`` candles (TA-Lib ``SMA``); column ``sma_{n}``.

    Examples:
        >>> SMA(7).columns
        ('sma_7',)
    """

    n: int

    def __post_init__(self) -> None:
        _check_int("SMA", "n", self.n)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column, ``sma_{n}``.

        Examples:
            >>> SMA(7).columns
            ('sma_7',)
        """
        return (f"sma_{self.n}",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the SMA of ``close``: NaN for the first ``n - 1`` rows.

        Examples:
            >>> import numpy as np
            >>> SMA(2).compute({"close": np.array([1.0, 2.0, 4.0])})["sma_2"].tolist()
            [nan, 1.5, 3.0]
        """
        return {self.columns[0]: _rolling_mean(_col(candles, "close"), self.n)}


@dataclass(frozen=True)
class EMA(Spec):
    """Exponential moving average of ``close``, ``α = 2 / (n + 1)``, seeded with the SMA of the first ``n``.

    Equal to TA-Lib's ``EMA``; the first ``n - 1`` rows are NaN. Column ``ema_{n}``.

    Examples:
        >>> import numpy as np
        >>> EMA(3).compute({"close": np.array([1.0, 2.0, 3.0, 5.0])})["ema_3"].tolist()
        [nan, nan, 2.0, 3.5]
    """

    n: int

    def __post_init__(self) -> None:
        _check_int("EMA", "n", self.n)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column, ``ema_{n}``.

        Examples:
            >>> EMA(21).columns
            ('ema_21',)
        """
        return (f"ema_{self.n}",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the EMA of ``close``, seeded with the SMA of the first ``n`` values.

        Examples:
            >>> import numpy as np
            >>> EMA(2).compute({"close": np.array([1.0, 2.0, 3.0, 6.0])})["ema_2"].round(6).tolist()
            [nan, 1.5, 2.5, 4.833333]
        """
        return {self.columns[0]: _ema(_col(candles, "close"), self.n)}


@dataclass(frozen=True)
class RSI(Spec):
    """Wilder's relative strength index of ``close`` (TA-Lib ``RSI``); the first ``n`` rows are NaN.

    ``100 * gain / (gain + loss)`` of Wilder-smoothed gains and losses; 0 when both are exactly 0 (a flat
    series), as TA-Lib. Column ``rsi_{n}``.

    Examples:
        >>> import numpy as np
        >>> RSI(2).compute({"close": np.array([1.0, 2.0, 1.5, 1.5])})["rsi_2"].tolist()
        [nan, nan, 66.66666666666666, 66.66666666666666]
    """

    n: int = 14

    def __post_init__(self) -> None:
        _check_int("RSI", "n", self.n)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column, ``rsi_{n}``.

        Examples:
            >>> RSI().columns
            ('rsi_14',)
        """
        return (f"rsi_{self.n}",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute Wilder's RSI of ``close``: NaN for the first ``n`` rows.

        Examples:
            >>> import numpy as np
            >>> RSI(2).compute({"close": np.array([1.0, 2.0, 3.0, 4.0, 3.0])})["rsi_2"].tolist()
            [nan, nan, 100.0, 100.0, 50.0]
        """
        close = _col(candles, "close")
        n, m = self.n, close.shape[0]
        if m <= n:
            return {self.columns[0]: _nan(m)}
        rsi = np.empty(m, dtype=np.float64)
        rsi[:n] = np.nan
        moves = np.empty((2, m - 1), dtype=np.float64)
        diff = np.subtract(close[1:], close[:-1])
        np.maximum(diff, 0.0, out=moves[0])  # gains
        np.subtract(moves[0], diff, out=moves[1])  # losses: max(d, 0) - d = max(-d, 0), exactly
        seed = moves[:, :n].sum(axis=1) / n
        avg = linear_scan(moves[:, n:], (n - 1) / n, seed, scale=1.0 / n, prefix=1)
        avg[:, 0] = seed
        total = np.add(avg[0], avg[1], out=avg[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.divide(avg[0], total, out=rsi[n:])
        ratio *= 100.0
        ratio[total == 0.0] = 0.0
        return {self.columns[0]: rsi}


@dataclass(frozen=True)
class MACD(Spec):
    """Moving average convergence divergence of ``close``, with TA-Lib's alignment.

    ``macd = EMA_fast - EMA_slow``, where both EMAs start at row ``slow - 1``: the slow one is seeded with the
    mean of rows ``0 … slow-1`` and the fast one with the mean of the ``fast`` rows ending at ``slow - 1`` (so the
    fast EMA here differs from a stand-alone ``EMA(fast)`` at first). ``signal`` is the EMA of ``macd`` and
    ``hist = macd - signal``. As in TA-Lib, all three are NaN for the first ``slow + signal - 2`` rows.

    Examples:
        >>> MACD(12, 26, 9).columns
        ('macd_12_26_9', 'macd_signal_12_26_9', 'macd_hist_12_26_9')
    """

    fast: int = 12
    slow: int = 26
    signal: int = 9

    def __post_init__(self) -> None:
        for name in ("fast", "slow", "signal"):
            _check_int("MACD", name, getattr(self, name))
        if self.fast > self.slow:
            raise IndicatorSpecError(f"MACD: fast ({self.fast}) must not exceed slow ({self.slow})")

    @property
    def columns(self) -> tuple[str, ...]:
        """The three output columns: MACD line, signal and histogram, suffixed ``_{fast}_{slow}_{signal}``.

        Examples:
            >>> MACD(2, 3, 2).columns
            ('macd_2_3_2', 'macd_signal_2_3_2', 'macd_hist_2_3_2')
        """
        p = f"{self.fast}_{self.slow}_{self.signal}"
        return (f"macd_{p}", f"macd_signal_{p}", f"macd_hist_{p}")

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the MACD line, signal and histogram of ``close``: NaN for the first ``slow + signal - 2`` rows.

        Examples:
            >>> import numpy as np
            >>> out = MACD(2, 3, 2).compute({"close": np.array([1.0, 2.0, 3.0, 4.0, 3.0])})
            >>> out["macd_2_3_2"].round(3).tolist()
            [nan, nan, nan, 0.5, 0.167]
            >>> out["macd_signal_2_3_2"].round(3).tolist()
            [nan, nan, nan, 0.5, 0.278]
        """
        close = _col(candles, "close")
        first = self.slow - 1
        # EMAs commute with a shift: subtracting a price level first keeps the difference free of cancellation.
        shifted = close - close[min(first, close.shape[0] - 1)] if close.shape[0] else close
        line = _ema(shifted, self.fast, first - self.fast + 1)
        line -= _ema(shifted, self.slow)
        # The EMA of line[first:], computed in place in a full-length array (no copy).
        signal = _ema(line, self.signal, first)
        warm = min(first + self.signal - 1, close.shape[0])
        line[:warm] = np.nan
        return dict(zip(self.columns, (line, signal, line - signal), strict=True))


@dataclass(frozen=True)
class Bollinger(Spec):
    """Bollinger bands of ``close``: SMA(n) ± k population standard deviations (TA-Lib ``BBANDS``, SMA).

    Columns ``bb_upper_{n}_{k}``, ``bb_middle_{n}_{k}``, ``bb_lower_{n}_{k}``; ``k`` is written without a
    trailing ``.0``, and ``2.5`` as ``2p5``.

    Examples:
        >>> Bollinger(20, 2.0).columns
        ('bb_upper_20_2', 'bb_middle_20_2', 'bb_lower_20_2')
        >>> Bollinger(10, 2.5).columns[0]
        'bb_upper_10_2p5'
    """

    n: int = 20
    k: float = 2.0

    def __post_init__(self) -> None:
        _check_int("Bollinger", "n", self.n)
        if isinstance(self.k, bool) or not isinstance(self.k, (int, float)) or not math.isfinite(self.k):
            raise IndicatorSpecError(f"Bollinger: k must be a finite number, got {self.k!r}")
        if self.k <= 0:
            raise IndicatorSpecError(f"Bollinger: k must be positive, got {self.k!r}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The three output columns: upper, middle and lower band, suffixed ``_{n}_{k}``.

        Examples:
            >>> Bollinger().columns
            ('bb_upper_20_2', 'bb_middle_20_2', 'bb_lower_20_2')
        """
        p = f"{self.n}_{_num(self.k)}"
        return (f"bb_upper_{p}", f"bb_middle_{p}", f"bb_lower_{p}")

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the upper, middle and lower bands of ``close``: NaN for the first ``n - 1`` rows.

        Examples:
            >>> import numpy as np
            >>> bands = Bollinger(2, 1.0).compute({"close": np.array([1.0, 2.0, 4.0])})
            >>> [bands[c].tolist() for c in ("bb_upper_2_1", "bb_middle_2_1", "bb_lower_2_1")]
            [[nan, 2.0, 4.0], [nan, 1.5, 3.0], [nan, 1.0, 2.0]]
        """
        close, n = _col(candles, "close"), self.n
        mean, upper = np.empty(close.shape[0], dtype=np.float64), np.empty(close.shape[0], dtype=np.float64)
        mean[: n - 1] = np.nan
        upper[: n - 1] = np.nan
        if close.shape[0] >= n:
            width = window_sums(close, n, (mean[n - 1 :], upper[n - 1 :]))[1]
            # k * sqrt(centred / n) in one pass: sqrt(centred * k² / n).
            width *= float(self.k) ** 2 / n
            np.sqrt(width, out=width)
        lower = np.subtract(mean, upper)
        upper += mean
        return dict(zip(self.columns, (upper, mean, lower), strict=True))


@dataclass(frozen=True)
class ATR(Spec):
    """Average true range (TA-Lib ``ATR``): Wilder's average of the true range; the first ``n`` rows are NaN.

    The true range of row ``t >= 1`` is ``max(high, prev close) - min(low, prev close)``. Column ``atr_{n}``.

    Examples:
        >>> ATR(14).columns
        ('atr_14',)
    """

    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close")
    n: int = 14

    def __post_init__(self) -> None:
        _check_int("ATR", "n", self.n)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column, ``atr_{n}``.

        Examples:
            >>> ATR(7).columns
            ('atr_7',)
        """
        return (f"atr_{self.n}",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the ATR from ``high``, ``low`` and ``close``: NaN for the first ``n`` rows.

        Examples:
            >>> import numpy as np
            >>> close = np.array([1.0, 2.0, 3.0, 4.0])
            >>> ATR(2).compute({"high": close + 0.5, "low": close - 0.5, "close": close})["atr_2"].tolist()
            [nan, nan, 1.5, 1.5]
        """
        high, low, close = (_col(candles, c) for c in self.inputs)
        tr = np.empty(close.shape[0], dtype=np.float64)
        tr[:1] = np.nan
        # max(high, prev close) - min(low, prev close) = max(high - low, |high - prev|, |low - prev|).
        top = np.maximum(high[1:], close[:-1], out=tr[1:])
        top -= np.minimum(low[1:], close[:-1])
        return {self.columns[0]: _wilder(tr, self.n, 1)}


@dataclass(frozen=True)
class VWAP(Spec):
    """Volume-weighted average price: ``Σ quote_volume / Σ volume``.

    ``VWAP()`` is the session VWAP, anchored at each UTC day (column ``vwap_session``); ``VWAP(window=n)`` is
    rolling over ``n`` candles (column ``vwap_{n}``, NaN for the first ``n - 1`` rows). NaN wherever the summed
    volume is 0 (only gap rows so far). Not in TA-Lib.

    Examples:
        >>> import numpy as np
        >>> VWAP(2).compute({"quote_volume": np.array([10.0, 0.0, 30.0]), "volume": np.array([1.0, 0.0, 2.0])})
        {'vwap_2': array([nan, 10., 15.])}
    """

    inputs: ClassVar[tuple[str, ...]] = ("open_time", "volume", "quote_volume")
    window: int | None = None

    def __post_init__(self) -> None:
        if self.window is not None:
            _check_int("VWAP", "window", self.window)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column: ``vwap_session``, or ``vwap_{window}`` for a rolling VWAP.

        Examples:
            >>> VWAP().columns, VWAP(30).columns
            (('vwap_session',), ('vwap_30',))
        """
        return ("vwap_session",) if self.window is None else (f"vwap_{self.window}",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the VWAP from ``volume`` and ``quote_volume``, restarted at each UTC day (session VWAP).

        Examples:
            >>> import numpy as np
            >>> times = np.array(["2021-01-01T23:58", "2021-01-01T23:59", "2021-01-02T00:00"], dtype="datetime64[us]")
            >>> VWAP().compute({"open_time": times, "volume": np.array([1.0, 1.0, 2.0]),
            ...                 "quote_volume": np.array([10.0, 20.0, 50.0])})
            {'vwap_session': array([10., 15., 25.])}
        """
        volume, quote = _col(candles, "volume"), _col(candles, "quote_volume")
        m = volume.shape[0]
        if self.window is not None:
            n = self.window
            vol, qv = _nan(m), _nan(m)
            vol[n - 1 :] = rolling_sum(volume, n)
            qv[n - 1 :] = rolling_sum(quote, n)
        else:
            times = candles["open_time"]
            # Only read here: int64 µs already (as add() passes them) need no copy.
            t = times if isinstance(times, np.ndarray) and times.dtype == np.int64 else micros(times)
            # Volume (real part) and quote volume (imaginary part) summed by one complex cumsum: its two additions
            # are independent, so it costs about as much as one real cumsum, and each part is summed as by one.
            both = np.empty(m, dtype=np.complex128)
            vol, qv = both.real, both.imag
            vol[:] = volume
            qv[:] = quote
            if m:
                # Rows are in time order: find each UTC midnight by binary search, not by dividing every time.
                days = np.arange(t[0] // _US_PER_DAY + 1, t[-1] // _US_PER_DAY + 1) * _US_PER_DAY
                bounds = [0, *np.searchsorted(t, days).tolist(), m]
                # Running sums restarted at every new UTC day (one cumsum per day: no cancellation across days).
                for s, e in itertools.pairwise(bounds):
                    np.cumsum(both[s:e], out=both[s:e])
        out = np.full(m, np.nan)
        np.divide(qv, vol, out=out, where=vol > 0)
        return {self.columns[0]: out}


def micros(values: Any) -> npt.NDArray[np.int64]:
    """Times as int64 µs since the epoch (UTC), from a pandas Series (naive or tz-aware) or a numpy array."""
    if getattr(getattr(values, "dtype", None), "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]").astype(np.int64)
    return arr.astype(np.int64)


@dataclass(frozen=True)
class Returns(Spec):
    """Close-to-close return: ``(close - prev) / prev`` (TA-Lib ``ROCP(1)``), or its ``log1p`` when ``log``.

    Columns ``returns`` or ``log_returns``; the first row is NaN.

    Examples:
        >>> import numpy as np
        >>> Returns().compute({"close": np.array([100.0, 110.0])})["returns"].tolist()
        [nan, 0.1]
    """

    log: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column: ``returns``, or ``log_returns`` when ``log``.

        Examples:
            >>> Returns().columns, Returns(log=True).columns
            (('returns',), ('log_returns',))
        """
        return ("log_returns",) if self.log else ("returns",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the close-to-close (simple or log) return: NaN for the first row.

        Examples:
            >>> import numpy as np
            >>> Returns(log=True).compute({"close": np.array([1.0, 2.0])})["log_returns"].round(6).tolist()
            [nan, 0.693147]
        """
        close = _col(candles, "close")
        return {self.columns[0]: _returns(close, log=self.log)}


def _returns(close: F64, *, log: bool) -> F64:
    out = np.empty(close.shape[0], dtype=np.float64)
    out[:1] = np.nan
    if close.shape[0] > 1:
        prev = close[:-1]
        simple = np.subtract(close[1:], prev, out=out[1:])
        simple /= prev
        if log:
            np.log1p(simple, out=simple)
    return out


@dataclass(frozen=True)
class RealizedVol(Spec):
    """Realized volatility: the *sample* standard deviation (``ddof=1``) of the last ``window`` log returns.

    The first ``window`` rows are NaN (``window`` returns need ``window + 1`` closes). With ``annualize``, it is
    scaled by ``sqrt(periods per 365-day year)`` of the candles' interval (crypto trades every day). Column
    ``rvol_{window}``, or ``rvol_{window}_ann``. Not in TA-Lib (its ``STDDEV`` is the population one).

    Examples:
        >>> RealizedVol(20, annualize=True).columns
        ('rvol_20_ann',)
    """

    inputs: ClassVar[tuple[str, ...]] = ("close", "interval")
    window: int = 20
    annualize: bool = False

    def __post_init__(self) -> None:
        _check_int("RealizedVol", "window", self.window, low=2)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column: ``rvol_{window}``, or ``rvol_{window}_ann`` when annualized.

        Examples:
            >>> RealizedVol(30).columns
            ('rvol_30',)
        """
        return (f"rvol_{self.window}_ann",) if self.annualize else (f"rvol_{self.window}",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the realized volatility of ``close``: NaN for the first ``window`` rows.

        Examples:
            >>> import numpy as np
            >>> candles = {"close": np.array([1.0, 2.0, 4.0, 4.0]), "interval": np.array(["1d"] * 4)}
            >>> RealizedVol(2).compute(candles)["rvol_2"].round(4).tolist()
            [nan, nan, 0.0, 0.4901]
            >>> RealizedVol(2, annualize=True).compute(candles)["rvol_2_ann"].round(4).tolist()
            [nan, nan, 0.0, 9.3639]
        """
        close = _col(candles, "close")
        n = self.window
        out = np.empty(close.shape[0], dtype=np.float64)
        out[:n] = np.nan
        if close.shape[0] > n:
            # log(c / prev) is log1p of the simple return to an ulp of the return (and exactly 0 for equal closes).
            log_returns = np.divide(close[1:], close[:-1])
            np.log(log_returns, out=log_returns)
            # Only the centred sums are kept: the window sums go to scratch memory.
            centred = window_sums(log_returns, n, (np.empty(close.shape[0] - n), out[n:]), with_mean=False)[1]
            # sqrt(centred / (n - 1)) * sqrt(periods) in one pass.
            centred *= (_periods_per_year(candles) if self.annualize else 1.0) / (n - 1)
            np.sqrt(centred, out=centred)
        return {self.columns[0]: out}


def _periods_per_year(candles: Columns) -> float:
    from daap.intervals import Interval

    values = candles["interval"]
    text = str(values.iloc[0] if hasattr(values, "iloc") else values[0]) if len(values) else "1m"
    interval = Interval.parse(text)
    if interval.step_us == 0:  # 1M: calendar months
        return 12.0
    return _SECONDS_PER_YEAR * 1e6 / interval.step_us


@dataclass(frozen=True)
class OBV(Spec):
    """On-balance volume (TA-Lib ``OBV``), column ``obv``, with no warm-up.

    It starts at the first row's volume, then adds the volume of each row whose close rose and subtracts it where
    the close fell.

    Examples:
        >>> import numpy as np
        >>> OBV().compute({"close": np.array([1.0, 2.0, 2.0, 1.0]), "volume": np.array([5.0, 1.0, 2.0, 3.0])})
        {'obv': array([5., 6., 6., 3.])}
    """

    inputs: ClassVar[tuple[str, ...]] = ("close", "volume")

    @property
    def columns(self) -> tuple[str, ...]:
        """The output column, ``obv``.

        Examples:
            >>> OBV().columns
            ('obv',)
        """
        return ("obv",)

    def compute(self, candles: Columns) -> dict[str, F64]:
        """Compute the on-balance volume from ``close`` and ``volume``.

        Examples:
            >>> import numpy as np
            >>> OBV().compute({"close": np.array([2.0, 1.0, 3.0]), "volume": np.array([4.0, 1.0, 2.0])})["obv"].tolist()
            [4.0, 3.0, 5.0]
        """
        close, volume = _col(candles, "close"), _col(candles, "volume")
        if close.shape[0] == 0:
            return {"obv": _nan(0)}
        signed = np.empty(close.shape[0], dtype=np.float64)
        signed[0] = volume[0]
        # The differences go to a scratch array (np.sign in place measured slower here).
        rest = np.sign(np.subtract(close[1:], close[:-1]), out=signed[1:])
        rest *= volume[1:]
        return {"obv": np.cumsum(signed, out=signed)}
