"""The pipeline as plain, typed, idempotent steps, and :func:`run` to chain them with resume.

``download → ingest → build_candles → load → build_marts → check → dashboard``: each step takes a
:class:`PipelineConfig`, does its work (skipping what is already done: downloads verified by checksum, ingests by
content digest, candle days overwritten in place, loads merged), and returns a :class:`StepResult`. The CLI
(``daap run``), the Airflow example and any orchestrator call these same functions.

Configuration comes from ``daap.toml`` (top-level keys, or a ``[pipeline]`` table) or a mapping; an unknown key or a
bad value is a :class:`ConfigError` naming the key.

Examples:
    >>> import tempfile
    >>> work = tempfile.mkdtemp()
    >>> cfg = PipelineConfig.from_mapping({
    ...     "symbols": ["BTCUSDT"], "start": "2025-01-01", "end": "2025-01-01", "source": "synthetic",
    ...     "trades_per_day": 2000, "lake": f"{work}/lake", "warehouse": f"duckdb:///{work}/daap.duckdb",
    ...     "work_dir": work, "dashboard": False})
    >>> [r.step for r in run(cfg).steps]
    ['download', 'ingest', 'build_candles', 'load', 'build_marts', 'check', 'dashboard']
    >>> [r.skipped for r in run(cfg).steps]   # a rerun resumes: everything was done
    [True, True, True, True, True, True, True]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daap.errors import DaapError

__all__ = [
    "STEPS",
    "ConfigError",
    "PipelineConfig",
    "PipelineError",
    "QualityGateError",
    "RunResult",
    "StepResult",
    "build_candles",
    "build_marts",
    "check",
    "dashboard",
    "download",
    "ingest",
    "load",
    "run",
]


class ConfigError(DaapError, ValueError):
    """A bad pipeline configuration; the message names the key.

    Examples:
        >>> PipelineConfig.from_mapping({"start": "2025-01-02", "end": "2025-01-01"})
        Traceback (most recent call last):
        ...
        daap.pipeline.ConfigError: end: 2025-01-01 is before start 2025-01-02
        >>> PipelineConfig.from_mapping({"months": ["2025-01"], "trades_per_day": -1})
        Traceback (most recent call last):
        ...
        daap.pipeline.ConfigError: trades_per_day: bad value -1 (a non-negative integer)
    """


class PipelineError(DaapError):
    """A step failed; ``step`` names it. Rerunning resumes from that step.

    Examples:
        >>> import tempfile
        >>> tmp = tempfile.mkdtemp()
        >>> cfg = PipelineConfig.from_mapping({"start": "2025-01-01", "end": "2025-01-01", "work_dir": tmp,
        ...                                    "lake": f"{tmp}/lake"})
        >>> try:
        ...     ingest(cfg)  # nothing downloaded yet
        ... except PipelineError as exc:
        ...     print(exc.step)
        ...     print(exc)
        ingest
        step 'ingest' failed: ...BTCUSDT-trades-2025-01-01.zip is missing: run the download step first
    """

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"step {step!r} failed: {message}")


class QualityGateError(PipelineError):
    """The quality checks found an ``error``; the report was written first.

    Examples:
        >>> exc = QualityGateError("FAIL: 12 checks on 3 target(s): 11 passed, 0 warnings, 1 error (ohlc_order)",
        ...                        "work/quality.json")
        >>> exc.step, exc.report_path, isinstance(exc, PipelineError)
        ('check', 'work/quality.json', True)
        >>> print(exc)  # doctest: +NORMALIZE_WHITESPACE
        step 'check' failed: FAIL: 12 checks on 3 target(s): 11 passed, 0 warnings, 1 error (ohlc_order);
        report: work/quality.json
    """

    def __init__(self, summary: str, report_path: str) -> None:
        self.report_path = report_path
        super().__init__("check", f"{summary}; report: {report_path}")


@dataclass(frozen=True)
class StepResult:
    """What one step did.

    Attributes:
        step: the step's name.
        ok: it finished.
        skipped: nothing to do (already done in an earlier run, or switched off).
        seconds: wall time.
        summary: one line for people.
        details: counts and paths (JSON-serializable).

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> result = download(cfg)
        >>> result.step, result.ok, result.skipped, result.details["fetched"]
        ('download', True, False, 1)
    """

    step: str
    ok: bool
    skipped: bool
    seconds: float
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As plain data (for XCom, JSON, logs).

        Examples:
            >>> result = StepResult("ingest", True, False, 0.25, "1 file(s) ingested", {"rows": 500})
            >>> result.to_dict()  # doctest: +NORMALIZE_WHITESPACE
            {'step': 'ingest', 'ok': True, 'skipped': False, 'seconds': 0.25, 'summary': '1 file(s) ingested',
             'details': {'rows': 500}}
        """
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunResult:
    """The steps of one :func:`run`, in order.

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> result = run(cfg, steps=["download", "ingest"])
        >>> [(r.step, r.skipped) for r in result.steps]
        [('download', False), ('ingest', False)]
    """

    steps: list[StepResult]

    @property
    def seconds(self) -> float:
        """Total wall time.

        Examples:
            >>> steps = [StepResult("download", True, False, 1.5, "ok"), StepResult("ingest", True, False, 0.25, "ok")]
            >>> RunResult(steps).seconds
            1.75
        """
        return sum(s.seconds for s in self.steps)


