"""The Snowflake warehouse client: candles from the S3 lake (or a DataFrame) into ``RAW_CANDLES``, then the marts.

Importing this module does not import the connector; :class:`SnowflakeClient` connects on its first query.

**URL and credentials.** ``snowflake://user@account/database/schema?warehouse=WH&role=ROLE`` names the target;
secrets never go in it. What the URL leaves out comes from ``SNOWFLAKE_ACCOUNT``, ``SNOWFLAKE_USER``,
``SNOWFLAKE_DATABASE``, ``SNOWFLAKE_SCHEMA``, ``SNOWFLAKE_WAREHOUSE`` and ``SNOWFLAKE_ROLE``. Authentication is a
key pair (``SNOWFLAKE_PRIVATE_KEY_FILE``, with ``SNOWFLAKE_PRIVATE_KEY_FILE_PWD`` when the key is encrypted), else
``SNOWFLAKE_PASSWORD``, else ``?authenticator=`` (e.g. ``externalbrowser``). ``snowflake://?connection=NAME`` uses a
``connections.toml`` profile instead (the URL's parts override it). Secrets never appear in a repr, a log line or an
error message. Other query options: ``stage=`` (default ``DAAP_CANDLES``), the external stage on the lake's
``candles/`` zone.

**Loads.** Each load gets a fresh TRANSIENT staging table. Lake loads ``COPY INTO`` it from the stage with an
explicit ``FILES`` list (the lake's day files for the requested interval, symbol and days, at most 1,000 per COPY),
``MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`` and ``FORCE = TRUE``; frames go through ``write_pandas``. Then, in one
transaction: the rows are classified against ``RAW_CANDLES`` (``classify_candles.sql``, NULL-safe), only new and
changed rows are merged (``merge_raw_candles.sql``), a lake load deletes the rows its days no longer have
(``prune_replaced_days.sql``), and the counts are logged in ``_DAAP_LOADS``. Snowflake commits on any DDL, so the
staging table is created and filled before ``BEGIN`` and dropped after ``COMMIT``/``ROLLBACK``.

Why both a fresh table and ``FORCE = TRUE``: idempotence comes from the MERGE, never from COPY's load history.
That history (64 days, per table) would skip a file already loaded into the same table, so a reused staging
table would stage nothing on a rerun (no counts, no day replacement). A fresh table has no history, and
``FORCE = TRUE`` states the intent and keeps it if the staging ever changes; it cannot duplicate rows because each
load's table starts empty and lists each file once. Fresh tables also keep concurrent loads apart.

**Marts.** ``STG_CANDLES`` and ``FCT_CANDLE_METRICS`` come from the same SQL models as DuckDB's. The indicators are
computed in Python by :func:`daap.indicators.add`: ``build_marts`` reads every row of ``RAW_CANDLES`` into memory,
computes each (symbol, interval) series, writes the columns back to a transient table and joins them.

Examples:
    >>> client = SnowflakeClient.from_url("snowflake://jane@myorg-acct/DAAP/MARTS?warehouse=DAAP_WH&role=DAAP_LOADER")
    >>> client
    SnowflakeClient('snowflake://jane@myorg-acct/DAAP/MARTS?warehouse=DAAP_WH&role=DAAP_LOADER')
    >>> client.connected
    False
    >>> SnowflakeClient.from_url("snowflake://?connection=analytics").connection_name
    'analytics'
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from daap.warehouse import (
    LoadResult,
    MartsResult,
    UnsafeIdentifierError,
    UnsupportedWarehouseError,
    WarehouseError,
    quote_identifier,
)
from daap.warehouse._common import (
    RECORD_LOAD_SQL,
    REPEATED_KEYS_SQL,
    SMA7_ALIAS,
    STAGED_PAIRS_SQL,
    LoadWindow,
    as_lake,
    candles_table,
    check_staged,
    indicator_frame,
    indicator_select,
    indicator_specs,
)
from daap.warehouse.models import model_columns, model_query, read_model, to_snowflake

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd
    import pyarrow as pa

__all__ = ["SnowflakeClient", "SnowflakeConfigError", "SnowflakeSetup", "setup_sql", "setup_statements"]

log = logging.getLogger(__name__)

#: The external stage on the lake's ``candles/`` zone, unless ``?stage=`` names another.
DEFAULT_STAGE = "DAAP_CANDLES"
#: Snowflake accepts at most 1,000 names in one COPY's FILES list.
_MAX_FILES = 1000
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@$+-]{0,254}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_AUTHENTICATOR = re.compile(r"^[A-Za-z0-9_:/.-]{1,255}$")
#: An IAM role in any AWS partition (aws, aws-us-gov, aws-cn), as a storage integration needs.
ROLE_ARN = re.compile(r"^arn:(aws(?:-[a-z]+)*):iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$")
_BUCKET = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9_.=/-]*)?$")
_STAGE_FILE = re.compile(r"^interval=[0-9]+[smhdwM]/symbol=[A-Z0-9]{2,30}/date=\d{4}-\d{2}-\d{2}/candles\.parquet$")
_PROVIDERS = {"aws": "S3", "aws-us-gov": "S3GOV", "aws-cn": "S3CHINA"}
_SIZES = ("XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE")
_URL_OPTIONS = ("warehouse", "role", "connection", "stage", "authenticator")
_SECRET_KEYS = ("password", "private_key_file_pwd")


class SnowflakeConfigError(WarehouseError, ValueError):
    """A Snowflake URL, setup or credential setting that cannot work (the message says which and why)."""


def _connector() -> Any:
    try:
        import snowflake.connector
        import snowflake.connector.pandas_tools  # write_pandas, looked up at call time (tests patch it)
    except ImportError as exc:
        from daap.errors import MissingDependencyError

        raise MissingDependencyError("the Snowflake warehouse", "snowflake") from exc
    return snowflake.connector


def _ident(value: str, what: str) -> str:
    """A validated identifier, upper-cased and quoted, or a clear error naming the setting."""
    try:
        return quote_identifier(value, upper=True)
    except UnsafeIdentifierError:
        raise SnowflakeConfigError(
            f"invalid Snowflake {what} {value!r}: use letters, digits and underscores, not starting with a digit"
        ) from None


def _qualified(value: str, what: str) -> str:
    """``NAME`` or ``DB.SCHEMA.NAME``, each part validated and quoted."""
    parts = value.split(".")
    if len(parts) not in (1, 3):
        raise SnowflakeConfigError(f"invalid Snowflake {what} {value!r}: give NAME or DATABASE.SCHEMA.NAME")
    return ".".join(_ident(p, what) for p in parts)


def _literal(value: str) -> str:
    """A SQL string literal of an already validated value (no quotes can be in it)."""
    if "'" in value or "\\" in value:
        raise SnowflakeConfigError(f"unexpected quote in {value!r}")
    return f"'{value}'"


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# ------------------------------------------------------------------------------------------------------ setup
@dataclass(frozen=True)
class SnowflakeSetup:
    """What ``setup_sql`` creates: compute, database and schema, the lake's stage, the tables, a least-privilege role.

    Every name is validated on construction and written upper-cased and quoted, as Snowflake stores unquoted names.

    Attributes:
        bucket: the lake, ``s3://bucket/prefix``; the stage reads its ``candles/`` zone.
        role_arn: the AWS IAM role Snowflake assumes to read the bucket, ``arn:aws:iam::123456789012:role/name``.
        database: database of the tables and marts.
        schema: schema of the tables and marts.
        warehouse: the virtual warehouse the loader uses (created XSMALL, auto-suspended after 60 s).
        role: the loader's role, granted only what ``daap load`` and ``daap marts`` use.
        user: a user to grant the role to (optional).
        integration: the storage integration's name.
        stage: the external stage's name.
        file_format: the Parquet file format's name.
        warehouse_size: XSMALL to XXLARGE.

    Raises:
        SnowflakeConfigError: naming the bad value (an identifier, the bucket URL or the role ARN).

    Examples:
        >>> SnowflakeSetup(bucket="s3://my-lake/daap", role_arn="arn:aws:iam::123456789012:role/daap-snowflake").stage
        'DAAP_CANDLES'
        >>> SnowflakeSetup(bucket="s3://my-lake/daap", role_arn="arn:aws:iam::12345678901:role/daap")
        Traceback (most recent call last):
        ...
        daap.warehouse.snowflake.SnowflakeConfigError: invalid AWS role ARN 'arn:aws:iam::12345678901:role/daap': ...
    """

    bucket: str
    role_arn: str
    database: str = "DAAP"
    schema: str = "MARTS"
    warehouse: str = "DAAP_WH"
    role: str = "DAAP_LOADER"
    user: str | None = None
    integration: str = "DAAP_LAKE"
    stage: str = DEFAULT_STAGE
    file_format: str = "DAAP_PARQUET"
    warehouse_size: str = "XSMALL"

    def __post_init__(self) -> None:
        for what in ("database", "schema", "warehouse", "role", "integration", "stage", "file_format"):
            _ident(getattr(self, what), what.replace("_", " "))
        if self.user is not None and not _USER.match(self.user):
            raise SnowflakeConfigError(f"invalid Snowflake user {self.user!r}: letters, digits and _ . @ $ + -")
        if not isinstance(self.bucket, str) or not _BUCKET.match(self.bucket.rstrip("/")):
            raise SnowflakeConfigError(
                f"invalid lake bucket URL {self.bucket!r}: expected s3://bucket/prefix (letters, digits, . _ = / -)"
            )
        if not isinstance(self.role_arn, str) or not ROLE_ARN.match(self.role_arn):
            raise SnowflakeConfigError(
                f"invalid AWS role ARN {self.role_arn!r}: expected arn:aws:iam::<12-digit account id>:role/<name> "
                f"(pattern {ROLE_ARN.pattern})"
            )
        if self.warehouse_size.upper() not in _SIZES:
            raise SnowflakeConfigError(f"invalid warehouse size {self.warehouse_size!r}: one of {', '.join(_SIZES)}")

    @property
    def candles_url(self) -> str:
        """The stage's URL: the lake's ``candles/`` zone."""
        return f"{self.bucket.rstrip('/')}/candles/"

    def qualified(self, name: str) -> str:
        """A schema object's quoted, fully qualified name."""
        return f"{_ident(self.database, 'database')}.{_ident(self.schema, 'schema')}.{_ident(name, 'name')}"


