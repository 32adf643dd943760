"""The static HTML dashboard: real candles through the warehouse marts, the page in headless Chromium, big ranges."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import daap
from daap import dashboard
from daap.dashboard import (
    DashboardError,
    daily_statistics,
    dashboard_from_warehouse,
    downsample_candles,
    render_dashboard,
)
from daap.errors import MissingDependencyError
from daap.sources.synthetic import SyntheticConfig, write_parquet
from tests import browser

INDICATORS = "sma:7,ema:21,rsi:14,macd,bb:20:2"
HOSTILE = "<script>alert(1)</script>"
PASS_REPORT = {
    "status": "pass",
    "summary": "12 checks passed",
    "findings": [{"check": "ohlc_order", "severity": "error", "passed": True, "message": "high >= open, close >= low"}],
}
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "dashboard.png"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two days of synthetic BTCUSDT trades -> 1m candles -> a DuckDB file with the marts built."""
    folder = tmp_path_factory.mktemp("dashboard")
    trades = write_parquet(folder / "trades.parquet", SyntheticConfig(days=2, trades_per_day=20_000, seed=11))
    candles = daap.CandleBuilder("1m").build(daap.read_trades(trades))
    assert len(candles) == 2 * 1440
    url = f"duckdb:///{folder / 'w.duckdb'}"
    with daap.WarehouseLoader(url) as wh:
        wh.load_candles(candles)
        wh.build_marts(INDICATORS)
    return url


