from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

DATA = Path(__file__).parent / "data"
pytest_plugins = ["tests.http_mirror"]

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


def oracle_candles(trades: pd.DataFrame, step_us: int) -> pd.DataFrame:
    """Candles computed the slow, obvious way (Python loops, Decimal sums): an independent check of the engine."""
    t = trades["time"].astype("datetime64[us, UTC]").astype("int64").to_numpy()
    out = []
    df = trades.assign(_t=t, _b=t // step_us)
    for (sym, b), g in df.groupby(["symbol", "_b"], sort=True):
        g = g.sort_values(["_t", "trade_id"])
        taker = g[~g["is_buyer_maker"]]
        out.append(
            {
                "symbol": sym,
                "open_us": int(b) * step_us,
                "open": g["price"].iloc[0],
                "high": g["price"].max(),
                "low": g["price"].min(),
                "close": g["price"].iloc[-1],
                "volume": float(sum(Decimal(repr(v)) for v in g["qty"])),
                "quote_volume": float(sum(Decimal(repr(v)) for v in g["quote_qty"])),
                "trades": len(g),
                "taker_buy_volume": float(sum(Decimal(repr(v)) for v in taker["qty"])),
                "taker_buy_quote_volume": float(sum(Decimal(repr(v)) for v in taker["quote_qty"])),
                "first_trade_id": int(g["trade_id"].min()),
                "last_trade_id": int(g["trade_id"].max()),
            }
        )
    return pd.DataFrame(out)


SUM_COLUMNS = ["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume", "vwap"]


def assert_candles_equal(a: pd.DataFrame, b: pd.DataFrame, *, sums_rtol: float = 0.0) -> None:
    """Exact on everything but the float sums, which agree to ``sums_rtol`` (exact when 0)."""
    a = a.reset_index(drop=True)
    b = b.reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b), (len(a), len(b))
    exact = [c for c in a.columns if c not in SUM_COLUMNS]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_exact=True)
    for c in SUM_COLUMNS:
        x, y = a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), c
        m = ~np.isnan(x)
        if sums_rtol == 0:
            assert np.array_equal(x[m], y[m]), c
        else:
            np.testing.assert_allclose(x[m], y[m], rtol=sums_rtol, atol=1e-12, err_msg=c)


from tests.s3_server import s3_lake_uri, s3_server  # noqa: F401,E402
from tests.spark_fixtures import spark  # noqa: F401,E402
