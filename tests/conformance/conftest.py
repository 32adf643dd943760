"""The engine harness: every conformance test runs once per engine, on the engine's own frames.

As in ibis' ``backends/conftest.py`` and narwhals' ``constructor`` fixtures: a test asks for ``engine`` and gets a
:class:`Harness` that turns pandas trades into the engine's native frame, builds candles with it, and turns the
result back into pandas in the contract's dtypes. ``pytest -m spark`` runs the suite on Spark alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

import daap

#: Hypothesis examples per property, per engine (a Spark job costs far more than a numpy call).
EXAMPLES = {"pandas": 60, "spark": 6}


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
    )


@pytest.fixture(
    scope="session",
    params=[pytest.param("pandas", marks=pytest.mark.pandas), pytest.param("spark", marks=pytest.mark.spark)],
)
def engine(request: pytest.FixtureRequest) -> Harness:
    if request.param == "spark":
        return _spark_harness(request.getfixturevalue("spark"))
    return _pandas_harness()


@pytest.fixture(scope="session")
def pandas_engine() -> Harness:
    return _pandas_harness()
