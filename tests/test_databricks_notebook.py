"""Run the Databricks notebook example on local Spark, against a lake filled from the sample files.

The notebook (``examples/databricks/daap_candles.py``, Databricks source format) is split at its
``# COMMAND ----------`` markers; ``%md``/``%pip`` cells (``# MAGIC`` lines) are skipped and the Python cells run in
order in one namespace that holds what Databricks provides: ``spark`` (the tests' local session), a minimal
``dbutils`` (``widgets.text``/``widgets.get``, ``library.restartPython``) and ``display``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import daap
from daap.engines.pandas import candles_to_pandas
from tests.conftest import assert_candles_equal

pytestmark = pytest.mark.spark
pytest_plugins = ["tests.spark_fixtures"]  # the `spark` fixture, also when run alone

NOTEBOOK = Path(__file__).parent.parent / "examples" / "databricks" / "daap_candles.py"
DATA = Path(__file__).parent / "data"


class _Widgets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.defined: list[str] = []

    def text(self, name: str, default_value: str, label: str | None = None) -> None:
        self.defined.append(name)
        self.values.setdefault(name, default_value)

    def get(self, name: str) -> str:
        if name not in self.defined:
            raise ValueError(f"widget {name!r} was never defined")  # as Databricks does
        return self.values[name]


class _Library:
    def restartPython(self) -> None:  # noqa: N802 - Databricks' spelling
        pass


class DBUtils:
    """The part of Databricks' ``dbutils`` the notebook uses."""

    def __init__(self, widgets: dict[str, str]) -> None:
        self.widgets = _Widgets(widgets)
        self.library = _Library()


def cells(path: Path) -> list[str]:
    text = path.read_text()
    assert text.startswith("# Databricks notebook source\n")
    out = []
    for cell in text.split("# COMMAND ----------"):
        lines = [ln for ln in cell.splitlines() if not ln.startswith(("# MAGIC", "# Databricks notebook source"))]
        code = "\n".join(lines).strip()
        if code:
            out.append(code)
    return out


def run_notebook(spark: Any, widgets: dict[str, str]) -> dict[str, Any]:
    shown: list[Any] = []
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "spark": spark,
        "dbutils": DBUtils(widgets),
        "display": shown.append,
    }
    for i, code in enumerate(cells(NOTEBOOK)):
        exec(compile(code, f"{NOTEBOOK.name}[cell {i}]", "exec"), namespace)
    namespace["_shown"] = shown
    return namespace


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> daap.Lake:
    lake = daap.Lake(tmp_path_factory.mktemp("notebook") / "lake")
    ingest = daap.Ingestor(lake)
    for name in ("BTCUSDT-trades-2021-01-02.csv", "BTCUSDT-trades-2023-03-24.csv"):
        ingest.ingest_file(DATA / name)
    return lake


def written(lake: daap.Lake, interval: str, day: str) -> pd.DataFrame:
    folder = Path(lake.uri) / "candles" / f"interval={interval}" / "symbol=BTCUSDT" / f"date={day}"
    parts = sorted(folder.glob("*.parquet"))
    assert len(parts) == 1, parts
    return candles_to_pandas(pq.read_table(parts[0]))


def test_notebook_builds_a_month_of_candles_into_the_lake(spark: Any, lake: daap.Lake) -> None:
    ns = run_notebook(spark, {"lake": lake.uri, "symbol": "btcusdt", "month": "2023-03", "interval": "1m"})
    summary = ns["summary"]
    assert (summary.rows_in, summary.candles_out, summary.gap_rows) == (2_000, 155, 152)
    assert summary.output == f"{lake.uri}/candles/interval=1m/symbol=BTCUSDT"
    # Only March 2023 was built: the January 2021 trades are in the lake but not in the candles zone.
    days = sorted(p.name for p in (Path(summary.output)).iterdir() if p.name.startswith("date="))
    assert days == ["date=2023-03-24"]
    want = daap.CandleBuilder("1m").build(daap.read_trades(DATA / "BTCUSDT-trades-2023-03-24.csv"))
    assert_candles_equal(written(lake, "1m", "2023-03-24"), want, sums_rtol=1e-9)
    (shown,) = ns["_shown"]
    assert shown.count() == 100


def test_notebook_rerun_replaces_the_days_and_other_intervals_live_apart(spark: Any, lake: daap.Lake) -> None:
    for _ in range(2):
        ns = run_notebook(spark, {"lake": lake.uri, "symbol": "BTCUSDT", "month": "2021-01", "interval": "1m"})
    assert ns["summary"].candles_out == 3
    want = daap.CandleBuilder("1m").build(daap.read_trades(DATA / "BTCUSDT-trades-2021-01-02.csv"))
    assert_candles_equal(written(lake, "1m", "2021-01-02"), want, sums_rtol=1e-9)
    run_notebook(spark, {"lake": lake.uri, "symbol": "BTCUSDT", "month": "2021-01", "interval": "1h"})
    assert written(lake, "1h", "2021-01-02")["trades"].tolist() == [3_243]
    assert len(written(lake, "1m", "2021-01-02")) == 3


def test_notebook_reports_an_empty_month(spark: Any, lake: daap.Lake) -> None:
    with pytest.raises(daap.DaapError, match="no bronze trades for spot BTCUSDT from 2024-02-01 to 2024-02-29"):
        run_notebook(spark, {"lake": lake.uri, "symbol": "BTCUSDT", "month": "2024-02", "interval": "1m"})
