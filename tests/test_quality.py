"""Quality checks: each one passes on good candles and catches its own kind of damage, on frames and in DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import daap
from daap import quality
from daap.quality import QualityError, QualityReport, check_candles, check_lake, check_warehouse
from daap.warehouse import WarehouseLoader

DATA = Path(__file__).parent / "data"
HALT = "BTCUSDT-trades-2023-03-24.csv"
DAY = "BTCUSDT-trades-2025-01-01.csv"


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return daap.CandleBuilder("1m").build(daap.read_trades(DATA / DAY))


@pytest.fixture(scope="module")
def halt() -> pd.DataFrame:
    return daap.CandleBuilder("1m").build(daap.read_trades(DATA / HALT))


def failed(report: QualityReport) -> list[str]:
    return [f.check for f in report.findings if not f.passed]


def finding(report: QualityReport, name: str) -> quality.Finding:
    return next(f for f in report.findings if f.check == name)


def test_good_candles_pass_every_check(candles: pd.DataFrame) -> None:
    report = check_candles(candles)
    assert report.status == "pass" and failed(report) == []
    assert [f.check for f in report.findings] == list(quality.CHECKS)
    assert report.summary().startswith("PASS: 10 checks")


def test_a_halt_is_a_warning_with_its_run_listed(halt: pd.DataFrame) -> None:
    report = check_candles(halt)
    assert report.status == "warn" and failed(report) == ["halt_runs"]
    runs = finding(report, "halt_runs").details["listed"]
    assert len(runs) == 1 and runs[0]["buckets"] == 152
    assert check_candles(halt, min_halt=153).status == "pass"


def damaged(candles: pd.DataFrame, how: str) -> pd.DataFrame:
    df = candles.copy()
    if how == "unique_keys":
        return pd.concat([df, df.iloc[[3]]], ignore_index=True)
    if how == "not_null":
        df["close"] = df["close"].astype(float)
        df.loc[2, "close"] = None
    elif how == "ohlc_order":
        df.loc[4, "high"] = df.loc[4, "low"] - 1.0
    elif how == "non_negative":
        df.loc[1, "volume"] = -1.0
    elif how == "taker_le_total":
        df.loc[1, "taker_buy_volume"] = df.loc[1, "volume"] * 2 + 1
    elif how == "alignment":
        df.loc[5, "open_time"] = df.loc[5, "open_time"] + pd.Timedelta(seconds=1)
    elif how == "grid_complete":
        return df.drop(index=6).reset_index(drop=True)
    elif how == "trade_id_continuity":
        df.loc[7:, ["first_trade_id", "last_trade_id"]] += 10
    return df


@pytest.mark.parametrize(
    "how", ["unique_keys", "not_null", "ohlc_order", "non_negative", "taker_le_total", "alignment", "grid_complete",
            "trade_id_continuity"],
)  # fmt: skip
def test_each_check_catches_its_damage(candles: pd.DataFrame, how: str) -> None:
    report = check_candles(damaged(candles, how))
    assert how in failed(report)
    severity = quality.CHECKS[how].severity
    assert report.status == ("fail" if severity == "error" else "warn")
    f = finding(report, how)
    assert f.message != "ok" and json.dumps(f.details)  # details are JSON-serializable


def test_trade_id_holes_are_listed_as_exact_ranges(candles: pd.DataFrame) -> None:
    f = finding(check_candles(damaged(candles, "trade_id_continuity")), "trade_id_continuity")
    last = int(candles.loc[6, "last_trade_id"])
    assert f.details["ranges"][0]["first_missing"] == last + 1
    assert f.details["ranges"][0]["last_missing"] == last + 10 and f.details["missing_ids"] == 10


def test_expected_range_edges_and_freshness(candles: pd.DataFrame) -> None:
    # The real rows cover 11 minutes of 2025-01-01: the rest of the day is missing at the end.
    report = check_candles(candles, expected_start="2025-01-01", expected_end="2025-01-01")
    assert failed(report) == ["freshness"]
    series = finding(report, "grid_complete").details["series"][0]
    assert series["leading_missing"] == 0 and series["trailing_missing"] == 1440 - 11
    assert finding(report, "freshness").details["stale"][0]["behind_buckets"] == 1440 - 11


def test_unknown_check_name_is_a_clear_error(candles: pd.DataFrame) -> None:
    with pytest.raises(QualityError, match=r"unknown check\(s\) \['nope'\]"):
        check_candles(candles, checks=["nope"])
    assert [f.check for f in check_candles(candles, checks=["ohlc_order"]).findings] == ["ohlc_order"]


def test_report_round_trips_through_json(halt: pd.DataFrame, tmp_path: Path) -> None:
    report = check_candles(halt)
    text = report.to_json(tmp_path / "q" / "report.json")
    data = json.loads((tmp_path / "q" / "report.json").read_text())
    assert data == json.loads(text) and data["status"] == "warn" and data["summary"] == report.summary()
    again = QualityReport.from_dict(data)
    assert again.status == report.status and again.summary() == report.summary()


# ----------------------------------------------------------------------------------------------- the warehouse
@pytest.fixture
def wh(tmp_path: Path, halt: pd.DataFrame) -> Any:
    with WarehouseLoader(f"duckdb:///{tmp_path / 'w.duckdb'}") as wh:
        wh.load_candles(halt)
        wh.build_marts("sma:7,rsi:14,bb:20:2")
        yield wh


def test_warehouse_checks_run_as_queries_and_agree_with_frames(wh: Any, halt: pd.DataFrame) -> None:
    report = check_warehouse(wh)
    assert failed(report) == ["halt_runs"] and finding(report, "indicator_sanity").passed
    frame = check_candles(halt)
    assert [(f.check, f.passed) for f in report.findings if f.check in quality.CHECKS] == [
        (f.check, f.passed) for f in frame.findings
    ]


def test_warehouse_damage_is_found(wh: Any) -> None:
    first = wh.sql("SELECT min(open_time) AS t FROM raw_candles")["t"].iloc[0]
    wh.sql("UPDATE raw_candles SET high = low - 1 WHERE open_time = $t", {"t": first})
    wh.sql("UPDATE fct_candle_metrics SET rsi_14 = 150 WHERE rsi_14 IS NOT NULL AND candle_start_time = "
           "(SELECT max(candle_start_time) FROM fct_candle_metrics)")  # fmt: skip
    report = check_warehouse(wh)
    assert set(failed(report)) == {"ohlc_order", "halt_runs", "indicator_sanity"} and report.status == "fail"
    assert finding(report, "ohlc_order").details["rows"] == 1


def test_warehouse_without_candles_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QualityError, match="no raw_candles: run `daap load` first"):
        check_warehouse(f"duckdb:///{tmp_path / 'empty.duckdb'}")


# ---------------------------------------------------------------------------------------------------- the lake
def test_lake_reconciliation(tmp_path: Path) -> None:
    lake = daap.Lake(tmp_path / "lake")
    daap.Ingestor(lake).ingest_file(DATA / HALT)
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    report = check_lake(lake, "BTCUSDT", checks=["reconciliation"])
    rec = finding(report, "reconciliation")
    assert rec.passed and rec.details["bronze_rows"] == rec.details["candle_trades"] == rec.details["manifest_rows"]
    assert rec.details["bronze_rows"] == len(daap.read_trades(DATA / HALT))
    # A candles day that lost a traded minute no longer reconciles.
    key = next(o.key for o in lake.store.list("candles/"))
    path = lake.store.local_path(key)
    assert path is not None
    table = pq.read_table(path).to_pandas()
    pq.write_table(pq.read_table(path).slice(1), path)
    bad = finding(check_lake(lake, "BTCUSDT", checks=["reconciliation"]), "reconciliation")
    assert not bad.passed and bad.details["candle_trades"] == rec.details["candle_trades"] - int(table["trades"][0])
    with pytest.raises(QualityError, match="no 1h candles for BTCUSDT"):
        check_lake(lake, "BTCUSDT", interval="1h")


@pytest.mark.spark
def test_spark_checks_run_as_spark_sql_and_agree_with_frames(spark: Any, halt: pd.DataFrame) -> None:
    from daap.engines.spark import candles_to_spark

    broken = damaged(halt, "ohlc_order")
    for frame in (halt, broken):
        got = quality.check_spark(candles_to_spark(frame, spark))
        want = check_candles(frame)
        assert [(f.check, f.passed, f.message) for f in got.findings] == [
            (f.check, f.passed, f.message) for f in want.findings
        ]
    assert spark.catalog.listTables() == []  # the temporary view is dropped
