"""Seeded synthetic Binance trades, written in Binance's exact public-data formats.

Everything is vectorized with numpy and pyarrow: generating and writing 20 million trades as CSV takes ~15-20 s.

The model, per UTC day:

* **Arrivals:** taker orders arrive as an inhomogeneous Poisson process whose intensity is a daily cycle (busiest
  around 14:30 UTC, quietest around 02:30 UTC) times a random regime level (segments of ~20 minutes) times short
  bursts. Given the day's count, order times are i.i.d. draws from that intensity, sampled by inverse CDF.
* **Sweeps:** one taker order fills against several makers at the same microsecond, all with the same
  ``is_buyer_maker``; each further fill may step the price one tick away (up for a taker buy, down for a taker sell).
  So ties in ``time`` are common, while trade ids rise by exactly 1 per trade.
* **Price:** geometric Brownian motion in *business time* (volatility follows activity) on a grid of integer cents,
  with a one-tick bid/ask spread. Days are pinned to daily anchor prices (a GBM with ~3 % daily volatility) by a
  Brownian bridge, so a day ends near the next day's opening price.
* **Sizes:** lognormal quantities in integer units of 1e-5 (at least one unit, at most 50 and at most what keeps
  ``quote_qty`` to 15 significant digits); ``quote_qty`` is computed exactly in integers (cents times units gives
  units of 1e-7), so the float columns are the nearest doubles of the decimals.

Days are independent: day ``k`` uses its own random stream derived from ``(seed, symbol, k)`` and starts at trade id
``FIRST_TRADE_ID + k * trades_per_day`` (every day has exactly ``trades_per_day`` trades), so any day can be generated
without the days before it; the daily anchor prices come from one cheap extra stream of ``k + 1`` normal draws.

Time units follow Binance: spot files carry microseconds from 2025-01-01 and milliseconds before; USD-M futures files
always carry milliseconds. On a millisecond day the generated times are truncated to whole milliseconds, so reading a
written file back gives exactly the generated table.

Examples:
    >>> cfg = SyntheticConfig(trades_per_day=1_000, seed=7)
    >>> table = generate_day(cfg, 0)
    >>> table.num_rows, table.column_names[:3]
    (1000, ['trade_id', 'price', 'qty'])
    >>> to_binance_csv(table.slice(0, 1), "spot", cfg.start).count(b",")
    6

"""

from __future__ import annotations

import collections
import contextlib
import datetime
import functools
import hashlib
import io
import os
import re
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from daap.contract import BRONZE_PARQUET_OPTIONS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FIRST_TRADE_ID",
    "NORMALIZED_SCHEMA",
    "TRADE_SCHEMA",
    "Market",
    "SyntheticConfig",
    "binance_file_name",
    "csv_lines",
    "generate_day",
    "has_header",
    "iter_days",
    "sha256_file",
    "synthetic_klines",
    "time_unit",
    "to_binance_csv",
    "write_binance_files",
    "write_csv",
    "write_parquet",
    "write_zip_with_checksum",
]

Market = Literal["spot", "um"]

#: Trade id of the first trade of day 0.
FIRST_TRADE_ID = 1_000_000_000

#: Columns of the tables :func:`generate_day` returns (``time`` is µs since the epoch, UTC).
_TRADE_FIELDS: list[pa.Field[Any]] = [
    pa.field("trade_id", pa.int64(), nullable=False),
    pa.field("price", pa.float64(), nullable=False),
    pa.field("qty", pa.float64(), nullable=False),
    pa.field("quote_qty", pa.float64(), nullable=False),
    pa.field("time", pa.int64(), nullable=False),
    pa.field("is_buyer_maker", pa.bool_(), nullable=False),
]
TRADE_SCHEMA = pa.schema(_TRADE_FIELDS)

