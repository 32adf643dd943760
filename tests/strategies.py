"""Hypothesis strategies for trades: ties in time, single-trade buckets, gaps, several symbols."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

BASE_US = 1_735_689_600_000_000  # 2025-01-01 00:00 UTC
MINUTE = 60_000_000


@st.composite
def trades_frames(
    draw: st.DrawFn, *, max_symbols: int = 3, max_rows: int = 120, spans: tuple[int, ...] = (1, 3, 12, 90, 600)
) -> pd.DataFrame:
    n_sym = draw(st.integers(1, max_symbols))
    frames = []
    for s in range(n_sym):
        n = draw(st.integers(1, max_rows))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        # Offsets in minutes, with clusters (ties) and long jumps (gaps of many buckets).
        span_minutes = draw(st.sampled_from(spans))
        start = BASE_US + draw(st.integers(0, 3)) * MINUTE + draw(st.integers(0, MINUTE - 1))
        steps = rng.choice(
            [0, 1, 1_000, MINUTE // 7, MINUTE * 3],
            size=n,
            p=[0.3, 0.2, 0.3, 0.15, 0.05],
        )
        t = start + np.minimum(np.cumsum(steps), span_minutes * MINUTE)
        ids = 1_000 * (s + 1) + np.cumsum(rng.integers(1, 3, size=n))  # ids with holes
        cents = 2_000_000 + np.cumsum(rng.integers(-50, 51, size=n))
        qty_units = rng.integers(1, 50_000, size=n)  # 1e-5 BTC
        price = cents / 100
        qty = qty_units / 100_000
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"S{s}USDT",
                    "trade_id": ids.astype("int64"),
                    "price": price,
                    "qty": qty,
                    "quote_qty": (cents * qty_units) / 10_000_000,
                    "time": pd.to_datetime(t, unit="us", utc=True),
                    "is_buyer_maker": rng.random(n) < 0.5,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df["time"] = df["time"].astype("datetime64[us, UTC]")
    return df
