"""The pipeline: config validation, every step end to end (synthetic and a local Binance mirror), resume, the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from daap import pipeline
from daap.pipeline import ConfigError, PipelineConfig, PipelineError, QualityGateError, run
from daap.warehouse import WarehouseLoader
from tests.http_mirror import SPOT_START, BinanceMirror

pytest_plugins = ["tests.http_mirror"]


def config(tmp_path: Path, **kw: Any) -> PipelineConfig:
    base = {
        "symbols": ["BTCUSDT", "ETHUSDT"], "start": "2025-01-01", "end": "2025-01-02", "source": "synthetic",
        "trades_per_day": 3000, "lake": str(tmp_path / "lake"), "warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "work_dir": str(tmp_path / "work"), "indicators": "sma:7,ema:21,rsi:14,bb:20:2", "dashboard": False,
    }  # fmt: skip
    return PipelineConfig.from_mapping({**base, **kw})


def counts(cfg: PipelineConfig) -> dict[str, int]:
    with WarehouseLoader(cfg.warehouse) as wh:
        df = wh.sql("SELECT symbol, count(*) AS n FROM fct_candle_metrics GROUP BY 1 ORDER BY 1")
    return dict(zip(df["symbol"], df["n"].astype(int), strict=True))


# ----------------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"symbol": "X"}, r"unknown config key\(s\) \['symbol'\]"),
        ({"start": "2025-13-01"}, r"start: bad value '2025-13-01'"),
        ({"end": "2024-12-01"}, r"end: 2024-12-01 is before start"),
        ({"months": ["2025-01"]}, r"months: give either months or start/end"),
        ({"market": "coin"}, r"market: 'coin' is not one of"),
        ({"intervals": ["7m"]}, r"intervals: "),
        ({"indicators": "sma:x"}, r"indicators: "),
        ({"checks": ["nope"]}, r"checks: unknown check"),
        ({"trades_per_day": -1}, r"trades_per_day: bad value -1"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, patch: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, **patch)


def test_toml_config_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "daap.toml"
    path.write_text('[pipeline]\nsymbols = ["btcusdt"]\nmonths = ["2024-02"]\nsource = "synthetic"\n')
    cfg = PipelineConfig.from_toml(path, engine="pandas")
    assert cfg.symbols == ("BTCUSDT",) and len(cfg.days) == 29 and cfg.days[-1].isoformat() == "2024-02-29"
    assert PipelineConfig.from_mapping(json.loads(json.dumps(cfg.to_mapping()))) == cfg
    path.write_text('symbols = ["BTCUSDT"]\nstart = "2025-01-01"\nend = "2025-01-01"\nlaek = "x"\n')
    with pytest.raises(ConfigError, match=r"daap.toml: unknown config key\(s\) \['laek'\]"):
        PipelineConfig.from_toml(path)


# -------------------------------------------------------------------------------------------------------- runs
def test_two_symbols_end_to_end_then_a_rerun_resumes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    seen: list[str] = []
    result = run(cfg, on_step=lambda r: seen.append(r.step))
    assert seen == list(pipeline.STEPS) and all(r.ok for r in result.steps)
    steps = {r.step: r for r in result.steps}
    per_symbol = counts(cfg)
    assert sorted(per_symbol) == ["BTCUSDT", "ETHUSDT"] and min(per_symbol.values()) > 2800  # 2 days of 1m
    assert sum(per_symbol.values()) == steps["load"].details["inserted"] == steps["build_marts"].details["rows"]
    report = json.loads(cfg.report_path.read_text())
    assert report["status"] in ("pass", "warn") and {f["check"] for f in report["findings"]} >= {"reconciliation"}
    assert all(f["passed"] for f in report["findings"] if f["check"] == "reconciliation")
    again = run(cfg)
    assert all(r.skipped for r in again.steps)
    # Without resume every step runs again, and nothing is duplicated.
    before = counts(cfg)
    redo = {r.step: r for r in run(cfg, resume=False).steps}
    assert redo["download"].skipped and redo["ingest"].details["unchanged"] == 4
    assert redo["load"].details["inserted"] == 0 and counts(cfg) == before


def test_a_failed_step_resumes_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path, symbols=["BTCUSDT"], end="2025-01-01")
    real = pipeline.STEPS["load"]

    def broken(c: PipelineConfig) -> Any:
        raise PipelineError("load", "the warehouse went away")

    monkeypatch.setitem(pipeline.STEPS, "load", broken)
    with pytest.raises(PipelineError, match="step 'load' failed: the warehouse went away"):
        run(cfg)
    monkeypatch.setitem(pipeline.STEPS, "load", real)
    result = {r.step: r for r in run(cfg).steps}
    assert [s for s, r in result.items() if r.skipped] == ["download", "ingest", "build_candles", "dashboard"]
    assert result["dashboard"].summary == "dashboard switched off"
    assert result["load"].details["inserted"] > 0


def test_an_error_finding_stops_the_run_after_writing_the_report(tmp_path: Path) -> None:
    cfg = config(tmp_path, symbols=["BTCUSDT"], end="2025-01-01")
    run(cfg)
    with WarehouseLoader(cfg.warehouse) as wh:
        wh.sql("UPDATE raw_candles SET low = high + 1 WHERE trades > 0")
    with pytest.raises(QualityGateError, match=r"FAIL: .*ohlc_order") as err:
        run(cfg, steps=["check"], resume=False)
    report = json.loads(Path(err.value.report_path).read_text())
    assert report["status"] == "fail"


def test_download_from_a_binance_mirror(tmp_path: Path, binance_mirror: BinanceMirror) -> None:
    cfg = config(
        tmp_path, symbols=["BTCUSDT"], source="binance", base_url=binance_mirror.base_url,
        start=SPOT_START.isoformat(), end=SPOT_START.isoformat(),
    )  # fmt: skip
    first = {r.step: r for r in run(cfg, steps=["download", "ingest", "build_candles"]).steps}
    assert first["download"].details["fetched"] == 1 and first["ingest"].details["rows"] > 0
    again = pipeline.download(cfg)
    assert again.skipped and again.details["cached"] == 1
    missing = config(tmp_path, symbols=["BTCUSDT"], source="binance", base_url=binance_mirror.base_url,
                     start="2020-01-01", end="2020-01-01")  # fmt: skip
    with pytest.raises(PipelineError, match=r"step 'download' failed: .*2020-01-01"):
        pipeline.download(missing)


def warehouse_contents(cfg: PipelineConfig) -> dict[str, Any]:
    with WarehouseLoader(cfg.warehouse) as wh:
        raw = wh.sql("SELECT * FROM raw_candles ORDER BY symbol, interval, open_time")
        fct = wh.sql("SELECT * FROM fct_candle_metrics ORDER BY symbol, interval, candle_start_time")
    return {"raw": raw, "fct": fct}


def same_warehouse(a: dict[str, Any], b: dict[str, Any]) -> None:
    import pandas as pd

    for name in ("raw", "fct"):
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=1e-12, atol=0)


def with_files(tmp_path: Path, name: str, files: Path, **kw: Any) -> PipelineConfig:
    """A config in its own folder, whose downloads are the given (shared) synthetic files."""
    import shutil

    root = tmp_path / name
    cfg = config(root, symbols=["BTCUSDT"], **kw)
    if not cfg.downloads.exists():
        shutil.copytree(files, cfg.downloads / "BTCUSDT")
    return cfg


@pytest.fixture(scope="module")
def sparse_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight days of thin trading (300 trades a day): gap rows everywhere, across midnight too."""
    import datetime as dt

    from daap.sources.synthetic import SyntheticConfig, write_binance_files

    out = tmp_path_factory.mktemp("sparse")
    write_binance_files(out, SyntheticConfig(symbol="BTCUSDT", start=dt.date(2025, 5, 1), days=8, trades_per_day=300))
    return out