def setup_statements(config: SnowflakeSetup) -> list[str]:
    """The setup DDL as statements (each may start with ``--`` comment lines), in the order to run them.

    Examples:
        >>> config = SnowflakeSetup(bucket="s3://my-lake/daap", role_arn="arn:aws:iam::123456789012:role/daap")
        >>> [s.splitlines()[-1] for s in setup_statements(config)][1:3]
        ['CREATE DATABASE IF NOT EXISTS "DAAP"', 'CREATE SCHEMA IF NOT EXISTS "DAAP"."MARTS"']
    """
    c = config
    wh, db, role = _ident(c.warehouse, "warehouse"), _ident(c.database, "database"), _ident(c.role, "role")
    schema = f"{db}.{_ident(c.schema, 'schema')}"
    integration = _ident(c.integration, "integration")
    stage, fmt = c.qualified(c.stage), c.qualified(c.file_format)
    raw, loads = c.qualified("RAW_CANDLES"), c.qualified("_DAAP_LOADS")
    arn = ROLE_ARN.match(c.role_arn)
    provider = _PROVIDERS.get(arn.group(1) if arn else "aws", "S3")  # validated on construction: it matches
    tables = to_snowflake(
        read_model("raw_candles"),
        tables={
            "raw_candles": f"{c.database}.{c.schema}.RAW_CANDLES",
            "_daap_loads": f"{c.database}.{c.schema}._DAAP_LOADS",
        },
        comments=True,
        pretty=True,
    )
    out = [
        "-- 1. Compute, database and schema.\n"
        f"CREATE WAREHOUSE IF NOT EXISTS {wh}\n  WAREHOUSE_SIZE = '{c.warehouse_size.upper()}' AUTO_SUSPEND = 60 "
        "AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE",
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        "-- 2. The lake: Snowflake reads the bucket by assuming the AWS role (see step 5), through the stage only.\n"
        f"CREATE STORAGE INTEGRATION IF NOT EXISTS {integration}\n"
        f"  TYPE = EXTERNAL_STAGE\n  STORAGE_PROVIDER = '{provider}'\n  ENABLED = TRUE\n"
        f"  STORAGE_AWS_ROLE_ARN = {_literal(c.role_arn)}\n"
        f"  STORAGE_ALLOWED_LOCATIONS = ({_literal(c.candles_url)})",
        f"CREATE FILE FORMAT IF NOT EXISTS {fmt}\n  TYPE = PARQUET\n  USE_LOGICAL_TYPE = TRUE",
        f"CREATE STAGE IF NOT EXISTS {stage}\n  URL = {_literal(c.candles_url)}\n"
        f"  STORAGE_INTEGRATION = {integration}\n  FILE_FORMAT = {fmt}",
        "-- 3. The tables (daap/warehouse/sql/raw_candles.sql, transpiled).\n" + tables[0],
        *tables[1:],
        f"-- 4. The loader's role, with only what daap load and daap marts use.\nCREATE ROLE IF NOT EXISTS {role}",
        f"GRANT USAGE ON WAREHOUSE {wh} TO ROLE {role}",
        f"GRANT USAGE ON DATABASE {db} TO ROLE {role}",
        f"GRANT USAGE ON SCHEMA {schema} TO ROLE {role}",
        "-- Read the lake through the stage and its default format (no usage on the integration: the stage exists).\n"
        f"GRANT USAGE ON STAGE {stage} TO ROLE {role}",
        f"GRANT USAGE ON FILE FORMAT {fmt} TO ROLE {role}",
        "-- Each load's transient staging table, STG_CANDLES and FCT_CANDLE_METRICS.\n"
        f"GRANT CREATE TABLE, CREATE VIEW ON SCHEMA {schema} TO ROLE {role}",
        "-- write_pandas (DataFrame loads, indicator columns) uploads through a temporary stage.\n"
        f"GRANT CREATE STAGE ON SCHEMA {schema} TO ROLE {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {raw} TO ROLE {role}",
        f"GRANT SELECT, INSERT ON TABLE {loads} TO ROLE {role}",
        f"GRANT ROLE {role} TO ROLE SYSADMIN",
    ]
    if c.user is not None:
        out.append(f'GRANT ROLE {role} TO USER "{c.user.upper()}"')  # validated: no quote can be in it
    return out


