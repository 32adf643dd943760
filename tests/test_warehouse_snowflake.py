"""The Snowflake warehouse: the loader's SQL on fakesnow (marker ``snowflake``) and on a real account
(``snowflake_live``, skipped unless credentials are set), the setup DDL against a snapshot, and the CLI.

fakesnow runs Snowflake SQL on DuckDB. Where it cannot run a piece, the test runs it anyway as a strict xfail
naming the limitation, so it turns red the day fakesnow can.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import fakesnow
import fakesnow.transforms
import numpy as np
import pandas as pd
import pytest
import snowflake.connector
from click.testing import CliRunner

import daap
from daap.errors import MissingDependencyError
from daap.warehouse import LoadResult, UnsafeIdentifierError, WarehouseError, WarehouseLoader, quote_identifier
from daap.warehouse.snowflake import SnowflakeClient, SnowflakeConfigError, SnowflakeSetup, setup_sql
from tests.snowflake_live import live
from tests.test_warehouse import (  # noqa: F401 - day_candles is a fixture
    INJECTION,
    STG_COLUMNS,
    assert_bad_inputs_refused,
    assert_marts_match_indicators,
    day_candles,
    two_symbols,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "snowflake_setup.sql"
CONFIG = SnowflakeSetup(
    bucket="s3://daap-lake/prod",
    role_arn="arn:aws:iam::123456789012:role/daap-snowflake",
    user="jane.doe@example.com",
)
SECRET = "pw-7f3a9c1e-do-not-print"
FAKE_URL = "snowflake://tester@fakeacct/DAAP/MARTS?warehouse=DAAP_WH"
ENV_KEYS = (
    "SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_FILE",
    "SNOWFLAKE_PRIVATE_KEY_FILE_PWD", "SNOWFLAKE_ROLE", "SNOWFLAKE_WAREHOUSE", "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_SCHEMA",
)  # fmt: skip

BACKENDS = [pytest.param("fakesnow", marks=pytest.mark.snowflake), pytest.param("live", marks=live)]

#: fakesnow 0.12.1 runs a MERGE as CREATE TEMP TABLE merge_candidates + mutations, and records the new table's
#: (empty) comment in its `_fs_global` database. Inside BEGIN ... COMMIT, DuckDB then refuses the write:
#: "a single transaction can only write to a single attached database".
FAKESNOW_MERGE_IN_TRANSACTION = (
    "fakesnow 0.12.1: MERGE inside BEGIN/COMMIT raises DuckDB's 'TransactionContext Error: Attempting to write "
    'to database "_fs_global" in a transaction that has already modified database ...\' (its MERGE creates a '
    "temp table whose empty comment it records in another attached database)"
)
FAKESNOW_INTERNAL_STAGE_FILES = (
    'fakesnow 0.12.1: COPY INTO ... FROM @internal_stage FILES = (...) raises "invalid URL prefix found in: '
    "'/tmp/fakesnow_bucket_.../'\" (copy_into._source_urls needs a URL scheme; internal stages are plain paths)"
)
FAKESNOW_ACCOUNT_DDL = (
    "fakesnow 0.12.1 cannot parse CREATE WAREHOUSE, CREATE ROLE, CREATE STORAGE INTEGRATION or GRANT "
    "('Parser Error: syntax error at or near ...')"
)


def merge_in_transaction_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test-only workaround (FAKESNOW_MERGE_IN_TRANSACTION): skip fakesnow's bookkeeping of *empty* table comments.

    The MERGE, BEGIN, COMMIT and ROLLBACK still run in DuckDB unchanged; only a metadata row with comment NULL is
    not written. `test_fakesnow_cannot_merge_in_a_transaction_unpatched` shows the failure without it.
    """
    real = fakesnow.transforms.extract_comment_on_table

    def without_empty_comment(expression: Any) -> Any:
        out = real(expression)
        if (comment := out.args.get("table_comment")) is not None and comment[1] is None:
            out.args.pop("table_comment")
        return out

    monkeypatch.setattr(fakesnow.transforms, "extract_comment_on_table", without_empty_comment)


def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", SECRET)


# ------------------------------------------------------------------------------------------------------ fixtures
def make_lake(root: Path, data_dir: Path) -> daap.Lake:
    """1m candles in the lake's candles/ zone: BTCUSDT on 2025-01-01 (real rows), ETHUSDT on 2025-01-01 and -02."""
    from daap.sources.synthetic import SyntheticConfig, write_binance_files

    lake = daap.Lake(root / "lake")
    ingestor = daap.Ingestor(lake)
    ingestor.ingest_file(data_dir / "BTCUSDT-trades-2025-01-01.csv")
    eth = SyntheticConfig(symbol="ETHUSDT", start=dt.date(2025, 1, 1), days=2, trades_per_day=2_000)
    for path in write_binance_files(root / "eth", eth):
        ingestor.ingest_file(path)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        daap.CandleBuilder("1m").build_lake(lake, symbol)
    return lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> daap.Lake:
    return make_lake(tmp_path_factory.mktemp("sf"), data_dir)


