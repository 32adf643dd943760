from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from daap.cli import main
from daap.sources.binance import parse_checksum
from daap.sources.synthetic import sha256_file


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daap.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_works_without_extras() -> None:
    res = run("--help")
    assert res.returncode == 0
    for cmd in ("candles", "synth", "demo"):
        assert cmd in res.stdout


def test_candles_on_real_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    res = run("candles", str(data_dir / "BTCUSDT-trades-2023-03-24.csv"), "-o", str(out), "--interval", "5m")
    assert res.returncode == 0, res.stderr
    assert "2,000 trades from 1 file(s) -> 32 5m candles (30 gap rows) for BTCUSDT" in res.stdout
    assert res.stderr == ""  # no progress bar when not on a terminal
    df = pd.read_parquet(out)
    assert df["interval"].unique().tolist() == ["5m"] and int(df["trades"].sum()) == 2000


def test_no_fill_gaps_flag(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    res = run("candles", str(data_dir / "BTCUSDT-trades-2023-03-24.csv"), "-o", str(out), "--no-fill-gaps")
    assert res.returncode == 0, res.stderr
    assert len(pd.read_parquet(out)) == 3


def test_bad_input_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    bad.write_text(
        "4359935386,93576.0,0.1,127.2,1735689600010866,True,True\n4359935387,x,0.1,1,1735689600010866,True,True\n"
    )
    res = run("candles", str(bad), "-o", str(tmp_path / "out.parquet"))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [f"error: {bad}, line 2, column 'price': expected a number, got 'x'"]
    assert not (tmp_path / "out.parquet").exists()


def test_invalid_interval_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    res = run("candles", str(data_dir / "BTCUSDT-trades-2021-01-02.csv"), "-o", str(tmp_path / "o.parquet"), "-i", "7m")
    assert res.returncode == 1
    assert res.stderr.startswith("error: invalid interval '7m'") and len(res.stderr.strip().splitlines()) == 1


def test_synth_writes_binance_zips_with_checksums(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["synth", "-o", str(tmp_path), "--days", "2", "--trades-per-day", "5000", "--start", "2024-12-31"]
    )
    assert res.exit_code == 0, res.output
    zips = sorted(tmp_path.glob("*.zip"))
    assert [z.name for z in zips] == ["BTCUSDT-trades-2024-12-31.zip", "BTCUSDT-trades-2025-01-01.zip"]
    for z in zips:
        digest, name = parse_checksum((z.parent / (z.name + ".CHECKSUM")).read_text())
        assert (digest, name) == (sha256_file(z), z.name)
        with zipfile.ZipFile(z) as zf:
            assert zf.namelist() == [z.name.replace(".zip", ".csv")]
    # ms before 2025, µs from 2025: both read into the same µs timeline, and candles are continuous across midnight.
    out = tmp_path / "c.parquet"
    res = CliRunner().invoke(main, ["candles", str(tmp_path), "-o", str(out), "-i", "1h"])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert int(df["trades"].sum()) == 10_000 and len(df) == 48


def test_synth_futures_then_candles(tmp_path: Path) -> None:
    args = ["synth", "-o", str(tmp_path), "--market", "um", "--trades-per-day", "3000", "--csv"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (csv,) = tmp_path.glob("*.csv")
    assert csv.read_text().splitlines()[0] == "id,price,qty,quote_qty,time,is_buyer_maker"
    res = CliRunner().invoke(main, ["candles", str(csv), "-o", str(tmp_path / "c.parquet"), "--validate"])
    assert res.exit_code == 0, res.output


def test_demo(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    res = run("demo", "--dir", str(work), "--days", "2", "--trades-per-day", "5000")
    assert res.returncode == 0, res.stderr
    for step in ("download", "ingest", "build_candles", "load", "build_marts", "check", "dashboard"):
        assert f"[done] {step}" in res.stdout
    assert "4 file(s) generated" in res.stdout and "fct_candle_metrics" in res.stdout
    assert f"quality report: {work / 'quality.json'}" in res.stdout
    for sym in ("BTCUSDT", "ETHUSDT"):
        assert (work / f"dashboard-{sym}.html").exists() and f"dashboard ({sym})" in res.stdout
    again = run("demo", "--dir", str(work), "--days", "2", "--trades-per-day", "5000")
    assert again.returncode == 0 and again.stdout.count("[skip]") == 7  # a rerun resumes


def test_run_check_and_dashboard_commands(tmp_path: Path) -> None:
    toml = tmp_path / "daap.toml"
    toml.write_text(
        f'symbols = ["BTCUSDT"]\nstart = "2025-01-01"\nend = "2025-01-01"\nsource = "synthetic"\n'
        f'trades_per_day = 3000\nlake = "{tmp_path / "lake"}"\nwork_dir = "{tmp_path / "work"}"\n'
        f'warehouse = "duckdb:///{tmp_path / "w.duckdb"}"\ndashboard = false\n'
    )
    res = run("run", "--config", str(toml), "--indicators", "sma:7,rsi:14")
    assert res.returncode == 0, res.stderr
    assert "[done] check" in res.stdout and "[skip] dashboard" in res.stdout
    wh = f"duckdb:///{tmp_path / 'w.duckdb'}"
    out = tmp_path / "report.json"
    res = run("check", "--warehouse", wh, "--lake", str(tmp_path / "lake"), "--json", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "reconciliation" in res.stdout and json.loads(out.read_text())["status"] in ("pass", "warn")
    res = run("dashboard", "--warehouse", wh, "--report", str(out), "-o", str(tmp_path / "d.html"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "d.html").exists()
    run("sql", "UPDATE raw_candles SET high = low - 1 WHERE trades > 0", "--warehouse", wh)
    res = run("check", "--warehouse", wh)
    assert res.returncode == 1 and "FAIL ohlc_order" in res.stdout
    bad = run("run", "--config", str(toml), "--market", "coin")
    assert bad.returncode == 2 and "coin" in bad.stderr


def test_bad_synth_arguments_are_usage_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["synth", "-o", str(tmp_path), "--start", "2025-13-01"])
    assert res.exit_code == 2 and "is not a date" in res.output