_SOURCES = ("binance", "synthetic")
_MARKETS = ("spot", "um")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs. Build it with :meth:`from_mapping` or :meth:`from_toml` (they validate).

    Attributes:
        symbols: upper-case symbols.
        market: ``spot`` or ``um``.
        start: first UTC day (inclusive); with ``end``. Or give ``months``.
        end: last UTC day (inclusive).
        months: ``YYYY-MM`` months, instead of ``start``/``end``.
        source: ``binance`` (download from ``base_url``) or ``synthetic`` (generated offline).
        base_url: Binance public-data base URL (default ``$DAAP_BINANCE_BASE_URL`` or data.binance.vision).
        trades_per_day: synthetic trades per day and symbol.
        seed: synthetic seed.
        lake: lake URI (local path or ``s3://``).
        work_dir: downloads, run state, default report and dashboard.
        engine: candle engine (``pandas``, ``spark``, ``snowpark``).
        warehouse: warehouse URL.
        intervals: candle intervals.
        indicators: indicator spec string for the marts.
        checks: quality check names (None: all).
        min_halt: shortest run of zero-trade candles reported as a halt.
        report: quality report path (default ``work_dir/quality.json``).
        dashboard: dashboard path (default ``work_dir/dashboard.html``), or False for none.
        verify: also reconcile the candles with Binance's official klines (:mod:`daap.reconcile`): fetched from
            ``base_url`` into the lake, or, for the synthetic source, klines computed from the synthetic trades by
            an independent reference implementation. Adds a ``klines`` finding per symbol and interval.

    Examples:
        >>> cfg = PipelineConfig.from_mapping({"symbols": "ethusdt", "months": ["2025-02"], "intervals": ["1m", "1h"]})
        >>> cfg.symbols, cfg.intervals, len(cfg.days), cfg.warehouse
        (('ETHUSDT',), ('1m', '1h'), 28, 'duckdb:///daap.duckdb')
    """

    symbols: tuple[str, ...] = ("BTCUSDT",)
    market: str = "spot"
    start: dt.date | None = None
    end: dt.date | None = None
    months: tuple[str, ...] = ()
    source: str = "binance"
    base_url: str | None = None
    trades_per_day: int = 20_000
    seed: int = 0
    lake: str = "./daap-lake"
    work_dir: str = "./daap-work"
    engine: str = "pandas"
    warehouse: str = "duckdb:///daap.duckdb"
    intervals: tuple[str, ...] = ("1m",)
    indicators: str = "sma:7,ema:21,rsi:14,macd,bb:20:2"
    checks: tuple[str, ...] | None = None
    min_halt: int = 30
    report: str | None = None
    dashboard: str | bool | None = None
    verify: bool = False

    # --------------------------------------------------------------------------------------------- construction
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], **overrides: Any) -> PipelineConfig:
        """Validate a mapping (e.g. parsed TOML, DAG params); ``overrides`` win over it (None values are ignored).

        Raises:
            ConfigError: an unknown key or a bad value, naming the key.

        Examples:
            >>> cfg = PipelineConfig.from_mapping({"start": "2025-01-01", "end": "2025-01-07"}, engine="spark",
            ...                                   seed=None)  # None overrides are ignored
            >>> cfg.start, cfg.engine, cfg.seed
            (datetime.date(2025, 1, 1), 'spark', 0)
            >>> PipelineConfig.from_mapping({"start": "2025-01-01", "end": "2025-01-07", "symbol": "BTCUSDT"})
            Traceback (most recent call last):
            ...
            daap.pipeline.ConfigError: unknown config key(s) ['symbol']; known keys: [...]
        """
        merged = {**dict(data), **{k: v for k, v in overrides.items() if v is not None}}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
        values: dict[str, Any] = {}
        for key, value in merged.items():
            values[key] = _coerce(key, value)
        cfg = cls(**values)
        cfg._validate()
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> PipelineConfig:
        r"""Read ``daap.toml``: top-level keys or a ``[pipeline]`` table.

        Raises:
            ConfigError: unreadable TOML, or a bad key (the message names the file too).

        Examples:
            >>> import pathlib, tempfile
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "daap.toml"
            >>> _ = path.write_text('[pipeline]\nsymbols = ["BTCUSDT", "ETHUSDT"]\nmonths = ["2025-01"]\n')
            >>> cfg = PipelineConfig.from_toml(path, market="um")
            >>> cfg.symbols, cfg.months, cfg.market
            (('BTCUSDT', 'ETHUSDT'), ('2025-01',), 'um')
        """
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]

        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        table = data.get("pipeline", data)
        try:
            return cls.from_mapping(table, **overrides)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_mapping(self) -> dict[str, Any]:
        """JSON-serializable; :meth:`from_mapping` reads it back.

        Examples:
            >>> cfg = PipelineConfig.from_mapping({"start": "2025-01-01", "end": "2025-01-02"})
            >>> data = cfg.to_mapping()
            >>> data["start"], data["symbols"], PipelineConfig.from_mapping(data) == cfg
            ('2025-01-01', ['BTCUSDT'], True)
        """
        out = dataclasses.asdict(self)
        for key in ("start", "end"):
            out[key] = out[key].isoformat() if out[key] else None
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}

    def _validate(self) -> None:
        if not self.symbols:
            raise ConfigError("symbols: give at least one symbol")
        if self.market not in _MARKETS:
            raise ConfigError(f"market: {self.market!r} is not one of {_MARKETS}")
        if self.source not in _SOURCES:
            raise ConfigError(f"source: {self.source!r} is not one of {_SOURCES}")
        if self.months and (self.start or self.end):
            raise ConfigError("months: give either months or start/end, not both")
        if not self.months and not (self.start and self.end):
            raise ConfigError("start/end: give both days (YYYY-MM-DD), or months = ['YYYY-MM']")
        if self.start and self.end and self.end < self.start:
            raise ConfigError(f"end: {self.end} is before start {self.start}")
        from daap.intervals import Interval

        for iv in self.intervals:
            try:
                Interval.parse(iv)
            except DaapError as exc:
                raise ConfigError(f"intervals: {exc}") from exc
        from daap import indicators

        try:
            indicators.parse(self.indicators)
        except DaapError as exc:
            raise ConfigError(f"indicators: {exc}") from exc
        if self.checks is not None:
            from daap.quality import QualityError, _selected

            try:
                _selected(self.checks)
            except QualityError as exc:
                raise ConfigError(f"checks: {exc}") from exc

    # ------------------------------------------------------------------------------------------------- derived
    @property
    def days(self) -> list[dt.date]:
        """Every UTC day of the run, in order.

        Examples:
            >>> [d.isoformat() for d in PipelineConfig.from_mapping({"start": "2024-02-28", "end": "2024-03-01"}).days]
            ['2024-02-28', '2024-02-29', '2024-03-01']
            >>> len(PipelineConfig.from_mapping({"months": ["2024-02", "2024-03"]}).days)
            60
        """
        if self.months:
            out: list[dt.date] = []
            for m in self.months:
                first = dt.date.fromisoformat(f"{m}-01")
                nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
                out += [first + dt.timedelta(days=i) for i in range((nxt - first).days)]
            return sorted(set(out))
        assert self.start and self.end
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def first_day(self) -> dt.date:
        """The first day.

        Examples:
            >>> PipelineConfig.from_mapping({"months": ["2025-03", "2025-02"]}).first_day
            datetime.date(2025, 2, 1)
        """
        return self.days[0]

    @property
    def last_day(self) -> dt.date:
        """The last day.

        Examples:
            >>> PipelineConfig.from_mapping({"months": ["2025-02"]}).last_day
            datetime.date(2025, 2, 28)
        """
        return self.days[-1]

    @property
    def report_path(self) -> Path:
        """Where the quality report goes.

        Examples:
            >>> cfg = PipelineConfig.from_mapping({"months": ["2025-01"], "work_dir": "/srv/daap"})
            >>> cfg.report_path
            PosixPath('/srv/daap/quality.json')
        """
        return Path(self.report) if self.report else Path(self.work_dir) / "quality.json"

    def dashboard_path(self, symbol: str) -> Path | None:
        """Where a symbol's dashboard goes (``-SYMBOL`` added when there are several symbols), or None.

        Examples:
            >>> cfg = PipelineConfig.from_mapping({"months": ["2025-01"], "symbols": ["BTCUSDT", "ETHUSDT"],
            ...                                    "dashboard": "/srv/daap/dash.html"})
            >>> cfg.dashboard_path("ETHUSDT")
            PosixPath('/srv/daap/dash-ETHUSDT.html')
            >>> cfg = PipelineConfig.from_mapping({"months": ["2025-01"], "dashboard": False})
            >>> print(cfg.dashboard_path("BTCUSDT"))
            None
        """
        if self.dashboard is False:
            return None
        base = Path(self.dashboard) if isinstance(self.dashboard, str) else Path(self.work_dir) / "dashboard.html"
        return base if len(self.symbols) == 1 else base.with_name(f"{base.stem}-{symbol}{base.suffix}")

    @property
    def downloads(self) -> Path:
        """Where downloaded (or generated) Binance files are kept.

        Examples:
            >>> PipelineConfig.from_mapping({"months": ["2025-01"], "work_dir": "/srv/daap", "market": "um"}).downloads
            PosixPath('/srv/daap/downloads/um')
        """
        return Path(self.work_dir) / "downloads" / self.market

    def fingerprint(self) -> str:
        """A short digest of the configuration: the identity of a run for resuming.

        Examples:
            >>> a = PipelineConfig.from_mapping({"months": ["2025-01"]})
            >>> len(a.fingerprint()), a.fingerprint() == PipelineConfig.from_mapping(a.to_mapping()).fingerprint()
            (16, True)
            >>> a.fingerprint() == PipelineConfig.from_mapping({"months": ["2025-02"]}).fingerprint()
            False
        """
        return hashlib.sha256(json.dumps(self.to_mapping(), sort_keys=True).encode()).hexdigest()[:16]


def _coerce(key: str, value: Any) -> Any:
    try:
        if key in ("symbols", "intervals", "months"):
            items = [value] if isinstance(value, str) else list(value)
            items = [str(v).strip() for v in items if str(v).strip()]
            if key == "symbols":
                items = [v.upper() for v in items]
            if key == "months":
                for m in items:
                    dt.date.fromisoformat(f"{m}-01")
            return tuple(items)
        if key == "checks":
            return None if value is None else tuple([value] if isinstance(value, str) else value)
        if key in ("start", "end"):
            if value in (None, ""):
                return None
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
        if key in ("trades_per_day", "seed", "min_halt"):
            if isinstance(value, bool) or int(value) != value or int(value) < 0:
                raise ValueError("a non-negative integer")
            return int(value)
        if key == "verify":
            if not isinstance(value, bool):
                raise ValueError("true or false")
            return value
        if key == "dashboard":
            return value if isinstance(value, bool) or value is None else str(value)
        if key == "base_url" or key == "report":
            return None if value is None else str(value)
        if not isinstance(value, str):
            raise ValueError("a string")
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: bad value {value!r} ({exc})") from exc


# ------------------------------------------------------------------------------------------------------- steps
def _timed(step: str, fn: Callable[[], tuple[str, dict[str, Any], bool]]) -> StepResult:
    started = time.perf_counter()
    try:
        summary, details, skipped = fn()
    except PipelineError:
        raise
    except DaapError as exc:
        raise PipelineError(step, str(exc)) from exc
    except Exception as exc:  # anything else (a bug, a lost connection) still names the step
        raise PipelineError(step, f"{type(exc).__name__}: {exc}") from exc
    return StepResult(step, True, skipped, time.perf_counter() - started, summary, details)


def _synthetic_config(cfg: PipelineConfig, symbol: str) -> Any:
    """The generator's configuration for one symbol of a synthetic run (all its days in one go)."""
    from daap.sources.synthetic import SyntheticConfig

    # All days of the symbol at once, so trade ids run on from day to day as Binance's do.
    span = (cfg.last_day - cfg.first_day).days + 1
    return SyntheticConfig(
        symbol=symbol, start=cfg.first_day, days=span, trades_per_day=cfg.trades_per_day,
        market=cfg.market, seed=cfg.seed + 1000 * cfg.symbols.index(symbol),  # type: ignore[arg-type]
    )  # fmt: skip


def _files_for(cfg: PipelineConfig, symbol: str) -> list[Path]:
    return [cfg.downloads / symbol / f"{symbol}-trades-{day.isoformat()}.zip" for day in cfg.days]


def download(cfg: PipelineConfig) -> StepResult:
    """Fetch the Binance daily trade zips (and their ``.CHECKSUM``) into ``work_dir/downloads``, or generate them.

    Files already present with a matching checksum are kept (``cached``); partial downloads resume.

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> download(cfg).details["fetched"], download(cfg).details["cached"]
        (1, 1)
        >>> sorted(p.name for p in (cfg.downloads / "BTCUSDT").iterdir())
        ['BTCUSDT-trades-2025-01-01.zip', 'BTCUSDT-trades-2025-01-01.zip.CHECKSUM']
    """

    def work() -> tuple[str, dict[str, Any], bool]:
        from daap import download as dl

        fetched = cached = 0
        for symbol in cfg.symbols:
            files = _files_for(cfg, symbol)
            if cfg.source == "synthetic":
                from daap.sources.synthetic import write_binance_files

                missing = [f for f in files if not (f.exists() and Path(f"{f}.CHECKSUM").exists())]
                cached += len(files) - len(missing)
                if missing:
                    # The generator is deterministic: files already there are rewritten with the same bytes.
                    write_binance_files(files[0].parent, _synthetic_config(cfg, symbol), zipped=True)
                    fetched += len(missing)
                continue
            base = dl.resolve_base_url(cfg.base_url).rstrip("/")
            jobs = [
                (f"{base}/{dl.binance_path(symbol, market=cfg.market, date=dt.date.fromisoformat(f.stem[-10:]))}", f)  # type: ignore[arg-type]
                for f in files
            ]
            for f in files:
                f.parent.mkdir(parents=True, exist_ok=True)
            results = dl.download_many([(u, str(f)) for u, f in jobs], verify=True)
            failed = [(u, r) for (u, _), r in zip(jobs, results, strict=True) if isinstance(r, Exception)]
            if failed:
                raise DaapError("; ".join(f"{u}: {r}" for u, r in failed[:5]) + (" ..." if len(failed) > 5 else ""))
            for r in results:
                if getattr(r, "cached", False):
                    cached += 1
                else:
                    fetched += 1
        what = "generated" if cfg.source == "synthetic" else "downloaded"
        summary = f"{fetched} file(s) {what}, {cached} already there, in {cfg.downloads}"
        return summary, {"fetched": fetched, "cached": cached, "dir": str(cfg.downloads)}, fetched == 0

    return _timed("download", work)


def ingest(cfg: PipelineConfig) -> StepResult:
    """Ingest the downloaded files into the lake (checksum verified; a file already ingested is ``unchanged``).

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> _ = download(cfg)
        >>> ingest(cfg).summary
        '1 file(s) ingested (500 trades, 0 quarantined), 0 unchanged'
        >>> ingest(cfg).skipped
        True
    """

    def work() -> tuple[str, dict[str, Any], bool]:
        from daap.ingest import Ingestor

        ingestor = Ingestor(cfg.lake, progress=False)
        ingested = unchanged = rows = quarantined = 0
        for symbol in cfg.symbols:
            for f in _files_for(cfg, symbol):
                if not f.exists():
                    raise DaapError(f"{f} is missing: run the download step first")
                sidecar = Path(f"{f}.CHECKSUM")
                checksum = sidecar.read_text() if sidecar.exists() else None
                m = ingestor.ingest_file(f, symbol=symbol, market=cfg.market, checksum=checksum)
                if m.status == "unchanged":
                    unchanged += 1
                else:
                    ingested += 1
                    rows += m.rows_written
                    quarantined += m.rows_quarantined
        summary = f"{ingested} file(s) ingested ({rows:,} trades, {quarantined:,} quarantined), {unchanged} unchanged"
        details = {"ingested": ingested, "unchanged": unchanged, "rows": rows, "quarantined": quarantined}
        return summary, details, ingested == 0

    return _timed("ingest", work)


def build_candles(cfg: PipelineConfig) -> StepResult:
    """Build each symbol's candles for every interval from the lake's bronze trades into its candles zone.

    Examples:
        >>> cfg = _example_config(intervals=["1m", "1h"])
        >>> _ = run(cfg, steps=["download", "ingest"])
        >>> result = build_candles(cfg)
        >>> result.summary
        '1,433 candles (2 series) with the pandas engine'
        >>> [(s["interval"], s["candles"], s["trades"]) for s in result.details["series"]]
        [('1m', 1409, 500), ('1h', 24, 500)]
    """

    def work() -> tuple[str, dict[str, Any], bool]:
        from daap.candles import CandleBuilder

        built: list[dict[str, Any]] = []
        for symbol in cfg.symbols:
            for iv in cfg.intervals:
                s = CandleBuilder(iv, engine=cfg.engine).build_lake(
                    cfg.lake, symbol, market=cfg.market, start=cfg.first_day, end=cfg.last_day
                )
                built.append({"symbol": symbol, "interval": iv, "candles": s.candles_out, "trades": s.rows_in})
        total = sum(b["candles"] for b in built)
        return f"{total:,} candles ({len(built)} series) with the {cfg.engine} engine", {"series": built}, False

    return _timed("build_candles", work)


def load(cfg: PipelineConfig) -> StepResult:
    """Upsert the lake's candles of the run's symbols and intervals into the warehouse (a rerun inserts nothing).

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> _ = run(cfg, steps=["download", "ingest", "build_candles"])
        >>> load(cfg).details
        {'inserted': 1409, 'updated': 0, 'unchanged': 0, 'deleted': 0}
        >>> load(cfg).details
        {'inserted': 0, 'updated': 0, 'unchanged': 1409, 'deleted': 0}
    """

    def work() -> tuple[str, dict[str, Any], bool]:
        from daap.lake import Lake
        from daap.warehouse import WarehouseLoader

        counts = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        with WarehouseLoader(cfg.warehouse) as wh:
            for symbol in cfg.symbols:
                for iv in cfg.intervals:
                    # Every day of the series, not only the run's: building a range may rewrite neighbouring
                    # days (gap rows across its edges); unchanged days cost a comparison, not a write.
                    r = wh.load_candles(Lake(cfg.lake), symbol=symbol, interval=iv)
                    for k in counts:
                        counts[k] += getattr(r, k)
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items())
        return f"{summary} into {cfg.warehouse}", counts, False

    return _timed("load", work)


