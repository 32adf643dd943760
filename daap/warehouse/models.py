"""The SQL models in ``daap/warehouse/sql/``: one text per model, written in DuckDB's dialect, used by every backend.

DuckDB runs a model as written. Snowflake runs the same text transpiled by sqlglot (:func:`to_snowflake`), with its
tables renamed where a backend stages data under another name. Dialect differences therefore stay in one small
place: what a model cannot say portably is written in a form sqlglot translates (``open_time AT TIME ZONE 'UTC'``
becomes ``CONVERT_TIMEZONE('UTC', open_time)``).

Examples:
    >>> "CREATE OR REPLACE VIEW stg_candles" in read_model("stg_candles")
    True
    >>> print(*to_snowflake("SELECT symbol, open_time AT TIME ZONE 'UTC' FROM t", tables={"t": "s1"}))
    SELECT "SYMBOL", CONVERT_TIMEZONE('UTC', "OPEN_TIME") FROM "S1"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

__all__ = ["model_columns", "model_query", "read_model", "to_snowflake"]


def read_model(name: str) -> str:
    """The text of a SQL model in ``daap/warehouse/sql/``.

    Examples:
        >>> read_model("raw_candles").splitlines()[1]
        'CREATE TABLE IF NOT EXISTS raw_candles ('
    """
    return (resources.files("daap.warehouse") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError as exc:  # pragma: no cover - sqlglot comes with daap[snowflake]
        from daap.errors import MissingDependencyError

        raise MissingDependencyError("the Snowflake warehouse", "snowflake") from exc
    return sqlglot


def model_query(name: str) -> str:
    """The query of a model that creates a table from one (``CREATE TEMP TABLE x AS SELECT ...``), in DuckDB SQL.

    Lets a backend inline the query where it cannot create the table (Snowflake commits a transaction on DDL).

    Examples:
        >>> model_query("classify_candles").startswith("SELECT s.*, CASE WHEN r.open_time IS NULL THEN 'inserted'")
        True
    """
    sqlglot = _sqlglot()
    create = sqlglot.parse_one(read_model(name), read="duckdb")
    query = create.expression
    if not isinstance(query, sqlglot.exp.Query):
        raise ValueError(f"the model {name!r} does not create a table from a query")
    return str(query.sql(dialect="duckdb", comments=False))


def model_columns(name: str, only: Sequence[str] | None = None) -> list[str]:
    """The column definitions of a model's first ``CREATE TABLE`` (DuckDB SQL), e.g. to create a staging table.

    Args:
        name: the model.
        only: keep these columns (in the model's order).

    Examples:
        >>> [c.split()[0] for c in model_columns("raw_candles", only=["symbol", "vwap"])]
        ['symbol', 'vwap']
    """
    sqlglot = _sqlglot()
    create, *_ = [e for e in sqlglot.parse(read_model(name), read="duckdb") if e is not None]
    defs = [c for c in create.this.expressions if isinstance(c, sqlglot.exp.ColumnDef)]
    return [str(c.sql(dialect="duckdb")) for c in defs if only is None or c.name in only]


def to_snowflake(
    sql: str,
    *,
    tables: Mapping[str, str] | None = None,
    queries: Mapping[str, str] | None = None,
    comments: bool = False,
    pretty: bool = False,
) -> list[str]:
    """Transpile DuckDB SQL (a model) to Snowflake statements.

    Unquoted names are upper-cased and every identifier is quoted, as Snowflake stores unquoted names: the columns
    are ``SYMBOL``, ``OPEN_TIME``, ... and ``SELECT symbol FROM raw_candles`` still finds them.

    Args:
        sql: one or more statements in DuckDB's dialect.
        tables: unqualified table names in ``sql`` to rename, e.g. ``{"_daap_stage": "_DAAP_STAGE_1F2E"}`` or
            ``{"raw_candles": "DAAP.MARTS.RAW_CANDLES"}``; each part must be a plain identifier.
        queries: unqualified table names to replace by a subquery (DuckDB SQL), keeping the table's alias. Names
            in these queries are renamed by ``tables`` too.
        comments: keep the models' comments (for a script a person reads).
        pretty: one clause a line.

    Returns:
        The statements, without trailing semicolons.

    Examples:
        >>> print(*to_snowflake("SELECT * FROM d WHERE _change <> 'no'", queries={"d": "SELECT 1 AS _change"}))
        SELECT * FROM (SELECT 1 AS "_CHANGE") AS "D" WHERE "_CHANGE" <> 'no'
    """
    from daap.warehouse import quote_identifier

    sqlglot = _sqlglot()
    exp = sqlglot.exp
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    renames: dict[str, Any] = {}
    for old, new in (tables or {}).items():
        parts = [quote_identifier(p, upper=True) for p in new.split(".")]  # validated, upper-cased
        renames[old.lower()] = exp.to_table(".".join(parts), dialect="duckdb")
    inline = {k.lower(): sqlglot.parse_one(v, read="duckdb") for k, v in (queries or {}).items()}

    def plain(node: Any) -> str | None:
        if isinstance(node, exp.Table) and not node.args.get("db") and isinstance(node.this, exp.Identifier):
            return str(node.name).lower()
        return None

    def inline_query(node: Any) -> Any:
        name = plain(node)
        if name not in inline:
            return node
        return exp.Subquery(this=inline[name].copy(), alias=exp.TableAlias(this=exp.to_identifier(node.alias_or_name)))

    def rename(node: Any) -> Any:
        name = plain(node)
        if name not in renames:
            return node
        table = renames[name].copy()
        table.set("alias", node.args.get("alias"))
        return table

    out = []
    for statement in sqlglot.parse(sql, read="duckdb"):
        if statement is None:
            continue
        # Two passes: a query put in place of a table may itself name a table to rename (the stage).
        statement = statement.transform(inline_query).transform(rename)
        statement = normalize_identifiers(statement, dialect="snowflake")
        out.append(str(statement.sql(dialect="snowflake", identify=True, comments=comments, pretty=pretty)))
    return out