def day_file(lake: daap.Lake, symbol: str, day: str) -> pd.DataFrame:
    path = lake.store.local_path(lake.candles_key("1m", symbol, day))
    assert path is not None
    return pd.read_parquet(path)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Set by ``@pytest.mark.parametrize("backend", BACKENDS, indirect=True)``."""
    return str(request.param)


@pytest.fixture
def wh(backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarehouseLoader]:
    """A loader on an empty schema: fakesnow (in memory) or a scratch schema of the real account."""
    if backend == "fakesnow":
        fake_credentials(monkeypatch)
        merge_in_transaction_fix(monkeypatch)
        with fakesnow.patch():
            loader = WarehouseLoader(FAKE_URL)
            yield loader
            loader.close()
        return
    loader = WarehouseLoader("snowflake://")  # everything from the SNOWFLAKE_* variables
    scratch = f"DAAP_TEST_{uuid.uuid4().hex[:8].upper()}"
    if not os.environ.get("SNOWFLAKE_DATABASE"):
        loader.sql(f"CREATE TRANSIENT DATABASE {scratch}")
    loader.sql(f"CREATE TRANSIENT SCHEMA {scratch}")
    loader.sql(f"USE SCHEMA {scratch}")
    try:
        yield loader
    finally:
        loader.sql(f"DROP {'SCHEMA' if os.environ.get('SNOWFLAKE_DATABASE') else 'DATABASE'} IF EXISTS {scratch}")
        loader.close()


def publish(wh: WarehouseLoader, backend: str, lake: daap.Lake, stage: str = "DAAP_CANDLES") -> None:
    """Make the stage show the lake's candles/ zone.

    fakesnow: an external stage on the folder (file:// URL). A real account: a temporary internal stage the files
    are PUT into with the same layout (real external stages need S3, which fakesnow cannot read).
    """
    root = lake.store.local_path("candles")
    assert root is not None
    if backend == "fakesnow":
        wh.sql(f"CREATE OR REPLACE STAGE {stage} URL = 'file://{root}/'")
        return
    put_into_internal_stage(wh, lake, stage)


def put_into_internal_stage(wh: WarehouseLoader, lake: daap.Lake, stage: str) -> None:
    wh.sql(f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}")
    for obj in lake.store.list("candles/"):
        path = lake.store.local_path(obj.key)
        assert path is not None
        folder = obj.key.removeprefix("candles/").rsplit("/", 1)[0]
        wh.sql(f"PUT 'file://{path}' @{stage}/{folder}/ AUTO_COMPRESS = FALSE OVERWRITE = TRUE")


def raw(wh: WarehouseLoader) -> pd.DataFrame:
    """RAW_CANDLES in contract column names and types, ordered by key."""
    frame = wh.sql('SELECT * FROM RAW_CANDLES ORDER BY SYMBOL, "INTERVAL", OPEN_TIME').rename(columns=str.lower)
    for c in ("open_time", "close_time"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def same_candles(got: pd.DataFrame, want: pd.DataFrame) -> None:
    want = want.reset_index(drop=True)
    got = got.reset_index(drop=True)[list(want.columns)]
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def counts(r: LoadResult) -> tuple[int, int, int]:
    return r.inserted, r.updated, r.unchanged


def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every statement the client sends (names only: values are bound separately)."""
    seen: list[str] = []
    real = SnowflakeClient._execute

    def spy(self: SnowflakeClient, sql: str, params: Any = None) -> Any:
        seen.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(SnowflakeClient, "_execute", spy)
    return seen


# ---------------------------------------------------------------------------------------------- URL and secrets
@pytest.mark.snowflake
def test_factory_parses_without_connecting_or_importing_the_driver() -> None:
    code = (
        "import sys, daap; wh = daap.WarehouseLoader(sys.argv[1]); "
        "assert not wh.connected; "
        "assert not [m for m in sys.modules if m.startswith(('snowflake.connector', 'sqlglot'))], 'driver imported'; "
        "print(repr(wh.client))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, "snowflake://jane@myorg-acct/DAAP/MARTS?warehouse=DAAP_WH&role=DAAP_LOADER"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == (
        "SnowflakeClient('snowflake://jane@myorg-acct/DAAP/MARTS?warehouse=DAAP_WH&role=DAAP_LOADER')"
    )


@pytest.mark.snowflake
def test_url_forms_and_bad_urls() -> None:
    c = SnowflakeClient.from_url("snowflake://jane%40example.com@myorg-acct/DAAP?stage=DAAP.LAKE.CANDLES")
    assert (c.user, c.account, c.database, c.schema, c.stage) == (
        "jane@example.com",
        "myorg-acct",
        "DAAP",
        None,
        "DAAP.LAKE.CANDLES",
    )
    assert c.url == "snowflake://jane%40example.com@myorg-acct/DAAP?stage=DAAP.LAKE.CANDLES"
    profile = SnowflakeClient.from_url("snowflake://?connection=analytics&authenticator=externalbrowser")
    assert (profile.connection_name, profile.account, profile.authenticator) == ("analytics", None, "externalbrowser")
    with pytest.raises(SnowflakeConfigError, match="password in the Snowflake URL is refused") as err:
        WarehouseLoader(f"snowflake://jane:{SECRET}@acct/DAAP/MARTS")
    assert SECRET not in str(err.value)
    with pytest.raises(SnowflakeConfigError, match=r"unknown Snowflake URL option\(s\) password"):
        SnowflakeClient.from_url(f"snowflake://jane@acct/DAAP?password={SECRET}")
    with pytest.raises(SnowflakeConfigError, match="invalid Snowflake database 'DAAP;DROP'"):
        SnowflakeClient.from_url("snowflake://jane@acct/DAAP;DROP/MARTS")
    with pytest.raises(SnowflakeConfigError, match="invalid Snowflake stage"):
        SnowflakeClient.from_url('snowflake://jane@acct/DAAP/MARTS?stage=X"%3B DROP TABLE RAW_CANDLES')
    with pytest.raises(SnowflakeConfigError, match="too many path parts"):
        SnowflakeClient.from_url("snowflake://jane@acct/A/B/C")
    with pytest.raises(SnowflakeConfigError, match="invalid Snowflake account"):
        SnowflakeClient.from_url("snowflake://jane@ac'ct/A")


@pytest.mark.snowflake
def test_credentials_reach_the_connector_from_url_env_key_pair_or_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with fakesnow.patch():
        connect = snowflake.connector.connect
        SnowflakeClient.from_url(FAKE_URL).sql("SELECT 1")
        kw = connect.call_args.kwargs  # type: ignore[attr-defined]
        assert {k: kw[k] for k in ("account", "user", "database", "schema", "warehouse", "password")} == {
            "account": "fakeacct", "user": "tester", "database": "DAAP", "schema": "MARTS", "warehouse": "DAAP_WH",
            "password": SECRET,
        }  # fmt: skip
        assert kw["paramstyle"] == "qmark" and kw["session_parameters"]["TIMEZONE"] == "UTC"
        # The environment fills what the URL leaves out; a key pair wins over a password.
        monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "envacct")
        monkeypatch.setenv("SNOWFLAKE_USER", "envuser")
        monkeypatch.setenv("SNOWFLAKE_ROLE", "DAAP_LOADER")
        monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_FILE", "/keys/rsa_key.p8")
        monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_FILE_PWD", SECRET)
        SnowflakeClient.from_url("snowflake:///DAAP/MARTS").sql("SELECT 1")
        kw = connect.call_args.kwargs  # type: ignore[attr-defined]
        assert (kw["account"], kw["user"], kw["role"]) == ("envacct", "envuser", "DAAP_LOADER")
        assert (kw["private_key_file"], kw["private_key_file_pwd"]) == ("/keys/rsa_key.p8", SECRET)
        assert "password" not in kw
        # A connections.toml profile: only what the URL says is passed over it, never the environment.
        SnowflakeClient.from_url("snowflake:///OTHERDB?connection=analytics").sql("SELECT 1")
        kw = connect.call_args.kwargs  # type: ignore[attr-defined]
        assert {k: v for k, v in kw.items() if k not in ("paramstyle", "session_parameters")} == {
            "connection_name": "analytics", "database": "OTHERDB",
        }  # fmt: skip
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(SnowflakeConfigError, match="no Snowflake account or user"):
        SnowflakeClient.from_url("snowflake:///DAAP").sql("SELECT 1")
    with pytest.raises(SnowflakeConfigError, match="no Snowflake credentials: set SNOWFLAKE_PRIVATE_KEY_FILE"):
        SnowflakeClient.from_url("snowflake://jane@acct/DAAP").sql("SELECT 1")