def build_marts(cfg: PipelineConfig) -> StepResult:
    """(Re)build ``stg_candles`` and ``fct_candle_metrics`` with the configured indicators.

    Examples:
        >>> cfg = _example_config(indicators="ema:21,rsi:14")
        >>> _ = run(cfg, steps=["download", "ingest", "build_candles", "load"])
        >>> build_marts(cfg).details
        {'rows': 1409, 'indicator_columns': ['ema_21', 'rsi_14', 'sma_7', 'close_price_7_period_sma']}
    """

    def work() -> tuple[str, dict[str, Any], bool]:
        from daap.warehouse import WarehouseLoader

        with WarehouseLoader(cfg.warehouse) as wh:
            r = wh.build_marts(cfg.indicators)
        return str(r), {"rows": r.rows, "indicator_columns": list(r.indicator_columns)}, False

    return _timed("build_marts", work)


def check(cfg: PipelineConfig) -> StepResult:
    """Run the quality checks on the warehouse and reconcile each symbol with the lake; write the JSON report.

    Raises:
        QualityGateError: an ``error``-severity check failed (the report is written first).

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> _ = run(cfg, steps=["download", "ingest", "build_candles", "load", "build_marts"])
        >>> result = check(cfg)
        >>> result.summary
        'WARN: 12 checks on 3 target(s): 11 passed, 1 warning (halt_runs), 0 errors'
        >>> result.details["report"] == str(cfg.report_path), cfg.report_path.exists()
        (True, True)
    """
    started = time.perf_counter()
    try:
        report = quality_report(cfg)
    except DaapError as exc:
        raise PipelineError("check", str(exc)) from exc
    path = cfg.report_path
    report.to_json(path)
    if report.errors:
        raise QualityGateError(report.summary(), str(path))
    details = {"status": report.status, "report": str(path), "summary": report.summary()}
    return StepResult("check", True, False, time.perf_counter() - started, report.summary(), details)