@pytest.fixture(scope="module")
def page(warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "site" / "dashboard.html"
    assert dashboard_from_warehouse(warehouse, out, report=PASS_REPORT) == out
    return out


def test_page_is_one_self_contained_file(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Plotly.newPlot" in text and len(text) > 3_000_000  # plotly.js itself is inlined
    tags = re.findall(r"<script\b[^>]*>", text, re.IGNORECASE)
    assert tags and not [t for t in tags if re.search(r"\bsrc\s*=|cdn|https?:", t, re.IGNORECASE)], tags
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.IGNORECASE | re.DOTALL)  # the page without JS
    assert not re.search(r"https?:|//cdn|\bsrc\s*=|<link\b|<iframe\b|@import|url\(", markup, re.IGNORECASE)
    assert "default-src 'none'" in text  # the CSP forbids any request
    assert [p.name for p in page.parent.iterdir()] == ["dashboard.html"]  # no side files, no temp file left


def test_page_shows_symbol_badge_indicators_and_days(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<title>BTCUSDT 1m candles</title>" in text
    assert re.search(r'<span class="badge status-pass"[^>]*>PASS</span>', text)
    assert "12 checks passed" in text and "all 1 checks passed" in text
    assert "showing all 2,880 candles" in text
    for column in ("sma_7", "ema_21", "rsi_14", "macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9", "bb_20_2"):
        assert f'"name":"{column}"' in text, column
    days = re.findall(r'<tr class="day"><td>([0-9-]+)</td>', text)
    assert days == ["2025-05-01", "2025-05-02"]
    assert "20,000" in text  # trades per synthetic day


def test_daily_statistics_match_the_candles(warehouse: str) -> None:
    with daap.WarehouseLoader(warehouse) as wh:
        metrics = wh.sql("SELECT * FROM fct_candle_metrics ORDER BY candle_start_time")
    days = daily_statistics(metrics.sample(frac=1.0, random_state=1))  # order does not matter
    assert [d.isoformat() for d in days["day"]] == ["2025-05-01", "2025-05-02"]
    first = metrics[metrics["candle_start_time"] < pd.Timestamp("2025-05-02", tz="UTC")]
    row = days.iloc[0]
    assert row["open"] == first["open_price"].iloc[0] and row["close"] == first["close_price"].iloc[-1]
    assert row["high"] == first["high_price"].max() and row["low"] == first["low_price"].min()
    assert row["trades"] == 20_000 == first["trade_count"].sum()
    assert row["volume"] == pytest.approx(first["trading_volume"].sum(), rel=1e-12)
    assert row["return_pct"] == pytest.approx((row["close"] / row["open"] - 1) * 100)
    assert row["range_pct"] == pytest.approx((row["high"] - row["low"]) / row["open"] * 100)


def test_chromium_renders_the_figure(page: Path, tmp_path: Path) -> None:
    dom = browser.dump_dom(page)
    assert 'class="plot-container' in dom and "main-svg" in dom, "plotly did not draw the figure"
    assert 'class="trace boxes"' in dom, "no candlesticks drawn"
    drawn = re.findall(r'class="trace (boxes|bars|scatter)\b', dom)
    # candlesticks; volume and MACD histogram; SMA, EMA, 3 Bollinger lines, RSI, MACD line and signal
    assert sorted(drawn) == ["bars"] * 2 + ["boxes"] + ["scatter"] * 8, drawn
    assert "PASS" in dom and "2025-05-02" in dom
    png = browser.screenshot(page, tmp_path / "dashboard.png")
    summary = browser.png_summary(png)
    assert (summary.width, summary.height) == (1400, 1800)
    assert summary.distinct_fraction > 0.25, f"the screenshot looks blank: {summary}"
    # Kept as a test artifact (CI can collect it), and for the README when asked.
    artifacts = Path(os.environ.get("DAAP_TEST_ARTIFACTS", "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, artifacts / "dashboard.png")
    if os.environ.get("DAAP_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)


def test_the_page_logs_no_javascript_errors(page: Path, tmp_path: Path) -> None:
    assert browser.js_errors(page) == []
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>console.log('fine'); nosuch();</script></body></html>")
    errors = browser.js_errors(broken)  # the check sees an error when there is one
    assert len(errors) == 1 and "Uncaught ReferenceError: nosuch is not defined" in errors[0]


def test_png_summary_tells_a_blank_page(tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    summary = browser.png_summary(browser.screenshot(blank, tmp_path / "blank.png", size=(400, 300)))
    assert (summary.width, summary.height) == (400, 300) and summary.distinct_rows < 5


# ---------------------------------------------------------------------------------------------- large ranges
def _minute_candles(n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` valid 1m candles from 2025-01-01, made directly with numpy (open = previous close)."""
    rng = np.random.default_rng(seed)
    close = np.round(60_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, n))), 2)
    open_ = np.concatenate(([60_000.0], close[:-1]))
    high = np.round(np.maximum(open_, close) + rng.exponential(5, n), 2)
    low = np.round(np.minimum(open_, close) - rng.exponential(5, n), 2)
    volume = rng.exponential(2.0, n)
    start = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
    first_id = pd.array(np.arange(n) * 10, dtype="Int64")
    first_id[::7] = pd.NA  # a few gap rows without trade ids
    return pd.DataFrame(
        {
            "symbol": "BTCUSDT",
            "interval": "1m",
            "candle_start_time": start,
            "candle_end_time": start + pd.Timedelta(minutes=1) - pd.Timedelta(microseconds=1),
            "open_price": open_,
            "high_price": high,
            "low_price": low,
            "close_price": close,
            "trading_volume": volume,
            "quote_volume": volume * close,
            "trade_count": rng.integers(0, 500, n),
            "first_trade_id": first_id,
            "rsi_14": np.linspace(0, 100, n),
            "sma_7": close,
        }
    )


def test_large_range_is_rolled_up_exactly() -> None:
    frame = _minute_candles(200_000)
    shown = downsample_candles(frame.iloc[::-1], max_points=5000)  # any input order
    assert shown.bucket == "1h" and shown.total == 200_000 and len(shown.frame) == 3_334
    t = frame.set_index("candle_start_time")
    hourly = t.resample("1h").agg(
        {
            "open_price": "first",
            "high_price": "max",
            "low_price": "min",
            "close_price": "last",
            "trading_volume": "sum",
            "quote_volume": "sum",
            "trade_count": "sum",
            "rsi_14": "last",
            "first_trade_id": "min",
        }
    )
    got = shown.frame
    assert (got["candle_start_time"].to_numpy() == hourly.index.tz_localize(None).to_numpy()).all()
    for column in ("open_price", "high_price", "low_price", "close_price", "rsi_14", "trade_count"):
        np.testing.assert_array_equal(got[column].to_numpy(), hourly[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(got["trading_volume"], hourly["trading_volume"], rtol=1e-12)
    np.testing.assert_allclose(got["vwap"], hourly["quote_volume"] / hourly["trading_volume"], rtol=1e-12)
    assert got["first_trade_id"].tolist() == hourly["first_trade_id"].tolist()
    assert (got["interval"] == "1h").all() and (
        got["high_price"] >= got[["open_price", "close_price"]].max(axis=1)
    ).all()


def test_large_range_page_ships_at_most_max_points(tmp_path: Path) -> None:
    frame = _minute_candles(200_000)
    out = render_dashboard(frame, tmp_path / "big.html", max_points=5000)
    text = out.read_text(encoding="utf-8")
    assert "showing 3,334 of 200,000 candles, aggregated to 1h" in text
    assert out.stat().st_size < 9_000_000  # plotly.js (~4.8 MB) plus a few thousand points, not 200,000
    fig, _ = dashboard._build_figure(downsample_candles(frame, 5000).frame, "BTCUSDT")
    assert max(len(trace.x) for trace in fig.data) == 3_334
    assert len(re.findall(r'<tr class="day">', text)) == 139  # the daily table uses every candle


def test_buckets_get_coarser_until_they_fit() -> None:
    frame = _minute_candles(20_000)
    assert downsample_candles(frame, max_points=20_000).bucket is None
    assert downsample_candles(frame, max_points=5_000).bucket == "5m"
    assert downsample_candles(frame, max_points=20).bucket == "1d"
    weekly = downsample_candles(frame, max_points=3)
    assert weekly.bucket == "1w" and len(weekly.frame) == 3  # Mondays: 2024-12-30, 2025-01-06, 2025-01-13
    assert weekly.frame["candle_start_time"].dt.dayofweek.tolist() == [0, 0, 0]
    assert downsample_candles(frame, max_points=1).bucket == "1M"
    with pytest.raises(DashboardError, match="max_points"):
        downsample_candles(frame, max_points=0)


# ------------------------------------------------------------------------------------------- indicators present
def test_panels_follow_the_indicator_columns(tmp_path: Path) -> None:
    frame = _minute_candles(300).drop(columns=["rsi_14", "sma_7"])
    fig, _ = dashboard._build_figure(downsample_candles(frame).frame, "BTCUSDT")
    assert [t.type for t in fig.data] == ["candlestick", "bar"]
    with_rsi = frame.assign(rsi_14=50.0, macd_signal_12_26_9=0.5, bb_upper_20_2=frame["high_price"] + 1)
    fig, _ = dashboard._build_figure(downsample_candles(with_rsi).frame, "BTCUSDT")
    names = [t.name for t in fig.data]
    assert names == ["BTCUSDT", "bb_20_2", "volume", "rsi_14", "macd_signal_12_26_9"]
    assert {s.y0 for s in fig.layout.shapes} == {30, 70}
    assert "<th>trades</th>" in render_dashboard(frame.drop(columns=["trade_count"]), tmp_path / "p.html").read_text()


def test_upper_case_columns_work(tmp_path: Path) -> None:
    frame = _minute_candles(100)
    frame.columns = [c.upper() for c in frame.columns]
    assert "BTCUSDT 1m candles" in render_dashboard(frame, tmp_path / "sf.html").read_text(encoding="utf-8")


# -------------------------------------------------------------------------------------------------- bad input
def test_missing_mart_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match=r"no fct_candle_metrics mart: .*`daap marts`"):
        dashboard_from_warehouse(f"duckdb:///{tmp_path / 'empty.duckdb'}", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_empty_mart_says_what_to_run(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    with daap.WarehouseLoader(url) as wh:
        wh.build_marts("sma:7")
        with pytest.raises(DashboardError, match=r"fct_candle_metrics is empty .*`daap load`.*`daap marts`"):
            dashboard_from_warehouse(wh, tmp_path / "x.html")
        assert wh.connected  # a loader passed in is left open


def test_unknown_symbol_or_interval_lists_what_there_is(warehouse: str, tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match=r"no 1m candles for 'ETHUSDT'.*it has BTCUSDT"):
        dashboard_from_warehouse(warehouse, tmp_path / "x.html", symbol="ETHUSDT")
    with pytest.raises(DashboardError, match=r"no 5m candles .*it has 1m"):
        dashboard_from_warehouse(warehouse, tmp_path / "x.html", interval="5m")
    with pytest.raises(DashboardError, match="no 1m candles for BTCUSDT between 2026-01-01"):
        dashboard_from_warehouse(warehouse, tmp_path / "x.html", start="2026-01-01")


def test_date_window(warehouse: str, tmp_path: Path) -> None:
    out = dashboard_from_warehouse(
        warehouse, tmp_path / "d.html", symbol="BTCUSDT", start="2025-05-02", end="2025-05-02"
    )
    text = out.read_text(encoding="utf-8")
    assert re.findall(r'<tr class="day"><td>([0-9-]+)</td>', text) == ["2025-05-02"]
    assert "showing all 1,440 candles" in text


def test_bad_frames_are_clear_errors(tmp_path: Path) -> None:
    frame = _minute_candles(10)
    with pytest.raises(DashboardError, match=r"lack the column.*close_price"):
        render_dashboard(frame.drop(columns=["close_price"]), tmp_path / "x.html")
    with pytest.raises(DashboardError, match="empty"):
        render_dashboard(frame.iloc[:0], tmp_path / "x.html")
    two = pd.concat([frame, frame.assign(symbol="ETHUSDT")])
    with pytest.raises(DashboardError, match="2 values of symbol"):
        render_dashboard(two, tmp_path / "x.html")
    with pytest.raises(DashboardError, match="report must be a mapping"):
        render_dashboard(frame, tmp_path / "x.html", report=["fail"])  # type: ignore[arg-type]
    assert not (tmp_path / "x.html").exists()


def test_failed_report_shows_fail_and_the_failed_findings(tmp_path: Path) -> None:
    report = {
        "status": "fail",
        "summary": "1 error, 1 warning",
        "findings": [
            {"check": "ohlc_order", "severity": "error", "passed": False, "message": "high below low at 12:03"},
            {"check": "gap_rows", "severity": "warn", "passed": False, "message": "3 gap rows during maintenance"},
            {"check": "duplicates", "severity": "error", "passed": True, "message": "no duplicate candle"},
        ],
    }
    text = render_dashboard(_minute_candles(60), tmp_path / "f.html", report=report).read_text(encoding="utf-8")
    assert re.search(r'<span class="badge status-fail" style="background:#cf222e">FAIL</span>', text)
    assert "1 error, 1 warning" in text
    assert "high below low at 12:03" in text and "3 gap rows during maintenance" in text
    assert "no duplicate candle" not in text  # passed findings are not listed


def test_without_report_the_page_says_so(tmp_path: Path) -> None:
    text = render_dashboard(_minute_candles(60), tmp_path / "n.html").read_text(encoding="utf-8")
    assert "no quality report" in text and 'class="badge status-' not in text


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    frame = _minute_candles(60).assign(symbol=HOSTILE, interval='1m"><img src=x onerror=alert(2)>')
    report = {
        "status": HOSTILE,
        "summary": HOSTILE,
        "findings": [{"check": HOSTILE, "severity": HOSTILE, "passed": False, "message": HOSTILE}],
    }
    text = render_dashboard(frame, tmp_path / "h.html", report=report, title=HOSTILE).read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_missing_plotly_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'daap\[dashboard\]'"):
        render_dashboard(_minute_candles(10), tmp_path / "x.html")


class _Report:
    """A report object, as daap.quality.QualityReport is: the page reads its to_dict()."""

    def to_dict(self) -> dict[str, object]:
        failed = [
            {"check": f"check_{i}", "target": "fct_candle_metrics", "severity": "warn", "passed": False, "message": "m"}
            for i in range(60)
        ]
        return {"status": "warn", "summary": "60 warnings", "findings": failed}


def test_report_objects_and_long_finding_lists(tmp_path: Path) -> None:
    text = render_dashboard(_minute_candles(60), tmp_path / "r.html", report=_Report()).read_text(encoding="utf-8")  # type: ignore[arg-type]
    assert re.search(r'<span class="badge status-warn"[^>]*>WARN</span>', text)
    assert "<code>check_49</code> (fct_candle_metrics): m" in text and "<code>check_50</code>" not in text
    assert "and 10 more failed findings" in text