@pytest.mark.snowflake
def test_secrets_stay_out_of_repr_logs_and_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, lake: daap.Lake
) -> None:
    fake_credentials(monkeypatch)
    merge_in_transaction_fix(monkeypatch)
    caplog.set_level(logging.DEBUG)
    with fakesnow.patch():
        wh = WarehouseLoader(FAKE_URL)
        wh.load_candles(day_file(lake, "BTCUSDT", "2025-01-01"))
        shown = [repr(wh), repr(wh.client), wh.client.url, caplog.text]  # type: ignore[attr-defined]
        assert "connecting to Snowflake as user tester on account fakeacct, password" in caplog.text
        assert not [s for s in shown if SECRET in s]

    # A driver that echoes the password in its error: the message is scrubbed, and neither the driver's
    # exception nor the connect arguments travel with ours.
    def refuse(**kwargs: Any) -> Any:
        raise snowflake.connector.errors.DatabaseError(msg=f"250001: login failed for password {kwargs['password']}")

    monkeypatch.setattr(snowflake.connector, "connect", refuse)
    with pytest.raises(WarehouseError, match=r"cannot connect to Snowflake as user tester .*password \*\*\*") as e:
        WarehouseLoader(FAKE_URL).sql("SELECT 1")
    assert SECRET not in str(e.value) and e.value.__context__ is None and e.value.__cause__ is None
    tb, frame_locals = e.tb, []
    while tb is not None:  # what a traceback printer showing locals (pytest --showlocals, rich) would print
        frame_locals += [repr(v) for v in tb.tb_frame.f_locals.values()]
        tb = tb.tb_next
    assert len(frame_locals) > 3 and not [v for v in frame_locals if SECRET in v]
    assert SECRET not in caplog.text


