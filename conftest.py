"""Root conftest: doctests of the Spark modules get the test session's ``spark`` and a small ``trades`` frame."""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ["tests.spark_fixtures"]

_SPARK_DOCTESTS = ("daap.engines.spark", "daap.schemas_spark")


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
