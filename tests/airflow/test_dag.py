"""The Airflow 3 example DAG: it parses, its tasks follow the pipeline, and `dag.test()` runs it end to end, twice.

Run by `nox -s airflow` (its own venv with apache-airflow 3.x, `pytest --confcutdir=tests/airflow tests/airflow`).
The default run has no Airflow, so there this module skips itself. Why a module-level skip and not a conftest.py with
`collect_ignore`: this folder has no `__init__.py` (one would make it the package `airflow` and shadow Airflow), so a
conftest here would be imported as the module `conftest` and clash with the doctest collection of tests/conftest.py.
The check reads the spec's origin without importing: with `tests/` on sys.path (pytest's prepend import mode), this
very folder is an importable namespace package named `airflow`, whose origin is None.

Airflow reads its configuration when it is first imported, so nothing here imports it at module level: the
`airflow_home` fixture sets AIRFLOW_HOME (a temporary folder, SQLite metadata DB) first.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

_airflow = importlib.util.find_spec("airflow")
if _airflow is None or _airflow.origin is None:
    pytest.skip("Airflow is not installed: run `nox -s airflow`", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "examples" / "airflow" / "dags"
DAG_FILE = DAGS / "daap_pipeline.py"
STEPS = ["download", "ingest", "build_candles", "load", "build_marts", "check", "dashboard"]
UTC = dt.timezone.utc


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh AIRFLOW_HOME with a migrated SQLite metadata DB, whose DAG folder is examples/airflow/dags."""
    home = tmp_path_factory.mktemp("airflow_home")
    mp = pytest.MonkeyPatch()
    for key, value in {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),  # dag.test() finds the DAG through the dags-folder bundle
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }.items():
        mp.setenv(key, value)
    for key in ("DAAP_DATABRICKS_CONN_ID", "DAAP_LAKE", "DAAP_WAREHOUSE", "DAAP_WORK_DIR", "AIRFLOW_VAR_DAAP_LAKE"):
        mp.delenv(key, raising=False)
    assert "airflow" not in sys.modules, "airflow was imported before AIRFLOW_HOME was set"

    from airflow.utils import db

    db.initdb()  # what `airflow db migrate` does on an empty database: tables from the ORM, stamped at head
    yield home
    mp.undo()


def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert list(bag.dags) == ["daap_pipeline"]
    return bag