@pytest.mark.snowflake
def test_missing_connector_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snowflake.connector", None)
    wh = WarehouseLoader("snowflake://jane@acct/DAAP/MARTS")  # parsing needs no driver
    with pytest.raises(MissingDependencyError, match=r"pip install 'daap\[snowflake\]'"):
        wh.sql("SELECT 1")


@pytest.mark.snowflake
def test_quote_identifier_upper() -> None:
    assert quote_identifier("open_time", upper=True) == '"OPEN_TIME"'
    with pytest.raises(UnsafeIdentifierError):
        quote_identifier('a"b', upper=True)


# ---------------------------------------------------------------------------------------------------- lake loads
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_lake_load_then_rerun_adds_nothing(wh: WarehouseLoader, backend: str, lake: daap.Lake) -> None:
    publish(wh, backend, lake)
    want = day_file(lake, "BTCUSDT", "2025-01-01")
    first = wh.load_candles(lake, symbol="BTCUSDT", start="2025-01-01")
    assert counts(first) == (len(want), 0, 0) and "1 day file(s)" in first.source
    second = wh.load_candles(lake, symbol="BTCUSDT", start="2025-01-01")
    assert counts(second) == (0, 0, len(want))
    same_candles(raw(wh), want)
    log = wh.sql("SELECT SOURCE, ROWS_IN, INSERTED, UPDATED, UNCHANGED FROM _DAAP_LOADS ORDER BY LOADED_AT")
    assert log.values.tolist() == [["lake", len(want), len(want), 0, 0], ["lake", len(want), 0, 0, len(want)]]
    # Every day file of the interval: the other BTCUSDT day and ETHUSDT arrive, the loaded day stays unchanged.
    everything = wh.load_candles(lake)
    n_other = len(day_file(lake, "ETHUSDT", "2025-01-01")) + len(day_file(lake, "ETHUSDT", "2025-01-02"))
    assert counts(everything) == (n_other, 0, len(want)) and "3 day file(s)" in everything.source
    assert len(raw(wh)) == len(want) + n_other
    assert not [t for t in wh.sql("SHOW TABLES")["name"] if t.startswith("_DAAP_STAGE_")]  # dropped after each load


@pytest.mark.snowflake
def test_copy_lists_exactly_the_requested_day_files(
    monkeypatch: pytest.MonkeyPatch, lake: daap.Lake, wh_fake: WarehouseLoader
) -> None:
    publish(wh_fake, "fakesnow", lake)
    seen = statements(monkeypatch)
    wh_fake.load_candles(lake, symbol="ETHUSDT", start="2025-01-02")
    (copy,) = [s for s in seen if s.startswith("COPY INTO")]
    assert re.search(r'^COPY INTO "_DAAP_STAGE_[0-9A-F]{12}" FROM @"DAAP_CANDLES"$', copy.splitlines()[0])
    assert "FILES = ('interval=1m/symbol=ETHUSDT/date=2025-01-02/candles.parquet')" in copy
    for option in ("TYPE = PARQUET", "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE", "ON_ERROR = ABORT_STATEMENT",
                   "FORCE = TRUE"):  # fmt: skip
        assert option in copy
    # BEGIN comes after the staging table is filled: Snowflake would commit the transaction on its DDL.
    order = [s.split()[0] for s in seen if s.split()[0] in ("CREATE", "COPY", "BEGIN", "MERGE", "DELETE", "COMMIT")]
    assert order == ["CREATE", "CREATE", "CREATE", "COPY", "BEGIN", "MERGE", "DELETE", "COMMIT"]
    old_day = day_file(lake, "ETHUSDT", "2025-01-02")
    same_candles(raw(wh_fake), old_day)
    # More files than one COPY may list (1,000 in Snowflake): batches, all staged before the one transaction.
    monkeypatch.setattr("daap.warehouse.snowflake._MAX_FILES", 2)
    seen.clear()
    result = wh_fake.load_candles(lake)
    assert len([s for s in seen if s.startswith("COPY INTO")]) == 2 and "3 day file(s)" in result.source
    new = len(day_file(lake, "BTCUSDT", "2025-01-01")) + len(day_file(lake, "ETHUSDT", "2025-01-01"))
    assert counts(result) == (new, 0, len(old_day))


