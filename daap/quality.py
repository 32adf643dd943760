"""Data quality: named checks with a severity, run on candles, marts and the lake, gathered in a :class:`QualityReport`.

Every candle check is one SQL query over a relation in the candle contract, so the same check runs on a pandas
DataFrame (through an in-process DuckDB, which reads the frame without copying it), on a Spark DataFrame (Spark SQL,
:func:`check_spark`) and inside the DuckDB warehouse (on ``raw_candles`` and ``fct_candle_metrics``), without
pulling tables into Python: only counts and a few example rows come back.

Checks (severity in brackets; an ``error`` finding stops ``daap run``):

- ``unique_keys`` [error]: one row per ``(symbol, interval, open_time)``.
- ``not_null`` [error]: no nulls, except ``vwap`` where the volume is 0 and trade ids on gap rows.
- ``ohlc_order`` [error]: ``low <= min(open, close) <= max(open, close) <= high``.
- ``non_negative`` [error]: volumes and trade counts are not negative; ``taker_le_total`` [error]: taker buy volumes do
  not exceed the totals.
- ``alignment`` [error]: every ``open_time`` starts a bucket of its interval, and ``close_time`` is the next bucket's
  start minus 1 µs.
- ``grid_complete`` [error]: every bucket between a series' first and last candle is present (a month of 1m
  candles holds 44,640); buckets of the expected range outside them are listed (``leading_missing``,
  ``trailing_missing``).
- ``trade_id_continuity`` [warn]: each traded candle's first trade id follows the previous one's last; the holes are
  listed as ranges.
- ``halt_runs`` [warn]: runs of at least ``min_halt`` consecutive zero-trade gap rows (exchange halts; Binance
  publishes no klines there).
- ``freshness`` [warn]: the newest candle reaches the expected end (within ``max_lag`` buckets, default 60).
- ``indicator_sanity`` [error]: RSI within [0, 100], Bollinger ``lower <= middle <= upper`` (marts).
- ``reconciliation`` [error]: bronze rows = Σ candle trades = the manifests' rows, and Σ qty = Σ volume (lake).
- ``klines`` [error on a mismatch, warn when incomplete], optional (``check_lake(..., verify=True)``, ``verify = true``
  in ``daap run``): the candles equal Binance's official klines bucket by bucket (:mod:`daap.reconcile`,
  :func:`verify_against_klines`).

Examples:
    >>> import daap
    >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2023-03-24.csv"))
    >>> report = check_candles(candles)
    >>> report.status, [f.check for f in report.findings if not f.passed]
    ('warn', ['halt_runs'])
    >>> print(report.summary())
    WARN: 10 checks on 1 target(s): 9 passed, 1 warning (halt_runs), 0 errors
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from daap.errors import DaapError
from daap.intervals import US_PER_DAY, Interval
from daap.reconcile import KlineReconciliation, verify_against_klines, verify_lake

if TYPE_CHECKING:
    import pandas as pd

    from daap.lake import Lake
    from daap.warehouse import WarehouseLoader

__all__ = [
    "CHECKS",
    "Check",
    "Finding",
    "KlineReconciliation",
    "QualityError",
    "QualityReport",
    "check_candles",
    "check_lake",
    "check_spark",
    "check_warehouse",
    "verify_against_klines",
    "verify_lake",
]

Severity = Literal["error", "warn"]
Query = Callable[[str], "pd.DataFrame"]
_EXAMPLES = 5


class QualityError(DaapError):
    """A quality check could not run (bad target or arguments); findings are never raised, they are reported.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> check_candles(candles, checks=["ohlc_order", "spelling"])
        Traceback (most recent call last):
        ...
        daap.quality.QualityError: unknown check(s) ['spelling']; known: ['unique_keys', 'not_null', ...]
    """


@dataclass(frozen=True)
class Finding:
    """The result of one check on one target.

    Attributes:
        check: the check's name.
        severity: ``"error"`` or ``"warn"``.
        target: what was checked (``candles``, ``raw_candles``, ``fct_candle_metrics``, ``lake``...).
        passed: whether the data passed.
        message: one line for people.
        details: counts, examples and ranges (JSON-serializable).

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> candles.loc[3, "high"] = candles.loc[3, "low"] - 1.0
        >>> check_candles(candles, checks=["ohlc_order"]).findings[0]  # doctest: +NORMALIZE_WHITESPACE
        Finding(check='ohlc_order', severity='error', target='candles', passed=False,
                message='1 row(s) where OHLC is out of order',
                details={'rows': 1, 'examples': [{'symbol': 'BTCUSDT', 'open_time': '2025-01-01T00:03:00.000Z'}]})
    """

    check: str
    severity: Severity
    target: str
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityReport:
    """Findings of a run of checks. JSON-serializable (:meth:`to_json`), with a one-line :meth:`summary`.

    Attributes:
        findings: one per check and target.
        created_at: when the checks ran (UTC, ISO 8601).

    Examples:
        >>> report = QualityReport([Finding("ohlc_order", "error", "candles", True, "ok"),
        ...                         Finding("halt_runs", "warn", "candles", False, "1 run(s) of zero-trade candles")])
        >>> report.status, [f.check for f in report.warnings]
        ('warn', ['halt_runs'])
    """

    findings: list[Finding] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def errors(self) -> list[Finding]:
        """Failed checks of severity ``error``.

        Examples:
            >>> report = QualityReport([Finding("unique_keys", "error", "candles", False, "2 duplicated key(s)"),
            ...                         Finding("halt_runs", "warn", "candles", False, "1 run(s)")])
            >>> [f.check for f in report.errors]
            ['unique_keys']
        """
        return [f for f in self.findings if not f.passed and f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Failed checks of severity ``warn``.

        Examples:
            >>> report = QualityReport([Finding("unique_keys", "error", "candles", False, "2 duplicated key(s)"),
            ...                         Finding("freshness", "warn", "candles", False, "1 series end early")])
            >>> [f.check for f in report.warnings]
            ['freshness']
        """
        return [f for f in self.findings if not f.passed and f.severity == "warn"]

    @property
    def status(self) -> str:
        """``"fail"`` when an error check failed, ``"warn"`` when only warnings did, else ``"pass"``.

        Examples:
            >>> ok = Finding("ohlc_order", "error", "candles", True, "ok")
            >>> bad = Finding("ohlc_order", "error", "candles", False, "1 row(s) where OHLC is out of order")
            >>> QualityReport([ok]).status, QualityReport([ok, bad]).status, QualityReport().status
            ('pass', 'fail', 'pass')
        """
        return "fail" if self.errors else "warn" if self.warnings else "pass"

    def extend(self, other: QualityReport) -> QualityReport:
        """Add another report's findings to this one (returns self).

        Examples:
            >>> report = QualityReport([Finding("ohlc_order", "error", "raw_candles", True, "ok")])
            >>> lake = QualityReport([Finding("reconciliation", "error", "lake", True, "ok")])
            >>> [(f.check, f.target) for f in report.extend(lake).findings]
            [('ohlc_order', 'raw_candles'), ('reconciliation', 'lake')]
        """
        self.findings.extend(other.findings)
        return self

    def summary(self) -> str:
        """One line: status, counts, and the names of the failed checks.

        Examples:
            >>> report = QualityReport([Finding("ohlc_order", "error", "candles", False, "1 row(s)"),
            ...                         Finding("halt_runs", "warn", "candles", False, "1 run(s)"),
            ...                         Finding("reconciliation", "error", "lake", True, "ok")])
            >>> print(report.summary())
            FAIL: 3 checks on 2 target(s): 1 passed, 1 warning (halt_runs), 1 error (ohlc_order)
        """
        targets = len({f.target for f in self.findings})
        errs, warns = self.errors, self.warnings
        passed = len(self.findings) - len(errs) - len(warns)

        def names(fs: list[Finding]) -> str:
            return f" ({', '.join(dict.fromkeys(f.check for f in fs))})" if fs else ""

        return (
            f"{self.status.upper()}: {len(self.findings)} checks on {targets} target(s): {passed} passed, "
            f"{len(warns)} warning{'s' if len(warns) != 1 else ''}{names(warns)}, "
            f"{len(errs)} error{'s' if len(errs) != 1 else ''}{names(errs)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Status, summary, creation time and findings as plain data.

        Examples:
            >>> ok = Finding("ohlc_order", "error", "candles", True, "ok")
            >>> report = QualityReport([ok], created_at="2025-01-02T00:00:00+00:00")
            >>> report.to_dict()  # doctest: +NORMALIZE_WHITESPACE
            {'status': 'pass', 'summary': 'PASS: 1 checks on 1 target(s): 1 passed, 0 warnings, 0 errors',
             'created_at': '2025-01-02T00:00:00+00:00',
             'findings': [{'check': 'ohlc_order', 'severity': 'error', 'target': 'candles', 'passed': True,
                           'message': 'ok', 'details': {}}]}
        """
        return {
            "status": self.status,
            "summary": self.summary(),
            "created_at": self.created_at,
            "findings": [dataclasses.asdict(f) for f in self.findings],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON; also written to ``path`` (atomically) when given.

        Examples:
            >>> import json, pathlib, tempfile
            >>> report = QualityReport([Finding("halt_runs", "warn", "candles", False, "1 run(s)", {"runs": 1})])
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "quality.json"
            >>> text = report.to_json(path)
            >>> json.loads(path.read_text()) == json.loads(text), json.loads(text)["status"]
            (True, 'warn')
        """
        text = json.dumps(self.to_dict(), indent=2, default=str)
        if path is not None:
            out = Path(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            tmp.replace(out)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        """Rebuild a report from :meth:`to_dict`'s output.

        Examples:
            >>> import json
            >>> report = QualityReport([Finding("halt_runs", "warn", "candles", False, "1 run(s)", {"runs": 1})])
            >>> again = QualityReport.from_dict(json.loads(report.to_json()))
            >>> again == report, again.summary()
            (True, 'WARN: 1 checks on 1 target(s): 0 passed, 1 warning (halt_runs), 0 errors')
        """
        return cls([Finding(**f) for f in data.get("findings", [])], data.get("created_at", ""))


@dataclass(frozen=True)
class Check:
    """A named check: ``run(query, table, options)`` returns its finding.

    Attributes:
        name: stable name (used in reports and in ``checks = [...]`` of the config).
        severity: ``"error"`` or ``"warn"``.
        description: what it asserts.
        fn: the implementation.

    Examples:
        >>> CHECKS["ohlc_order"]
        Check(name='ohlc_order', severity='error', description='low <= open, close <= high')
        >>> [name for name, c in CHECKS.items() if c.severity == "warn"]
        ['trade_id_continuity', 'halt_runs', 'freshness']
    """

    name: str
    severity: Severity
    description: str
    fn: Callable[[Query, str, dict[str, Any]], tuple[bool, str, dict[str, Any]]] = field(repr=False)

    def run(self, query: Query, table: str, target: str, options: dict[str, Any]) -> Finding:
        """Run on ``table`` through ``query`` and wrap the outcome as a :class:`Finding`.

        Args:
            query: runs a SQL query and returns its result as a pandas DataFrame.
            table: the relation to check, as named in the SQL.
            target: the finding's target.
            options: check options (``expected_start``, ``expected_end``, ``min_halt``...).

        Examples:
            >>> import daap, duckdb
            >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
            >>> con = duckdb.connect()
            >>> _ = con.register("c", candles)
            >>> f = CHECKS["grid_complete"].run(lambda sql: con.execute(sql).df(), "c", "my candles", {})
            >>> f.target, f.passed, f.details["series"][0]["present"]
            ('my candles', True, 11)
        """
        passed, message, details = self.fn(query, table, options)
        return Finding(self.name, self.severity, target, passed, message, details)


# ---------------------------------------------------------------------------------------------------- the checks
def _count_and_examples(query: Query, table: str, where: str, cols: str) -> tuple[int, list[dict[str, Any]]]:
    n = int(query(f"SELECT count(*) AS n FROM {table} WHERE {where}")["n"].to_numpy()[0])
    examples = query(f"SELECT {cols} FROM {table} WHERE {where} ORDER BY 1, 2 LIMIT {_EXAMPLES}") if n else None
    return n, [] if examples is None else json.loads(examples.to_json(orient="records", date_format="iso"))


Outcome = tuple[bool, str, dict[str, Any]]


def _rows_rule(where: str, what: str, cols: str = "symbol, open_time") -> Callable[..., Outcome]:
    def fn(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
        n, examples = _count_and_examples(query, table, where, cols)
        return (n == 0, f"{n:,} row(s) where {what}" if n else "ok", {"rows": n, "examples": examples})

    return fn


def _unique(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    dup = query(
        f"SELECT symbol, interval, open_time, count(*) AS n FROM {table} GROUP BY 1, 2, 3 HAVING count(*) > 1 "
        f"ORDER BY 1, 2, 3"
    )
    n = len(dup)
    examples = json.loads(dup.head(_EXAMPLES).to_json(orient="records", date_format="iso"))
    return (
        n == 0,
        (f"{n:,} duplicated (symbol, interval, open_time) key(s)" if n else "ok"),
        {
            "keys": n,
            "examples": examples,
        },
    )


def _epoch_us(col: str, options: dict[str, Any]) -> str:
    """µs since the epoch of a timestamp expression, in the target's SQL dialect."""
    return str(options.get("epoch_us", "epoch_us({})")).format(col)


def _alignment(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    bad = 0
    examples: list[dict[str, Any]] = []
    for name in query(f"SELECT DISTINCT interval FROM {table} ORDER BY 1")["interval"].tolist():
        iv = Interval.parse(str(name))
        t, c = _epoch_us("open_time", options), _epoch_us("close_time", options)
        if iv.kind == "month":
            wrong = (
                f"date_trunc('month', open_time) <> open_time OR "
                f"{c} <> {_epoch_us('(open_time + INTERVAL 1 MONTH)', options)} - 1"
            )
        else:
            wrong = f"({t} - {iv.offset_us}) % {iv.step_us} <> 0 OR {c} - {t} <> {iv.step_us - 1}"
        where = f"interval = '{iv.name}' AND ({wrong})"
        n, ex = _count_and_examples(query, table, where, "symbol, open_time, close_time")
        bad += n
        examples += ex
    return (
        bad == 0,
        (f"{bad:,} candle(s) off their interval's grid" if bad else "ok"),
        {
            "rows": bad,
            "examples": examples[:_EXAMPLES],
        },
    )


def _buckets_between(iv: Interval, first_us: int, last_us: int) -> int:
    import numpy as np

    a, b = iv.index_of(np.array([first_us, last_us], dtype=np.int64)).tolist()
    return int(b - a + 1)


def _grid(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    rows = query(
        f"SELECT symbol, interval, {_epoch_us('min(open_time)', options)} AS first_us, "
        f"{_epoch_us('max(open_time)', options)} AS last_us,"
        f" count(*) AS present FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    start, end = options.get("expected_start"), options.get("expected_end")
    series, missing_total = [], 0
    for r in _records(rows):
        iv = Interval.parse(str(r.interval))
        first, last = int(r.first_us), int(r.last_us)
        expected = _buckets_between(iv, first, last)
        missing = expected - int(r.present)
        missing_total += max(missing, 0)
        entry = {"symbol": r.symbol, "interval": r.interval, "expected": expected, "present": int(r.present),
                 "missing": missing}  # fmt: skip
        # Buckets of the expected range before the first / after the last traded one (quiet edges, or missing
        # days): reported, and judged by `freshness` at the end; the grid between them must be whole.
        if start is not None:
            entry["leading_missing"] = max(_buckets_between(iv, _day_us(start), first) - 1, 0)
        if end is not None:
            entry["trailing_missing"] = max(_buckets_between(iv, last, _day_us(end) + US_PER_DAY - 1) - 1, 0)
        series.append(entry)
    return (
        missing_total == 0,
        (f"{missing_total:,} bucket(s) missing" if missing_total else "ok"),
        {
            "missing": missing_total,
            "series": series,
        },
    )


def _records(frame: pd.DataFrame) -> list[Any]:
    """Rows as attribute-access records (typed Any: values from SQL)."""
    return list(frame.itertuples(index=False))


def _day_us(day: dt.date | str) -> int:
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return (d - dt.date(1970, 1, 1)).days * US_PER_DAY


def _id_continuity(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    gaps = query(
        f"SELECT symbol, interval, prev_last + 1 AS first_missing, first_trade_id - 1 AS last_missing, open_time "
        f"FROM (SELECT symbol, interval, open_time, first_trade_id, "
        f"lag(last_trade_id) OVER (PARTITION BY symbol, interval ORDER BY open_time) AS prev_last "
        f"FROM {table} WHERE trades > 0) AS t "
        f"WHERE prev_last IS NOT NULL AND first_trade_id <> prev_last + 1 ORDER BY 1, 2, 5"
    )
    n = len(gaps)
    missing = int((gaps["last_missing"] - gaps["first_missing"] + 1).clip(lower=0).sum()) if n else 0
    ranges = json.loads(gaps.head(100).to_json(orient="records", date_format="iso"))
    return (
        n == 0,
        (f"{n:,} hole(s) in the trade ids, {missing:,} id(s) missing" if n else "ok"),
        {
            "holes": n,
            "missing_ids": missing,
            "ranges": ranges,
        },
    )


def _halts(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    min_run = int(options.get("min_halt", 30))
    runs = query(
        f"SELECT symbol, interval, min(open_time) AS start, max(open_time) AS last, count(*) AS buckets "
        f"FROM (SELECT symbol, interval, open_time, trades, "
        f"row_number() OVER (PARTITION BY symbol, interval ORDER BY open_time) - "
        f"row_number() OVER (PARTITION BY symbol, interval, trades = 0 ORDER BY open_time) AS grp "
        f"FROM {table}) AS t WHERE trades = 0 GROUP BY symbol, interval, grp HAVING count(*) >= {min_run} "
        f"ORDER BY 1, 2, 3"
    )
    n = len(runs)
    listed = json.loads(runs.head(100).to_json(orient="records", date_format="iso"))
    return (
        n == 0,
        (f"{n:,} run(s) of >= {min_run} zero-trade candles (exchange halt?)" if n else "ok"),
        {
            "runs": n,
            "min_buckets": min_run,
            "listed": listed,
        },
    )


def _freshness(query: Query, table: str, options: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    end, max_lag = options.get("expected_end"), int(options.get("max_lag", 60))
    rows = query(
        f"SELECT symbol, interval, {_epoch_us('max(open_time)', options)} AS last_us FROM {table} GROUP BY 1, 2"
    )
    if end is None:
        return True, "no expected end given", {"series": len(rows)}
    stale = []
    for r in _records(rows):
        iv = Interval.parse(str(r.interval))
        want = int(iv.start_of(iv.index_of(_day_us(end) + US_PER_DAY - 1)))
        behind = _buckets_between(iv, int(r.last_us), want) - 1 if int(r.last_us) < want else 0
        if behind > max_lag:
            stale.append({"symbol": r.symbol, "interval": r.interval, "behind_buckets": behind})
    return (
        not stale,
        (f"{len(stale)} series end more than {max_lag} buckets before {end}" if stale else "ok"),
        {
            "stale": stale,
            "max_lag": max_lag,
        },
    )


_TOL = "1e-9 * greatest(abs(volume), 1e-12)"
CHECKS: dict[str, Check] = {
    c.name: c
    for c in [
        Check("unique_keys", "error", "one row per (symbol, interval, open_time)", _unique),
        Check(
            "not_null",
            "error",
            "no unexpected nulls",
            _rows_rule(
                "symbol IS NULL OR interval IS NULL OR open_time IS NULL OR close_time IS NULL OR open IS NULL "
                "OR high IS NULL OR low IS NULL OR close IS NULL OR volume IS NULL OR quote_volume IS NULL "
                "OR trades IS NULL OR taker_buy_volume IS NULL OR taker_buy_quote_volume IS NULL "
                "OR (vwap IS NULL AND volume <> 0) "
                "OR (trades > 0 AND (first_trade_id IS NULL OR last_trade_id IS NULL))",
                "a required value is null",
            ),
        ),
        Check(
            "ohlc_order",
            "error",
            "low <= open, close <= high",
            _rows_rule("NOT (low <= open AND low <= close AND high >= open AND high >= close)", "OHLC is out of order"),
        ),
        Check(
            "non_negative",
            "error",
            "volumes and counts >= 0",
            _rows_rule(
                "volume < 0 OR quote_volume < 0 OR trades < 0 OR taker_buy_volume < 0 OR taker_buy_quote_volume < 0",
                "a volume or count is negative",
            ),
        ),
        Check(
            "taker_le_total",
            "error",
            "taker buy volumes <= totals",
            _rows_rule(
                f"taker_buy_volume > volume + {_TOL} OR taker_buy_quote_volume > quote_volume + "
                "1e-9 * greatest(abs(quote_volume), 1e-12)",
                "taker buy volume exceeds the total",
            ),
        ),
        Check("alignment", "error", "open_time on the interval's grid, close_time = next open - 1 µs", _alignment),
        Check("grid_complete", "error", "every bucket of the range is present", _grid),
        Check("trade_id_continuity", "warn", "trade ids continue from candle to candle", _id_continuity),
        Check("halt_runs", "warn", "no long runs of zero-trade candles", _halts),
        Check("freshness", "warn", "the newest candle reaches the expected end", _freshness),
    ]
}


# ------------------------------------------------------------------------------------------------------ targets
@contextmanager
def _frame_query(frame: pd.DataFrame) -> Iterator[Query]:
    import duckdb

    con = duckdb.connect()
    try:
        con.register("candles", frame)

        def query(sql: str) -> pd.DataFrame:
            return con.execute(sql).df()

        yield query
    finally:
        con.close()


def _selected(checks: Sequence[str] | None) -> list[Check]:
    if checks is None:
        return list(CHECKS.values())
    unknown = [c for c in checks if c not in CHECKS and c not in ("indicator_sanity", "reconciliation")]
    if unknown:
        raise QualityError(f"unknown check(s) {unknown}; known: {[*CHECKS, 'indicator_sanity', 'reconciliation']}")
    return [CHECKS[c] for c in checks if c in CHECKS]


def _run(query: Query, table: str, target: str, checks: Sequence[str] | None, options: dict[str, Any]) -> QualityReport:
    report = QualityReport()
    for check in _selected(checks):
        report.findings.append(check.run(query, table, target, options))
    return report


def check_candles(
    candles: pd.DataFrame,
    *,
    checks: Sequence[str] | None = None,
    expected_start: dt.date | str | None = None,
    expected_end: dt.date | str | None = None,
    min_halt: int = 30,
) -> QualityReport:
    """Run the candle checks on a pandas DataFrame in the contract (through an in-process DuckDB).

    Args:
        candles: candles of any symbols and intervals.
        checks: names of the checks to run (default: all candle checks).
        expected_start: first UTC day the candles should cover (grid completeness).
        expected_end: last UTC day they should cover (grid completeness, freshness).
        min_halt: shortest run of zero-trade candles reported as a halt.

    Raises:
        QualityError: an unknown check name.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> candles.loc[3, "high"] = candles.loc[3, "low"] - 1.0
        >>> report = check_candles(candles, expected_start="2025-01-01", expected_end="2025-01-01")
        >>> print(report.summary())
        FAIL: 10 checks on 1 target(s): 8 passed, 1 warning (freshness), 1 error (ohlc_order)
        >>> report.errors[0].details["examples"]
        [{'symbol': 'BTCUSDT', 'open_time': '2025-01-01T00:03:00.000Z'}]
    """
    options = {"expected_start": expected_start, "expected_end": expected_end, "min_halt": min_halt}
    with _frame_query(candles) as query:
        return _run(query, "candles", "candles", checks, options)


def check_spark(
    candles: Any,
    *,
    checks: Sequence[str] | None = None,
    expected_start: dt.date | str | None = None,
    expected_end: dt.date | str | None = None,
    min_halt: int = 30,
) -> QualityReport:
    """Run the candle checks as Spark SQL on a Spark DataFrame of candles; only counts and examples are collected.

    Examples:
        >>> import daap
        >>> candles = daap.CandleBuilder("1m", engine="spark").build(trades)
        >>> check_spark(candles).status
        'pass'
    """
    import uuid

    view = f"daap_quality_{uuid.uuid4().hex[:12]}"
    spark = candles.sparkSession
    candles.createOrReplaceTempView(view)
    options = {"expected_start": expected_start, "expected_end": expected_end, "min_halt": min_halt,
               "epoch_us": "unix_micros({})"}  # fmt: skip
    try:
        return _run(lambda sql: spark.sql(sql).toPandas(), view, "spark candles", checks, options)
    finally:
        spark.catalog.dropTempView(view)


def _indicator_sanity(query: Query, table: str) -> Finding:
    cols = list(query(f"SELECT * FROM {table} LIMIT 0").columns)
    rules = [f"{c} < 0 OR {c} > 100" for c in cols if c.lower().startswith("rsi_")]
    for c in cols:
        if c.lower().startswith("bb_upper_"):
            p = c[len("bb_upper_") :]
            mid, low = f"bb_middle_{p}", f"bb_lower_{p}"
            if mid in cols and low in cols:
                rules.append(f"{low} > {mid} + 1e-9 * abs({mid}) OR {mid} > {c} + 1e-9 * abs({mid})")
    if not rules:
        return Finding("indicator_sanity", "error", table, True, "no RSI or Bollinger columns", {"rules": 0})
    where = " OR ".join(f"({r})" for r in rules)
    n, examples = _count_and_examples(query, table, where, "symbol, candle_start_time")
    return Finding(
        "indicator_sanity", "error", table, n == 0, f"{n:,} row(s) with an impossible indicator value" if n else "ok",
        {"rows": n, "rules": len(rules), "examples": examples},
    )  # fmt: skip


def check_warehouse(
    warehouse: WarehouseLoader | str,
    *,
    checks: Sequence[str] | None = None,
    expected_start: dt.date | str | None = None,
    expected_end: dt.date | str | None = None,
    min_halt: int = 30,
) -> QualityReport:
    """Run the candle checks as queries on the warehouse's ``raw_candles``, and indicator sanity on its marts.

    Only counts and a few example rows are fetched. DuckDB runs the queries as written; for Snowflake they are
    transpiled (sqlglot), with ``DATEDIFF(MICROSECOND, ...)`` for epoch µs (tested on fakesnow).

    Raises:
        QualityError: the warehouse is not DuckDB, or has no ``raw_candles``.

    Examples:
        >>> import daap, tempfile
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> with daap.WarehouseLoader(f"duckdb:///{tempfile.mkdtemp()}/w.duckdb") as wh:
        ...     _ = wh.load_candles(candles)
        ...     _ = wh.build_marts("rsi:14,bb:5:2")
        ...     report = check_warehouse(wh)
        >>> print(report.summary())
        PASS: 11 checks on 2 target(s): 11 passed, 0 warnings, 0 errors
        >>> [f.target for f in report.findings if f.check == "indicator_sanity"]
        ['fct_candle_metrics']
    """
    from daap.warehouse import WarehouseError, WarehouseLoader

    wh = warehouse if isinstance(warehouse, WarehouseLoader) else WarehouseLoader(warehouse)
    if wh.backend not in ("duckdb", "snowflake"):
        raise QualityError(f"warehouse quality checks run on DuckDB and Snowflake, not {wh.backend}")
    options: dict[str, Any] = {"expected_start": expected_start, "expected_end": expected_end, "min_halt": min_halt}

    if wh.backend == "snowflake":
        from daap.warehouse.models import to_snowflake

        # The same queries, transpiled; Snowflake's upper-case result columns are read in lower case.
        options["epoch_us"] = "datediff('microsecond', TIMESTAMP '1970-01-01', {})"

        def query(sql: str) -> pd.DataFrame:
            frame = wh.sql(to_snowflake(sql)[0])
            frame.columns = [str(c).lower() for c in frame.columns]
            return frame

    else:

        def query(sql: str) -> pd.DataFrame:
            return wh.sql(sql)

    try:
        tables = {str(t).lower() for t in query("SELECT table_name FROM information_schema.tables")["table_name"]}
    except WarehouseError as exc:
        raise QualityError(f"cannot read {wh.url}: {exc}") from exc
    if "raw_candles" not in tables or not int(query("SELECT count(*) AS n FROM raw_candles")["n"].to_numpy()[0]):
        raise QualityError(f"{wh.url} has no raw_candles: run `daap load` first")
    report = _run(query, "raw_candles", "raw_candles", checks, options)
    if "fct_candle_metrics" in tables and (checks is None or "indicator_sanity" in checks):
        report.findings.append(_indicator_sanity(query, "fct_candle_metrics"))
    return report


def check_lake(
    lake: Lake | str | Path,
    symbol: str,
    *,
    market: str = "spot",
    interval: str = "1m",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    checks: Sequence[str] | None = None,
    min_halt: int = 30,
    verify: bool = False,
    base_url: str | None = None,
) -> QualityReport:
    """Check one symbol's candles in the lake, and reconcile them with its bronze trades and manifests.

    Reconciliation needs the whole days of trades behind the candles: bronze rows (from the Parquet footers) =
    Σ candle trades = Σ manifest rows written, and Σ qty (read column by column) = Σ volume to 1e-9. With
    ``verify`` (and ``start``/``end``), the candles are also verified against Binance's official klines, fetched
    from ``base_url`` (:func:`verify_lake`): the ``klines`` finding.

    Raises:
        QualityError: no candles for the symbol in the lake.

    Examples:
        >>> import daap, tempfile
        >>> lake = daap.Lake(tempfile.mkdtemp())
        >>> _ = daap.Ingestor(lake, progress=False).ingest_file("tests/data/BTCUSDT-trades-2025-01-01.csv")
        >>> _ = daap.CandleBuilder("1m").build_lake(lake, "BTCUSDT")
        >>> report = check_lake(lake, "BTCUSDT")
        >>> print(report.summary())
        PASS: 11 checks on 2 target(s): 11 passed, 0 warnings, 0 errors
        >>> {k: v for k, v in report.findings[-1].details.items() if k.endswith("rows")}
        {'bronze_rows': 12000, 'manifest_rows': 12000}
        >>> check_lake(lake, "ETHUSDT")
        Traceback (most recent call last):
        ...
        daap.quality.QualityError: no 1m candles for ETHUSDT in ...: build them first
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from daap.lake import Lake

    the_lake = lake if isinstance(lake, Lake) else Lake(lake)
    day0 = dt.date.fromisoformat(start) if isinstance(start, str) else start
    day1 = dt.date.fromisoformat(end) if isinstance(end, str) else end
    keys = the_lake.candle_keys(interval, symbol, start=day0, end=day1)
    if not keys:
        raise QualityError(f"no {interval} candles for {symbol} in {the_lake.uri}: build them first")
    bronze = the_lake.bronze_keys(symbol, market=market, start=day0, end=day1)
    with the_lake.local_files(keys) as paths, the_lake.local_files(bronze) as trade_paths:
        import pyarrow as pa

        candles = pa.concat_tables([pq.read_table(p) for p in paths]).to_pandas()
        report = check_candles(candles, checks=checks, expected_start=day0, expected_end=day1, min_halt=min_halt)
        if checks is None or "reconciliation" in checks:
            rows = sum(pq.ParquetFile(p).metadata.num_rows for p in trade_paths)
            qty = sum(
                float(pc.sum(pq.read_table(p, columns=["qty"]).column("qty")).as_py() or 0.0) for p in trade_paths
            )
            manifests = the_lake.manifests(market=market, symbol=symbol)
            manifest_rows = sum(m.rows_written for m in manifests if _manifest_in_range(m.time_min, day0, day1))
            traded, volume = int(candles["trades"].sum()), float(candles["volume"].sum())
            ok = rows == traded == manifest_rows and abs(qty - volume) <= 1e-9 * max(abs(volume), 1e-12)
            report.findings.append(Finding(
                "reconciliation", "error", "lake", ok,
                "ok" if ok else f"bronze rows {rows:,}, candle trades {traded:,}, manifest rows {manifest_rows:,}; "
                f"Σ qty {qty!r} vs Σ volume {volume!r}",
                {"bronze_rows": rows, "candle_trades": traded, "manifest_rows": manifest_rows, "sum_qty": qty,
                 "sum_volume": volume, "days": len(keys)},
            ))  # fmt: skip
    if verify:
        if day0 is None or day1 is None:
            raise QualityError("verify=True needs start= and end= (the days to compare with Binance's klines)")
        result = verify_lake(
            the_lake, symbol, start=day0, end=day1, interval=interval, market=market, base_url=base_url
        )
        report.findings.append(result.to_finding())
    return report


def _manifest_in_range(time_min: str | None, day0: dt.date | None, day1: dt.date | None) -> bool:
    if time_min is None:
        return False
    day = dt.datetime.fromisoformat(time_min.replace("Z", "+00:00")).date()
    return (day0 is None or day >= day0) and (day1 is None or day <= day1)
