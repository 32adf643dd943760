"""daap.indicators: TA-Lib parity (values and warm-up NaNs), numpy references, add/parse, and hypothesis properties.

Error metric. For every indicator, ``|ours - ref| <= 1e-9 * |ref|`` and NaN exactly where the reference has NaN.
The MACD line, signal and histogram are *differences* of price-level EMAs, so TA-Lib's own value carries an
absolute rounding error of a few ulps of the price (~1e-11 at 60,000) and a pure relative bound is meaningless
where they cross zero; for those three columns the bound is ``1e-9 * |ref| + 1e-14 * |close|`` (~100 ulps of the
price).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st

import daap
from daap import indicators as ind
from daap.errors import DaapError, ValidationError
from daap.indicators import DEFAULT, IndicatorSpecError
from daap.sources.synthetic import SyntheticConfig, generate_day

RTOL = 1e-9
MINUTE = 60_000_000


def trades_of(cfg: SyntheticConfig, day: int) -> pd.DataFrame:
    t = generate_day(cfg, day).to_pandas()
    t["time"] = pd.to_datetime(t["time"], unit="us", utc=True).astype("datetime64[us, UTC]")
    t.insert(0, "symbol", cfg.symbol)
    return t


@pytest.fixture(scope="module")
def random_walk() -> pd.DataFrame:
    """Two days of 1m candles from synthetic trades (a realistic random walk, no gaps)."""
    cfg = SyntheticConfig(trades_per_day=60_000, days=2, seed=11)
    trades = pd.concat([trades_of(cfg, 0), trades_of(cfg, 1)], ignore_index=True)
    return daap.CandleBuilder("1m").build(trades)


@pytest.fixture(scope="module")
def gappy() -> pd.DataFrame:
    """1m candles with many gap rows: synthetic trades with minutes removed, plus long quiet stretches."""
    cfg = SyntheticConfig(trades_per_day=20_000, seed=5, start_price=1_234.5)
    trades = trades_of(cfg, 0)
    minute = trades["time"].astype("int64") // 60_000_000 % 1440
    rng = np.random.default_rng(3)
    drop = np.zeros(1440, dtype=bool)
    for start in rng.integers(0, 1400, size=40):
        drop[start : start + rng.integers(1, 45)] = True
    drop[0] = drop[-1] = False
    candles = daap.CandleBuilder("1m").build(trades[~drop[minute.to_numpy()]])
    assert (candles["trades"] == 0).sum() > 200
    return candles


@pytest.fixture(scope="module")
def real_gaps() -> pd.DataFrame:
    """Real Binance rows across an exchange halt: 152 of the 155 candles are gap rows."""
    return daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2023-03-24.csv"))


def flat_candles(price: float, n: int = 300, symbol: str = "FLATUSDT") -> pd.DataFrame:
    t = pd.date_range("2025-05-01", periods=n, freq="1min", tz="UTC").astype("datetime64[us, UTC]")
    return pd.DataFrame(
        {
            "symbol": symbol,
            "interval": "1m",
            "open_time": t,
            "open": price,
            "high": price,
            "low": price,
            "close": price,
            "volume": 1.5,
            "quote_volume": 1.5 * price,
        }
    )


SERIES = ["random_walk", "gappy", "real_gaps", "flat_round", "flat_odd"]


@pytest.fixture(params=SERIES)
def candles(request: pytest.FixtureRequest) -> pd.DataFrame:
    if request.param == "flat_round":
        return flat_candles(60_000.0)
    if request.param == "flat_odd":
        return flat_candles(60_000.37)
    frame: pd.DataFrame = request.getfixturevalue(request.param)
    return frame


def assert_matches(ours: Any, ref: Any, *, atol: Any = 0.0) -> None:
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg="warm-up NaNs differ")
    ok = ~np.isnan(ref)
    err = np.abs(ours[ok] - ref[ok])
    bound = RTOL * np.abs(ref[ok]) + (atol[ok] if isinstance(atol, np.ndarray) else atol)
    assert (err <= bound).all(), f"max error {err.max():.3g}, worst relative {(err / np.abs(ref[ok])).max():.3g}"


def talib_inputs(c: pd.DataFrame) -> dict[str, np.ndarray]:
    return {k: c[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume", "quote_volume")}


# --- TA-Lib parity ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 7, 20, 50])
def test_sma_ema_match_talib(candles: pd.DataFrame, n: int) -> None:
    x = talib_inputs(candles)["close"]
    out = ind.add(candles, [ind.SMA(n), ind.EMA(n)])
    assert_matches(out[f"sma_{n}"], talib.SMA(x, n))
    assert_matches(out[f"ema_{n}"], talib.EMA(x, n))


@pytest.mark.parametrize("n", [2, 14, 30])
def test_rsi_atr_match_talib(candles: pd.DataFrame, n: int) -> None:
    x = talib_inputs(candles)
    out = ind.add(candles, [ind.RSI(n), ind.ATR(n)])
    assert_matches(out[f"rsi_{n}"], talib.RSI(x["close"], n))
    assert_matches(out[f"atr_{n}"], talib.ATR(x["high"], x["low"], x["close"], n))


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 16), (7, 7, 2)])
def test_macd_matches_talib_alignment(candles: pd.DataFrame, fast: int, slow: int, signal: int) -> None:
    x = talib_inputs(candles)["close"]
    spec = ind.MACD(fast, slow, signal)
    out = ind.add(candles, [spec])
    price_floor = 1e-14 * np.abs(x)
    for col, ref in zip(spec.columns, talib.MACD(x, fast, slow, signal), strict=True):
        assert_matches(out[col], ref, atol=price_floor)
    # The warm-up is TA-Lib's: slow + signal - 2 rows, for all three columns.
    assert out[spec.columns[0]].isna().sum() == min(slow + signal - 2, len(x))


@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (5, 1.0), (30, 2.5)])
def test_bollinger_matches_talib(candles: pd.DataFrame, n: int, k: float) -> None:
    x = talib_inputs(candles)["close"]
    spec = ind.Bollinger(n, k)
    out = ind.add(candles, [spec])
    for col, ref in zip(spec.columns, talib.BBANDS(x, n, k, k, 0), strict=True):
        assert_matches(out[col], ref)


def test_returns_and_obv_match_talib(candles: pd.DataFrame) -> None:
    x = talib_inputs(candles)
    out = ind.add(candles, [ind.Returns(), ind.Returns(log=True), ind.OBV()])
    rocp = talib.ROCP(x["close"], 1)
    assert_matches(out["returns"], rocp)
    assert_matches(out["log_returns"], np.log1p(rocp))
    np.testing.assert_array_equal(out["obv"], talib.OBV(x["close"], x["volume"]))  # bit-equal: same additions


# --- indicators TA-Lib lacks: numpy / pandas references -------------------------------------------------------


@pytest.mark.parametrize("window", [2, 20, 60])
def test_realized_vol_is_sample_std_of_log_returns(candles: pd.DataFrame, window: int) -> None:
    close = candles["close"].to_numpy()
    log_r = np.log(close[1:]) - np.log(close[:-1])
    ref = np.full(len(close), np.nan)
    if len(log_r) >= window:
        ref[window:] = np.lib.stride_tricks.sliding_window_view(log_r, window).std(axis=1, ddof=1)
    out = ind.add(candles, [ind.RealizedVol(window), ind.RealizedVol(window, annualize=True)])
    # A window much quieter than its neighbours (or the reference's log(a) - log(b)) carries rounding of the
    # order of the series' typical volatility: the bound adds 1e-9 of the median volatility.
    scale = 1e-9 * float(np.nanmedian(ref)) if np.any(ref > 0) else 0.0
    assert_matches(out[f"rvol_{window}"], ref, atol=scale)
    assert_matches(out[f"rvol_{window}_ann"], ref * math.sqrt(365 * 24 * 60), atol=scale * math.sqrt(525_600))


def test_realized_vol_of_flat_windows_is_exactly_zero(gappy: pd.DataFrame) -> None:
    out = ind.add(gappy, [ind.RealizedVol(5), ind.Bollinger(5)])
    flat = gappy["close"].rolling(6).apply(lambda w: float(np.ptp(w) == 0), raw=True) == 1
    assert flat.sum() > 50
    assert (out.loc[flat, "rvol_5"] == 0).all()
    assert (out.loc[flat, "bb_upper_5_2"] == out.loc[flat, "bb_lower_5_2"]).all()


@pytest.mark.parametrize("window", [None, 1, 30])
def test_vwap_matches_pandas_reference(candles: pd.DataFrame, window: int | None) -> None:
    out = ind.add(candles, [ind.VWAP(window)])
    if window is None:
        day = candles["open_time"].dt.floor("D")
        vol = candles.groupby(day)["volume"].cumsum()
        quote = candles.groupby(day)["quote_volume"].cumsum()
    else:
        # Direct window sums (pandas' rolling sum subtracts, leaving noise where a window has no volume).
        def direct(col: str) -> pd.Series:
            values = np.full(len(candles), np.nan)
            if len(candles) >= window:
                windows = np.lib.stride_tricks.sliding_window_view(candles[col].to_numpy(), window)
                values[window - 1 :] = windows.sum(axis=1)
            return pd.Series(values, index=candles.index)

        vol, quote = direct("volume"), direct("quote_volume")
    ref = (quote / vol).where(vol > 0)
    assert_matches(out[ind.VWAP(window).columns[0]], ref)


def test_session_vwap_restarts_at_utc_midnight(random_walk: pd.DataFrame) -> None:
    out = ind.add(random_walk, [ind.VWAP()])
    first_of_day2 = out.index[out["open_time"] == pd.Timestamp("2025-05-02", tz="UTC")][0]
    row = out.loc[first_of_day2]
    assert row["vwap_session"] == pytest.approx(row["quote_volume"] / row["volume"], rel=1e-15)


def test_vwap_is_nan_where_no_volume(real_gaps: pd.DataFrame) -> None:
    out = ind.add(real_gaps, [ind.VWAP(3)])
    no_volume = real_gaps["volume"].rolling(3).sum() == 0
    assert no_volume.sum() > 100
    assert out.loc[no_volume, "vwap_3"].isna().all()


# --- add(): grouping, ordering, errors ---------------------------------------------------------------------------


def test_add_groups_by_symbol_and_interval_and_keeps_row_order(random_walk: pd.DataFrame) -> None:
    five = daap.CandleBuilder("1m").rollup(random_walk, "5m")
    other = random_walk.assign(symbol="ETHUSDT", close=random_walk["close"] / 20)
    mixed = pd.concat([random_walk, five, other], ignore_index=True)
    shuffled = mixed.sample(frac=1.0, random_state=1)
    out = ind.add(shuffled, DEFAULT)
    assert list(out.index) == list(shuffled.index)
    assert list(out.columns[: len(mixed.columns)]) == list(mixed.columns)
    for part in (random_walk, five, other):
        alone = ind.add(part, DEFAULT)
        key = out["symbol"].eq(part["symbol"].iloc[0]) & out["interval"].eq(part["interval"].iloc[0])
        got = out[key].sort_values("open_time").reset_index(drop=True)
        for spec in DEFAULT:
            for col in spec.columns:
                np.testing.assert_array_equal(got[col].to_numpy(), alone[col].to_numpy(), err_msg=col)
                assert out[col].dtype == np.float64


def test_add_does_not_modify_its_input(random_walk: pd.DataFrame) -> None:
    before = random_walk.copy()
    ind.add(random_walk, DEFAULT)
    pd.testing.assert_frame_equal(random_walk, before)


def test_add_empty_frame_and_no_specs(random_walk: pd.DataFrame) -> None:
    empty = ind.add(random_walk.iloc[:0], DEFAULT)
    assert len(empty) == 0
    assert set(c for s in DEFAULT for c in s.columns) <= set(empty.columns)
    pd.testing.assert_frame_equal(ind.add(random_walk, []), random_walk)


def test_short_series_are_all_warm_up(random_walk: pd.DataFrame) -> None:
    out = ind.add(random_walk.iloc[:5], [ind.EMA(21), ind.MACD(), ind.RSI(14), ind.ATR(14), ind.RealizedVol(20)])
    assert out[["ema_21", "macd_12_26_9", "rsi_14", "atr_14", "rvol_20"]].isna().all().all()


def test_add_errors(random_walk: pd.DataFrame) -> None:
    with pytest.raises(IndicatorSpecError, match="sma_7"):
        ind.add(random_walk, [ind.SMA(7), ind.SMA(7)])
    with pytest.raises(IndicatorSpecError, match="vwap_session"):
        ind.add(random_walk.assign(vwap_session=1.0), [ind.VWAP()])
    with pytest.raises(ValidationError, match="high"):
        ind.add(random_walk.drop(columns=["high"]), [ind.ATR()])
    with pytest.raises(ValidationError, match="repeat"):
        ind.add(pd.concat([random_walk.iloc[:3], random_walk.iloc[:1]]), [ind.SMA(2)])


def test_column_names() -> None:
    assert [c for s in DEFAULT for c in s.columns] == [
        "sma_7", "ema_21", "rsi_14", "macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9",
        "bb_upper_20_2", "bb_middle_20_2", "bb_lower_20_2", "atr_14", "vwap_session", "log_returns", "rvol_20",
        "obv",
    ]  # fmt: skip
    assert ind.VWAP(30).columns == ("vwap_30",)
    assert ind.Returns().columns == ("returns",)
    assert ind.Bollinger(10, 1.5).columns[1] == "bb_middle_10_1p5"


@pytest.mark.parametrize(
    "bad",
    [lambda: ind.SMA(0), lambda: ind.EMA(2.5), lambda: ind.RSI(True), lambda: ind.MACD(26, 12, 9),
     lambda: ind.Bollinger(20, -1.0), lambda: ind.Bollinger(20, math.nan), lambda: ind.VWAP(0),
     lambda: ind.RealizedVol(1)],
)  # fmt: skip
def test_bad_parameters_raise(bad: Any) -> None:
    with pytest.raises(IndicatorSpecError):
        bad()


# --- parse -------------------------------------------------------------------------------------------------------


def test_parse_full_grammar() -> None:
    text = "sma:7,ema:21,rsi:14,macd:12:26:9,bb:20:2,atr:14,vwap,vwap:30,returns,logreturns,rvol:20,obv"
    assert ind.parse(text) == [
        ind.SMA(7), ind.EMA(21), ind.RSI(14), ind.MACD(12, 26, 9), ind.Bollinger(20, 2.0), ind.ATR(14), ind.VWAP(),
        ind.VWAP(30), ind.Returns(), ind.Returns(log=True), ind.RealizedVol(20), ind.OBV(),
    ]  # fmt: skip
    assert ind.parse(" RSI , macd , bb , bb:10 , rvol:5:ann , atr ") == [
        ind.RSI(), ind.MACD(), ind.Bollinger(), ind.Bollinger(10), ind.RealizedVol(5, annualize=True), ind.ATR(),
    ]  # fmt: skip
    assert ind.parse("") == []
    assert ind.parse("bb:20:2.5")[0].columns[0] == "bb_upper_20_2p5"


@pytest.mark.parametrize(
    ("text", "token"),
    [("sma", "sma"), ("sma:7,foo:3", "foo:3"), ("ema:0", "ema:0"), ("macd:12:26", "macd:12:26"),
     ("bb:20:x", "bb:20:x"), ("rvol:20:yes", "rvol:20:yes"), ("sma:7,,ema:3", ""), ("obv:3", "obv:3"),
     ("macd:26:12:9", "macd:26:12:9"), ("rvol:1", "rvol:1"), ("bb:20:-2", "bb:20:-2"), ("sma:-1", "sma:-1")],
)  # fmt: skip
def test_parse_errors_name_the_token(text: str, token: str) -> None:
    with pytest.raises(IndicatorSpecError) as info:
        ind.parse(text)
    assert f"bad indicator {token!r}" in str(info.value)
    assert isinstance(info.value, DaapError)


# --- hypothesis: computing on a whole range vs on its second part ------------------------------------------------
#
# Let W = A ++ B be one symbol's candles and compare add(W) on B's rows with add(B). What is exactly true:
# * window indicators (SMA, Bollinger, rolling VWAP, Returns, RealizedVol) read only the last n rows: equal
#   (to 1e-9 relative) on every row of B past B's own warm-up;
# * the session VWAP reads the rows of the current UTC day: equal on every row of B whose day has no row of A;
# * EMA and ATR are linear recursions y[t] = c·y[t-1] + u[t] fed the same inputs, so the two results differ only
#   by their starting states, and that difference shrinks by exactly c each row: d[t] = c^(t - t0) · d[t0] from
#   B's first defined row t0 (c = 1 - 2/(n+1) for EMA, (n-1)/n for Wilder). They never become equal; we check
#   this contraction, up to rounding (a few ulps of the price). (RSI is a ratio of two such Wilder averages, MACD
#   differences of EMAs: they converge the same way but without a clean bound on their outputs, so they are not
#   part of this property; TA-Lib parity covers them.)
# * OBV is a running sum: the difference is the same constant on every row of B.


@st.composite
def split_candles(draw: st.DrawFn) -> tuple[pd.DataFrame, int]:
    n = draw(st.integers(2, 400))
    split = draw(st.integers(1, n - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    gap_prob = draw(st.sampled_from([0.0, 0.1, 0.6]))
    rng = np.random.default_rng(seed)
    price = np.round(np.exp(np.cumsum(rng.normal(0, 1e-3, n)) + math.log(draw(st.sampled_from([0.5, 60_000.0])))),
                     decimals=6)  # fmt: skip
    gaps = rng.random(n) < gap_prob
    gaps[0] = False
    close = price.copy()
    for i in np.flatnonzero(gaps):
        close[i] = close[i - 1]
    opn = np.concatenate(([close[0]], close[:-1]))
    spread = np.where(gaps, 0.0, np.abs(rng.normal(0, 5e-4, n)) * close)
    volume = np.where(gaps, 0.0, rng.exponential(3.0, n))
    start = pd.Timestamp("2025-05-01 22:00", tz="UTC") + pd.Timedelta(minutes=draw(st.integers(0, 240)))
    frame = pd.DataFrame(
        {
            "symbol": "BTCUSDT",
            "interval": "1m",
            "open_time": pd.date_range(start, periods=n, freq="1min").astype("datetime64[us, UTC]"),
            "open": opn,
            "high": np.maximum(opn, close) + spread,
            "low": np.minimum(opn, close) - spread,
            "close": close,
            "volume": volume,
            "quote_volume": volume * close,
        }
    )
    return frame, split


WINDOWED = [ind.SMA(7), ind.Bollinger(10, 2.0), ind.VWAP(5), ind.Returns(), ind.Returns(log=True),
            ind.RealizedVol(6)]  # fmt: skip


@given(split_candles())
def test_second_range_alone_agrees_with_the_whole(case: tuple[pd.DataFrame, int]) -> None:
    whole, split = case
    part = whole.iloc[split:].reset_index(drop=True)
    specs = [*WINDOWED, ind.VWAP(), ind.EMA(5), ind.ATR(4), ind.OBV()]
    w = ind.add(whole, specs).iloc[split:].reset_index(drop=True)
    p = ind.add(part, specs)
    scale = 1e-12 * float(whole["close"].abs().max())

    for spec in WINDOWED:
        for col in spec.columns:
            defined = p[col].notna()
            assert_matches(w.loc[defined, col], p.loc[defined, col], atol=scale if "returns" not in col else 1e-15)

    day = part["open_time"].dt.floor("D")
    fresh_day = day > whole["open_time"].iloc[split - 1].floor("D")
    assert_matches(w.loc[fresh_day, "vwap_session"], p.loc[fresh_day, "vwap_session"])

    def contracts(col: str, c: float) -> None:
        d = (w[col] - p[col]).to_numpy()
        defined = np.flatnonzero(~np.isnan(d))
        if defined.size == 0:
            return
        t0 = defined[0]
        steps = np.arange(len(d) - t0)
        bound = np.abs(d[t0]) * c**steps + 4 * scale
        assert (np.abs(d[t0:]) <= bound).all(), col

    contracts("ema_5", 1 - 2 / 6)
    contracts("atr_4", 3 / 4)

    obv_diff = (w["obv"] - p["obv"]).to_numpy()
    np.testing.assert_allclose(obv_diff, obv_diff[0], rtol=0, atol=1e-12 * whole["volume"].sum() + 1e-300)
