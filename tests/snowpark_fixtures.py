"""One Snowpark session in local testing mode for a test run (ARCHITECTURE.md section 5).

The emulator lacks ``MIN_BY``, ``MAX_BY`` and ``LPAD``; they are patched here, in the tests only, with their
Snowflake meaning (the value at the smallest / largest key of the group, NULL keys ignored; left padding to a width,
truncating longer strings on the right). The production code stays native
Snowflake.

    from tests.snowpark_fixtures import snowpark_session  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

_patched = False


def _patch_emulator() -> None:
    """Register the emulator patches once per process."""
    global _patched
    if _patched:
        return
    from snowflake.snowpark import functions as F
    from snowflake.snowpark.mock import ColumnEmulator, ColumnType, patch
    from snowflake.snowpark.mock._telemetry import LocalTestOOBTelemetryService
    from snowflake.snowpark.types import StringType

    # The emulator posts usage telemetry over HTTP; offline, each post waits for its timeout.
    LocalTestOOBTelemetryService.get_instance().disable()

    def by(pick: str) -> Any:
        def agg(column: ColumnEmulator, key: ColumnEmulator, *_: Any) -> ColumnEmulator:
            # By position: the two columns of a group need not share index labels. Keys compare as Python values
            # (ints or strings), exactly, whatever their magnitude.
            pairs = [(k, v) for v, k in zip(column.tolist(), key.tolist(), strict=True) if k is not None]
            value = (min if pick == "min" else max)(pairs, key=lambda p: p[0])[1] if pairs else None
            out = ColumnEmulator(data=[value])
            out.sf_type = ColumnType(column.sf_type.datatype, True)
            return out

        return agg

    def lpad(value: ColumnEmulator, length: ColumnEmulator, pad: ColumnEmulator) -> ColumnEmulator:
        width, fill = int(length.iloc[0]), str(pad.iloc[0])
        out = ColumnEmulator(data=[None if v is None else str(v).rjust(width, fill)[:width] for v in value])
        out.sf_type = ColumnType(StringType(), True)
        return out

    patch(F.min_by)(by("min"))
    patch(F.max_by)(by("max"))
    patch(F.lpad)(lpad)
    _patched = True


@pytest.fixture(scope="session")
def snowpark_session() -> Iterator[Any]:
    # No skip: the dev extra installs snowflake-snowpark-python[localtest].
    from snowflake.snowpark import Session

    _patch_emulator()
    session = Session.builder.config("local_testing", True).create()
    yield session
    session.close()
