"""A static HTML dashboard of one symbol's candles and indicators: one self-contained file that works offline.

Install the extra (``pip install 'daap[dashboard]'``, which brings plotly), build the marts, then render:

- ``dashboard_from_warehouse("duckdb:///daap.duckdb", "dashboard.html", symbol="BTCUSDT", interval="1m")`` reads
  ``fct_candle_metrics`` (run ``daap load`` and ``daap marts`` first); ``render_dashboard(frame, path)`` renders a
  frame you already have (the mart's columns, one symbol and one interval).
- The page shows candlesticks with a volume panel, the SMA / EMA / Bollinger overlays, RSI (30/70 lines) and MACD
  panels for the indicator columns present, a table of daily statistics (UTC days) and, given ``report=``, the
  quality report's status badge (PASS / WARN / FAIL) with its failed findings.
- plotly's JavaScript is inlined and a Content-Security-Policy forbids every request: the file opens from disk,
  offline, and can be mailed or archived as it is (5 to 8 MB: plotly.js is 4.8 MB of it).
- More than ``max_points`` candles (5,000 by default) are rolled up for display into coarser epoch-aligned buckets
  (first open, highest high, lowest low, last close, summed volumes, last indicator values), and the page says so.
  The daily table always uses every candle.

Examples:
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> t = pd.date_range("2025-05-01", periods=3, freq="1min", tz="UTC")
    >>> frame = pd.DataFrame({"symbol": "BTCUSDT", "interval": "1m", "candle_start_time": t,
    ...     "open_price": [10.0, 11.0, 12.0], "high_price": [12.0, 13.0, 14.0], "low_price": [9.0, 10.0, 11.0],
    ...     "close_price": [11.0, 12.0, 13.0], "trading_volume": [1.0, 2.0, 3.0], "trade_count": [5, 6, 7]})
    >>> page = render_dashboard(frame, pathlib.Path(tempfile.mkdtemp()) / "dashboard.html")
    >>> text = page.read_text(encoding="utf-8")
    >>> page.exists(), "Plotly.newPlot" in text, "BTCUSDT" in text, "no quality report" in text
    (True, True, True, True)
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from daap.errors import DaapError, MissingDependencyError
from daap.intervals import US_PER_DAY, Interval

if TYPE_CHECKING:
    import pandas as pd

    from daap.warehouse import WarehouseLoader

__all__ = [
    "DashboardError",
    "Downsampled",
    "daily_statistics",
    "dashboard_from_warehouse",
    "downsample_candles",
    "render_dashboard",
]

#: Columns a dashboard cannot do without (the mart's analyst names).
REQUIRED_COLUMNS = ("candle_start_time", "open_price", "high_price", "low_price", "close_price", "trading_volume")
_SUM_COLUMNS = ("trading_volume", "quote_volume", "trade_count", "taker_buy_volume", "taker_buy_quote_volume")
#: Display buckets tried in order, finest first, when there are more candles than ``max_points``.
_BUCKETS = ("1s", "5s", "15s", "30s", "1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w", "1M")
_UP, _DOWN = "#26a69a", "#ef5350"
_LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
_STATUS_COLOURS = {"pass": "#1a7f37", "warn": "#b7791f", "fail": "#cf222e"}
_MART = "fct_candle_metrics"
_MAX_FINDINGS = 50  # failed findings listed under the badge


class DashboardError(DaapError, ValueError):
    """The dashboard cannot be made: no mart, no candles for the request, or a frame without the needed columns.

    Examples:
        >>> import pandas as pd
        >>> downsample_candles(pd.DataFrame({"open_price": [1.0]}))
        Traceback (most recent call last):
        ...
        daap.dashboard.DashboardError: the candles lack the column(s) candle_start_time, high_price, ...
        >>> issubclass(DashboardError, DaapError), issubclass(DashboardError, ValueError)
        (True, True)
    """


class Downsampled(NamedTuple):
    """Candles as they are drawn.

    Attributes:
        frame: the candles drawn (the input, sorted, when no aggregation was needed).
        bucket: the display bucket (``"1h"``, ``"3 months"``...), or ``None`` when every candle is drawn.
        total: how many candles the input had.

    Examples:
        >>> import pandas as pd
        >>> t = pd.date_range("2025-05-01", periods=3, freq="1min", tz="UTC")
        >>> frame = pd.DataFrame({"candle_start_time": t, "open_price": 1.0, "high_price": 2.0, "low_price": 0.5,
        ...     "close_price": 1.5, "trading_volume": 1.0})
        >>> shown, bucket, total = downsample_candles(frame)  # few candles: all drawn as they are
        >>> len(shown), bucket, total
        (3, None, 3)
    """

    frame: pd.DataFrame
    bucket: str | None
    total: int


# ------------------------------------------------------------------------------------------------------ input
def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _prepare(metrics: pd.DataFrame) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Lower-case the names (Snowflake returns upper case), check the columns, sort by time; times as naive UTC."""
    from daap.indicators.specs import micros

    frame = metrics.rename(columns={c: str(c).lower() for c in metrics.columns})
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DashboardError(
            f"the candles lack the column(s) {', '.join(missing)}: pass the content of {_MART} (run `daap marts`)"
        )
    if frame.empty:
        raise DashboardError(
            "no candles to show: the frame is empty (load candles with `daap load`, then `daap marts`)"
        )
    for key in ("symbol", "interval"):
        if key in frame.columns:
            values = sorted({str(v) for v in frame[key].dropna().unique()})
            if len(values) > 1:
                raise DashboardError(
                    f"the candles hold {len(values)} values of {key} ({', '.join(values[:5])}"
                    f"{', ...' if len(values) > 5 else ''}): a dashboard shows one symbol and one interval"
                )
    t_us = micros(frame["candle_start_time"])
    order = np.argsort(t_us, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    t_us = t_us[order]
    frame["candle_start_time"] = t_us.astype("datetime64[us]")
    if "candle_end_time" in frame.columns:
        frame["candle_end_time"] = micros(frame["candle_end_time"]).astype("datetime64[us]")
    return frame, t_us


def _first_text(frame: pd.DataFrame, column: str) -> str | None:
    if column not in frame.columns:
        return None
    values = frame[column].dropna()
    return None if values.empty else str(values.iloc[0])


# ------------------------------------------------------------------------------------------------ aggregation
def _rollup(frame: pd.DataFrame, keys: npt.NDArray[np.int64], starts: npt.NDArray[np.int64]) -> pd.DataFrame:
    """Roll sorted candles up by non-decreasing ``keys``; ``starts`` (µs) is the start of each key's bucket."""
    n = len(frame)
    cut = np.flatnonzero(np.diff(keys)) + 1
    first = np.concatenate(([0], cut)).astype(np.intp)
    last = np.concatenate((cut, [n])).astype(np.intp) - 1
    out = frame.iloc[last].reset_index(drop=True)  # the last value of every column: close, end time, indicators
    out["candle_start_time"] = starts.astype("datetime64[us]")
    out["open_price"] = frame["open_price"].to_numpy()[first]
    out["high_price"] = np.fmax.reduceat(frame["high_price"].to_numpy(dtype=np.float64, na_value=np.nan), first)
    out["low_price"] = np.fmin.reduceat(frame["low_price"].to_numpy(dtype=np.float64, na_value=np.nan), first)
    for column in _SUM_COLUMNS:
        if column in frame.columns:
            values = np.nan_to_num(frame[column].to_numpy(dtype=np.float64, na_value=np.nan))
            total = np.add.reduceat(values, first)
            out[column] = total.astype(np.int64) if column == "trade_count" else total
    if "quote_volume" in out.columns:
        volume = out["trading_volume"].to_numpy(dtype=np.float64)
        vwap = np.full(len(out), np.nan)
        np.divide(out["quote_volume"].to_numpy(dtype=np.float64), volume, out=vwap, where=volume > 0)
        out["vwap"] = vwap
    for column, how in (("first_trade_id", "min"), ("last_trade_id", "max")):
        if column in frame.columns:  # nullable (gap rows): pandas skips the nulls and keeps the exact integers
            out[column] = frame[column].groupby(keys).agg(how).to_numpy()
    return out


def _group_count(keys: npt.NDArray[np.int64]) -> int:
    return 1 + int(np.count_nonzero(np.diff(keys))) if len(keys) else 0


def _base_interval(frame: pd.DataFrame) -> Interval | None:
    text = _first_text(frame, "interval")
    if text is None:
        return None
    try:
        return Interval.parse(text)
    except DaapError:
        return None


def _choose_bucket(
    frame: pd.DataFrame, t_us: npt.NDArray[np.int64], max_points: int
) -> tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The finest display bucket with at most ``max_points`` buckets: its label, the keys and each bucket's start."""
    base = _base_interval(frame)
    for name in _BUCKETS:
        bucket = Interval.parse(name)
        if base is not None and (base == bucket or not base.divides(bucket)):
            continue
        keys = bucket.index_of(t_us)
        if _group_count(keys) <= max_points:
            return name, keys, bucket.start_of(np.unique(keys))
    # Beyond monthly buckets: whole numbers of calendar months.
    months = Interval.parse("1M").index_of(t_us)
    span = int(months[-1] - months[0]) + 1
    k = max(2, math.ceil(span / max_points))
    while True:
        keys = months // k
        if _group_count(keys) <= max_points:
            return f"{k} months", keys, Interval.parse("1M").start_of(np.unique(keys) * k)
        k += 1


def downsample_candles(metrics: pd.DataFrame, max_points: int = 5000) -> Downsampled:
    """Roll candles up into coarser display buckets when there are more than ``max_points``.

    The buckets are the finest of 1s, 5s, ..., 1h, 4h, 1d, 1w (Monday), 1M (then whole months) that the candles'
    interval divides and that give at most ``max_points`` buckets, aligned to the epoch as daap's candles are. In a
    bucket: the first open, the highest high, the lowest low, the last close, summed volumes and trade counts,
    ``vwap = quote_volume / trading_volume``, the smallest first and largest last trade id, and the last value of
    every other column (indicators, ``candle_end_time``). ``candle_start_time`` becomes the bucket's start and
    ``interval`` the bucket's name.

    Args:
        metrics: candles with the mart's columns (one symbol and interval), in any order.
        max_points: the most candles to keep (at least 1).

    Returns:
        The candles to draw, the bucket name (``None`` when nothing was rolled up) and the input's row count.

    Raises:
        DashboardError: for missing columns, no rows, several symbols or intervals, or ``max_points < 1``.

    Examples:
        >>> import pandas as pd
        >>> t = pd.date_range("2025-05-01", periods=120, freq="1min", tz="UTC")
        >>> frame = pd.DataFrame({"interval": "1m", "candle_start_time": t, "open_price": range(120),
        ...     "high_price": range(1, 121), "low_price": range(-1, 119), "close_price": range(120),
        ...     "trading_volume": 1.0})
        >>> shown = downsample_candles(frame, max_points=2)
        >>> shown.bucket, shown.total, shown.frame[["open_price", "high_price", "trading_volume"]].values.tolist()
        ('1h', 120, [[0.0, 60.0, 60.0], [60.0, 120.0, 60.0]])
    """
    _check_max_points(max_points)
    return _downsample(*_prepare(metrics), max_points)


def _check_max_points(max_points: int) -> None:
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise DashboardError(f"max_points must be a positive integer, got {max_points!r}")


def _downsample(frame: pd.DataFrame, t_us: npt.NDArray[np.int64], max_points: int) -> Downsampled:
    if len(frame) <= max_points:
        return Downsampled(frame, None, len(frame))
    name, keys, starts = _choose_bucket(frame, t_us, max_points)
    out = _rollup(frame, keys, starts)
    if "interval" in out.columns:
        out["interval"] = name
    return Downsampled(out, name, len(frame))


def daily_statistics(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per UTC day: open, high, low, close, volume, trades, return % and range %.

    ``return_pct`` is ``(close - open) / open * 100`` over the day and ``range_pct`` is ``(high - low) / open * 100``.

    Args:
        metrics: candles with the mart's columns (one symbol and interval).

    Returns:
        Columns ``day`` (``datetime.date``), ``open``, ``high``, ``low``, ``close``, ``volume``, ``trades`` (``None``
        without ``trade_count``), ``return_pct``, ``range_pct``.

    Examples:
        >>> import pandas as pd
        >>> t = pd.to_datetime(["2025-05-01 23:59", "2025-05-02 00:00"], utc=True)
        >>> frame = pd.DataFrame({"candle_start_time": t, "open_price": [100.0, 101.0], "high_price": [102.0, 103.0],
        ...     "low_price": [99.0, 100.0], "close_price": [101.0, 102.0], "trading_volume": [1.5, 2.0],
        ...     "trade_count": [3, 4]})
        >>> daily_statistics(frame)[["day", "open", "close", "trades", "return_pct", "range_pct"]].values.tolist()
        [[datetime.date(2025, 5, 1), 100.0, 101.0, 3, 1.0, 3.0], [datetime.date(2025, 5, 2), 101.0, 102.0, 4, ...]]
    """
    return _daily(*_prepare(metrics))


def _daily(frame: pd.DataFrame, t_us: npt.NDArray[np.int64]) -> pd.DataFrame:
    import pandas as pd

    keys = t_us // US_PER_DAY
    days = _rollup(frame, keys, np.unique(keys) * US_PER_DAY)
    opens = days["open_price"].to_numpy(dtype=np.float64)
    high = days["high_price"].to_numpy(dtype=np.float64)
    low = days["low_price"].to_numpy(dtype=np.float64)
    close = days["close_price"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(opens != 0, (close - opens) / opens * 100.0, np.nan)
        rng = np.where(opens != 0, (high - low) / opens * 100.0, np.nan)
    trades = days["trade_count"].astype(object) if "trade_count" in days.columns else [None] * len(days)
    return pd.DataFrame(
        {
            "day": [d.date() for d in pd.to_datetime(days["candle_start_time"])],
            "open": opens,
            "high": high,
            "low": low,
            "close": close,
            "volume": days["trading_volume"].to_numpy(dtype=np.float64),
            "trades": list(trades),
            "return_pct": ret,
            "range_pct": rng,
        }
    )


# ------------------------------------------------------------------------------------------------- indicators
@dataclass
class _Indicators:
    """Indicator columns found by prefix, grouped by parameters."""

    sma: list[str] = field(default_factory=list)
    ema: list[str] = field(default_factory=list)
    bands: dict[str, dict[str, str]] = field(default_factory=dict)  # "20_2" -> {"upper": col, "middle": ..}
    rsi: list[str] = field(default_factory=list)
    macd: dict[str, dict[str, str]] = field(default_factory=dict)  # "12_26_9" -> {"line": col, "signal": ...}

    @classmethod
    def find(cls, columns: Iterable[str]) -> _Indicators:
        found = cls()
        for column in columns:
            for prefix, group, part in (
                ("bb_upper_", found.bands, "upper"),
                ("bb_middle_", found.bands, "middle"),
                ("bb_lower_", found.bands, "lower"),
                ("macd_signal_", found.macd, "signal"),
                ("macd_hist_", found.macd, "hist"),
                ("macd_", found.macd, "line"),
            ):
                if column.startswith(prefix) and len(column) > len(prefix):
                    group.setdefault(column[len(prefix) :], {})[part] = column
                    break
            else:
                for prefix, names in (("sma_", found.sma), ("ema_", found.ema), ("rsi_", found.rsi)):
                    if column.startswith(prefix) and len(column) > len(prefix):
                        names.append(column)
        return found


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]


# ------------------------------------------------------------------------------------------------------ figure
def _plotly() -> tuple[Any, Any, Any]:
    """``plotly.graph_objects``, ``plotly.subplots`` and ``plotly.io``, or :class:`MissingDependencyError`."""
    try:
        return (
            importlib.import_module("plotly.graph_objects"),
            importlib.import_module("plotly.subplots"),
            importlib.import_module("plotly.io"),
        )
    except ImportError as exc:
        raise MissingDependencyError("the dashboard", "dashboard") from exc


def _values(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _time_labels(times: npt.NDArray[np.datetime64]) -> list[str]:
    """Naive UTC times as the shortest exact text plotly reads (``2025-05-01 00:01``): half the JSON of ISO µs."""
    stamps: npt.NDArray[np.datetime64] = times.astype("datetime64[us]")
    us = stamps.astype(np.int64)
    unit: Literal["m", "s", "us"] = "m" if not np.any(us % 60_000_000) else "s" if not np.any(us % 1_000_000) else "us"
    return [str(text).replace("T", " ") for text in np.datetime_as_string(stamps, unit=unit)]


def _build_figure(frame: pd.DataFrame, symbol: str) -> tuple[Any, int]:
    """The plotly figure of drawn candles (already downsampled) and its height in pixels."""
    go, subplots, _ = _plotly()
    found = _Indicators.find(_numeric_columns(frame))
    panels = [("price", 460), ("volume", 130)]
    if found.rsi:
        panels.append(("RSI", 170))
    if found.macd:
        panels.append(("MACD", 190))
    height = sum(px for _, px in panels) + 110
    fig = subplots.make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.025,
        row_heights=[px for _, px in panels],
    )
    row = {name: i + 1 for i, (name, _) in enumerate(panels)}
    x = _time_labels(frame["candle_start_time"].to_numpy())
    opens, close = _values(frame, "open_price"), _values(frame, "close_price")
    fig.add_trace(
        go.Candlestick(
            x=x,
            open=opens,
            high=_values(frame, "high_price"),
            low=_values(frame, "low_price"),
            close=close,
            name=_esc(symbol),
            increasing={"line": {"color": _UP}, "fillcolor": _UP},
            decreasing={"line": {"color": _DOWN}, "fillcolor": _DOWN},
        ),
        row=1,
        col=1,
    )
    colours = iter(_LINE_COLOURS * 4)

    def add_line(column: str, panel: int, colour: str | None = None) -> None:
        line = {"width": 1.2, "color": colour or next(colours, "#444")}
        trace = go.Scatter(x=x, y=_values(frame, column), mode="lines", name=_esc(column), line=line)
        fig.add_trace(trace, row=panel, col=1)

    for column in [*found.sma, *found.ema]:
        add_line(column, 1)
    for params, parts in sorted(found.bands.items()):
        band = f"bb_{params}"  # one legend entry for the three lines
        shown = [part for part in ("upper", "lower", "middle") if part in parts]  # lower after upper: fill between
        for part in shown:
            fill = "tonexty" if part == "lower" and "upper" in parts else None
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=_values(frame, parts[part]),
                    mode="lines",
                    name=_esc(band if part == shown[0] else parts[part]),
                    legendgroup=_esc(band),
                    showlegend=part == shown[0],
                    line={"width": 1, "color": "#7e57c2", "dash": "dot" if part == "middle" else "solid"},
                    fill=fill,
                    fillcolor="rgba(126, 87, 194, 0.08)" if fill else None,
                ),
                row=1,
                col=1,
            )
    volume_colours = np.where(close >= opens, _UP, _DOWN)
    fig.add_trace(
        go.Bar(
            x=x, y=_values(frame, "trading_volume"), name="volume", marker={"color": volume_colours}, showlegend=False
        ),
        row=row["volume"],
        col=1,
    )
    if found.rsi:
        for column in found.rsi:
            add_line(column, row["RSI"])
        for level in (30, 70):
            fig.add_hline(y=level, line={"width": 1, "dash": "dash", "color": "#888"}, row=row["RSI"], col=1)
        fig.update_yaxes(range=[0, 100], tickvals=[0, 30, 50, 70, 100], row=row["RSI"], col=1)
    for _params, parts in sorted(found.macd.items()):
        if "hist" in parts:
            hist = _values(frame, parts["hist"])
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=hist,
                    name=_esc(parts["hist"]),
                    marker={"color": np.where(hist >= 0, _UP, _DOWN)},
                    opacity=0.6,
                ),
                row=row["MACD"],
                col=1,
            )
        for key, colour in (("line", "#1f77b4"), ("signal", "#ff7f0e")):
            if key in parts:
                add_line(parts[key], row["MACD"], colour)
    for name, i in row.items():
        fig.update_yaxes(title_text=name, row=i, col=1)
    fig.update_xaxes(rangeslider_visible=False, showspikes=True, spikemode="across", spikethickness=1)
    fig.update_xaxes(title_text="time (UTC)", row=len(panels), col=1)
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0},
        hovermode="x",
        bargap=0,
    )
    return fig, height


# -------------------------------------------------------------------------------------------------------- page
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328;
       background: #f6f8fa; }
main { max-width: 1600px; margin: 0 auto; padding: 16px 24px 32px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 24px 0 8px; }
.meta, .note, footer { color: #57606a; font-size: 0.9rem; margin: 4px 0; }
.note.aggregated { color: #9a6700; font-weight: 600; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 700;
         letter-spacing: 0.05em; margin-right: 8px; }
.badge.none { background: #fff; color: #57606a; border: 1px solid #d0d7de; font-weight: 400; }
.findings { margin: 8px 0 0; padding-left: 20px; }
.findings .severity { font-weight: 600; text-transform: uppercase; font-size: 0.8rem; }
.findings .error .severity { color: #cf222e; }
.findings .warn .severity { color: #9a6700; }
table.daily { border-collapse: collapse; width: 100%; background: #fff; font-variant-numeric: tabular-nums; }
table.daily th, table.daily td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; }
table.daily th:first-child, table.daily td:first-child { text-align: left; }
table.daily thead th { background: #f0f3f6; }
.up { color: #1a7f37; } .down { color: #cf222e; }
"""

# Nothing may be fetched: inline scripts and styles only, images from data: and blob: (plotly's PNG export).
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


def _number(value: Any, *, volume: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    size = abs(v)
    digits = 2 if size >= 100 or (volume and size >= 1) else 4 if size >= 1 else 8
    return f"{v:,.{digits}f}"


def _percent(value: Any, *, signed: bool) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):+.2f}%" if signed else f"{float(value):.2f}%"


def _daily_html(days: pd.DataFrame) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("day (UTC)", "open", "high", "low", "close", "volume", "trades", "return", "range")
    )
    rows = []
    for day in days.to_dict("records"):
        ret = float(day["return_pct"])
        kind = "up" if ret > 0 else "down" if ret < 0 else ""
        trades = "–" if day["trades"] is None else f"{int(day['trades']):,}"
        cells = [
            _esc(day["day"].isoformat()),
            *(_number(day[c]) for c in ("open", "high", "low", "close")),
            _number(day["volume"], volume=True),
            trades,
        ]
        rows.append(
            '<tr class="day">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + f'<td class="{kind}">{_percent(ret, signed=True)}</td><td>{_percent(day["range_pct"], signed=False)}</td>'
            + "</tr>"
        )
    return (
        '<section class="card" id="daily"><h2>Daily statistics (UTC)</h2>'
        f'<table class="daily"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        '<p class="note">return: (close − open) / open over the day; range: (high − low) / open.</p></section>'
    )