def quality_report(cfg: PipelineConfig) -> Any:
    """The :class:`~daap.quality.QualityReport` of the run's warehouse and lake (without writing or raising)."""
    from daap import quality
    from daap.warehouse import WarehouseLoader

    with WarehouseLoader(cfg.warehouse) as wh:
        report = quality.check_warehouse(
            wh, checks=cfg.checks, expected_start=cfg.first_day, expected_end=cfg.last_day, min_halt=cfg.min_halt
        )
    for symbol in cfg.symbols:
        for iv in cfg.intervals:
            lake_report = quality.check_lake(
                cfg.lake, symbol, market=cfg.market, interval=iv, start=cfg.first_day, end=cfg.last_day,
                checks=["reconciliation"] if cfg.checks is None or "reconciliation" in cfg.checks else [],
            )  # fmt: skip
            report.extend(lake_report)
            if cfg.verify:
                report.findings.append(_verify(cfg, symbol, iv).to_finding())
    return report


def _verify(cfg: PipelineConfig, symbol: str, interval: str) -> Any:
    """Reconcile one symbol and interval of the run with Binance's klines (see ``verify``)."""
    from daap.reconcile import verify_lake

    base_url = cfg.base_url
    if cfg.source == "synthetic":
        base_url = _synthetic_klines_mirror(cfg, symbol, interval)
    return verify_lake(
        cfg.lake, symbol, start=cfg.first_day, end=cfg.last_day, interval=interval, market=cfg.market,
        base_url=base_url,
    )  # fmt: skip


