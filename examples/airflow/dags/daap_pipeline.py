"""daap_pipeline: trades -> lake -> candles -> DuckDB marts -> quality report -> dashboard, one task per step.

Each task builds a `daap.pipeline.PipelineConfig` from the run's params and calls one step function
(`download`, `ingest`, `build_candles`, `load`, `build_marts`, `check`, `dashboard`). The steps are idempotent, so a
retry or a rerun of the same month adds no row. Every task returns the step's `StepResult` as a dict (its XCom).

Params (trigger form, `airflow dags trigger --conf`, or `dag.test(run_conf=...)`):

* `symbol`, `market` (`spot` | `um`), `source` (`binance` | `synthetic`), `engine` (`pandas` | `spark`),
  `intervals`, `indicators`;
* the period: `month` (`YYYY-MM`), or `start` and `end` (UTC days, inclusive); with none, the month before the run's
  logical date (a scheduled run on 2 March builds February);
* `lake`, `warehouse`, `work_dir`: when null, the Airflow Variable `daap_lake` / `daap_warehouse` / `daap_work_dir`,
  else the environment variable `DAAP_LAKE` / `DAAP_WAREHOUSE` / `DAAP_WORK_DIR`, else a folder under
  `$AIRFLOW_HOME/daap/`;
* `extra`: any other `PipelineConfig` key, e.g. `{"trades_per_day": 2000}` or `{"base_url": "https://mirror"}`.

`work_dir` holds the downloaded zips between the download and ingest tasks, the quality report and the dashboard:
with workers on several machines it must be a shared path.

Databricks: when the environment variable `DAAP_DATABRICKS_CONN_ID` names an Airflow connection (there is no
default), `build_candles` is a `DatabricksSubmitRunOperator` that runs the notebook
`examples/databricks/daap_candles.py` with the run's symbol, month, lake and first interval, on the cluster spec in
the param / Variable `daap_databricks_cluster` / `$DAAP_DATABRICKS_CLUSTER` (JSON: `{"existing_cluster_id": ...}`
or `{"new_cluster": {...}}`; empty means serverless). See examples/airflow/README.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

from airflow.sdk import Param, Variable, chain, dag, get_current_context, task

log = logging.getLogger(__name__)

#: Settings resolved as: the run's param, else this Airflow Variable, else this environment variable, else a
#: local default (`_local_default`).
SETTINGS: dict[str, tuple[str, str]] = {
    "lake": ("daap_lake", "DAAP_LAKE"),
    "warehouse": ("daap_warehouse", "DAAP_WAREHOUSE"),
    "work_dir": ("daap_work_dir", "DAAP_WORK_DIR"),
    "databricks_cluster": ("daap_databricks_cluster", "DAAP_DATABRICKS_CLUSTER"),
    "databricks_notebook": ("daap_databricks_notebook", "DAAP_DATABRICKS_NOTEBOOK"),
}

#: The notebook, in the repository (Databricks Git source) and in a workspace (the default without Git).
NOTEBOOK_IN_REPO = "examples/databricks/daap_candles"


def _local_default(name: str) -> str:
    home = Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser().resolve() / "daap"
    return {
        "lake": str(home / "lake"),
        "warehouse": f"duckdb:///{home / 'daap.duckdb'}",
        "work_dir": str(home / "work"),
        "databricks_cluster": "{}",
        "databricks_notebook": f"/Workspace/Shared/daap/{NOTEBOOK_IN_REPO}",
    }[name]


def setting(params: dict[str, Any], name: str) -> str:
    """A setting: the run's param, else the Airflow Variable, else the environment variable, else the local default."""
    value = params.get(name)
    if value not in (None, "", {}):
        return value if isinstance(value, str) else json.dumps(value)
    variable, env = SETTINGS[name]
    value = Variable.get(variable, default=None) or os.environ.get(env)
    return value if value else _local_default(name)


