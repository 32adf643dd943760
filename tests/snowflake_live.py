"""When the ``snowflake_live`` tests run: a real account's credentials are in the environment."""

from __future__ import annotations

import os

import pytest

LIVE = bool(
    os.environ.get("SNOWFLAKE_ACCOUNT")
    and os.environ.get("SNOWFLAKE_USER")
    and (os.environ.get("SNOWFLAKE_PASSWORD") or os.environ.get("SNOWFLAKE_PRIVATE_KEY_FILE"))
)
LIVE_REASON = (
    "no Snowflake account: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD or "
    "SNOWFLAKE_PRIVATE_KEY_FILE (with SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA) to run on a real one"
)
#: Marks for a test against a real account: ``snowflake_live``, and skipped with the reason without credentials.
live = [pytest.mark.snowflake_live, pytest.mark.skipif(not LIVE, reason=LIVE_REASON)]