def _synthetic_klines_mirror(cfg: PipelineConfig, symbol: str, interval: str) -> str:
    """Write the synthetic run's daily kline files in Binance's layout under ``work_dir``; return its file:// URL.

    The klines come from :func:`daap.klines.klines_from_trades`, a plain pandas reference implementation that
    shares no code with the candle engines, so the reconciliation is a real cross-check.
    """
    from daap import download as dl
    from daap.klines import binance_interval, write_kline_files
    from daap.sources.synthetic import synthetic_klines

    root = Path(cfg.work_dir).resolve() / "synthetic-binance"
    folder = root / Path(
        dl.binance_path(symbol, market=cfg.market, kind="klines", interval=binance_interval(interval),  # type: ignore[arg-type]
                        date=cfg.first_day)
    ).parent  # fmt: skip
    if not all((folder / f"{symbol}-{binance_interval(interval)}-{d}.zip.CHECKSUM").exists() for d in cfg.days):
        klines = synthetic_klines(_synthetic_config(cfg, symbol), interval)
        write_kline_files(folder, klines, market=cfg.market, period="daily")  # type: ignore[arg-type]
    return root.as_uri()


def dashboard(cfg: PipelineConfig) -> StepResult:
    """Write one self-contained HTML dashboard per symbol (first interval), with the quality report's status.

    Examples:
        >>> import daap, tempfile
        >>> tmp = tempfile.mkdtemp()
        >>> cfg = PipelineConfig.from_mapping({"start": "2025-01-01", "end": "2025-01-01", "work_dir": tmp,
        ...                                    "warehouse": f"duckdb:///{tmp}/w.duckdb"})
        >>> candles = daap.CandleBuilder("1m").build(daap.read_trades("tests/data/BTCUSDT-trades-2025-01-01.csv"))
        >>> with daap.WarehouseLoader(cfg.warehouse) as wh:  # what the load and build_marts steps leave
        ...     _ = wh.load_candles(candles)
        ...     _ = wh.build_marts("sma:7")
        >>> result = dashboard(cfg)
        >>> result.details["paths"] == [f"{tmp}/dashboard.html"], cfg.dashboard_path("BTCUSDT").stat().st_size > 0
        (True, True)
    """

    def work() -> tuple[str, dict[str, Any], bool]:
        if cfg.dashboard is False:
            return "dashboard switched off", {}, True
        from daap.dashboard import dashboard_from_warehouse

        report = json.loads(cfg.report_path.read_text()) if cfg.report_path.exists() else None
        paths = []
        for symbol in cfg.symbols:
            out = cfg.dashboard_path(symbol)
            assert out is not None
            dashboard_from_warehouse(cfg.warehouse, out, symbol=symbol, interval=cfg.intervals[0], report=report)
            paths.append(str(out))
        return f"{len(paths)} dashboard(s): {', '.join(paths)}", {"paths": paths}, False

    return _timed("dashboard", work)


