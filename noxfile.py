"""nox sessions, one per concern. `nox` alone runs what CI runs: lint, typecheck, tests, docs, demo, Airflow DAG."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs", "demo", "airflow"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


def _ensure_chromium(session: nox.Session) -> None:
    """The dashboard tests open the page in headless Chromium: install Debian's package when it is missing."""
    if shutil.which("chromium"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    session.run(*sudo, "apt-get", "update", "-qq", external=True)
    session.run(*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "chromium",
                external=True)  # fmt: skip


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test suite (a few minutes): unit, property, real-data and doctests, one worker per core."""
    _ensure_chromium(session)
    session.install("-e", ".[dev]")
    session.run("pytest", "-q", "-n", "auto", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site with --strict: every example on its pages runs, and a failing one fails the build.

    Spark examples run too (local Spark; Java 17 is on the machine). ``nox -s docs -- serve`` serves it instead.
    """
    session.install("-e", ".[docs,dashboard,spark]")
    env = {"NO_MKDOCS_2_WARNING": "1"}  # Material for MkDocs' end-of-life notice, printed on every build
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:], env=env)
        return
    session.run("mkdocs", "build", "--strict", "--clean", *session.posargs, env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on the package, tests, benchmarks and this file."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "daap", "tests", "bench", "examples", "noxfile.py", "conftest.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on daap/."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "daap")


def _bench(session: nox.Session, script: str) -> None:
    session.install("-e", ".[dev]")
    session.run("python", script, *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Candle benchmark against DuckDB and Polars (20M trades by default; pass options after --)."""
    _bench(session, "bench/candles.py")


@nox.session(python=PYTHON)
def bench_ingest(session: nox.Session) -> None:
    """Ingest (zip -> validated bronze) against DuckDB's CSV -> Parquet COPY, and S3 upload MB/s on SeaweedFS."""
    _bench(session, "bench/ingest.py")


@nox.session(python=PYTHON)
def bench_spark(session: nox.Session) -> None:
    """The Spark engine against a hand-written Spark job in the same session, with the pandas engine beside."""
    _bench(session, "bench/spark.py")


@nox.session(python=PYTHON)
def bench_indicators(session: nox.Session) -> None:
    """daap.indicators against TA-Lib on a month of 1m candles, in the same process."""
    _bench(session, "bench/indicators.py")


@nox.session(python=PYTHON)
def bench_warehouse(session: nox.Session) -> None:
    """Loading a month of 1m candles into a fresh DuckDB file: first load, reload, update and marts."""
    _bench(session, "bench/warehouse.py")


@nox.session(python=PYTHON)
def bench_verify(session: nox.Session) -> None:
    """Verifying a month of 1m candles against official-format klines (DuckDB as peer), and aggTrades input."""
    _bench(session, "bench/verify.py")


@nox.session(python=PYTHON)
def bench_pipeline(session: nox.Session) -> None:
    """The whole pipeline (ingest to dashboard) on a month of synthetic trades, ~109M: wall time and peak RSS."""
    _bench(session, "bench/pipeline.py")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The offline demo on synthetic data: what a new user runs first."""
    session.install("-e", ".[dashboard]")
    session.run("daap", "demo", "--dir", str(session.create_tmp() + "/daap-demo"), *session.posargs)


@nox.session(python=PYTHON)
def airflow(session: nox.Session) -> None:
    """The Airflow 3 example DAG, run end to end with dag.test() in its own venv (not part of the default run).

    Airflow pins many packages, so it gets a venv of its own. Its official constraints file pins them all; set
    DAAP_AIRFLOW_CONSTRAINTS to its path or URL (e.g. .../constraints-3.x/constraints-3.11.txt) to use it, otherwise pip
    resolves apache-airflow 3.x with daap's own pins (pandas<3).
    """
    constraints = os.environ.get("DAAP_AIRFLOW_CONSTRAINTS")
    session.install(
        "apache-airflow>=3,<4",
        "apache-airflow-providers-databricks",
        "pandas<3",
        "pytest>=8",
        "-e",
        ".[dashboard]",
        *(["-c", constraints] if constraints else []),
    )
    # --confcutdir: only tests/airflow/conftest.py, not the suite's conftests (hypothesis, Spark, S3 fixtures).
    session.run("pytest", "-q", "--confcutdir=tests/airflow", "tests/airflow", *session.posargs)