@pytest.fixture
def wh_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[WarehouseLoader]:
    fake_credentials(monkeypatch)
    merge_in_transaction_fix(monkeypatch)
    with fakesnow.patch():
        loader = WarehouseLoader(FAKE_URL)
        yield loader
        loader.close()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_republished_day_replaces_the_day_and_recopy_never_duplicates(
    wh: WarehouseLoader, backend: str, tmp_path: Path, data_dir: Path
) -> None:
    lake = daap.Lake(tmp_path / "lake")
    src = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    lines = (data_dir / "BTCUSDT-trades-2025-01-01.csv").read_text().splitlines(keepends=True)
    src.write_text("".join(lines))
    daap.Ingestor(lake).ingest_file(src)
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    publish(wh, backend, lake)
    assert (wh.load_candles(lake).inserted, wh.load_candles(lake).unchanged) == (11, 11)
    # The same file written again (new object, same content): copied again, nothing duplicated or changed.
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    publish(wh, backend, lake)
    assert counts(wh.load_candles(lake)) == (0, 0, 11)
    assert len(raw(wh)) == 11
    # Binance republished the day with fewer trades: fewer minutes, the missing ones are deleted.
    src.write_text("".join(lines[:5000]))
    daap.Ingestor(lake).ingest_file(src)
    daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
    publish(wh, backend, lake)
    want = day_file(lake, "BTCUSDT", "2025-01-01")
    again = wh.load_candles(lake)
    assert again.deleted == 11 - len(want) > 0 and "deleted" in str(again)
    same_candles(raw(wh), want)
    assert wh.load_candles(want.iloc[:2]).deleted == 0  # a frame load only upserts


