from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import daap
from daap.warehouse import (
    LoadResult,
    UnsafeIdentifierError,
    UnsupportedWarehouseError,
    WarehouseError,
    WarehouseLoader,
    quote_identifier,
)
from daap.warehouse.duckdb import DuckDBClient

INJECTION = "BTC'); DROP TABLE raw_candles; --"


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("lake")
    lake = daap.Lake(root)
    daap.Ingestor(lake).ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    return root


@pytest.fixture(scope="module")
def lake_candles(lake_dir: Path) -> pd.DataFrame:
    lake = daap.Lake(lake_dir)
    path = lake.store.local_path(lake.candles_key("1m", "BTCUSDT", "2025-01-01"))
    assert path is not None
    return pd.read_parquet(path)


@pytest.fixture(scope="module")
def day_candles() -> pd.DataFrame:
    """A full synthetic day of 1m candles (1,440 rows), long enough for every indicator to warm up."""
    from daap.sources.synthetic import SyntheticConfig, generate_day

    trades = generate_day(SyntheticConfig(symbol="BTCUSDT", trades_per_day=20_000), 0).to_pandas()
    trades["time"] = pd.to_datetime(trades["time"], unit="us", utc=True)
    trades.insert(0, "symbol", "BTCUSDT")
    return daap.CandleBuilder("1m").build(trades)


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[WarehouseLoader]:
    loader = WarehouseLoader(f"duckdb:///{tmp_path / 'daap.duckdb'}")
    yield loader
    loader.close()


def raw(wh: WarehouseLoader) -> pd.DataFrame:
    return wh.sql("SELECT * FROM raw_candles ORDER BY symbol, interval, open_time")


def counts(r: LoadResult) -> tuple[int, int, int]:
    return r.inserted, r.updated, r.unchanged


# ------------------------------------------------------------------------------------------------------ factory
def test_factory_is_light_and_connects_on_use(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "w.duckdb"
    code = (
        "import sys, daap; wh = daap.WarehouseLoader(sys.argv[1]); "
        "assert 'duckdb' not in sys.modules, 'duckdb imported by the factory'; "
        "assert not wh.connected; import pathlib; assert not pathlib.Path(sys.argv[2]).exists(); "
        "wh.sql('SELECT 1'); assert wh.connected; assert pathlib.Path(sys.argv[2]).exists(); print('ok')"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, f"duckdb:///{db}", str(db)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAAP_WAREHOUSE", raising=False)
    assert WarehouseLoader().url == "duckdb:///daap.duckdb"
    assert isinstance(WarehouseLoader().client, DuckDBClient)
    assert WarehouseLoader().client.path == Path("daap.duckdb")  # type: ignore[attr-defined]
    assert WarehouseLoader(tmp_path / "x.duckdb").client.path == tmp_path / "x.duckdb"  # type: ignore[attr-defined]
    monkeypatch.setenv("DAAP_WAREHOUSE", f"duckdb:///{tmp_path}/env.duckdb")
    assert WarehouseLoader().client.path == tmp_path / "env.duckdb"  # type: ignore[attr-defined]
    with WarehouseLoader("duckdb:///:memory:") as mem:
        assert mem.sql("SELECT count(*) AS n FROM raw_candles")["n"].tolist() == [0]


def test_snowflake_parses_without_connecting_and_unknown_schemes_raise_clear_errors() -> None:
    sf = WarehouseLoader("snowflake://user@account/db/schema")
    assert (sf.backend, sf.connected, type(sf.client).__name__) == ("snowflake", False, "SnowflakeClient")
    with pytest.raises(UnsupportedWarehouseError, match=r"unsupported warehouse scheme 'postgres'"):
        WarehouseLoader("postgres://localhost/db")
    with pytest.raises(UnsupportedWarehouseError):
        WarehouseLoader("warehouse.txt")


def test_quote_identifier() -> None:
    assert quote_identifier("ema_21") == '"ema_21"'
    for bad in ['a"b', "1abc", "", "a b", "x;DROP"]:
        with pytest.raises(UnsafeIdentifierError):
            quote_identifier(bad)


# -------------------------------------------------------------------------------------------------------- loads
def test_load_from_lake_then_rerun_adds_nothing(
    wh: WarehouseLoader, lake_dir: Path, lake_candles: pd.DataFrame
) -> None:
    first = wh.load_candles(daap.Lake(lake_dir), symbol="BTCUSDT", interval="1m")
    assert counts(first) == (len(lake_candles), 0, 0)
    assert "1 day file(s)" in first.source
    second = wh.load_candles(daap.Lake(lake_dir), symbol="BTCUSDT", interval="1m")
    assert counts(second) == (0, 0, len(lake_candles))
    got = raw(wh)
    assert len(got) == len(lake_candles)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), lake_candles.reset_index(drop=True), check_dtype=False)
    log = wh.sql("SELECT inserted, updated, unchanged FROM _daap_loads ORDER BY loaded_at")
    assert log.values.tolist() == [[len(lake_candles), 0, 0], [0, 0, len(lake_candles)]]
    # A new process (a new loader on the same file) sees the same state.
    wh.close()
    with WarehouseLoader(wh.url) as again:
        assert counts(again.load_candles(daap.Lake(lake_dir))) == (0, 0, len(lake_candles))
        assert len(raw(again)) == len(lake_candles)


