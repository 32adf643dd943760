"""Reconciliation with Binance's klines: verify_against_klines, verify_lake, `daap verify` and `verify = true`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import daap
from daap.cli import main
from daap.klines import klines_from_trades, read_klines, write_kline_files
from daap.pipeline import PipelineConfig, QualityGateError, run
from daap.quality import QualityReport, check_lake, verify_against_klines
from daap.reconcile import ReconcileError, verify_lake
from daap.sources.synthetic import SyntheticConfig, iter_days, synthetic_klines
from tests.http_mirror import SPOT_START, BinanceMirror, binance_mirror  # noqa: F401

pytestmark = pytest.mark.pandas

DATA = Path(__file__).parent / "data"
CFG = SyntheticConfig(trades_per_day=6_000, days=2, seed=21)


def _trades(cfg: SyntheticConfig = CFG) -> pd.DataFrame:
    frames = []
    for _, table in iter_days(cfg):
        df = table.to_pandas()
        df.insert(0, "symbol", cfg.symbol)
        df["time"] = pd.to_datetime(df["time"], unit="us", utc=True).astype("datetime64[us, UTC]")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candles built by daap, and klines computed independently from the same synthetic trades."""
    return daap.CandleBuilder("1m").build(_trades()), synthetic_klines(CFG, "1m")