# --------------------------------------------------------------------------------------------------- frame loads
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_frame_load_updates_changed_rows_null_safely(wh: WarehouseLoader, lake: daap.Lake) -> None:
    candles = day_file(lake, "BTCUSDT", "2025-01-01")
    assert counts(wh.load_candles(candles)) == (len(candles), 0, 0)
    assert counts(wh.load_candles(candles)) == (0, 0, len(candles))
    changed = candles.copy()
    changed.loc[[0, 5, 7], "close"] += 1.0
    changed.loc[3, "vwap"] = None
    assert counts(wh.load_candles(changed)) == (0, 4, len(changed) - 4)
    got = raw(wh)
    assert len(got) == len(candles)
    same_candles(got, changed)
    assert pd.isna(got.loc[3, "vwap"])


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_frame_filters(wh: WarehouseLoader, lake: daap.Lake) -> None:
    btc = day_file(lake, "BTCUSDT", "2025-01-01")
    both = pd.concat([btc, btc.assign(symbol="ETHUSDT")], ignore_index=True)
    assert wh.load_candles(both, symbol="ETHUSDT").inserted == len(btc)
    assert wh.load_candles(both, interval="5m").rows == 0
    assert wh.load_candles(both, start="2025-01-02").rows == 0
    assert wh.load_candles(both, end="2024-12-31").rows == 0
    assert counts(wh.load_candles(both, start="2025-01-01", end="2025-01-01")) == (len(btc), 0, len(btc))


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_failure_inside_the_transaction_keeps_the_previous_state(
    wh: WarehouseLoader, lake: daap.Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    candles = day_file(lake, "BTCUSDT", "2025-01-01")
    wh.load_candles(candles.iloc[:5])
    before = raw(wh)
    merged: list[int] = []
    real_record = SnowflakeClient._record

    def record_then_die(self: SnowflakeClient, what: str, c: tuple[int, int, int]) -> None:
        real_record(self, what, c)  # the MERGE and the log row are written inside the transaction ...
        merged.append(int(self._result("SELECT COUNT(*) AS n FROM RAW_CANDLES")["n"]))
        raise RuntimeError("disk full")  # ... and then the load dies before COMMIT

    monkeypatch.setattr(SnowflakeClient, "_record", record_then_die)
    changed = candles.assign(close=candles["close"] + 1)
    with pytest.raises(RuntimeError, match="disk full"):
        wh.load_candles(changed)
    assert merged == [len(candles)]
    pd.testing.assert_frame_equal(raw(wh), before)
    assert len(wh.sql("SELECT * FROM _DAAP_LOADS")) == 1
    assert not [t for t in wh.sql("SHOW TABLES")["name"] if t.startswith("_DAAP_STAGE_")]

    # A Snowflake error inside the transaction: rolled back too, and reported as a WarehouseError.
    def bad_sql(self: SnowflakeClient, what: str, c: tuple[int, int, int]) -> None:
        self._execute("SELECT * FROM NO_SUCH_TABLE")

    monkeypatch.setattr(SnowflakeClient, "_record", bad_sql)
    with pytest.raises(WarehouseError, match="load failed, nothing was changed"):
        wh.load_candles(changed)
    pd.testing.assert_frame_equal(raw(wh), before)
    monkeypatch.setattr(SnowflakeClient, "_record", real_record)
    assert counts(wh.load_candles(changed)) == (len(candles) - 5, 5, 0)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_injection_through_symbol_fails_safely(wh: WarehouseLoader, backend: str, lake: daap.Lake) -> None:
    candles = day_file(lake, "BTCUSDT", "2025-01-01")
    wh.load_candles(candles)
    with pytest.raises(WarehouseError, match=r"invalid symbol \"BTC'\); DROP TABLE raw_candles; --\""):
        wh.load_candles(candles, symbol=INJECTION)
    with pytest.raises(WarehouseError, match="invalid symbol"):
        wh.load_candles(lake, symbol=INJECTION)
    # A hostile value inside the data travels as data and is refused before anything is written.
    with pytest.raises(WarehouseError, match="invalid symbol"):
        wh.load_candles(candles.assign(symbol=INJECTION, close=candles["close"] + 1))
    same_candles(raw(wh), candles)
    assert len(wh.sql("SELECT * FROM RAW_CANDLES WHERE SYMBOL = ?", [INJECTION])) == 0
    assert len(raw(wh)) == len(candles)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_bad_inputs_raise_warehouse_errors(wh: WarehouseLoader, lake: daap.Lake) -> None:
    assert_bad_inputs_refused(wh, day_file(lake, "BTCUSDT", "2025-01-01"))
    with pytest.raises(WarehouseError, match="no candles in"):
        wh.load_candles(lake, symbol="SOLUSDT")
    assert len(raw(wh)) == 0


@pytest.mark.snowflake
def test_an_injected_connection_in_the_connectors_default_paramstyle(
    monkeypatch: pytest.MonkeyPatch, lake: daap.Lake
) -> None:
    merge_in_transaction_fix(monkeypatch)
    candles = day_file(lake, "BTCUSDT", "2025-01-01")
    with fakesnow.patch():
        conn = snowflake.connector.connect(database="DAAP", schema="MARTS")  # pyformat, as the connector defaults
        with WarehouseLoader("snowflake://", connection=conn) as wh:
            assert wh.connected and repr(wh.client) == "SnowflakeClient(connection=<given>)"
            assert counts(wh.load_candles(candles)) == (len(candles), 0, 0)
            assert counts(wh.load_candles(candles)) == (0, 0, len(candles))
        assert not conn.is_closed()  # the caller's connection stays open
        assert conn.cursor().execute("SELECT COUNT(*) FROM _DAAP_LOADS").fetchone() == (2,)


# ------------------------------------------------------------------------------------------------------- marts
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("spec", [None, "sma:7,ema:21,rsi:14"])
def test_marts_equal_python_indicators_and_duckdbs_marts(
    wh: WarehouseLoader,
    day_candles: pd.DataFrame,  # noqa: F811 - the fixture of tests/test_warehouse.py
    spec: str | None,
) -> None:
    candles = two_symbols(day_candles)
    fct = assert_marts_match_indicators(wh, candles, spec)  # the DuckDB suite's check, on Snowflake
    assert wh.sql("SELECT * FROM STG_CANDLES LIMIT 0").columns.str.lower().tolist() == STG_COLUMNS
    # The same columns, in the same order, and the same values as DuckDB's marts on the same candles.
    with WarehouseLoader("duckdb:///:memory:") as duck:
        duck.load_candles(candles)
        duck.build_marts(spec)
        want = duck.sql("SELECT * FROM fct_candle_metrics ORDER BY symbol, interval, candle_start_time")
    assert list(fct.columns) == list(want.columns)
    for c in want.columns:
        if c in ("candle_start_time", "candle_end_time"):
            assert (pd.to_datetime(fct[c], utc=True) == pd.to_datetime(want[c], utc=True)).all(), c
        elif want[c].dtype == object:
            assert fct[c].tolist() == want[c].tolist(), c
        else:
            np.testing.assert_allclose(fct[c].to_numpy(float), want[c].to_numpy(float), rtol=1e-12, err_msg=c)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_marts_follow_new_loads_and_work_on_an_empty_warehouse(wh: WarehouseLoader, day_candles: pd.DataFrame) -> None:  # noqa: F811
    assert wh.build_marts("sma:7").rows == 0
    wh.load_candles(day_candles.iloc[:50])
    assert wh.build_marts("sma:7").rows == 50
    wh.load_candles(day_candles)
    assert wh.build_marts("sma:7,ema:21").rows == len(day_candles)
    cols = wh.sql("SELECT * FROM FCT_CANDLE_METRICS LIMIT 0").columns.str.lower().tolist()
    assert cols[len(STG_COLUMNS) :] == ["sma_7", "ema_21", "close_price_7_period_sma"]
    assert not [t for t in wh.sql("SHOW TABLES")["name"] if t.startswith("_DAAP_INDICATORS_")]


# ---------------------------------------------------------------------------------- what fakesnow cannot run
@pytest.mark.snowflake
@pytest.mark.xfail(strict=True, raises=duckdb.TransactionException, reason=FAKESNOW_MERGE_IN_TRANSACTION)
def test_fakesnow_cannot_merge_in_a_transaction_unpatched(monkeypatch: pytest.MonkeyPatch, lake: daap.Lake) -> None:
    fake_credentials(monkeypatch)
    with fakesnow.patch(), WarehouseLoader(FAKE_URL) as wh:
        assert wh.load_candles(day_file(lake, "BTCUSDT", "2025-01-01")).inserted == 11


INTERNAL_STAGE_XFAIL = pytest.mark.xfail(strict=True, raises=WarehouseError, reason=FAKESNOW_INTERNAL_STAGE_FILES)


@pytest.mark.parametrize(
    "backend",
    [pytest.param("fakesnow", marks=[pytest.mark.snowflake, INTERNAL_STAGE_XFAIL]), pytest.param("live", marks=live)],
    indirect=True,
)
def test_lake_load_through_an_internal_stage_filled_with_put(wh: WarehouseLoader, lake: daap.Lake) -> None:
    put_into_internal_stage(wh, lake, "DAAP_PUT_CANDLES")
    listed = wh.sql("LIST @DAAP_PUT_CANDLES").rename(columns=str.lower)["name"].tolist()
    assert sorted(name.split("/", 1)[1] for name in listed) == sorted(
        k.removeprefix("candles/") for k in (o.key for o in lake.store.list("candles/"))
    )  # the PUT worked; what fakesnow cannot do is the COPY below
    client = wh.client
    assert isinstance(client, SnowflakeClient)
    with WarehouseLoader("snowflake://?stage=DAAP_PUT_CANDLES", connection=client.connection) as via_put:
        want = day_file(lake, "ETHUSDT", "2025-01-01")
        assert counts(via_put.load_candles(lake, symbol="ETHUSDT")) == (len(want), 0, 0)
        assert counts(via_put.load_candles(lake, symbol="ETHUSDT")) == (0, 0, len(want))
    same_candles(raw(wh), want)


# ----------------------------------------------------------------------------------------------------- setup DDL
@pytest.mark.snowflake
def test_setup_sql_matches_the_snapshot() -> None:
    script = setup_sql(CONFIG)
    if os.environ.get("DAAP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(script)
    assert script == SNAPSHOT.read_text(), "setup DDL changed: review, then DAAP_UPDATE_SNAPSHOTS=1 pytest ..."


@pytest.mark.snowflake
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        # The original project's typo (no colon before the account id), and other broken ARNs.
        ("role_arn", "arn:aws:iam:123456789012:role/daap-snowflake", "invalid AWS role ARN 'arn:aws:iam:1234"),
        ("role_arn", "arn:aws:iam::12345678901:role/daap", "invalid AWS role ARN"),
        ("role_arn", "arn:aws:iam::123456789012:user/daap", "invalid AWS role ARN"),
        ("role_arn", "arn:aws:iam::123456789012:role/daap'); DROP", "invalid AWS role ARN"),
        ("bucket", "s3://daap-lake/it's", "invalid lake bucket URL"),
        ("bucket", "gs://daap-lake/prod", "invalid lake bucket URL"),
        ("database", "DAAP; DROP DATABASE X", "invalid Snowflake database 'DAAP; DROP DATABASE X'"),
        ("schema", "1MARTS", "invalid Snowflake schema"),
        ("integration", 'LAKE"', "invalid Snowflake integration"),
        ("role", "", "invalid Snowflake role"),
        ("user", 'jane"', "invalid Snowflake user"),
        ("warehouse_size", "HUGE", "invalid warehouse size"),
    ],
)  # fmt: skip
def test_setup_refuses_bad_settings_naming_them(field: str, value: str, message: str) -> None:
    settings = {"bucket": CONFIG.bucket, "role_arn": CONFIG.role_arn, field: value}
    with pytest.raises(SnowflakeConfigError, match=message):
        SnowflakeSetup(**settings)