def test_remote_lake_is_downloaded_then_read(
    wh: WarehouseLoader, lake_dir: Path, lake_candles: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = daap.Lake(lake_dir)
    monkeypatch.setattr(lake.store, "local_path", lambda key: None)  # behave like S3: no in-place files
    fetched: list[str] = []
    real_get = lake.store.get_file
    monkeypatch.setattr(lake.store, "get_file", lambda key, local: (fetched.append(key), real_get(key, local)))
    assert wh.load_candles(lake, symbol="BTCUSDT").inserted == len(lake_candles)
    assert fetched == [lake.candles_key("1m", "BTCUSDT", "2025-01-01")]


def test_lake_uri_and_date_filters(wh: WarehouseLoader, lake_dir: Path) -> None:
    with pytest.raises(WarehouseError, match="no candles in"):
        wh.load_candles(str(lake_dir), symbol="BTCUSDT", start="2025-01-02")
    with pytest.raises(WarehouseError, match="no candles in"):
        wh.load_candles(str(lake_dir), symbol="ETHUSDT")
    r = wh.load_candles(str(lake_dir), start="2025-01-01", end="2025-01-01")  # all symbols of 1m
    assert r.inserted > 0
    with pytest.raises(WarehouseError, match="is after end"):
        wh.load_candles(str(lake_dir), start="2025-01-02", end="2025-01-01")


def test_dataframe_filters(wh: WarehouseLoader, lake_candles: pd.DataFrame) -> None:
    other = lake_candles.assign(symbol="ETHUSDT")
    both = pd.concat([lake_candles, other], ignore_index=True)
    assert wh.load_candles(both, symbol="ETHUSDT").inserted == len(other)
    assert wh.load_candles(both, interval="5m").rows == 0
    assert wh.load_candles(both, start="2025-01-02").rows == 0
    assert counts(wh.load_candles(both)) == (len(lake_candles), 0, len(other))


def test_reloaded_partition_with_changed_values_updates(wh: WarehouseLoader, lake_candles: pd.DataFrame) -> None:
    wh.load_candles(lake_candles)
    changed = lake_candles.copy()
    changed.loc[[0, 5, 7], "close"] += 1.0
    changed.loc[3, "vwap"] = None
    r = wh.load_candles(changed)
    assert counts(r) == (0, 4, len(changed) - 4)
    got = raw(wh)
    assert len(got) == len(lake_candles)
    assert got["close"].tolist() == changed["close"].tolist()
    assert pd.isna(got.loc[3, "vwap"])


def test_interrupted_load_keeps_previous_state(
    wh: WarehouseLoader, lake_candles: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.load_candles(lake_candles.iloc[:5])
    before = raw(wh)
    calls: list[str] = []
    real_merge = DuckDBClient._merge

    def merge_then_fail(self: DuckDBClient) -> None:
        real_merge(self)  # the MERGE ran inside the transaction ...
        calls.append("merged")
        assert self.con.execute("SELECT count(*) FROM raw_candles").fetchall() == [(len(lake_candles),)]
        raise RuntimeError("disk full")  # ... and then the load dies

    monkeypatch.setattr(DuckDBClient, "_merge", merge_then_fail)
    changed = lake_candles.assign(close=lake_candles["close"] + 1)
    with pytest.raises(RuntimeError, match="disk full"):
        wh.load_candles(changed)
    assert calls == ["merged"]
    pd.testing.assert_frame_equal(raw(wh), before)
    assert len(wh.sql("SELECT * FROM _daap_loads")) == 1
    monkeypatch.undo()
    # The connection is usable and the temp tables are gone: the next load succeeds.
    assert counts(wh.load_candles(changed)) == (len(lake_candles) - 5, 5, 0)


def test_failure_after_staging_rolls_back(
    wh: WarehouseLoader, lake_candles: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.load_candles(lake_candles.iloc[:10])

    def boom(self: DuckDBClient, what: str, c: tuple[int, int, int]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DuckDBClient, "_record", boom)
    with pytest.raises(KeyboardInterrupt):
        wh.load_candles(lake_candles)
    assert len(raw(wh)) == 10


def test_injection_through_symbol_fails_safely(wh: WarehouseLoader, lake_candles: pd.DataFrame, lake_dir: Path) -> None:
    wh.load_candles(lake_candles)
    with pytest.raises(WarehouseError, match=r"invalid symbol \"BTC'\); DROP TABLE raw_candles; --\""):
        wh.load_candles(lake_candles, symbol=INJECTION)
    with pytest.raises(WarehouseError, match="invalid symbol"):
        wh.load_candles(daap.Lake(lake_dir), symbol=INJECTION)
    # A hostile value inside the data is bound, never spliced, and refused before anything is written.
    hostile = lake_candles.assign(symbol=INJECTION, close=lake_candles["close"] + 1)
    with pytest.raises(WarehouseError, match="invalid symbol"):
        wh.load_candles(hostile)
    assert len(raw(wh)) == len(lake_candles)
    assert wh.sql("SELECT DISTINCT symbol FROM raw_candles")["symbol"].tolist() == ["BTCUSDT"]
    # Values passed to sql() are parameters too.
    assert len(wh.sql("SELECT * FROM raw_candles WHERE symbol = ?", [INJECTION])) == 0
    assert len(raw(wh)) == len(lake_candles)


def assert_bad_inputs_refused(wh: WarehouseLoader, candles: pd.DataFrame) -> None:
    """Every backend refuses the same bad inputs with the same errors (tests/test_warehouse_snowflake.py too)."""
    with pytest.raises(WarehouseError, match="lack the contract column"):
        wh.load_candles(candles.drop(columns=["vwap"]))
    with pytest.raises(WarehouseError, match="repeat 1 "):
        wh.load_candles(pd.concat([candles, candles.iloc[:1]]))
    with pytest.raises(WarehouseError, match="invalid interval"):
        wh.load_candles(candles, interval="7m")
    with pytest.raises(WarehouseError, match="cannot load list"):
        wh.load_candles([1, 2, 3])
    with pytest.raises(WarehouseError, match="query failed"):
        wh.sql("SELECT * FROM no_such_table")


def test_bad_inputs_raise_warehouse_errors(wh: WarehouseLoader, lake_candles: pd.DataFrame) -> None:
    assert_bad_inputs_refused(wh, lake_candles)
    assert len(raw(wh)) == 0


def test_arrow_table_source(wh: WarehouseLoader, lake_dir: Path) -> None:
    import pyarrow.parquet as pq

    lake = daap.Lake(lake_dir)
    table = pq.read_table(lake.store.local_path(lake.candles_key("1m", "BTCUSDT", "2025-01-01")))
    assert wh.load_candles(table).inserted == table.num_rows


# -------------------------------------------------------------------------------------------------------- marts
STG_COLUMNS = [
    "symbol",
    "interval",
    "candle_start_time",
    "candle_end_time",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "trading_volume",
    "quote_volume",
    "trade_count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "vwap",
    "first_trade_id",
    "last_trade_id",
]


def two_symbols(candles: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    eth = candles.assign(symbol="ETHUSDT")
    for c in ("open", "high", "low", "close"):
        eth[c] = candles[c] / 30 + rng.normal(0, 0.5, len(candles)).round(2)
    return pd.concat([candles, eth], ignore_index=True)


def test_stg_candles_has_analyst_names(wh: WarehouseLoader, day_candles: pd.DataFrame) -> None:
    wh.load_candles(day_candles)
    wh.build_marts("sma:7")
    stg = wh.sql("SELECT * FROM stg_candles ORDER BY candle_start_time")
    assert list(stg.columns) == STG_COLUMNS
    assert stg["close_price"].tolist() == day_candles["close"].tolist()
    assert stg["trading_volume"].tolist() == day_candles["volume"].tolist()
    assert (stg["candle_start_time"] == day_candles["open_time"]).all()


def assert_marts_match_indicators(wh: WarehouseLoader, candles: pd.DataFrame, spec: str | None) -> pd.DataFrame:
    """Load, build the marts, compare with daap.indicators per symbol (any backend); return fct, names lower-cased."""
    from daap import indicators

    wh.load_candles(candles)
    result = wh.build_marts(spec)
    specs = indicators.DEFAULT if spec is None else indicators.parse(spec)
    columns = [c for s in specs for c in s.columns]
    assert result.rows == len(candles)
    assert list(result.indicator_columns[: len(columns)]) == columns
    assert result.indicator_columns[-1] == "close_price_7_period_sma"
    # Positions, not names: (symbol, interval, candle_start_time) lead, and INTERVAL is a keyword in some dialects.
    fct = wh.sql("SELECT * FROM fct_candle_metrics ORDER BY 1, 2, 3").rename(columns=str.lower)
    assert list(fct.columns[: len(STG_COLUMNS)]) == STG_COLUMNS
    assert "close_price_7_period_sma" in fct.columns
    for symbol, group in candles.groupby("symbol", sort=True):
        expected = indicators.add(group.sort_values("open_time").reset_index(drop=True), specs)
        got = fct[fct["symbol"] == symbol].reset_index(drop=True)
        assert got["close_price"].tolist() == expected["close"].tolist()
        for c in columns:
            np.testing.assert_allclose(got[c].to_numpy(float), expected[c].to_numpy(float), rtol=1e-12, atol=0)
        sma7 = indicators.add(group.sort_values("open_time").reset_index(drop=True), indicators.parse("sma:7"))
        np.testing.assert_allclose(
            got["close_price_7_period_sma"].to_numpy(float), sma7["sma_7"].to_numpy(float), rtol=1e-12, atol=0
        )
    return fct


@pytest.mark.parametrize("spec", [None, "sma:7,ema:21,rsi:14"])
def test_fct_candle_metrics_equals_python_indicators(
    wh: WarehouseLoader, day_candles: pd.DataFrame, spec: str | None
) -> None:
    assert_marts_match_indicators(wh, two_symbols(day_candles), spec)


def test_marts_rebuild_follows_new_loads(wh: WarehouseLoader, day_candles: pd.DataFrame) -> None:
    wh.load_candles(day_candles.iloc[:50])
    assert wh.build_marts("sma:7").rows == 50
    wh.load_candles(day_candles)
    assert wh.build_marts("sma:7,ema:21").rows == len(day_candles)
    cols = wh.sql("SELECT * FROM fct_candle_metrics LIMIT 0").columns.tolist()
    assert cols[len(STG_COLUMNS) :] == ["sma_7", "ema_21", "close_price_7_period_sma"]


def test_marts_on_empty_warehouse(wh: WarehouseLoader) -> None:
    assert wh.build_marts("sma:7").rows == 0


# ---------------------------------------------------------------------------------------------------------- CLI
def test_cli_load_marts_sql(tmp_path: Path, lake_dir: Path, lake_candles: pd.DataFrame) -> None:
    from daap.cli import main

    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    runner = CliRunner()
    res = runner.invoke(main, ["load", "--lake", str(lake_dir), "--warehouse", url, "--symbol", "BTCUSDT"])
    assert res.exit_code == 0, res.output
    assert f"{len(lake_candles):,} inserted, 0 updated, 0 unchanged" in res.output
    res = runner.invoke(
        main,
        [
            "load",
            "--lake",
            str(lake_dir),
            "--warehouse",
            url,
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-01",
            "--interval",
            "1m",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"0 inserted, 0 updated, {len(lake_candles):,} unchanged" in res.output
    res = runner.invoke(main, ["marts", "--warehouse", url, "--indicators", "sma:7,ema:21,rsi:14"])
    assert res.exit_code == 0, res.output
    assert "fct_candle_metrics" in res.output and "close_price_7_period_sma" in res.output
    res = runner.invoke(
        main, ["sql", "SELECT symbol, count(*) AS n FROM fct_candle_metrics GROUP BY 1", "--warehouse", url]
    )
    assert res.exit_code == 0, res.output
    assert "BTCUSDT" in res.output and str(len(lake_candles)) in res.output
    res = runner.invoke(main, ["load", "--lake", str(lake_dir), "--warehouse", url, "--symbol", INJECTION])
    assert res.exit_code == 1
    assert "error: invalid symbol" in res.output
    res = runner.invoke(main, ["sql", "SELECT * FROM nope", "--warehouse", url])
    assert res.exit_code == 1 and "error: query failed" in res.output
    no_credentials = {k: None for k in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD")}
    res = runner.invoke(
        main, ["load", "--lake", str(lake_dir), "--warehouse", "snowflake://acct/db"], env=no_credentials
    )
    assert res.exit_code == 1 and "error: no Snowflake account or user" in res.output


def test_demo_runs_to_the_marts(tmp_path: Path) -> None:
    from daap.cli import main

    res = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path), "--symbol", "BTCUSDT", "--days", "1"])
    assert res.exit_code == 0, res.output
    assert "fct_candle_metrics" in res.output and "close_price_7_period_sma" in res.output
    with WarehouseLoader(tmp_path / "daap.duckdb") as wh:
        n = wh.sql("SELECT count(*) AS n FROM fct_candle_metrics")["n"].iloc[0]
        assert n == 1440


def test_a_republished_day_with_fewer_candles_replaces_the_day(wh: WarehouseLoader, tmp_path: Path) -> None:
    lake = daap.Lake(tmp_path / "lake")
    src = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    lines = Path("tests/data/BTCUSDT-trades-2025-01-01.csv").read_text().splitlines(keepends=True)
    src.write_text("".join(lines))
    daap.Ingestor(lake).ingest_file(src)
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    first = wh.load_candles(lake, symbol="BTCUSDT")
    assert (first.inserted, first.deleted) == (11, 0)
    src.write_text("".join(lines[:5000]))  # Binance republished the day with fewer trades: fewer minutes
    daap.Ingestor(lake).ingest_file(src)
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    again = wh.load_candles(lake, symbol="BTCUSDT")
    want = pd.read_parquet(lake.store.local_path(daap.Lake.candles_key("1m", "BTCUSDT", "2025-01-01")))
    assert again.deleted == 11 - len(want) > 0 and "deleted" in str(again)
    assert wh.sql("SELECT count(*) AS n FROM raw_candles")["n"].iloc[0] == len(want)
    # A frame load never deletes: it only upserts what it is given.
    assert wh.load_candles(want.iloc[:2]).deleted == 0