#: The normalized trade schema of ARCHITECTURE.md section 2, as written by :func:`write_parquet`.
_NORMALIZED_FIELDS: list[pa.Field[Any]] = [
    pa.field("symbol", pa.string()),
    pa.field("trade_id", pa.int64()),
    pa.field("price", pa.float64()),
    pa.field("qty", pa.float64()),
    pa.field("quote_qty", pa.float64()),
    pa.field("time", pa.timestamp("us", tz="UTC")),
    pa.field("is_buyer_maker", pa.bool_()),
]
NORMALIZED_SCHEMA = pa.schema(_NORMALIZED_FIELDS)

_SPOT_US_FROM = datetime.date(2025, 1, 1)
_UM_HEADER_FROM = datetime.date(2022, 8, 11)
_UM_HEADER = b"id,price,qty,quote_qty,time,is_buyer_maker\n"
_EPOCH = datetime.date(1970, 1, 1)
_DAY_SECONDS = 86_400
_DAY_US = _DAY_SECONDS * 1_000_000
_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,30}")
_MAX_TRADES_PER_DAY = 200_000_000
_CSV_CHUNK_ROWS = 1_000_000
_CSV_WORKERS = 4

# Model parameters.
_DAILY_VOL = 0.03  # standard deviation of the daily log return
_CYCLE_AMPLITUDE = 0.45  # intensity = 1 + A * cos(2π (hour - peak) / 24)
_CYCLE_PEAK_HOUR = 14.5
_REGIME_MEAN_SECONDS = 1_200
_REGIME_SIGMA = 0.5
_BURSTS_PER_DAY = 80
_SINGLE_FILL_PROB = 0.75
_SWEEP_STEP_PROB = 0.25
_QTY_MEDIAN_UNITS = 120.0  # 0.0012 BTC
_QTY_SIGMA = 1.5
_QTY_MAX_UNITS = 5_000_000  # 50 BTC
_MAX_QUOTE_UNITS = 10**15 - 1  # quote_qty keeps at most 15 significant digits, which a double represents exactly
_SCALE8 = 100_000_000
_POW10 = 10.0 ** np.arange(16)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate: which symbol, market and days, how many trades, and the seed.

    Attributes:
        symbol: upper-case Binance symbol, used in file names and the ``symbol`` column.
        start: the first UTC day.
        days: number of consecutive days.
        trades_per_day: exact number of trades in every day.
        market: ``"spot"`` or ``"um"`` (USD-M futures); decides the CSV dialect and the time unit.
        seed: non-negative seed; the same config always gives the same trades.
        start_price: price around which day 0 opens, in quote currency.

    Examples:
        >>> SyntheticConfig(days=3).end
        datetime.date(2025, 5, 3)
        >>> SyntheticConfig(days=0)
        Traceback (most recent call last):
        ...
        ValueError: days must be a positive int, got 0

    """

    symbol: str = "BTCUSDT"
    start: datetime.date = datetime.date(2025, 5, 1)
    days: int = 1
    trades_per_day: int = 200_000
    market: Market = "spot"
    seed: int = 0
    start_price: float = 60_000.0

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not _SYMBOL_RE.fullmatch(self.symbol):
            raise ValueError(f"symbol must be 2-30 upper-case letters or digits, got {self.symbol!r}")
        if isinstance(self.start, datetime.datetime) or not isinstance(self.start, datetime.date):
            raise ValueError(f"start must be a datetime.date (not a datetime), got {self.start!r}")
        if self.start < _EPOCH:
            raise ValueError(f"start must be on or after 1970-01-01, got {self.start}")
        if not _is_int(self.days) or self.days < 1:
            raise ValueError(f"days must be a positive int, got {self.days!r}")
        if self.days > (datetime.date.max - self.start).days:
            raise ValueError(f"days={self.days} runs past the last representable date")
        if not _is_int(self.trades_per_day) or not 1 <= self.trades_per_day <= _MAX_TRADES_PER_DAY:
            raise ValueError(
                f"trades_per_day must be an int in [1, {_MAX_TRADES_PER_DAY}], got {self.trades_per_day!r}"
            )
        if self.market not in ("spot", "um"):
            raise ValueError(f"market must be 'spot' or 'um', got {self.market!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        price = self.start_price
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not 1.0 <= price <= 1_000_000.0:
            raise ValueError(f"start_price must be a number in [1, 1000000], got {price!r}")

    @property
    def end(self) -> datetime.date:
        """The last UTC day generated (inclusive).

        Examples:
            >>> SyntheticConfig(start=datetime.date(2024, 12, 31), days=2).end
            datetime.date(2025, 1, 1)

        """
        return self.start + datetime.timedelta(days=self.days - 1)

    def day(self, day_index: int) -> datetime.date:
        """Return the UTC date of day ``day_index`` (0-based).

        Examples:
            >>> SyntheticConfig(days=2).day(1)
            datetime.date(2025, 5, 2)

        """
        _check_day_index(self, day_index)
        return self.start + datetime.timedelta(days=day_index)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_day_index(config: SyntheticConfig, day_index: int) -> None:
    if not _is_int(day_index) or not 0 <= day_index < config.days:
        raise ValueError(f"day_index must be an int in [0, {config.days}), got {day_index!r}")


def time_unit(market: Market, day: datetime.date) -> Literal["ms", "us"]:
    """Return the unit of the ``time`` column in Binance's file of that market and day.

    Examples:
        >>> time_unit("spot", datetime.date(2024, 12, 31)), time_unit("spot", datetime.date(2025, 1, 1))
        ('ms', 'us')
        >>> time_unit("um", datetime.date(2025, 1, 1))
        'ms'

    """
    if market == "spot":
        return "us" if day >= _SPOT_US_FROM else "ms"
    if market == "um":
        return "ms"
    raise ValueError(f"market must be 'spot' or 'um', got {market!r}")


def has_header(market: Market, day: datetime.date) -> bool:
    """Whether Binance's daily trades CSV of that market and day starts with a header line.

    Spot files never do; USD-M futures files do from 2022-08-11 on.

    Examples:
        >>> has_header("spot", datetime.date(2025, 5, 1)), has_header("um", datetime.date(2025, 5, 1))
        (False, True)
        >>> has_header("um", datetime.date(2022, 8, 10))
        False

    """
    if market == "spot":
        return False
    if market == "um":
        return day >= _UM_HEADER_FROM
    raise ValueError(f"market must be 'spot' or 'um', got {market!r}")


def _symbol_key(symbol: str) -> int:
    return zlib.crc32(symbol.encode("ascii"))


def _anchor_log_prices(config: SyntheticConfig, day_index: int) -> tuple[float, float]:
    """Log prices at the start of day ``day_index`` and of the day after (a daily GBM)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _symbol_key(config.symbol), 1]))
    # A Generator fills arrays sequentially, so the first k draws do not depend on how many are drawn.
    z = rng.standard_normal(day_index + 1)
    steps = _DAILY_VOL * z - 0.5 * _DAILY_VOL**2
    log0 = float(np.log(config.start_price))
    return log0 + float(steps[:day_index].sum()), log0 + float(steps.sum())