def test_independent_klines_match(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    candles, klines = synthetic
    r = verify_against_klines(candles, klines)
    assert r.verdict == "match"
    assert r.compared == r.matched == len(candles) == len(klines) > 2_000
    assert (r.mismatched, r.missing_in_candles_count, r.missing_in_klines_count) == (0, 0, 0)


def test_one_changed_price_and_one_changed_count_are_reported_exactly(
    synthetic: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    candles, klines = synthetic
    bad = klines.copy()
    bad.loc[100, "high"] = bad.loc[100, "high"] + 0.01
    bad.loc[700, "trades"] = bad.loc[700, "trades"] + 1
    r = verify_against_klines(candles, bad)
    assert r.verdict == "mismatch"
    assert (r.compared, r.matched, r.mismatched) == (len(candles), len(candles) - 2, 2)
    assert r.mismatches_by_field == {"high": 1, "trades": 1}
    iso = [t.isoformat().replace("+00:00", "Z") for t in klines.loc[[100, 700], "open_time"]]
    assert r.differences == [
        {"open_time": iso[0], "field": "high", "ours": candles.loc[100, "high"], "binance": bad.loc[100, "high"]},
        {
            "open_time": iso[1],
            "field": "trades",
            "ours": int(candles.loc[700, "trades"]),
            "binance": int(bad.loc[700, "trades"]),
        },
    ]
    finding = r.to_finding()
    assert (finding.check, finding.severity, finding.passed) == ("klines", "error", False)
    assert "high" in r.report() and "verdict: mismatch" in r.report()


def test_volumes_are_compared_at_the_stated_tolerance(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    candles, klines = synthetic
    near = klines.copy()
    near["quote_volume"] *= 1 + 1e-12
    assert verify_against_klines(candles, near).verdict == "match"
    far = klines.copy()
    far.loc[5, "taker_buy_volume"] += 0.001
    r = verify_against_klines(candles, far)
    assert r.mismatches_by_field == {"taker_buy_volume": 1}
    assert verify_against_klines(candles, far, rtol=1.0).verdict == "match"


def test_a_maintenance_window_is_missing_not_mismatched(tmp_path: Path) -> None:
    trades = _trades()
    lo = pd.Timestamp("2025-05-01T03:00:00Z")
    hi = pd.Timestamp("2025-05-01T03:30:00Z")
    quiet = trades[(trades["time"] < lo) | (trades["time"] >= hi)]  # the exchange stopped trading
    candles = daap.CandleBuilder("1m").build(quiet)
    files = write_kline_files(
        tmp_path, klines_from_trades(quiet, "1m"), market="spot", period="daily", drop=[(lo, hi)]
    )
    r = verify_against_klines(candles, files)
    assert r.verdict == "incomplete"
    assert r.mismatched == 0 and r.missing_in_candles_count == 0
    assert r.missing_in_klines_count == 30
    assert r.missing_in_klines == [
        {"start": "2025-05-01T03:00:00Z", "end": "2025-05-01T03:29:00Z", "buckets": 30, "our_trades": 0}
    ]
    assert "maintenance" in r.report()
    finding = r.to_finding()
    assert (finding.severity, finding.passed) == ("warn", False)


def test_candles_missing_a_day_are_reported_as_missing(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    candles, klines = synthetic
    first_day = candles[candles["open_time"] < pd.Timestamp("2025-05-02", tz="UTC")]
    r = verify_against_klines(first_day, klines)
    assert r.verdict == "incomplete" and r.mismatched == 0
    assert r.missing_in_candles_count == len(candles) - len(first_day)
    assert len(r.missing_in_candles) == 1 and r.missing_in_candles[0]["binance_trades"] == CFG.trades_per_day


def test_real_minutes_of_2025_01_01_match_the_official_format_file() -> None:
    candles = daap.CandleBuilder("1m").build(daap.read_trades(DATA / "BTCUSDT-trades-2025-01-01.csv"))
    r = verify_against_klines(
        candles,
        DATA / "klines" / "BTCUSDT-1m-2025-01-01.csv",
        start=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
        end=dt.datetime(2025, 1, 1, 0, 10, tzinfo=dt.timezone.utc),
    )
    assert (r.verdict, r.compared, r.matched) == ("match", 10, 10)
    # The first minute is Binance's own published kline, verbatim.
    assert r.klines == 10 and read_klines(DATA / "klines" / "BTCUSDT-1m-2025-01-01.csv")["trades"].iloc[0] == 2631


def test_several_symbols_need_a_choice(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    candles, klines = synthetic
    two = pd.concat([candles, candles.assign(symbol="ETHUSDT")], ignore_index=True)
    with pytest.raises(ReconcileError, match="pass symbol="):
        verify_against_klines(two, klines)
    assert verify_against_klines(two, klines, symbol="BTCUSDT").verdict == "match"


# ------------------------------------------------------------------------------------------- lake and mirror
def _serve_klines(mirror: BinanceMirror, *, interval: str = "1m") -> list[Path]:
    """Kline files for the mirror's spot trade days, computed independently from those trades, served beside them."""
    trade_files = [mirror.root / k for k in mirror.zips if k.startswith("data/spot/")]
    klines = klines_from_trades(daap.read_trades(trade_files), interval)
    folder = mirror.root / "data/spot/daily/klines/BTCUSDT" / interval
    return write_kline_files(folder, klines, market="spot", period="daily")


def _lake_with_candles(mirror: BinanceMirror, lake: Path, intervals: tuple[str, ...] = ("1m",)) -> daap.Lake:
    the_lake = daap.Lake(lake)
    ingestor = daap.Ingestor(the_lake, base_url=mirror.base_url, download_dir=lake.parent / "dl", progress=False)
    ingestor.download("BTCUSDT", start=SPOT_START, end=SPOT_START + dt.timedelta(days=2))
    for iv in intervals:
        daap.CandleBuilder(iv).build_lake(the_lake, "BTCUSDT")
    return the_lake


def test_verify_lake_fetches_klines_into_the_reference_zone_once(binance_mirror: BinanceMirror, tmp_path: Path) -> None:  # noqa: F811
    served = _serve_klines(binance_mirror)
    lake = _lake_with_candles(binance_mirror, tmp_path / "lake")
    seen: list[tuple[str, str]] = []
    r = verify_lake(
        lake, "BTCUSDT", start=SPOT_START, end=SPOT_START + dt.timedelta(days=2), base_url=binance_mirror.base_url,
        on_file=lambda name, status: seen.append((name, status)),
    )  # fmt: skip
    assert r.verdict == "match" and r.compared == r.candles == r.klines > 4_000
    assert [s for _, s in seen] == ["downloaded"] * 3
    keys = lake.kline_keys("spot", "1m", "BTCUSDT")
    assert [k.rsplit("/", 1)[1] for k in keys] == [p.name for p in served]
    assert lake.store.read_bytes(keys[0]) == served[0].read_bytes()
    # A rerun reads the lake's copy: only the CHECKSUMs are asked for again.
    binance_mirror.clear_requests()
    seen.clear()
    again = verify_lake(lake, "BTCUSDT", start=SPOT_START, end=SPOT_START + dt.timedelta(days=2),
                        base_url=binance_mirror.base_url, on_file=lambda n, s: seen.append((n, s)))  # fmt: skip
    assert again.to_dict() == r.to_dict()
    assert [s for _, s in seen] == ["cached"] * 3
    assert all(req.path.endswith(".CHECKSUM") for req in binance_mirror.requests)


def test_a_whole_month_falls_back_to_daily_files(binance_mirror: BinanceMirror, tmp_path: Path) -> None:  # noqa: F811
    _serve_klines(binance_mirror)
    lake = _lake_with_candles(binance_mirror, tmp_path / "lake")
    seen: list[tuple[str, str]] = []
    r = verify_lake(lake, "BTCUSDT", month="2025-05", base_url=binance_mirror.base_url,
                    on_file=lambda name, status: seen.append((name, status)))  # fmt: skip
    assert ("BTCUSDT-1m-2025-05.zip", "missing") in seen
    assert [n for n, s in seen if s == "downloaded"] == [f"BTCUSDT-1m-2025-05-0{d}.zip" for d in (1, 2, 3)]
    assert r.verdict == "match"


def test_rollup_when_the_lake_has_only_1m(binance_mirror: BinanceMirror, tmp_path: Path) -> None:  # noqa: F811
    _serve_klines(binance_mirror, interval="1h")
    lake = _lake_with_candles(binance_mirror, tmp_path / "lake")
    r = verify_lake(lake, "BTCUSDT", start=SPOT_START, end=SPOT_START + dt.timedelta(days=2), interval="1h",
                    base_url=binance_mirror.base_url)  # fmt: skip
    assert r.verdict == "match" and r.compared == 72


def test_cli_verify_match_then_a_corrupted_kline(binance_mirror: BinanceMirror, tmp_path: Path) -> None:  # noqa: F811
    served = _serve_klines(binance_mirror)
    _lake_with_candles(binance_mirror, tmp_path / "lake")
    args = ["verify", "BTCUSDT", "--start", "2025-05-01", "--end", "2025-05-03", "--lake", str(tmp_path / "lake"),
            "--base-url", binance_mirror.base_url, "--json", str(tmp_path / "v.json")]  # fmt: skip
    ok = CliRunner().invoke(main, args)
    assert ok.exit_code == 0, ok.output
    assert "verdict: match" in ok.output
    assert json.loads((tmp_path / "v.json").read_text())["verdict"] == "match"
    # Binance republishes a day with one different close: the new CHECKSUM makes daap fetch it again.
    klines = read_klines(served[1])
    klines.loc[42, "close"] += 0.01
    write_kline_files(served[1].parent, klines, market="spot", period="daily")
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code == 1, bad.output
    assert "verdict: mismatch" in bad.output and "close" in bad.output
    when = klines.loc[42, "open_time"].isoformat().replace("+00:00", "Z")
    assert when in bad.output


def test_cli_verify_needs_a_period(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["verify", "BTCUSDT", "--lake", str(tmp_path)])
    assert result.exit_code == 2 and "--month" in result.output


def test_check_lake_adds_the_klines_finding(binance_mirror: BinanceMirror, tmp_path: Path) -> None:  # noqa: F811
    _serve_klines(binance_mirror)
    lake = _lake_with_candles(binance_mirror, tmp_path / "lake")
    report = check_lake(lake, "BTCUSDT", start=SPOT_START, end=SPOT_START + dt.timedelta(days=2), verify=True,
                        base_url=binance_mirror.base_url)  # fmt: skip
    (finding,) = [f for f in report.findings if f.check == "klines"]
    assert finding.passed and finding.details["verdict"] == "match"
    assert QualityReport.from_dict(json.loads(report.to_json())).findings[-1].check == "klines"


def test_pipeline_verify_on_synthetic_data(tmp_path: Path) -> None:
    cfg = PipelineConfig.from_mapping(
        {
            "symbols": ["BTCUSDT"], "start": "2025-05-01", "end": "2025-05-02", "source": "synthetic",
            "trades_per_day": 3_000, "lake": str(tmp_path / "lake"), "work_dir": str(tmp_path / "work"),
            "warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}", "dashboard": False, "verify": True,
        }
    )  # fmt: skip
    run(cfg)
    report = json.loads(cfg.report_path.read_text())
    (finding,) = [f for f in report["findings"] if f["check"] == "klines"]
    assert finding["passed"] and finding["details"]["compared"] > 2_000
    assert daap.Lake(tmp_path / "lake").kline_keys("spot", "1m", "BTCUSDT")


def test_pipeline_verify_on_binance_catches_a_republished_kline(
    binance_mirror: BinanceMirror,  # noqa: F811
    tmp_path: Path,
) -> None:
    served = _serve_klines(binance_mirror)
    klines = read_klines(served[0])
    klines.loc[7, "trades"] += 1
    write_kline_files(served[0].parent, klines, market="spot", period="daily")
    cfg = PipelineConfig.from_mapping(
        {
            "symbols": ["BTCUSDT"], "start": "2025-05-01", "end": "2025-05-03", "source": "binance",
            "base_url": binance_mirror.base_url, "lake": str(tmp_path / "lake"), "work_dir": str(tmp_path / "w"),
            "warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}", "dashboard": False, "verify": True,
        }
    )  # fmt: skip
    with pytest.raises(QualityGateError):
        run(cfg)
    report = json.loads(cfg.report_path.read_text())
    (finding,) = [f for f in report["findings"] if f["check"] == "klines"]
    assert finding["details"]["mismatches_by_field"] == {"trades": 1}
    assert finding["details"]["compared"] == finding["details"]["candles"] == finding["details"]["klines"] > 4_000
    assert finding["details"]["differences"][0]["field"] == "trades"