def setup_sql(config: SnowflakeSetup) -> str:
    """The setup DDL as one script, for a person to read and run (``daap snowflake setup --print``).

    It is idempotent (``IF NOT EXISTS``) and ends with the AWS step Snowflake needs: trusting its IAM user.

    Examples:
        >>> config = SnowflakeSetup(bucket="s3://my-lake/daap", role_arn="arn:aws:iam::123456789012:role/daap")
        >>> script = setup_sql(config)
        >>> "STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/daap'" in script
        True
        >>> "URL = 's3://my-lake/daap/candles/'" in script
        True
    """
    integration = _ident(config.integration, "integration")
    head = (
        "-- daap on Snowflake (generated by `daap snowflake setup --print`; safe to rerun).\n"
        "-- Run as a role that can create warehouses, databases, roles and storage integrations (e.g. ACCOUNTADMIN).\n"
    )
    tail = (
        f"-- 5. In AWS: DESC INTEGRATION {integration}; shows STORAGE_AWS_IAM_USER_ARN and\n"
        f"-- STORAGE_AWS_EXTERNAL_ID. Put them in the trust policy of {config.role_arn}\n"
        '-- ("Principal": {"AWS": "<STORAGE_AWS_IAM_USER_ARN>"}, "Condition": {"StringEquals":\n'
        '-- {"sts:ExternalId": "<STORAGE_AWS_EXTERNAL_ID>"}}). The role needs s3:GetObject and s3:GetObjectVersion\n'
        f"-- on {config.candles_url}* and s3:ListBucket on the bucket.\n"
        f"-- Check with: LIST @{config.qualified(config.stage)};\n"
    )
    return head + "\n" + "".join(f"{s};\n\n" for s in setup_statements(config)) + tail