#: The steps, in order.
STEPS: dict[str, Callable[[PipelineConfig], StepResult]] = {
    "download": download,
    "ingest": ingest,
    "build_candles": build_candles,
    "load": load,
    "build_marts": build_marts,
    "check": check,
    "dashboard": dashboard,
}


def _state_path(cfg: PipelineConfig) -> Path:
    return Path(cfg.work_dir) / "runs" / f"{cfg.fingerprint()}.json"


def run(
    cfg: PipelineConfig,
    *,
    resume: bool = True,
    steps: Sequence[str] | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> RunResult:
    """Run the steps in order. A step that finished in an earlier run of the same configuration is skipped.

    Args:
        cfg: the configuration.
        resume: skip steps an earlier run of the same configuration finished (False: redo all).
        steps: run only these steps (in pipeline order).
        on_step: called with each step's result as it finishes (progress).

    Raises:
        PipelineError: a step failed (``.step`` names it); the steps before it stay done, so a rerun resumes there.
        QualityGateError: an ``error`` finding; fix the data, then rerun (the check runs again).

    Examples:
        >>> cfg = _example_config()  # one synthetic day of 500 trades, everything in a new temporary folder
        >>> result = run(cfg, on_step=lambda r: print(r.step, "skipped" if r.skipped else "done"))
        download done
        ingest done
        build_candles done
        load done
        build_marts done
        check done
        dashboard skipped
        >>> [r.skipped for r in run(cfg, steps=["load", "check"]).steps]  # resumed: done in the first run
        [True, True]
    """
    chosen = list(STEPS) if steps is None else [s for s in STEPS if s in steps]
    unknown = sorted(set(steps or []) - set(STEPS))
    if unknown:
        raise ConfigError(f"steps: unknown {unknown}; known {list(STEPS)}")
    state_path = _state_path(cfg)
    done: dict[str, Any] = {}
    if resume and state_path.exists():
        done = json.loads(state_path.read_text()).get("done", {})
    results: list[StepResult] = []
    for name in chosen:
        if name in done:
            result = StepResult(name, True, True, 0.0, f"done in an earlier run: {done[name]}")
        else:
            result = STEPS[name](cfg)
            done[name] = result.summary
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_name(f".{state_path.name}.tmp")
            tmp.write_text(json.dumps({"config": cfg.to_mapping(), "done": done}, indent=2))
            tmp.replace(state_path)
        results.append(result)
        if on_step is not None:
            on_step(result)
    return RunResult(results)


def _example_config(**overrides: Any) -> PipelineConfig:
    """The small offline configuration the examples of this module run on (a new temporary folder each time)."""
    import tempfile

    tmp = tempfile.mkdtemp(prefix="daap-example-")
    base = {
        "source": "synthetic", "start": "2025-01-01", "end": "2025-01-01", "trades_per_day": 500,
        "lake": f"{tmp}/lake", "work_dir": tmp, "warehouse": f"duckdb:///{tmp}/w.duckdb", "dashboard": False,
    }  # fmt: skip
    return PipelineConfig.from_mapping({**base, **overrides})
