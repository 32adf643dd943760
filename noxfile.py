"""nox sessions, one per concern. `nox` alone runs what CI runs: lint, typecheck, tests and the demo."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "demo"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test suite (a few minutes): unit, property, real-data and doctests, one worker per core."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-q", "-n", "auto", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on the package, tests, benchmarks and this file."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "daap", "tests", "bench", "noxfile.py", "conftest.py")


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
def demo(session: nox.Session) -> None:
    """The offline demo on synthetic data: what a new user runs first."""
    session.install("-e", ".[dashboard]")
    session.run("daap", "demo", "--dir", str(session.create_tmp() + "/daap-demo"), *session.posargs)