def _month_before(when: dt.datetime | dt.date) -> str:
    first = dt.date(when.year, when.month, 1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def period(params: dict[str, Any], when: dt.datetime | dt.date) -> dict[str, Any]:
    """The run's days as PipelineConfig keys: `start`/`end` if given, else `months`: the param or the month before."""
    if params.get("start") or params.get("end"):
        return {"start": params.get("start") or params["end"], "end": params.get("end") or params["start"]}
    return {"months": [params.get("month") or _month_before(when)]}


def month(params: dict[str, Any], when: dt.datetime | dt.date) -> str:
    """The one month of the run (the Databricks notebook works by month): the param, `start`'s or the month before."""
    p = period(params, when)
    return p["months"][0] if "months" in p else str(p["start"])[:7]


def config_mapping(params: dict[str, Any], when: dt.datetime | dt.date) -> dict[str, Any]:
    """The `PipelineConfig` mapping of a run, from its params (`when`: its logical date, for the default month)."""
    p = period(params, when)
    work_dir = setting(params, "work_dir")
    label = p["months"][0] if "months" in p else f"{p['start']}_{p['end']}"
    reports = f"{work_dir.rstrip('/')}/reports/{params['symbol'].upper()}-{label}"
    return {
        "symbols": [params["symbol"]],
        "market": params["market"],
        "source": params["source"],
        "engine": params["engine"],
        "intervals": list(params["intervals"]),
        "indicators": params["indicators"],
        "lake": setting(params, "lake"),
        "warehouse": setting(params, "warehouse"),
        "work_dir": work_dir,
        "report": f"{reports}/quality.json",
        "dashboard": f"{reports}/dashboard.html",
        **p,
        **(params.get("extra") or {}),
    }


def _run_step(step: str) -> dict[str, Any]:
    """Run one pipeline step for the current task's run; its StepResult as a dict (the task's XCom)."""
    from airflow.sdk.exceptions import AirflowFailException

    from daap import pipeline

    context = get_current_context()
    params = dict(context["params"])
    when = context.get("logical_date") or context["dag_run"].run_after
    try:
        cfg = pipeline.PipelineConfig.from_mapping(config_mapping(params, when))
        result = getattr(pipeline, step)(cfg)
    except (pipeline.ConfigError, pipeline.QualityGateError) as exc:
        # A bad config or a failed quality gate does not heal by retrying: fail the task at once.
        raise AirflowFailException(str(exc)) from exc
    log.info("%s: %s (%.1f s)", step, result.summary, result.seconds)
    return result.to_dict()


PARAMS = {
    "symbol": Param("BTCUSDT", type="string", minLength=1, description="Binance symbol, e.g. BTCUSDT"),
    "month": Param(
        None,
        type=["null", "string"],
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="YYYY-MM; null: the month before the run's logical date (ignored when start/end are given)",
    ),
    "start": Param(None, type=["null", "string"], format="date", description="first UTC day (YYYY-MM-DD)"),
    "end": Param(None, type=["null", "string"], format="date", description="last UTC day, inclusive"),
    "market": Param("spot", enum=["spot", "um"], description="spot or USD-M futures (um)"),
    "source": Param("binance", enum=["binance", "synthetic"], description="synthetic: generated offline (demos)"),
    "engine": Param("pandas", enum=["pandas", "spark"], description="candle engine of the build_candles task"),
    "intervals": Param(["1m"], type="array", items={"type": "string"}, minItems=1, description="candle intervals"),
    "indicators": Param("sma:7,ema:21,rsi:14,macd,bb:20:2", type="string", description="indicators of the marts"),
    "lake": Param(None, type=["null", "string"], description="lake path or s3:// URI; null: Variable daap_lake"),
    "warehouse": Param(None, type=["null", "string"], description="warehouse URL; null: Variable daap_warehouse"),
    "work_dir": Param(None, type=["null", "string"], description="downloads and reports; null: daap_work_dir"),
    "extra": Param({}, type="object", description='other PipelineConfig keys, e.g. {"trades_per_day": 2000}'),
}

#: Set to an Airflow connection id to build the candles on Databricks (read when the DAG file is parsed).
DATABRICKS_CONN_ID = os.environ.get("DAAP_DATABRICKS_CONN_ID", "").strip()

if DATABRICKS_CONN_ID:
    PARAMS["databricks_cluster"] = Param(
        None,
        type=["null", "object"],
        description='runs/submit cluster keys, e.g. {"existing_cluster_id": "..."}; null: daap_databricks_cluster',
    )
    PARAMS["databricks_notebook"] = Param(
        None, type=["null", "string"], description="workspace path of daap_candles; null: daap_databricks_notebook"
    )


def databricks_candles(conn_id: str) -> Any:
    """`build_candles` as a Databricks notebook run (apache-airflow-providers-databricks, imported only here)."""
    try:
        from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    except ImportError as exc:
        raise ImportError(
            "DAAP_DATABRICKS_CONN_ID is set but the Databricks provider is missing: "
            "pip install apache-airflow-providers-databricks"
        ) from exc

    git_url = os.environ.get("DAAP_DATABRICKS_GIT_URL", "").strip()
    if git_url:  # the notebook straight from the repository
        notebook = {"notebook_path": NOTEBOOK_IN_REPO, "source": "GIT"}
        git = {
            "git_url": git_url,
            "git_provider": os.environ.get("DAAP_DATABRICKS_GIT_PROVIDER", "gitHub"),
            "git_branch": os.environ.get("DAAP_DATABRICKS_GIT_BRANCH", "main"),
        }
    else:  # the notebook imported into the workspace
        notebook = {"notebook_path": "{{ daap_setting(params, 'databricks_notebook') }}", "source": "WORKSPACE"}
        git = None
    return DatabricksSubmitRunOperator(
        task_id="build_candles",
        databricks_conn_id=conn_id,
        # The cluster keys (existing_cluster_id or new_cluster; none: serverless), rendered as JSON at run time.
        json="{{ daap_setting(params, 'databricks_cluster') }}",
        notebook_task={
            **notebook,
            "base_parameters": {  # the notebook's widgets
                "symbol": "{{ params.symbol | upper }}",
                "month": "{{ daap_month(params, logical_date or dag_run.run_after) }}",
                "lake": "{{ daap_setting(params, 'lake') }}",
                "interval": "{{ params.intervals[0] }}",
            },
        },
        git_source=git,
        run_name="daap_candles {{ params.symbol | upper }} {{ daap_month(params, logical_date or dag_run.run_after) }}",
    )


@dag(
    dag_id="daap_pipeline",
    description="Binance trades -> lake -> exact OHLCV candles -> DuckDB marts -> quality report -> dashboard",
    # 06:00 UTC on the 2nd of each month, for the month before (its last daily files are published by then).
    schedule="0 6 2 * *",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # one writer at a time on the DuckDB file
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5), "retry_exponential_backoff": True},
    params=PARAMS,
    user_defined_macros={"daap_setting": setting, "daap_month": month},
    tags=["daap"],
    doc_md=__doc__,
)
def daap_pipeline() -> None:
    """The seven steps in a chain."""

    @task
    def download() -> dict[str, Any]:
        """Fetch (or generate) the daily trade zips with their checksums."""
        return _run_step("download")

    @task
    def ingest() -> dict[str, Any]:
        """Verify and ingest them into the lake's bronze zone, quarantining bad rows."""
        return _run_step("ingest")

    @task
    def build_candles() -> dict[str, Any]:
        """Build exact candles for every interval into the lake's candles zone."""
        return _run_step("build_candles")

    @task
    def load() -> dict[str, Any]:
        """Upsert the candles into the warehouse."""
        return _run_step("load")

    @task
    def build_marts() -> dict[str, Any]:
        """Rebuild stg_candles and fct_candle_metrics with the indicators."""
        return _run_step("build_marts")

    @task
    def check() -> dict[str, Any]:
        """Quality checks and lake reconciliation; an error-severity finding fails the run (no retry)."""
        return _run_step("check")

    @task
    def dashboard() -> dict[str, Any]:
        """The static HTML dashboard."""
        return _run_step("dashboard")

    candles = databricks_candles(DATABRICKS_CONN_ID) if DATABRICKS_CONN_ID else build_candles()
    chain(download(), ingest(), candles, load(), build_marts(), check(), dashboard())


daap_pipeline()
