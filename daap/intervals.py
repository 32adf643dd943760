"""Candle intervals and bucket arithmetic in integer microseconds, shared by every engine.

Buckets are aligned to the Unix epoch. A week starts on Monday 00:00 UTC and a month (``1M``) is a calendar month.
A bucket is identified by an integer *index*: ``index_of(t)`` maps times to it and ``start_of(index)`` back.

Examples:
    >>> from daap.intervals import Interval
    >>> iv = Interval.parse("5m")
    >>> iv.step_us
    300000000
    >>> int(iv.start_of(iv.index_of(1_735_689_720_000_000)))  # 2025-01-01 00:02 falls in the 00:00 bucket
    1735689600000000
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from daap.errors import InvalidIntervalError

I64 = npt.NDArray[np.int64]

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_UNIT_US = {"s": US_PER_SECOND, "m": 60 * US_PER_SECOND, "h": 3_600 * US_PER_SECOND}
#: Binance's kline intervals that daap builds (3d is not supported: its alignment is not documented).
BINANCE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "1w", "1M")
_WEEK_OFFSET_US = 4 * US_PER_DAY  # 1970-01-01 was a Thursday; the first Monday is 1970-01-05.
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdwM])$")


@dataclass(frozen=True)
class Interval:
    """A candle interval such as ``1m``, ``4h``, ``1w`` or ``1M``.

    Attributes:
        name: the canonical text, e.g. ``"15m"``.
        kind: ``"fixed"`` (a whole number of µs from the epoch, including ``1w``) or ``"month"``.
        step_us: the length in µs for fixed intervals, 0 for ``1M``.
        offset_us: where bucket 0 starts (the first Monday for ``1w``, else 0).

    Examples:
        >>> Interval.parse("15m")
        Interval(name='15m', kind='fixed', step_us=900000000, offset_us=0)
        >>> str(Interval.parse("1M")), Interval.parse("1M").kind
        ('1M', 'month')
    """

    name: str
    kind: Literal["fixed", "month"]
    step_us: int
    offset_us: int = 0

    @classmethod
    def parse(cls, text: str | Interval) -> Interval:
        """Parse an interval: Binance's set, or any ``Ns``/``Nm``/``Nh`` that divides a day.

        Raises:
            InvalidIntervalError: for anything else, with the accepted forms in the message.

        Examples:
            >>> Interval.parse("1w").offset_us // 86_400_000_000
            4
        """
        if isinstance(text, Interval):
            return text
        m = _PATTERN.match(str(text).strip())
        if m is None:
            raise InvalidIntervalError(
                f"invalid interval {text!r}: use one of {', '.join(BINANCE_INTERVALS)} "
                "or Ns/Nm/Nh where N divides a day"
            )
        n, unit = int(m.group(1)), m.group(2)
        name = f"{n}{unit}"
        if unit == "M":
            if n != 1:
                raise InvalidIntervalError(f"invalid interval {text!r}: only 1M (one calendar month) is supported")
            return cls(name, "month", 0)
        if unit == "w":
            if n != 1:
                raise InvalidIntervalError(f"invalid interval {text!r}: only 1w (Monday 00:00 UTC) is supported")
            return cls(name, "fixed", 7 * US_PER_DAY, _WEEK_OFFSET_US)
        if unit == "d":
            if n != 1:
                raise InvalidIntervalError(f"invalid interval {text!r}: only 1d is supported among day intervals")
            return cls(name, "fixed", US_PER_DAY)
        step = n * _UNIT_US[unit]
        if US_PER_DAY % step:
            raise InvalidIntervalError(f"invalid interval {text!r}: {name} does not divide a day into whole buckets")
        return cls(name, "fixed", step)

    def __str__(self) -> str:
        return self.name

    def index_of(self, t_us: I64 | int) -> I64:
        """Bucket index of each time (µs since the epoch).

        Examples:
            >>> Interval.parse("1h").index_of([0, 3_599_999_999, 3_600_000_000]).tolist()
            [0, 0, 1]
            >>> int(Interval.parse("1M").index_of(1_739_577_600_000_000))  # 2025-02-15: months since 1970-01
            661
        """
        t = np.asarray(t_us, dtype=np.int64)
        if self.kind == "month":
            return t.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
        return (t - self.offset_us) // self.step_us

    def start_of(self, index: I64 | int) -> I64:
        """Start (µs) of each bucket index.

        Examples:
            >>> Interval.parse("5m").start_of([0, 1, 2]).tolist()
            [0, 300000000, 600000000]
            >>> import numpy as np
            >>> str(np.datetime64(int(Interval.parse("1M").start_of(661)), "us"))
            '2025-02-01T00:00:00.000000'
        """
        i = np.asarray(index, dtype=np.int64)
        if self.kind == "month":
            return i.astype("datetime64[M]").astype("datetime64[us]").astype(np.int64)
        return i * self.step_us + self.offset_us

    def close_of(self, index: I64 | int) -> I64:
        """Binance's ``close_time``: the next bucket's start minus 1 µs.

        Examples:
            >>> int(Interval.parse("1m").close_of(0))
            59999999
        """
        return self.start_of(np.asarray(index, dtype=np.int64) + 1) - 1

    def is_aligned(self, t_us: I64 | int) -> npt.NDArray[np.bool_]:
        """True where a time is exactly a bucket start.

        Examples:
            >>> Interval.parse("1w").is_aligned([0, 4 * 86_400_000_000]).tolist()  # 1970-01-05 was a Monday
            [False, True]
        """
        t = np.asarray(t_us, dtype=np.int64)
        return np.asarray(self.start_of(self.index_of(t)) == t)

    def divides(self, coarser: Interval) -> bool:
        """True when every bucket of ``self`` lies inside exactly one bucket of ``coarser`` (rollup is exact).

        Examples:
            >>> Interval.parse("1m").divides(Interval.parse("1M")), Interval.parse("1w").divides(Interval.parse("1M"))
            (True, False)
        """
        if self.kind == "month":
            return coarser.kind == "month"
        if coarser.kind == "month":
            return US_PER_DAY % self.step_us == 0 and self.offset_us % self.step_us == 0
        return (
            coarser.step_us % self.step_us == 0
            and (coarser.offset_us - self.offset_us) % self.step_us == 0
        )
