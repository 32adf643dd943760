from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import daap
from daap.engines import Engine, available_engines, get_engine, register_engine
from daap.errors import MissingDependencyError, UnknownEngineError


def test_pandas_engine_is_registered_through_its_entry_point() -> None:
    from importlib.metadata import entry_points

    assert "pandas" in {ep.name for ep in entry_points(group="daap.engines")}
    engine = get_engine("pandas")
    assert isinstance(engine, Engine)
    assert engine.capabilities.streaming_files


def test_unknown_engine() -> None:
    with pytest.raises(UnknownEngineError, match=r"unknown engine 'nope'; available: .*pandas"):
        daap.CandleBuilder("1m", engine="nope")


def test_missing_extra_raises_missing_dependency_with_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "needs_missing_dep.py").write_text(
        textwrap.dedent(
            """
            import a_package_that_is_not_installed_anywhere  # noqa: F401

            class Engine:
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    register_engine("fancy", "needs_missing_dep:Engine", extra="spark")
    assert "fancy" in available_engines()
    with pytest.raises(MissingDependencyError) as err:
        daap.CandleBuilder("1m", engine="fancy")
    assert "pip install 'daap[spark]'" in str(err.value)
    assert isinstance(err.value, ImportError)  # and still an ImportError for generic handlers


def test_import_daap_does_not_import_optional_backends() -> None:
    code = (
        "import sys, daap; daap.CandleBuilder('1m');"
        # 'snowflake' alone is a namespace package some installs pre-import from a .pth file: name the real ones.
        "bad = [m for m in ('pyspark', 'snowflake.snowpark', 'snowflake.connector', 'pandera', 'duckdb', 'polars')"
        " if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_engine_options_are_checked() -> None:
    trades = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
    with pytest.raises(TypeError, match="does not take option"):
        daap.CandleBuilder("1m").build(trades, partitions=4)