def test_incremental_runs_equal_one_batch_run(tmp_path: Path, sparse_days: Path) -> None:
    batch = with_files(tmp_path, "batch", sparse_days, start="2025-05-01", end="2025-05-08")
    run(batch)
    first = with_files(tmp_path, "inc", sparse_days, start="2025-05-01", end="2025-05-04")
    second = with_files(tmp_path, "inc", sparse_days, start="2025-05-05", end="2025-05-08")
    run(first)
    run(second)
    want, got = warehouse_contents(batch), warehouse_contents(second)
    assert (want["raw"]["trades"] == 0).sum() > 100  # gap rows, including across the boundary at May 5 00:00
    same_warehouse(got, want)  # candles, gap rows across the boundary, and indicators with their warm-up carried
    outcomes = [
        [(f["check"], f["target"], f["passed"]) for f in json.loads(c.report_path.read_text())["findings"]]
        for c in (batch, second)
    ]
    assert outcomes[0] == outcomes[1]  # the same quality results
    # The other order (a backfill of the first half after the second) gives the same warehouse too.
    late = with_files(tmp_path, "late", sparse_days, start="2025-05-05", end="2025-05-08")
    early = with_files(tmp_path, "late", sparse_days, start="2025-05-01", end="2025-05-04")
    run(late)
    run(early)
    same_warehouse(warehouse_contents(early), want)


def test_a_run_killed_in_load_and_rerun_equals_a_clean_run(
    tmp_path: Path, sparse_days: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = with_files(tmp_path, "clean", sparse_days, start="2025-05-01", end="2025-05-03")
    run(clean)
    killed = with_files(tmp_path, "killed", sparse_days, start="2025-05-01", end="2025-05-03")
    from daap.warehouse import duckdb as duck

    real_merge = duck.DuckDBClient._merge

    def die(self: Any) -> None:
        real_merge(self)
        raise RuntimeError("killed mid-load")  # after the MERGE, before COMMIT

    monkeypatch.setattr(duck.DuckDBClient, "_merge", die)
    with pytest.raises(PipelineError, match="step 'load' failed"):
        run(killed)
    monkeypatch.setattr(duck.DuckDBClient, "_merge", real_merge)
    with WarehouseLoader(killed.warehouse) as wh:
        assert int(wh.sql("SELECT count(*) AS n FROM raw_candles")["n"].iloc[0]) == 0  # rolled back
    run(killed)
    same_warehouse(warehouse_contents(killed), warehouse_contents(clean))
    before = warehouse_contents(killed)
    nothing = {r.step: r for r in run(killed, resume=False).steps}
    assert nothing["load"].details["inserted"] == nothing["load"].details["updated"] == 0
    same_warehouse(warehouse_contents(killed), before)  # a rerun with nothing new changes nothing
