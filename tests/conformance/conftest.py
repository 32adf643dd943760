"""The engine harness: every conformance test runs once per engine, on the engine's own frames.

As in ibis' ``backends/conftest.py`` and narwhals' ``constructor`` fixtures: a test asks for ``engine`` and gets a
:class:`Harness` that turns pandas trades into the engine's native frame, builds candles with it, and turns the
result back into pandas in the contract's dtypes. ``pytest -m spark`` runs the suite on Spark alone, ``pytest -m
snowpark`` on Snowpark in local testing mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

import daap
from tests.strategies import trades_frames

#: Hypothesis examples per property, per engine (a Spark job, or a query in the pure-Python Snowpark emulator,
#: costs far more than a numpy call).
EXAMPLES = {"pandas": 60, "spark": 6, "snowpark": 5}


@dataclass
class Harness:
    """How the shared tests drive one engine."""

    name: str
    to_native: Callable[[pd.DataFrame], Any]
    to_pandas: Callable[[Any], pd.DataFrame]
    examples: int
    chunk: Callable[[Any, int], Any]
    options: Callable[[int], dict[str, Any]]

    def builder(self, interval: str, **kwargs: Any) -> daap.CandleBuilder:
        return daap.CandleBuilder(interval, engine=self.name, **kwargs)

    def build(self, trades: pd.DataFrame, interval: str, *, chunks: int | None = None, **kwargs: Any) -> pd.DataFrame:
        native = self.to_native(trades)
        options: dict[str, Any] = {}
        if chunks is not None:
            native = self.chunk(native, chunks)
            options = self.options(chunks)
        return self.to_pandas(self.builder(interval, **kwargs).build(native, **options))

    def rollup(self, candles: pd.DataFrame, interval: str, **kwargs: Any) -> pd.DataFrame:
        native = self.candles_to_native(candles)
        return self.to_pandas(self.builder("1m", **kwargs).rollup(native, interval))

    candles_to_native: Callable[[pd.DataFrame], Any] = lambda df: df
    #: Any frame of the engine (candles with extra columns) as pandas, lower-case names.
    frame_to_pandas: Callable[[Any], pd.DataFrame] = lambda df: df
    #: Relative tolerance of indicator values against the pandas implementation (0: bit-identical).
    indicator_rtol: float = 0.0
    #: Longest time span of one symbol's generated trades, in minutes.
    max_span_minutes: int = 600

    def trades(self) -> Any:
        """The hypothesis strategy of trade frames for this engine."""
        spans = tuple(s for s in (1, 3, 12, 90, 600) if s <= self.max_span_minutes)
        return trades_frames(spans=spans)


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Candles from any engine in the pandas contract dtypes."""
    from daap.contract import CANDLE_COLUMNS

    out = df[list(CANDLE_COLUMNS)].copy()
    for col in ("open_time", "close_time"):
        s = out[col]
        if getattr(s.dt, "tz", None) is None:
            s = s.dt.tz_localize("UTC")
        out[col] = s.astype("datetime64[us, UTC]")
    for col in ("first_trade_id", "last_trade_id"):
        out[col] = out[col].astype("Int64")
    out["trades"] = out["trades"].astype("int64")
    for col in ("symbol", "interval"):
        out[col] = out[col].astype(object)
    return out.sort_values(["symbol", "open_time"]).reset_index(drop=True)


def _pandas_harness() -> Harness:
    return Harness(
        name="pandas",
        to_native=lambda df: df,
        to_pandas=normalize,
        examples=EXAMPLES["pandas"],
        chunk=lambda native, n: native,
        options=lambda n: {"chunk_rows": n},
    )


def _spark_harness(spark: Any) -> Harness:
    # Through Arrow with times as int64 µs: exact, whatever pyspark accepts as Python datetimes.
    from daap.engines.spark import candles_to_pandas, candles_to_spark, trades_to_spark

    return Harness(
        name="spark",
        to_native=lambda df: trades_to_spark(df, spark),
        to_pandas=lambda sdf: normalize(candles_to_pandas(sdf)),
        examples=EXAMPLES["spark"],
        chunk=lambda native, n: native.repartition(max(1, min(n, 8))),
        options=lambda n: {},
        candles_to_native=lambda df: candles_to_spark(df, spark),
        frame_to_pandas=lambda sdf: sdf.toPandas(),
    )


def _union_of_parts(native: Any, n: int) -> Any:
    """The trades as a UNION ALL of ``n`` filtered scans (by trade id modulo ``n``), last remainder first."""
    k = max(1, min(n, 8))
    parts = [native.filter(native["TRADE_ID"] % k == r) for r in reversed(range(k))]
    return functools.reduce(lambda a, b: a.union_all(b), parts)


def _snowpark_harness(session: Any) -> Harness:
    # Trades go in with integer µs times (exact); candles come back through the engine's own converter.
    from daap.engines.snowpark import candles_to_pandas, candles_to_snowpark, trades_to_snowpark

    return Harness(
        name="snowpark",
        to_native=lambda df: trades_to_snowpark(df, session),
        to_pandas=lambda sdf: normalize(candles_to_pandas(sdf)),
        examples=EXAMPLES["snowpark"],
        # No partitions to choose in Snowpark: the input becomes a union of up to 8 separate scans instead.
        chunk=_union_of_parts,
        options=lambda n: {},
        candles_to_native=lambda df: candles_to_snowpark(df, session),
        frame_to_pandas=candles_to_pandas,
        # SMA, VWAP, simple returns and OBV are Snowflake window functions: equal to rounding.
        indicator_rtol=1e-12,
        # The emulator evaluates window functions row by row in Python: at 1s, 600 minutes are 36,000 gap-row
        # candidates per symbol and several minutes per example. 90 minutes still spans hours and 1s-1h intervals.
        max_span_minutes=90,
    )


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("pandas", marks=pytest.mark.pandas),
        pytest.param("spark", marks=pytest.mark.spark),
        pytest.param("snowpark", marks=pytest.mark.snowpark),
    ],
)
def engine(request: pytest.FixtureRequest) -> Harness:
    if request.param == "spark":
        return _spark_harness(request.getfixturevalue("spark"))
    if request.param == "snowpark":
        return _snowpark_harness(request.getfixturevalue("snowpark_session"))
    return _pandas_harness()


@pytest.fixture(scope="session")
def pandas_engine() -> Harness:
    return _pandas_harness()