# ------------------------------------------------------------------------------------------------------ client
class SnowflakeClient:
    """Snowflake as the warehouse (the heavy client behind :class:`daap.WarehouseLoader` for ``snowflake://``).

    Args:
        account: account identifier (``myorg-myaccount``); default ``$SNOWFLAKE_ACCOUNT``.
        user: login name; default ``$SNOWFLAKE_USER``.
        database: default ``$SNOWFLAKE_DATABASE``.
        schema: default ``$SNOWFLAKE_SCHEMA``.
        warehouse: default ``$SNOWFLAKE_WAREHOUSE``.
        role: default ``$SNOWFLAKE_ROLE``.
        connection_name: a ``connections.toml`` profile; the other arguments override it and the environment is
            not read.
        authenticator: e.g. ``externalbrowser``, when neither a key pair nor a password is used.
        stage: the external stage on the lake's ``candles/`` zone (``NAME`` or ``DB.SCHEMA.NAME``).
        connection: an open connection to use instead (e.g. a fakesnow one in tests). The client never closes it;
            its first load or marts build creates the tables if needed, and that DDL commits (as Snowflake does)
            any transaction the connection has open.

    Examples:
        >>> SnowflakeClient(account="myorg-acct", user="jane", database="DAAP", schema="MARTS").url
        'snowflake://jane@myorg-acct/DAAP/MARTS'
    """

    def __init__(
        self,
        *,
        account: str | None = None,
        user: str | None = None,
        database: str | None = None,
        schema: str | None = None,
        warehouse: str | None = None,
        role: str | None = None,
        connection_name: str | None = None,
        authenticator: str | None = None,
        stage: str = DEFAULT_STAGE,
        connection: Any = None,
    ) -> None:
        for value, pattern, what in (
            (account, _ACCOUNT, "account"),
            (user, _USER, "user"),
            (connection_name, _NAME, "connection name"),
            (authenticator, _AUTHENTICATOR, "authenticator"),
        ):
            if value is not None and not pattern.match(value):
                raise SnowflakeConfigError(f"invalid Snowflake {what} {value!r}")
        for value, what in ((database, "database"), (schema, "schema"), (warehouse, "warehouse"), (role, "role")):
            if value is not None:
                _ident(value, what)
        self.account = account
        self.user = user
        self.database = database
        self.schema = schema
        self.warehouse = warehouse
        self.role = role
        self.connection_name = connection_name
        self.authenticator = authenticator
        self.stage = stage
        self._stage = _qualified(stage, "stage")
        self._con: Any = connection
        self._owned = connection is None
        self._tables_ready = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SnowflakeClient:
        """Parse ``snowflake://[user@]account[/database[/schema]][?warehouse=&role=&stage=&connection=&authenticator=]``.

        Never connects. A password in the URL is refused: use ``SNOWFLAKE_PASSWORD``, a key pair or a profile.

        Examples:
            >>> c = SnowflakeClient.from_url("snowflake://jane@myorg-acct/DAAP/MARTS?warehouse=DAAP_WH&stage=LAKE")
            >>> c.account, c.user, c.database, c.schema, c.warehouse, c.stage
            ('myorg-acct', 'jane', 'DAAP', 'MARTS', 'DAAP_WH', 'LAKE')
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "snowflake":
            raise UnsupportedWarehouseError("not a Snowflake URL (expected snowflake://user@account/database/schema)")
        userinfo, _, host = parts.netloc.rpartition("@")
        if ":" in userinfo:
            raise SnowflakeConfigError(
                "a password in the Snowflake URL is refused: set SNOWFLAKE_PASSWORD, use a key pair "
                "(SNOWFLAKE_PRIVATE_KEY_FILE) or a connections.toml profile (?connection=NAME)"
            )
        path = [unquote(p) for p in parts.path.split("/") if p]
        if len(path) > 2:
            raise SnowflakeConfigError(f"too many path parts in {url!r}: expected /database/schema")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - set(_URL_OPTIONS))
        if unknown:
            raise SnowflakeConfigError(
                f"unknown Snowflake URL option(s) {', '.join(unknown)}: use {', '.join(_URL_OPTIONS)}"
            )
        kwargs: dict[str, Any] = {
            "account": unquote(host) or None,
            "user": unquote(userinfo) or None,
            "database": path[0] if path else None,
            "schema": path[1] if len(path) > 1 else None,
            "warehouse": query.get("warehouse") or None,
            "role": query.get("role") or None,
            "connection_name": query.get("connection") or None,
            "authenticator": query.get("authenticator") or None,
        }
        if query.get("stage"):
            kwargs["stage"] = query["stage"]
        return cls(**kwargs, **options)

    @property
    def url(self) -> str:
        """The URL of this client (no secret is ever part of it)."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        path = "".join(f"/{p}" for p in (self.database, self.schema) if p)
        query = [
            (k, v)
            for k, v in (
                ("warehouse", self.warehouse),
                ("role", self.role),
                ("connection", self.connection_name),
                ("authenticator", self.authenticator),
                ("stage", None if self.stage == DEFAULT_STAGE else self.stage),
            )
            if v
        ]
        return f"snowflake://{user}{self.account or ''}{path}" + (
            "?" + "&".join(f"{k}={v}" for k, v in query) if query else ""
        )

    def __repr__(self) -> str:
        if not self._owned:
            return "SnowflakeClient(connection=<given>)"
        return f"SnowflakeClient({self.url!r})"

    # ---------------------------------------------------------------------------------------------- connection
    @property
    def connected(self) -> bool:
        """Whether a connection is open (or was given)."""
        return self._con is not None

    def _connect_kwargs(self) -> dict[str, Any]:
        """The connector's arguments, secrets included: never log or show them."""
        env = os.environ
        explicit = {
            "account": self.account,
            "user": self.user,
            "database": self.database,
            "schema": self.schema,
            "warehouse": self.warehouse,
            "role": self.role,
            "authenticator": self.authenticator,
        }
        if self.connection_name:
            kwargs: dict[str, Any] = {"connection_name": self.connection_name}
            kwargs.update({k: v for k, v in explicit.items() if v})
        else:
            kwargs = {k: v or env.get(f"SNOWFLAKE_{k.upper()}") for k, v in explicit.items() if k != "authenticator"}
            kwargs = {k: v for k, v in kwargs.items() if v}
            if not kwargs.get("account") or not kwargs.get("user"):
                raise SnowflakeConfigError(
                    "no Snowflake account or user: give snowflake://user@account/database/schema, set "
                    "SNOWFLAKE_ACCOUNT and SNOWFLAKE_USER, or use a connections.toml profile (?connection=NAME)"
                )
            if env.get("SNOWFLAKE_PRIVATE_KEY_FILE"):
                kwargs["private_key_file"] = env["SNOWFLAKE_PRIVATE_KEY_FILE"]
                if env.get("SNOWFLAKE_PRIVATE_KEY_FILE_PWD"):
                    kwargs["private_key_file_pwd"] = env["SNOWFLAKE_PRIVATE_KEY_FILE_PWD"]
            elif env.get("SNOWFLAKE_PASSWORD"):
                kwargs["password"] = env["SNOWFLAKE_PASSWORD"]
            elif not self.authenticator:
                raise SnowflakeConfigError(
                    "no Snowflake credentials: set SNOWFLAKE_PRIVATE_KEY_FILE (key pair) or SNOWFLAKE_PASSWORD, "
                    "add ?authenticator=externalbrowser, or use a connections.toml profile (?connection=NAME)"
                )
            if self.authenticator:
                kwargs["authenticator"] = self.authenticator
        # Server-side binding (values never become SQL text), and UTC days whatever the account's time zone.
        kwargs["paramstyle"] = "qmark"
        kwargs["session_parameters"] = {"TIMEZONE": "UTC", "QUERY_TAG": "daap"}
        return kwargs

    @staticmethod
    def _describe(kwargs: dict[str, Any]) -> str:
        if "connection_name" in kwargs:
            how = f"connections.toml profile {kwargs['connection_name']!r}"
        elif "private_key_file" in kwargs:
            how = "key pair"
        elif "password" in kwargs:
            how = "password"
        else:
            how = f"authenticator {kwargs.get('authenticator')}"
        who = f"user {kwargs['user']} on account {kwargs['account']}" if "account" in kwargs else "the profile's user"
        return f"{who}, {how}"

    @property
    def connection(self) -> Any:
        """The connection, opened on first use."""
        if self._con is None:
            connector = _connector()
            kwargs = self._connect_kwargs()
            who = self._describe(kwargs)
            log.info("connecting to Snowflake as %s", who)
            failure = None
            try:
                self._con = connector.connect(**kwargs)
            except connector.errors.Error as exc:
                failure = _scrub(str(exc), [str(kwargs[k]) for k in _SECRET_KEYS if kwargs.get(k)])
            # Raised here, not in the except block: neither the driver's exception (as __context__) nor the
            # arguments (frame locals) travel with the error.
            del kwargs
            if failure is not None:
                raise WarehouseError(f"cannot connect to Snowflake as {who}: {failure}")
        return self._con

    def close(self) -> None:
        """Close the connection the client opened (a given connection stays open; its owner closes it)."""
        if self._con is not None and self._owned:
            self._con.close()
            self._con = None
            self._tables_ready = False

    def _bind(self, sql: str) -> str:
        """``?`` placeholders in the connection's paramstyle (a given connection may use the connector's default)."""
        style = getattr(self.connection, "_paramstyle", "qmark")
        if style == "qmark":
            return sql
        if style == "numeric":
            count = iter(range(1, sql.count("?") + 1))
            return re.sub(r"\?", lambda _: f":{next(count)}", sql)
        return sql.replace("?", "%s")

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cursor = self.connection.cursor()
        log.debug("snowflake: %s", sql)  # statements hold names, never values: those are bound
        cursor.execute(self._bind(sql) if params else sql, params)
        return cursor

    def _result(self, sql: str, params: Sequence[Any] | None = None) -> dict[str, Any]:
        """The first row of a statement's result, by lower-cased column name (e.g. MERGE's counts)."""
        cursor = self._execute(sql, params)
        row = cursor.fetchone() or ()
        return {d.name.lower(): v for d, v in zip(cursor.description, row, strict=False)}

    def _ensure_tables(self) -> None:
        if not self._tables_ready:
            for statement in to_snowflake(read_model("raw_candles")):
                self._execute(statement)
            self._tables_ready = True

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Run one statement (values as ``params``, in the connection's paramstyle: ``?`` for daap's own).

        Returns its result as a DataFrame, with Snowflake's column names (upper case unless quoted).
        """
        import pandas as pd

        errors = _connector().errors
        try:
            cursor = self.connection.cursor()
            cursor.execute(query, params)
            if not cursor.description:
                return pd.DataFrame()
            names = [d.name for d in cursor.description]
            try:
                frame: pd.DataFrame = cursor.fetch_pandas_all()
            except errors.NotSupportedError:  # a result that is not in Arrow format (SHOW, DESC, ...)
                return pd.DataFrame(cursor.fetchall(), columns=names)
            return frame if len(frame.columns) else pd.DataFrame(columns=names)  # no rows: keep the names
        except errors.Error as exc:
            raise WarehouseError(f"query failed: {exc}") from exc

    def setup(self, config: SnowflakeSetup) -> list[str]:
        """Run :func:`setup_statements` (idempotent) with this client's connection, which needs admin rights.

        Returns:
            The statements run.
        """
        errors = _connector().errors
        statements = setup_statements(config)
        for statement in statements:
            try:
                self._execute(statement)
            except errors.Error as exc:
                first = next(line for line in statement.splitlines() if not line.startswith("--"))
                raise WarehouseError(f"setup failed at {first!r}: {exc}") from exc
        return statements

    # -------------------------------------------------------------------------------------------------- loads
    def load_candles(
        self,
        source: Any,
        *,
        symbol: str | None = None,
        interval: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> LoadResult:
        """Upsert candles into ``RAW_CANDLES`` in one transaction (see :meth:`daap.WarehouseLoader.load_candles`).

        A lake (``daap.Lake``, or its URI) is read through the stage: the client lists the lake's day files and
        copies exactly those, so the stage must be on that lake's ``candles/`` zone.
        """
        t0 = time.perf_counter()
        window = LoadWindow.of(symbol, interval, start, end)
        lake = as_lake(source)
        if lake is not None:
            keys = window.lake_keys(lake)
            files = self._stage_files(keys)
            counts, deleted = self._load(lambda table: self._copy(table, files), "lake", prune=True)
            label = f"{lake.uri} ({len(keys)} day file(s))"
        else:
            rows = window.filter(candles_table(source))
            counts, deleted = self._load(lambda table: self._write(table, rows), "DataFrame", prune=False)
            label = "DataFrame"
        return LoadResult(*counts, seconds=time.perf_counter() - t0, source=label, deleted=deleted)

    @staticmethod
    def _stage_files(keys: Sequence[str]) -> list[str]:
        """Lake keys as paths in the stage (which is on ``candles/``); only the layout's names pass."""
        files = []
        for key in keys:
            name = key.removeprefix("candles/")
            if not _STAGE_FILE.match(name):
                raise WarehouseError(f"unexpected file in the lake's candles zone: {key!r}")
            files.append(name)
        return files

    def _load(self, fill: Callable[[str], None], what: str, *, prune: bool) -> tuple[tuple[int, int, int], int]:
        """Stage, check, then merge (and prune) in one transaction.

        Returns:
            ((inserted, updated, unchanged), deleted).
        """
        errors = _connector().errors
        stage = f"_DAAP_STAGE_{uuid.uuid4().hex[:12].upper()}"
        try:
            self._ensure_tables()
            # DDL commits any open transaction in Snowflake: create and fill the staging table before BEGIN.
            self._execute(_transient_table(stage))
            try:
                fill(stage)
                self._check_stage(stage)
                self._execute("BEGIN")
                try:
                    staged = int(self._result(f"SELECT COUNT(*) AS n FROM {_ident(stage, 'table')}")["n"])
                    merged = self._result(_merge_sql(stage))
                    inserted = int(merged.get("number of rows inserted", 0))
                    updated = int(merged.get("number of rows updated", 0))
                    deleted = 0
                    if prune:
                        (prune_sql,) = to_snowflake(read_model("prune_replaced_days"), tables={"_daap_stage": stage})
                        deleted = int(self._result(prune_sql).get("number of rows deleted", 0))
                    counts = (inserted, updated, staged - inserted - updated)
                    self._record(what, counts)
                    self._execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            finally:
                self._drop(stage)
        except errors.Error as exc:
            raise WarehouseError(f"load failed, nothing was changed: {exc}") from exc
        return counts, deleted

    def _rollback(self) -> None:
        try:
            self._execute("ROLLBACK")
        except Exception as exc:  # the load's own error matters more; the server rolls back a lost session
            log.warning("ROLLBACK failed: %s", exc)

    def _drop(self, table: str) -> None:
        try:
            self._execute(f"DROP TABLE IF EXISTS {_ident(table, 'table')}")
        except Exception as exc:  # a leftover _DAAP_* transient table is harmless; say so, keep the real error
            log.warning("could not drop the scratch table %s: %s", table, exc)

    def _copy(self, table: str, files: Sequence[str]) -> None:
        """COPY the listed day files from the stage into the staging table (``FORCE``: see the module doc)."""
        for i in range(0, len(files), _MAX_FILES):
            batch = files[i : i + _MAX_FILES]
            cursor = self._execute(
                f"COPY INTO {_ident(table, 'table')} FROM @{self._stage}\n"
                f"  FILES = ({', '.join(_literal(f) for f in batch)})\n"
                "  FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE)\n"
                "  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE\n"
                "  ON_ERROR = ABORT_STATEMENT\n"
                "  FORCE = TRUE"
            )
            names = [d.name.lower() for d in cursor.description]
            rows = cursor.fetchall()
            loaded = sum(1 for r in rows if "status" in names and str(r[names.index("status")]).upper() == "LOADED")
            if loaded != len(batch):
                raise WarehouseError(
                    f"COPY loaded {loaded} of {len(batch)} day file(s) from @{self.stage}: is the stage on this "
                    "lake's candles/ zone?"
                )
            log.debug("copied %d file(s) into %s", loaded, table)

    def _write(self, table: str, rows: pa.Table | pd.DataFrame) -> None:
        """Upload rows into a table with ``write_pandas`` (Parquet through a temporary stage, then COPY)."""
        import pandas as pd

        frame = rows if isinstance(rows, pd.DataFrame) else rows.to_pandas()
        if frame.empty:
            return
        frame = frame.rename(columns=str.upper)
        write_pandas = _connector().pandas_tools.write_pandas
        ok, _, written, _ = write_pandas(
            self.connection, frame, table, quote_identifiers=True, use_logical_type=True, auto_create_table=False
        )
        if not ok or int(written) != len(frame):
            raise WarehouseError(f"write_pandas wrote {written} of {len(frame)} rows into {table}")

    def _check_stage(self, stage: str) -> None:
        (pairs_sql,) = to_snowflake(STAGED_PAIRS_SQL, tables={"_daap_stage": stage})
        (repeated_sql,) = to_snowflake(REPEATED_KEYS_SQL, tables={"_daap_stage": stage})
        check_staged(self._execute(pairs_sql).fetchall(), int(self._execute(repeated_sql).fetchone()[0]))

    def _record(self, what: str, counts: tuple[int, int, int]) -> None:
        (sql,) = to_snowflake(RECORD_LOAD_SQL)
        self._execute(sql, [what, sum(counts), *counts])

    # -------------------------------------------------------------------------------------------------- marts
    def build_marts(self, indicators: Any = None) -> MartsResult:
        """Rebuild ``STG_CANDLES`` and ``FCT_CANDLE_METRICS`` (see :meth:`daap.WarehouseLoader.build_marts`).

        Every row of ``RAW_CANDLES`` is read into memory to compute the indicators. Each statement is atomic (the
        view and the table are replaced whole), but Snowflake commits DDL one statement at a time: if the table
        fails, the new view stays with the previous table.
        """
        import pandas as pd

        errors = _connector().errors
        t0 = time.perf_counter()
        specs, columns = indicator_specs(indicators)
        scratch = f"_DAAP_INDICATORS_{uuid.uuid4().hex[:12].upper()}"
        try:
            self._ensure_tables()
            candles = self.sql('SELECT * FROM "RAW_CANDLES" ORDER BY "SYMBOL", "INTERVAL", "OPEN_TIME"')
            candles = candles.rename(columns=str.lower)
            candles["open_time"] = pd.to_datetime(candles["open_time"], utc=True)
            frame = indicator_frame(candles, specs, columns)
            self._execute(_transient_table(scratch, keys_only=True, doubles=columns))
            try:
                self._write(scratch, frame)
                fct = read_model("fct_candle_metrics").replace(
                    "{{indicator_columns}}", indicator_select(columns, upper=True)
                )
                for statement in [
                    *to_snowflake(read_model("stg_candles")),
                    *to_snowflake(fct, tables={"_daap_indicators": scratch}),
                ]:
                    self._execute(statement)
                rows = int(self._result('SELECT COUNT(*) AS n FROM "FCT_CANDLE_METRICS"')["n"])
            finally:
                self._drop(scratch)
        except errors.Error as exc:
            raise WarehouseError(f"building the marts failed: {exc}") from exc
        return MartsResult(rows=rows, indicator_columns=(*columns, SMA7_ALIAS), seconds=time.perf_counter() - t0)


