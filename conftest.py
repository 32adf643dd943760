"""Root conftest: doctests of the Spark and Snowpark modules get the test session and a small ``trades`` frame."""

from __future__ import annotations

import sys
from typing import Any

import pytest

# pytest-xdist workers run with a bare __main__ (no __spec__, no __file__), which pyspark.sql.connect takes for a
# doctest run without Spark Connect's dependencies, and answers with sys.exit(0) when pandera imports it. Give the
# worker's __main__ a file name so pyspark sees an ordinary program.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"

pytest_plugins = ["tests.spark_fixtures", "tests.snowpark_fixtures"]

_SPARK_DOCTESTS = ("daap.engines.spark", "daap.schemas_spark", "daap.quality.check_spark")


@pytest.fixture(autouse=True)
def _spark_doctest_namespace(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]) -> None:
    if type(request.node).__name__ == "DoctestItem" and request.node.name.startswith(_SPARK_DOCTESTS):
        import daap
        from daap.engines.spark import trades_to_spark

        spark = request.getfixturevalue("spark")
        doctest_namespace["spark"] = spark
        doctest_namespace["trades"] = trades_to_spark(
            daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"), spark
        )


@pytest.fixture(autouse=True)
def _snowpark_doctest_namespace(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]) -> None:
    if type(request.node).__name__ == "DoctestItem" and request.node.name.startswith("daap.engines.snowpark"):
        import daap
        from daap.engines.snowpark import trades_to_snowpark

        session = request.getfixturevalue("snowpark_session")
        doctest_namespace["session"] = session
        doctest_namespace["trades"] = trades_to_snowpark(
            daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv"), session
        )