def dag_module() -> ModuleType:
    """The DAG file as a module, for its helpers (config resolution)."""
    spec = importlib.util.spec_from_file_location("daap_pipeline_dag_under_test", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dag_parses_with_the_steps_in_order(airflow_home: Path) -> None:
    dag = dagbag().dags["daap_pipeline"]
    assert set(dag.task_ids) == set(STEPS)
    assert dag.get_task(STEPS[0]).upstream_task_ids == set()
    for before, after in itertools.pairwise(STEPS):
        assert dag.get_task(after).upstream_task_ids == {before}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert all(t.retries == 2 and t.retry_delay == dt.timedelta(minutes=5) for t in dag.tasks)
    assert {"symbol", "month", "market", "source", "lake", "warehouse", "engine", "intervals", "indicators"} <= set(
        dag.params
    )
    assert "databricks_cluster" not in dag.params
    # Without DAAP_DATABRICKS_CONN_ID the candles are a plain TaskFlow task.
    assert type(dag.get_task("build_candles")).__name__ == "_PythonDecoratedOperator"


def test_config_from_params(airflow_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from daap.pipeline import PipelineConfig

    mod = dag_module()
    params = dict(dagbag().dags["daap_pipeline"].params.dump())
    march = dt.datetime(2025, 3, 2, 6, tzinfo=UTC)

    # month -> months; no month -> the month before the logical date; start/end -> days
    cfg = PipelineConfig.from_mapping(mod.config_mapping({**params, "month": "2024-02"}, march))
    assert cfg.months == ("2024-02",) and len(cfg.days) == 29
    cfg = PipelineConfig.from_mapping(mod.config_mapping(params, march))
    assert cfg.months == ("2025-02",)
    cfg = PipelineConfig.from_mapping(mod.config_mapping({**params, "start": "2025-01-30", "end": "2025-02-01"}, march))
    assert (cfg.start, cfg.end, cfg.months) == (dt.date(2025, 1, 30), dt.date(2025, 2, 1), ())
    assert cfg.symbols == ("BTCUSDT",) and cfg.source == "binance" and cfg.engine == "pandas"
    assert cfg.report_path.name == "quality.json" and "BTCUSDT-2025-01-30_2025-02-01" in str(cfg.report_path)

    # lake: param > Airflow Variable (here from AIRFLOW_VAR_*) > DAAP_LAKE > $AIRFLOW_HOME/daap/lake
    assert mod.setting(params, "lake") == str(airflow_home.resolve() / "daap" / "lake")
    assert mod.setting(params, "warehouse") == f"duckdb:///{airflow_home.resolve() / 'daap' / 'daap.duckdb'}"
    monkeypatch.setenv("DAAP_LAKE", str(tmp_path / "env-lake"))
    assert mod.setting(params, "lake") == str(tmp_path / "env-lake")
    monkeypatch.setenv("AIRFLOW_VAR_DAAP_LAKE", "s3://bucket/variable-lake")
    assert mod.setting(params, "lake") == "s3://bucket/variable-lake"
    assert mod.setting({**params, "lake": "/data/param-lake"}, "lake") == "/data/param-lake"

    # extra: other PipelineConfig keys; a bad one is a ConfigError naming it
    cfg = PipelineConfig.from_mapping(mod.config_mapping({**params, "extra": {"trades_per_day": 500}}, march))
    assert cfg.trades_per_day == 500
    with pytest.raises(ValueError, match="unknown config key"):
        PipelineConfig.from_mapping(mod.config_mapping({**params, "extra": {"no_such_key": 1}}, march))


def test_databricks_variant(airflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    databricks = pytest.importorskip("airflow.providers.databricks.operators.databricks")
    monkeypatch.setenv("DAAP_DATABRICKS_CONN_ID", "daap_databricks_test")
    dag = dagbag().dags["daap_pipeline"]
    candles = dag.get_task("build_candles")
    assert isinstance(candles, databricks.DatabricksSubmitRunOperator)
    assert candles.databricks_conn_id == "daap_databricks_test"
    assert candles.upstream_task_ids == {"ingest"} and candles.downstream_task_ids == {"load"}
    assert {"databricks_cluster", "databricks_notebook"} <= set(dag.params)

    params = {
        **dag.params.dump(),
        "symbol": "ethusdt",
        "lake": "s3://bucket/lake",
        "intervals": ["5m", "1h"],
        "databricks_cluster": {"existing_cluster_id": "0123-456789-abcdef"},
        "databricks_notebook": "/Workspace/Repos/me/daap/examples/databricks/daap_candles",
    }
    context: Any = {
        "params": params,
        "logical_date": dt.datetime(2025, 3, 2, 6, tzinfo=UTC),
        "dag_run": SimpleNamespace(run_after=dt.datetime(2025, 3, 2, 6, tzinfo=UTC)),
    }
    notebook = candles.render_template(candles.notebook_task, context)
    assert notebook == {
        "notebook_path": "/Workspace/Repos/me/daap/examples/databricks/daap_candles",
        "source": "WORKSPACE",
        # the widgets of examples/databricks/daap_candles.py
        "base_parameters": {"symbol": "ETHUSDT", "month": "2025-02", "lake": "s3://bucket/lake", "interval": "5m"},
    }
    assert json.loads(candles.render_template(candles.json, context)) == {"existing_cluster_id": "0123-456789-abcdef"}
    # A manual run without a logical date, for an explicit month
    manual = {**context, "logical_date": None, "params": {**params, "month": "2024-12"}}
    assert candles.render_template(candles.notebook_task, manual)["base_parameters"]["month"] == "2024-12"
    assert candles.render_template(candles.run_name, context) == "daap_candles ETHUSDT 2025-02"

    # The notebook straight from the repository (Databricks Git source)
    monkeypatch.setenv("DAAP_DATABRICKS_GIT_URL", "https://github.com/example/daap")
    candles = dagbag().dags["daap_pipeline"].get_task("build_candles")
    assert candles.notebook_task["notebook_path"] == "examples/databricks/daap_candles"
    assert candles.notebook_task["source"] == "GIT"
    assert candles.git_source == {
        "git_url": "https://github.com/example/daap",
        "git_provider": "gitHub",
        "git_branch": "main",
    }
    assert (ROOT / "examples" / "databricks" / "daap_candles.py").exists()


def warehouse_counts(path: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("raw_candles", "fct_candle_metrics")
        }


def run_dag(conf: dict[str, Any]) -> Any:
    """One dag.test() run; a failed task fails the run at once (no retry waits)."""
    dag = dagbag().dags["daap_pipeline"]
    for t in dag.tasks:
        t.retries = 0
    dr = dag.test(run_conf=conf)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "success", states
    assert states == dict.fromkeys(STEPS, "success")
    return dr


def xcom(dr: Any, task_id: str) -> dict[str, Any]:
    value = dr.get_task_instance(task_id).xcom_pull(task_ids=task_id)
    return value if isinstance(value, dict) else json.loads(value)


def test_dag_test_end_to_end_and_idempotent(airflow_home: Path, tmp_path: Path) -> None:
    conf = {
        "symbol": "BTCUSDT",
        "month": "2025-02",
        "source": "synthetic",
        "lake": str(tmp_path / "lake"),
        "warehouse": f"duckdb:///{tmp_path / 'daap.duckdb'}",
        "work_dir": str(tmp_path / "work"),
        "intervals": ["1m", "1h"],
        "extra": {"trades_per_day": 1000},
    }
    dr = run_dag(conf)
    counts = warehouse_counts(tmp_path / "daap.duckdb")
    # 1m and 1h candles over February (gap rows between the first and the last trade), all in the mart
    assert 27 * (1440 + 24) < counts["raw_candles"] <= 28 * (1440 + 24)
    assert counts["fct_candle_metrics"] == counts["raw_candles"]
    reports = tmp_path / "work" / "reports" / "BTCUSDT-2025-02"
    report = json.loads((reports / "quality.json").read_text())
    assert report["status"] in ("pass", "warn")
    assert (reports / "dashboard.html").stat().st_size > 1000
    first = {step: xcom(dr, step) for step in STEPS}
    assert all(r["step"] == step and r["ok"] for step, r in first.items())
    assert first["download"]["details"]["fetched"] == 28
    assert first["load"]["details"]["inserted"] == counts["raw_candles"]
    assert first["check"]["details"]["report"] == str(reports / "quality.json")

    # A second run of the same month: nothing downloaded or ingested again, nothing inserted, same rows.
    dr = run_dag(conf)
    assert warehouse_counts(tmp_path / "daap.duckdb") == counts
    second = {step: xcom(dr, step) for step in STEPS}
    assert second["download"]["skipped"] and second["download"]["details"]["cached"] == 28
    assert second["ingest"]["skipped"]
    assert second["load"]["details"]["inserted"] == 0
    assert second["load"]["details"]["unchanged"] == counts["raw_candles"]


def test_bad_config_fails_at_once_without_retry(airflow_home: Path, tmp_path: Path) -> None:
    dag = dagbag().dags["daap_pipeline"]
    for t in dag.tasks:  # keep the retries: a ConfigError must not use them
        t.retry_delay = dt.timedelta(seconds=1)
    dr = dag.test(run_conf={"source": "synthetic", "month": "2025-02", "extra": {"no_such_key": 1}})
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert dr.state == "failed"
    assert tis["download"].state == "failed" and tis["download"].try_number == 1
    assert {tis[s].state for s in STEPS[1:]} == {"upstream_failed"}