def _transient_table(name: str, *, keys_only: bool = False, doubles: Sequence[str] = ()) -> str:
    """``CREATE TRANSIENT TABLE`` with ``raw_candles``' column definitions (all, or the key), plus DOUBLE columns.

    No Time Travel (``DATA_RETENTION_TIME_IN_DAYS = 0``): it is scratch space, dropped at the end of the call.
    """
    keys = ("symbol", "interval", "open_time") if keys_only else None
    columns = model_columns("raw_candles", only=keys) + [f"{quote_identifier(d, upper=True)} DOUBLE" for d in doubles]
    (sql,) = to_snowflake(f"CREATE TABLE {quote_identifier(name, upper=True)} ({', '.join(columns)})")
    return sql.replace("CREATE TABLE", "CREATE TRANSIENT TABLE", 1) + " DATA_RETENTION_TIME_IN_DAYS = 0"


def _merge_sql(stage: str) -> str:
    """``merge_raw_candles.sql`` with the classification (``classify_candles.sql``) inlined on the staging table.

    Inlined rather than a table: creating one would commit the load's transaction.
    """
    (sql,) = to_snowflake(
        read_model("merge_raw_candles"),
        tables={"_daap_stage": stage},
        queries={"_daap_delta": model_query("classify_candles")},
    )
    return sql