def _intensity(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Relative arrival intensity for each second of one UTC day."""
    seconds = np.arange(_DAY_SECONDS, dtype=np.float64)
    hours = seconds / 3600.0
    cycle = 1.0 + _CYCLE_AMPLITUDE * np.cos(2.0 * np.pi * (hours - _CYCLE_PEAK_HOUR) / 24.0)
    # Regimes: piecewise-constant lognormal levels; every segment lasts >= 61 s, so 1,441 of them cover the day.
    n_seg = _DAY_SECONDS // 60 + 1
    lengths = rng.geometric(1.0 / _REGIME_MEAN_SECONDS, n_seg) + 60
    levels = rng.lognormal(0.0, _REGIME_SIGMA, n_seg)
    regime = np.repeat(levels, lengths)[:_DAY_SECONDS]
    # Bursts: short windows (mean ~10 s) of several times the activity.
    n_burst = int(rng.poisson(_BURSTS_PER_DAY))
    starts = rng.integers(0, _DAY_SECONDS, n_burst)
    ends = np.minimum(starts + rng.geometric(0.1, n_burst), _DAY_SECONDS)
    boosts = rng.lognormal(np.log(4.0), 0.7, n_burst)
    edges = np.zeros(_DAY_SECONDS + 1)
    np.add.at(edges, starts, boosts)
    np.add.at(edges, ends, -boosts)
    burst = 1.0 + np.cumsum(edges)[:_DAY_SECONDS]
    intensity: npt.NDArray[np.float64] = cycle * regime * np.maximum(burst, 1.0)
    return intensity


def generate_day(config: SyntheticConfig, day_index: int) -> pa.Table:
    """Generate the trades of one UTC day, ``config.start + day_index``.

    The result depends only on ``(config, day_index)``: day ``k`` can be generated without days ``< k``. Ids run from
    ``FIRST_TRADE_ID + day_index * trades_per_day`` in steps of 1; ``time`` (µs since the epoch, UTC) is
    non-decreasing, inside the day, and whole milliseconds when Binance's file for that day is in milliseconds.

    Args:
        config: what to generate.
        day_index: 0-based day number, less than ``config.days``.

    Returns:
        A table with the schema :data:`TRADE_SCHEMA`, in trade-id order.

    Examples:
        >>> cfg = SyntheticConfig(trades_per_day=500, days=2)
        >>> day1 = generate_day(cfg, 1)
        >>> day1["trade_id"][0].as_py() == generate_day(cfg, 0)["trade_id"][-1].as_py() + 1
        True

    """
    _check_day_index(config, day_index)
    n = config.trades_per_day
    day = config.day(day_index)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _symbol_key(config.symbol), 0, day_index]))

    # Orders (taker sweeps) and their fill counts: 75 % single fills, the rest a Zipf tail.
    fills = np.ones(n, dtype=np.int64)
    multi = rng.random(n) >= _SINGLE_FILL_PROB
    fills[multi] += np.minimum(rng.zipf(2.0, int(multi.sum())), 40)
    cum = np.cumsum(fills)
    m = int(np.searchsorted(cum, n)) + 1  # orders needed to reach n fills
    fills = fills[:m]
    fills[-1] -= int(cum[m - 1]) - n
    order_start = np.concatenate(([0], np.cumsum(fills)[:-1]))

    # Order arrival positions in business time: m sorted uniforms on (0, 1).
    gaps = rng.standard_exponential(m + 1)
    cum_gaps = np.cumsum(gaps)
    u = cum_gaps[:m] / cum_gaps[m]

    # Business time -> calendar time through the inverse CDF of the intensity.
    weights = _intensity(rng)
    cdf = np.concatenate(([0.0], np.cumsum(weights)))
    total = cdf[-1]
    cdf /= total
    sec = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, _DAY_SECONDS - 1)
    frac = np.clip((u - cdf[sec]) * total / weights[sec], 0.0, 1.0)
    t_order = np.floor((sec + frac) * 1e6).astype(np.int64)
    np.clip(t_order, 0, _DAY_US - 1, out=t_order)
    t_order = np.maximum.accumulate(t_order)
    if time_unit(config.market, day) == "ms":
        t_order -= t_order % 1000

    # Mid price per order: Brownian bridge in business time between the day's anchors.
    log_open, log_close = _anchor_log_prices(config, day_index)
    du = np.diff(u, prepend=0.0)
    walk = np.cumsum(np.sqrt(du) * rng.standard_normal(m))
    walk_end = walk[-1] + np.sqrt(1.0 - u[-1]) * rng.standard_normal()
    log_mid = log_open + _DAILY_VOL * (walk - u * walk_end) + u * (log_close - log_open)
    bid = np.maximum(np.floor(np.exp(log_mid) * 100.0).astype(np.int64), 2)

    # Taker side persists a little: a Markov chain that flips with probability 0.35.
    buyer_maker_order = (np.cumsum(rng.random(m) < 0.35) % 2).astype(bool)

    # Expand orders to fills.
    order_of = np.repeat(np.arange(m), fills)
    pos = np.arange(n) - order_start[order_of]
    step_inc = (rng.random(n) < _SWEEP_STEP_PROB) & (pos > 0)
    step_cum = np.cumsum(step_inc)
    steps: npt.NDArray[np.int64] = step_cum - step_cum[order_start][order_of]
    is_buyer_maker = buyer_maker_order[order_of]
    bid_t = bid[order_of]
    cents = np.where(is_buyer_maker, np.maximum(bid_t - steps, 1), bid_t + 1 + steps)

    units = np.floor(rng.lognormal(np.log(_QTY_MEDIAN_UNITS), _QTY_SIGMA, n)).astype(np.int64)
    np.clip(units, 1, _QTY_MAX_UNITS, out=units)
    units = np.maximum(np.minimum(units, _MAX_QUOTE_UNITS // cents), 1)
    quote_units = cents * units  # units of 1e-7, exact

    first_id = FIRST_TRADE_ID + day_index * n
    day_us = (day - _EPOCH).days * _DAY_US
    return pa.table(
        [
            pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            pa.array(cents / 100.0),
            pa.array(units / 1e5),
            pa.array(quote_units / 1e7),
            pa.array(t_order[order_of] + day_us),
            pa.array(is_buyer_maker),
        ],
        schema=TRADE_SCHEMA,
    )


def iter_days(config: SyntheticConfig) -> Iterator[tuple[datetime.date, pa.Table]]:
    """Yield ``(day, trades)`` for every day of the config, one day in memory at a time.

    Examples:
        >>> [(d.isoformat(), t.num_rows) for d, t in iter_days(SyntheticConfig(days=2, trades_per_day=10))]
        [('2025-05-01', 10), ('2025-05-02', 10)]

    """
    for k in range(config.days):
        yield config.day(k), generate_day(config, k)


# ---------------------------------------------------------------------------------------------------------------------
# CSV text


def _scaled8(column: pa.ChunkedArray[Any]) -> npt.NDArray[np.int64]:
    """Non-negative floats as integer multiples of 1e-8, each rounded to at most 15 significant digits.

    A double holds any decimal of up to 15 significant digits exactly enough to recover it, but ``x * 1e8`` alone can
    be off by one unit when ``x`` is large (e.g. ``78718268.9887344``). So round at ``10**-k`` with
    ``k = min(8, 15 - integer digits)``; integer digits are counted by exact comparison with powers of ten.
    """
    values = np.asarray(column, dtype=np.float64)
    if values.size and not (values.min() >= 0.0 and values.max() < 1e10):  # also rejects NaN
        raise ValueError("price, qty and quote_qty must be in [0, 1e10) to be written as Binance decimals")
    int_digits = np.searchsorted(_POW10, values, side="right")
    decimals = np.clip(15 - int_digits, 0, 8)
    scaled = np.rint(values * _POW10[decimals]).astype(np.int64)
    result: npt.NDArray[np.int64] = scaled * (10 ** (8 - decimals)).astype(np.int64)
    return result


def _decimal_text(scaled: npt.NDArray[np.int64], market: Market) -> Any:
    """Text of non-negative fixed-point numbers given in units of 1e-8."""
    int_part: Any = pc.cast(pa.array(scaled // _SCALE8), pa.string())
    frac: Any = pc.utf8_lpad(pc.cast(pa.array(scaled % _SCALE8), pa.string()), width=8, padding="0")
    if market == "um":  # Binance futures files: shortest text with at least one fractional digit ("76027.0")
        frac = pc.utf8_rtrim(frac, characters="0")
        frac = pc.if_else(pc.equal(pc.utf8_length(frac), pa.scalar(0, pa.int32())), pa.scalar("0"), frac)
    return pc.binary_join_element_wise(int_part, frac, pa.scalar("."))


def _csv_lines(table: pa.Table, market: Market, unit: Literal["ms", "us"]) -> bytes:
    """Binance CSV lines (each ending in a newline) of a table of at most a few million rows."""
    time = np.asarray(table.column("time"), dtype=np.int64)
    if unit == "ms":
        time = time // 1000
    bm = table.column("is_buyer_maker")
    true_text, false_text = ("True", "False") if market == "spot" else ("true", "false")
    columns: list[Any] = [
        pc.cast(table.column("trade_id"), pa.string()),
        _decimal_text(_scaled8(table.column("price")), market),
        _decimal_text(_scaled8(table.column("qty")), market),
        _decimal_text(_scaled8(table.column("quote_qty")), market),
        pc.cast(pa.array(time), pa.string()),
        pc.if_else(bm, pa.scalar(true_text), pa.scalar(false_text)),
    ]
    if market == "spot":
        columns.append(pa.scalar("True"))  # is_best_match
    return csv_lines(columns)


def csv_lines(columns: list[Any]) -> bytes:
    r"""CSV lines, each ending in a newline, of equal-length text columns (scalars repeat), built without Python loops.

    Examples:
        >>> csv_lines([pa.array(["1", "2"]), pa.scalar("x")])
        b'1,x\n2,x\n'
    """
    # A trailing empty field gives every line a trailing "," that becomes its newline.
    joined: Any = pc.binary_join_element_wise(*columns, pa.scalar(""), pa.scalar(","))
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    if len(joined) == 0:
        return b""
    _, offsets_buf, data_buf = joined.buffers()
    assert offsets_buf is not None and data_buf is not None
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[joined.offset : joined.offset + len(joined) + 1]
    text = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]].copy()
    text[offsets[1:] - offsets[0] - 1] = ord("\n")
    return text.tobytes()


def write_csv(
    table: pa.Table,
    dest: str | os.PathLike[str] | IO[bytes],
    market: Market,
    day: datetime.date,
) -> None:
    """Write trades as the exact text of Binance's daily trades CSV for that market and day.

    Spot: no header, ``id,price,qty,quote_qty,time,is_buyer_maker,is_best_match``, 8 fractional digits,
    ``True``/``False``. USD-M futures: header line (from 2022-08-11), six columns, shortest decimals such as
    ``76043.5`` or ``76027.0``, ``true``/``false``. ``time`` is written in the unit of :func:`time_unit` (truncated).
    Decimals are exact for every value of at most 15 significant digits (all a double can hold reliably) below 1e10.

    Args:
        table: columns of :data:`TRADE_SCHEMA` (extra columns are ignored).
        dest: a path, or a binary file object to write to.
        market: ``"spot"`` or ``"um"``.
        day: the file's UTC day (decides the time unit and the header).

    Examples:
        >>> buf = io.BytesIO()
        >>> cfg = SyntheticConfig(trades_per_day=3, market="um")
        >>> write_csv(generate_day(cfg, 0), buf, "um", cfg.start)
        >>> buf.getvalue().splitlines()[0]
        b'id,price,qty,quote_qty,time,is_buyer_maker'

    """
    unit = time_unit(market, day)
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "wb") as fh:
            write_csv(table, fh, market, day)
        return
    if has_header(market, day):
        dest.write(_UM_HEADER)
    starts = range(0, table.num_rows, _CSV_CHUNK_ROWS)
    workers = min(_CSV_WORKERS, os.cpu_count() or 1, len(starts))
    if workers <= 1:
        for start in starts:
            dest.write(_csv_lines(table.slice(start, _CSV_CHUNK_ROWS), market, unit))
        return
    # pyarrow kernels release the GIL: format a few chunks in parallel, write them in order (bounded memory).
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: collections.deque[Future[bytes]] = collections.deque()
        for start in starts:
            pending.append(pool.submit(_csv_lines, table.slice(start, _CSV_CHUNK_ROWS), market, unit))
            if len(pending) >= workers:
                dest.write(pending.popleft().result())
        while pending:
            dest.write(pending.popleft().result())


def to_binance_csv(table: pa.Table, market: Market, day: datetime.date) -> bytes:
    r"""Return the text :func:`write_csv` writes, as bytes (for small tables).

    Examples:
        >>> t = pa.table({"trade_id": [4359935386], "price": [93576.0], "qty": [0.00136], "quote_qty": [127.26336],
        ...               "time": [1735689600010866], "is_buyer_maker": [True]})
        >>> to_binance_csv(t, "spot", datetime.date(2025, 1, 1))
        b'4359935386,93576.00000000,0.00136000,127.26336000,1735689600010866,True,True\n'
        >>> to_binance_csv(t, "um", datetime.date(2025, 1, 1)).splitlines()[1]
        b'4359935386,93576.0,0.00136,127.26336,1735689600010,true'

    """
    buf = io.BytesIO()
    write_csv(table, buf, market, day)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------------
# Files


def binance_file_name(symbol: str, day: datetime.date, *, zipped: bool = True) -> str:
    """Return Binance's name for a daily trades file (the same for spot and USD-M futures).

    Examples:
        >>> binance_file_name("BTCUSDT", datetime.date(2025, 5, 1))
        'BTCUSDT-trades-2025-05-01.zip'
        >>> binance_file_name("BTCUSDT", datetime.date(2025, 5, 1), zipped=False)
        'BTCUSDT-trades-2025-05-01.csv'

    """
    return f"{symbol}-trades-{day.isoformat()}.{'zip' if zipped else 'csv'}"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "x"
        ...     _ = p.write_bytes(b"abc")
        ...     sha256_file(p)[:16]
        'ba7816bf8f01cfea'

    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path in ``final``'s directory, renamed to ``final`` when the block succeeds."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)  # mkstemp creates 0600; published data files are world-readable
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_zip_with_checksum(
    path: Path,
    member: str,
    content: bytes | Callable[[IO[bytes]], object],
    *,
    date_time: tuple[int, int, int, int, int, int] | None = None,
) -> Path:
    r"""Publish a Binance-style zip: one member, then the ``.CHECKSUM`` sidecar, both atomically.

    Args:
        path: the zip to write.
        member: the name of its single member.
        content: the member's bytes, or a function that streams them into the file object it is given.
        date_time: the member's timestamp (default: now); fix it for byte-identical files.

    Examples:
        >>> import tempfile
        >>> p = write_zip_with_checksum(Path(tempfile.mkdtemp()) / "a.zip", "a.csv", lambda f: f.write(b"1,2\n"))
        >>> zipfile.ZipFile(p).read("a.csv"), (p.parent / "a.zip.CHECKSUM").read_text().endswith("  a.zip\n")
        (b'1,2\n', True)
    """
    info = zipfile.ZipInfo(member, date_time=date_time or time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with _atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as zf, zf.open(info, "w", force_zip64=True) as stream:
        if isinstance(content, bytes):
            stream.write(content)
        else:
            content(stream)
    with _atomic_path(path.with_name(f"{path.name}.CHECKSUM")) as tmp:
        tmp.write_text(f"{sha256_file(path)}  {path.name}\n", encoding="ascii")
    return path


def write_binance_files(
    out_dir: str | os.PathLike[str],
    config: SyntheticConfig,
    *,
    zipped: bool = True,
    progress: Callable[[datetime.date, Path], None] | None = None,
) -> list[Path]:
    r"""Write one Binance daily trades file per day of the config, named and formatted exactly like Binance's.

    With ``zipped=True``: ``SYMBOL-trades-YYYY-MM-DD.zip`` holding the single member ``SYMBOL-trades-YYYY-MM-DD.csv``,
    plus the sidecar ``SYMBOL-trades-YYYY-MM-DD.zip.CHECKSUM`` containing ``<sha256>  <zip name>\n``. With
    ``zipped=False``: plain ``SYMBOL-trades-YYYY-MM-DD.csv`` files, no sidecar. Every file is written under a temporary
    name in ``out_dir`` and renamed into place, so readers never see a partial file.

    Args:
        out_dir: directory to write to (created if missing).
        config: what to generate.
        zipped: write zips with CHECKSUM sidecars (True) or plain CSV files (False).
        progress: called as ``progress(day, path)`` after each data file is complete.

    Returns:
        The paths of the data files (zip or csv), one per day, in date order.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     paths = write_binance_files(d, SyntheticConfig(days=2, trades_per_day=100))
        ...     [p.name for p in paths], sorted(p.name for p in Path(d).iterdir())[1]
        (['BTCUSDT-trades-2025-05-01.zip', 'BTCUSDT-trades-2025-05-02.zip'], 'BTCUSDT-trades-2025-05-01.zip.CHECKSUM')

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for day, table in iter_days(config):
        csv_name = binance_file_name(config.symbol, day, zipped=False)
        if zipped:
            path = write_zip_with_checksum(
                out / binance_file_name(config.symbol, day, zipped=True),
                csv_name,
                functools.partial(write_csv, table, market=config.market, day=day),
            )
        else:
            path = out / csv_name
            with _atomic_path(path) as tmp:
                write_csv(table, tmp, config.market, day)
        written.append(path)
        if progress is not None:
            progress(day, path)
    return written


def write_parquet(out_path: str | os.PathLike[str], config: SyntheticConfig) -> Path:
    """Write all days of the config as one Parquet file (zstd) in :data:`NORMALIZED_SCHEMA`, one day at a time.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = write_parquet(Path(d) / "t.parquet", SyntheticConfig(days=2, trades_per_day=50))
        ...     pq.read_table(p).num_rows, str(pq.read_schema(p).field("time").type)
        (100, 'timestamp[us, tz=UTC]')

    """
    path = Path(out_path)
    with _atomic_path(path) as tmp, pq.ParquetWriter(tmp, NORMALIZED_SCHEMA, **BRONZE_PARQUET_OPTIONS) as writer:
        for _, table in iter_days(config):
            normalized = pa.table(
                [
                    pa.repeat(pa.scalar(config.symbol, pa.string()), table.num_rows),
                    table.column("trade_id"),
                    table.column("price"),
                    table.column("qty"),
                    table.column("quote_qty"),
                    table.column("time").cast(pa.timestamp("us", tz="UTC")),
                    table.column("is_buyer_maker"),
                ],
                schema=NORMALIZED_SCHEMA,
            )
            writer.write_table(normalized, row_group_size=1_000_000)
    return path


def synthetic_klines(config: SyntheticConfig, interval: str = "1m") -> pd.DataFrame:
    """Return the klines of all days of the config, computed by :func:`daap.klines.klines_from_trades`.

    The days are computed at once, so quiet buckets are filled across midnight too: one row per bucket from the
    first to the last traded bucket. Write them as Binance files with :func:`daap.klines.write_kline_files`.

    Examples:
        >>> k = synthetic_klines(SyntheticConfig(days=2, trades_per_day=2_000), "1h")
        >>> len(k), int(k["trades"].sum()), str(k["open_time"].iloc[0])
        (48, 4000, '2025-05-01 00:00:00+00:00')

    """
    from daap.klines import klines_from_trades  # lazily: daap.klines imports this module

    trades = pa.concat_tables([table for _, table in iter_days(config)])
    trades = trades.append_column("symbol", pa.repeat(pa.scalar(config.symbol, pa.string()), trades.num_rows))
    return klines_from_trades(trades, interval)