@pytest.mark.snowflake
def test_setup_follows_the_arn_partition() -> None:
    gov = SnowflakeSetup(bucket="s3://daap-lake/prod", role_arn="arn:aws-us-gov:iam::123456789012:role/daap")
    assert "STORAGE_PROVIDER = 'S3GOV'" in setup_sql(gov)


@pytest.mark.snowflake
def test_setup_applies_on_fakesnow_except_the_account_objects(monkeypatch: pytest.MonkeyPatch, lake: daap.Lake) -> None:
    """Everything fakesnow implements runs for real; warehouse, role, integration and grants are no-ops there."""
    fake_credentials(monkeypatch)
    merge_in_transaction_fix(monkeypatch)
    account_ddl = r"^(--[^\n]*\n)*\s*(CREATE\s+(WAREHOUSE|ROLE|STORAGE\s+INTEGRATION)|GRANT)\b"
    with fakesnow.patch(nop_regexes=[account_ddl]):
        admin = SnowflakeClient.from_url("snowflake://admin@fakeacct")
        applied = admin.setup(CONFIG)
        assert admin.setup(CONFIG) == applied  # idempotent
        stages = admin.sql("SHOW STAGES IN SCHEMA DAAP.MARTS")
        assert stages[["name", "url"]].values.tolist() == [["DAAP_CANDLES", "s3://daap-lake/prod/candles/"]]
        assert admin.sql("SHOW FILE FORMATS IN SCHEMA DAAP.MARTS")["name"].tolist() == ["DAAP_PARQUET"]
        columns = admin.sql("DESCRIBE TABLE DAAP.MARTS.RAW_CANDLES")["name"].tolist()
        assert columns == [c.upper() for c in daap.contract.CANDLE_COLUMNS]
        with WarehouseLoader("snowflake://loader@fakeacct/DAAP/MARTS") as wh:
            assert wh.load_candles(day_file(lake, "BTCUSDT", "2025-01-01")).inserted == 11


