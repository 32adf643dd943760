"""The one local SparkSession of a test run (ARCHITECTURE.md section 5), imported by tests/conftest.py.

    from tests.spark_fixtures import spark  # noqa: F401

pyspark is imported inside the fixture, so collecting tests does not need it; a test that asks for ``spark``
without pyspark installed is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

#: JVM flags for a fast start of a short-lived driver: no C2 compiler warm-up, a small serial GC.
FAST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.net.preferIPv4Stack=true"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    # No skip: the dev extra installs pyspark, so a missing pyspark is an error to see, not a test to hide.
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.pop("DATABRICKS_RUNTIME_VERSION", None)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("daap-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.extraJavaOptions", FAST_JVM)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