def _report_mapping(report: Any) -> Mapping[str, Any]:
    if isinstance(report, Mapping):
        return report
    for method in ("to_dict", "as_dict"):  # a report object (e.g. a dataclass with to_dict)
        if callable(getattr(report, method, None)):
            value = getattr(report, method)()
            if isinstance(value, Mapping):
                return value
    raise DashboardError(f"report must be a mapping like {{'status': 'pass', ...}}, got {type(report).__name__}")


def _quality_html(report: Mapping[str, Any] | None) -> str:
    if report is None:
        return (
            '<section class="card" id="quality"><span class="badge none">no quality report</span>'
            "<span>the data quality checks were not run for this page</span></section>"
        )
    data = _report_mapping(report)
    status = str(data.get("status", "unknown")).strip().lower()
    colour = _STATUS_COLOURS.get(status, "#6e7781")
    parts = [
        f'<section class="card" id="quality"><span class="badge status-{_esc(status)}" '
        f'style="background:{colour}">{_esc(status.upper() or "UNKNOWN")}</span>'
        f'<span class="summary">{_esc(data.get("summary", ""))}</span>'
    ]
    findings = data.get("findings") or []
    failed = [f for f in findings if not (isinstance(f, Mapping) and f.get("passed", False))]
    if failed:
        items = []
        for finding in failed[:_MAX_FINDINGS]:
            if isinstance(finding, Mapping):
                severity = str(finding.get("severity", "error")).lower()
                target = f" ({_esc(finding['target'])})" if finding.get("target") else ""
                items.append(
                    f'<li class="{_esc(severity)}"><span class="severity">{_esc(severity)}</span> '
                    f"<code>{_esc(finding.get('check', '?'))}</code>{target}: {_esc(finding.get('message', ''))}</li>"
                )
            else:
                items.append(f"<li>{_esc(finding)}</li>")
        if len(failed) > _MAX_FINDINGS:
            items.append(f"<li>… and {len(failed) - _MAX_FINDINGS:,} more failed findings</li>")
        parts.append(f'<ul class="findings">{"".join(items)}</ul>')
    elif findings:
        parts.append(f'<p class="note">all {len(findings)} checks passed</p>')
    parts.append("</section>")
    return "".join(parts)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_dashboard(
    metrics: pd.DataFrame,
    output: str | Path,
    *,
    report: Mapping[str, Any] | None = None,
    title: str | None = None,
    max_points: int = 5000,
) -> Path:
    """Write one self-contained HTML dashboard of one symbol's candles (plotly inlined, no network request).

    Args:
        metrics: the rows of ``fct_candle_metrics`` for one symbol and one interval (any order; upper-case names,
            as Snowflake returns them, work too). Indicator columns are optional and found by prefix: ``sma_``,
            ``ema_``, ``bb_upper_``/``bb_middle_``/``bb_lower_``, ``rsi_``, ``macd_``/``macd_signal_``/``macd_hist_``.
        output: the HTML file to write (its folder is created; the file appears only when complete).
        report: the quality report, ``{"status": "pass"|"warn"|"fail", "summary": "...", "findings": [{"check",
            "severity", "passed", "message"}, ...]}`` (or an object with ``to_dict()``); ``None`` says "no quality
            report".
        title: the page title (default ``"{symbol} {interval} candles"``).
        max_points: the most candles to draw; more are rolled up into coarser buckets
            (:func:`downsample_candles`) and the page says so.

    Returns:
        The path written.

    Raises:
        DashboardError: missing columns, no rows, several symbols or intervals, a bad ``max_points`` or report.
        MissingDependencyError: plotly is not installed (``pip install 'daap[dashboard]'``).

    Examples:
        >>> import tempfile
        >>> import pandas as pd
        >>> t = pd.date_range("2025-05-01", periods=180, freq="1min", tz="UTC")
        >>> frame = pd.DataFrame({"symbol": "BTCUSDT", "interval": "1m", "candle_start_time": t, "open_price": 10.0,
        ...     "high_price": 12.0, "low_price": 9.0, "close_price": 11.0, "trading_volume": 1.0})
        >>> report = {"status": "warn", "summary": "1 warning", "findings": [
        ...     {"check": "gaps", "severity": "warn", "passed": False, "message": "2 gap candles"}]}
        >>> page = render_dashboard(frame, Path(tempfile.mkdtemp()) / "d.html", report=report, max_points=3)
        >>> text = page.read_text(encoding="utf-8")
        >>> "showing 3 of 180 candles, aggregated to 1h" in text, "2 gap candles" in text, ">WARN<" in text
        (True, True, True)
    """
    _, _, pio = _plotly()
    plotly_version = str(getattr(importlib.import_module("plotly"), "__version__", "?"))
    from daap import __version__

    _check_max_points(max_points)
    full, t_us = _prepare(metrics)
    shown = _downsample(full, t_us, max_points)
    symbol = _first_text(full, "symbol") or "?"
    interval = _first_text(full, "interval") or "?"
    page_title = title if title is not None else f"{symbol} {interval} candles"
    fig, height = _build_figure(shown.frame, symbol)
    chart = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=True,
        include_mathjax=False,
        div_id="daap-chart",
        default_height=f"{height}px",
        config={"displaylogo": False, "responsive": True},
    )
    first = full["candle_start_time"].iloc[0]
    last = full["candle_start_time"].iloc[-1]
    if shown.bucket is None:
        note = f'<p class="note" id="points">showing all {shown.total:,} candles</p>'
    else:
        note = (
            f'<p class="note aggregated" id="points">showing {len(shown.frame):,} of {shown.total:,} candles, '
            f"aggregated to {_esc(shown.bucket)} (more than {max_points:,} candles; the daily table uses all)</p>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="daap {_esc(__version__)}">
<title>{_esc(page_title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>{_esc(page_title)}</h1>
<p class="meta"><span class="symbol">{_esc(symbol)}</span> · {_esc(interval)} ·
{_esc(f"{first:%Y-%m-%d %H:%M}")} → {_esc(f"{last:%Y-%m-%d %H:%M}")} UTC · {shown.total:,} candles</p>
</header>
{_quality_html(report)}
{note}
<section class="card" id="chart">{chart}</section>
{_daily_html(_daily(full, t_us))}
<footer>made by daap {_esc(__version__)} with plotly {_esc(plotly_version)} · times in UTC ·
works offline</footer>
</main>
</body>
</html>
"""
    path = Path(output)
    _write_atomic(path, page)
    return path


# --------------------------------------------------------------------------------------------------- warehouse
def _day(value: dt.date | str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise DashboardError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _lower(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={c: str(c).lower() for c in frame.columns})


def _has_mart(loader: WarehouseLoader) -> bool | None:
    """Whether the mart exists (``None`` when the backend cannot say)."""
    from daap.warehouse import WarehouseError

    try:
        found = loader.sql("SELECT count(*) AS n FROM information_schema.tables WHERE lower(table_name) = ?", [_MART])
    except WarehouseError:
        return None
    return bool(int(_lower(found)["n"].iloc[0]))


def _pick_symbol(loader: WarehouseLoader, symbol: str | None, interval: str) -> str:
    symbols = [
        str(s)
        for s in _lower(
            loader.sql(f"SELECT DISTINCT symbol FROM {_MART} WHERE interval = ? ORDER BY symbol", [interval])
        )["symbol"]
    ]
    if not symbols:
        intervals = _lower(loader.sql(f"SELECT DISTINCT interval FROM {_MART} ORDER BY interval"))["interval"]
        if intervals.empty:
            raise DashboardError(
                f"{_MART} is empty in {loader.url}: load candles (`daap load`) and run `daap marts` first"
            )
        raise DashboardError(
            f"{_MART} has no {interval} candles in {loader.url} (it has {', '.join(map(str, intervals))}): "
            f"load them (`daap load --interval {interval}`) and run `daap marts`"
        )
    if symbol is None:
        return symbols[0]
    if symbol not in symbols:
        listed = ", ".join(symbols[:10]) + (", ..." if len(symbols) > 10 else "")
        raise DashboardError(
            f"{_MART} has no {interval} candles for {symbol!r} in {loader.url} (it has {listed}): "
            f"load them (`daap load --symbol {symbol}`) and run `daap marts`"
        )
    return symbol


def dashboard_from_warehouse(
    warehouse: str | Path | WarehouseLoader | None,
    output: str | Path,
    *,
    symbol: str | None = None,
    interval: str = "1m",
    report: Mapping[str, Any] | None = None,
    title: str | None = None,
    max_points: int = 5000,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> Path:
    """Render the dashboard of one symbol and interval from the warehouse's ``fct_candle_metrics`` mart.

    Args:
        warehouse: a warehouse URL (``duckdb:///daap.duckdb``, ``snowflake://...``; ``None`` for
            ``$DAAP_WAREHOUSE`` or the default) or an open :class:`daap.WarehouseLoader` (left open).
        output: the HTML file to write.
        symbol: the symbol to show (default: the first, alphabetically, that has candles of ``interval``).
        interval: the candle interval.
        report: the quality report to show (see :func:`render_dashboard`).
        title: the page title.
        max_points: the most candles to draw (see :func:`downsample_candles`).
        start: first UTC day to show (inclusive), default the first in the mart.
        end: last UTC day to show (inclusive), default the last in the mart.

    Returns:
        The path written.

    Raises:
        DashboardError: the mart is missing or has no candles for the request; the message says what to run.
        WarehouseError: the warehouse failed (bad URL, failed query).
        MissingDependencyError: plotly is not installed.

    Examples:
        >>> import tempfile, pathlib, daap
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> with daap.WarehouseLoader(f"duckdb:///{folder}/w.duckdb") as wh:
        ...     _ = wh.load_candles(candles)
        ...     _ = wh.build_marts("sma:7,rsi:14")
        ...     page = dashboard_from_warehouse(wh, folder / "BTCUSDT.html", report={"status": "pass"})
        >>> text = page.read_text(encoding="utf-8")
        >>> "BTCUSDT" in text, ">PASS<" in text, text.count('<tr class="day">')
        (True, True, 1)
        >>> dashboard_from_warehouse(f"duckdb:///{folder}/empty.duckdb", folder / "x.html")
        Traceback (most recent call last):
        ...
        daap.dashboard.DashboardError: the warehouse duckdb:///.../empty.duckdb has no fct_candle_metrics mart: ...
    """
    from daap.warehouse import WarehouseLoader

    own = not isinstance(warehouse, WarehouseLoader)
    loader = WarehouseLoader(warehouse) if not isinstance(warehouse, WarehouseLoader) else warehouse
    try:
        if _has_mart(loader) is False:
            raise DashboardError(
                f"the warehouse {loader.url} has no {_MART} mart: load candles (`daap load`) and run `daap marts`"
            )
        chosen = _pick_symbol(loader, symbol, interval)
        query = f"SELECT * FROM {_MART} WHERE symbol = ? AND interval = ?"
        params: list[Any] = [chosen, interval]
        lower, upper = _day(start, "start"), _day(end, "end")
        if lower is not None:
            query += " AND candle_start_time >= ?"
            params.append(lower)
        if upper is not None:
            query += " AND candle_start_time < ?"
            params.append(upper + dt.timedelta(days=1))
        frame = loader.sql(query + " ORDER BY candle_start_time", params)
    finally:
        if own:
            loader.close()
    if frame.empty:
        raise DashboardError(
            f"{_MART} has no {interval} candles for {chosen} between {start or 'the start'} and {end or 'the end'}"
        )
    return render_dashboard(frame, output, report=report, title=title, max_points=max_points)