@pytest.mark.snowflake
@pytest.mark.xfail(strict=True, raises=WarehouseError, reason=FAKESNOW_ACCOUNT_DDL)
def test_setup_applies_whole_on_fakesnow(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with fakesnow.patch():
        SnowflakeClient.from_url("snowflake://admin@fakeacct").setup(CONFIG)


# ----------------------------------------------------------------------------------------------------------- CLI
@pytest.mark.snowflake
def test_cli_setup_print_matches_the_snapshot_and_names_a_bad_arn() -> None:
    from daap.cli import main

    args = ["snowflake", "setup", "--print", "--bucket", CONFIG.bucket, "--role-arn", CONFIG.role_arn,
            "--user", "jane.doe@example.com"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert res.output == SNAPSHOT.read_text()
    res = CliRunner().invoke(main, [*args[:-4], "--role-arn", "arn:aws:iam::123:role/x"])
    assert res.exit_code == 1 and "error: invalid AWS role ARN 'arn:aws:iam::123:role/x'" in res.output


@pytest.mark.snowflake
def test_cli_load_and_marts_on_snowflake(monkeypatch: pytest.MonkeyPatch, lake: daap.Lake) -> None:
    from daap.cli import main

    fake_credentials(monkeypatch)
    merge_in_transaction_fix(monkeypatch)
    runner = CliRunner()
    n = len(day_file(lake, "BTCUSDT", "2025-01-01"))
    with fakesnow.patch():  # one in-memory account for every connection the commands open
        with WarehouseLoader(FAKE_URL) as setup:
            publish(setup, "fakesnow", lake)
        load = [
            "load",
            "--lake",
            str(lake.uri),
            "--warehouse",
            FAKE_URL,
            "--symbol",
            "BTCUSDT",
            "--start",
            "2025-01-01",
        ]
        res = runner.invoke(main, load)
        assert res.exit_code == 0, res.output
        assert f"{n:,} inserted, 0 updated, 0 unchanged" in res.output
        res = runner.invoke(main, load)
        assert f"0 inserted, 0 updated, {n:,} unchanged" in res.output
        res = runner.invoke(main, ["marts", "--warehouse", FAKE_URL, "--indicators", "sma:7,rsi:14"])
        assert res.exit_code == 0, res.output
        assert "fct_candle_metrics: 11 rows with sma_7, rsi_14, close_price_7_period_sma" in res.output
        res = runner.invoke(main, ["sql", "SELECT COUNT(*) AS N FROM FCT_CANDLE_METRICS", "--warehouse", FAKE_URL])
        assert res.exit_code == 0 and res.output.splitlines()[:2] == [" N", "11"]
        res = runner.invoke(main, ["load", "--lake", str(lake.uri), "--warehouse", FAKE_URL, "--symbol", INJECTION])
        assert res.exit_code == 1 and "error: invalid symbol" in res.output


# ------------------------------------------------------------------------------------------------------ quality
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_quality_checks_run_as_queries_in_snowflake(wh: WarehouseLoader, data_dir: Path) -> None:
    from daap import quality

    halt = daap.CandleBuilder("1m").build(daap.read_trades(data_dir / "BTCUSDT-trades-2023-03-24.csv"))
    wh.load_candles(halt)
    wh.build_marts("sma:7,rsi:14,bb:20:2")
    report = quality.check_warehouse(wh)
    want = quality.check_candles(halt)
    assert [(f.check, f.passed, f.message) for f in report.findings if f.check in quality.CHECKS] == [
        (f.check, f.passed, f.message) for f in want.findings
    ]
    assert [f.check for f in report.findings if not f.passed] == ["halt_runs"]
    assert next(f for f in report.findings if f.check == "indicator_sanity").passed
    wh.sql("UPDATE RAW_CANDLES SET HIGH = LOW - 1 WHERE TRADES > 0")
    broken = quality.check_warehouse(wh)
    assert broken.status == "fail" and "ohlc_order" in [f.check for f in broken.errors]
