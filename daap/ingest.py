"""``Ingestor``: verified Binance files into the lake's raw, bronze and quarantine zones, idempotently.

Each source file is hashed, copied byte-exact to ``raw/``, read in quarantine mode (bad rows are kept aside with
their line and reason, never dropped), split into one bronze Parquet part per UTC day, and published by writing its
manifest last. Re-ingesting the same bytes is a no-op; a file Binance replaced (same name, new sha256) supersedes
the old parts and the manifest keeps the history.

Examples:
    >>> import tempfile, daap
    >>> ingestor = daap.Ingestor(daap.Lake(tempfile.mkdtemp()))
    >>> m = ingestor.ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
    >>> m.rows_read, m.rows_written, m.rows_quarantined, [p.date for p in m.partitions]
    (2000, 2000, 0, ['2023-03-24'])
    >>> ingestor.ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv").status
    'unchanged'
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from daap.contract import BRONZE_PARQUET_OPTIONS, TRADES_SCHEMA
from daap.errors import DaapError, InputFormatError
from daap.intervals import US_PER_DAY
from daap.lake import Lake, Manifest, PartitionInfo, check_market, check_symbol
from daap.progress import bar, content_size
from daap.sources.binance import detect_dialect, symbol_from_filename
from daap.storage import sha256_of
from daap.trades import Rejects, iter_blocks, open_text_source

__all__ = ["IngestError", "Ingestor"]

#: Time gaps at least this long (µs) are recorded in the manifest.
TIME_GAP_US = 60_000_000
_MAX_LISTED = 1000
_PART_STEM = re.compile(r"\.(zip|csv\.gz|csv|gz)$", re.IGNORECASE)


class IngestError(DaapError):
    """One or more sources could not be ingested (the message lists them).

    Examples:
        >>> import tempfile
        >>> empty_mirror = Path(tempfile.mkdtemp()).as_uri()
        >>> ingestor = Ingestor(Lake(tempfile.mkdtemp()), base_url=empty_mirror, download_dir=tempfile.mkdtemp())
        >>> ingestor.download("BTCUSDT", date="2025-05-01")
        Traceback (most recent call last):
        ...
        daap.ingest.IngestError: 1 of 1 file(s) failed (0 ingested):...
        >>> issubclass(IngestError, DaapError)
        True
    """


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.timezone.utc).isoformat()


def _version() -> str:
    from daap import __version__

    return __version__


class _Gaps:
    """Time gaps of at least ``TIME_GAP_US`` between consecutive trades (in file order)."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.gaps: list[dict[str, Any]] = []
        self.count = 0
        self.t_min: int | None = None
        self.t_max: int | None = None

    def add(self, t: npt.NDArray[np.int64]) -> None:
        if t.shape[0] == 0:
            return
        lo, hi = int(t.min()), int(t.max())
        self.t_min = lo if self.t_min is None else min(self.t_min, lo)
        self.t_max = hi if self.t_max is None else max(self.t_max, hi)
        series = t if self.last is None else np.concatenate(([self.last], t))
        d = np.diff(series)
        for i in np.flatnonzero(d >= TIME_GAP_US).tolist():
            self.count += 1
            if len(self.gaps) < _MAX_LISTED:
                self.gaps.append(
                    {"from": _iso(int(series[i])), "to": _iso(int(series[i + 1])), "seconds": int(d[i]) / 1e6}
                )
        self.last = int(t[-1])


class Ingestor:
    """Ingests Binance trade files into a :class:`~daap.lake.Lake`.

    Args:
        lake: the lake, or its URI.
        base_url: Binance public-data base URL for :meth:`download` (default: env ``DAAP_BINANCE_BASE_URL`` or
            ``https://data.binance.vision``).
        download_dir: where downloads are kept (and resumed from); default a ``daap-downloads`` temp folder.
        max_workers: parallel downloads.
        progress: show progress bars (None: only on a terminal).

    Examples:
        >>> import tempfile
        >>> ingestor = Ingestor(tempfile.mkdtemp())  # a lake URI or a Lake
        >>> m = ingestor.ingest_file("tests/data/BTCUSDT-trades-2021-01-02.csv")
        >>> m.status, m.rows_written, [p.rows for p in ingestor.lake.manifests()[0].partitions]
        ('ingested', 3243, [3243])
    """

    def __init__(
        self,
        lake: Lake | str | Path,
        *,
        base_url: str | None = None,
        download_dir: str | Path | None = None,
        max_workers: int = 4,
        progress: bool | None = None,
    ) -> None:
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        self.base_url = base_url
        self.download_dir = Path(download_dir) if download_dir else Path(tempfile.gettempdir()) / "daap-downloads"
        self.max_workers = max_workers
        self.progress = progress

    def __repr__(self) -> str:
        return f"Ingestor({self.lake!r})"

    # ------------------------------------------------------------------------------------------------- ingest
    def ingest_file(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        market: str | None = None,
        url: str | None = None,
        checksum: str | None = None,
    ) -> Manifest:
        """Ingest one local ``.csv``, ``.csv.gz`` or Binance ``.zip`` of trades.

        Args:
            path: the file.
            symbol: the symbol, when the file name does not say it.
            market: ``spot`` or ``um``; detected from the file's dialect when not given.
            url: where the file came from (recorded in the manifest).
            checksum: the text of its Binance ``.CHECKSUM``, stored beside the raw file.

        Returns:
            The manifest, with ``status`` ``"ingested"`` or ``"unchanged"`` (same bytes already in the lake).

        Raises:
            InputFormatError: the file cannot be read at all (not a zip, unsafe archive, empty, unknown header).

        Examples:
            >>> import tempfile
            >>> ingestor = Ingestor(Lake(tempfile.mkdtemp()))
            >>> path = "tests/data/futures-BTCUSDT-trades-2026-09-16T20-00.csv"
            >>> m = ingestor.ingest_file(path)  # the market comes from the CSV dialect
            >>> m.market, m.rows_written, m.rows_quarantined, m.raw_key
            ('um', 2325, 0, 'raw/um/trades/BTCUSDT/futures-BTCUSDT-trades-2026-09-16T20-00.csv')
            >>> ingestor.ingest_file(path).status  # the same bytes again: nothing to do
            'unchanged'
        """
        src = Path(path)
        name = src.name
        found = symbol or symbol_from_filename(name)
        if not found:
            raise InputFormatError("cannot tell the symbol from the file name; pass symbol=", path=src)
        sym = check_symbol(found)
        with open_text_source(src) as (f, _size):
            head = f.read(4096).lstrip(b"\r\n\t ").split(b"\n", 1)[0]
        if not head:
            raise InputFormatError("no trade rows (empty file)", path=src)
        dialect = detect_dialect(head, src)
        if dialect.kind != "trades":
            raise InputFormatError(
                f"this is a {dialect.name} {dialect.kind} file: the lake's bronze zone holds trades files only; "
                "build candles from aggTrades directly (daap candles FILE..., or CandleBuilder.build_files)",
                path=src,
            )
        mkt = check_market(market or dialect.name)
        if mkt != dialect.name:
            raise InputFormatError(f"the file is in the {dialect.name} dialect, not {mkt}", path=src)

        sha = sha256_of(src)
        size = src.stat().st_size
        existing = self.lake.manifest(mkt, sym, name)
        if (
            existing is not None
            and existing.sha256 == sha
            and all(self.lake.store.exists(p.key) for p in existing.partitions)
        ):
            return dataclasses.replace(existing, status="unchanged")

        part = f"{_PART_STEM.sub('', name)}-{sha[:12]}"
        raw_key = self.lake.raw_key(mkt, sym, name)
        self.lake.store.put_file(src, raw_key)
        self.lake.store.write_bytes(raw_key + ".CHECKSUM", (checksum or f"{sha}  {name}\n").encode())

        rejects = Rejects()
        gaps = _Gaps()
        partitions: list[PartitionInfo] = []
        with tempfile.TemporaryDirectory(prefix="daap-ingest-") as tmp:
            writers: dict[int, pq.ParquetWriter] = {}
            rows: dict[int, int] = {}
            with contextlib.ExitStack() as stack:
                pbar = stack.enter_context(bar(content_size(src), self.progress, f"ingest {name}"))
                for block in iter_blocks(src, sym, rejects=rejects):
                    pbar.update(block.nbytes)
                    if len(block) == 0:
                        continue
                    gaps.add(block.time)
                    day = block.time // US_PER_DAY
                    table = pa.Table.from_batches([block.to_arrow()])
                    if day[0] == day[-1] and bool((day == day[0]).all()):
                        pieces = [(int(day[0]), table)]
                    else:
                        pieces = [(int(d), table.filter(pa.array(day == d))) for d in np.unique(day).tolist()]
                    for d, piece in pieces:
                        if d not in writers:
                            writers[d] = pq.ParquetWriter(
                                Path(tmp) / f"{d}.parquet", TRADES_SCHEMA, **BRONZE_PARQUET_OPTIONS
                            )
                            stack.callback(writers[d].close)  # closed before upload, or on any error
                            rows[d] = 0
                        writers[d].write_table(piece)
                        rows[d] += piece.num_rows
            written = sum(rows.values())
            if rejects.rows_read != written + len(rejects):
                raise DaapError(  # a bug, not bad input: never publish a manifest that does not reconcile
                    f"{src}: rows read {rejects.rows_read} != written {written} + quarantined {len(rejects)}"
                )
            for d in sorted(writers):
                date = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + d).isoformat()
                key = self.lake.bronze_key(mkt, sym, date, part)
                self.lake.store.put_file(Path(tmp) / f"{d}.parquet", key)
                partitions.append(PartitionInfo(date, key, rows[d]))
            quarantine_key = None
            if len(rejects):
                quarantine_key = self.lake.quarantine_key(mkt, sym, part)
                qpath = Path(tmp) / "quarantine.parquet"
                table = rejects.to_arrow().sort_by("line")
                pq.write_table(table, qpath, compression="zstd")
                self.lake.store.put_file(qpath, quarantine_key)

        id_gaps = rejects.ids.gaps()
        manifest = Manifest(
            name=name,
            market=mkt,
            symbol=sym,
            kind="trades",
            sha256=sha,
            size=size,
            source=str(src.resolve()),
            url=url,
            raw_key=raw_key,
            dialect=dialect.name + (" (header)" if dialect.has_header else ""),
            time_unit="+".join(sorted(rejects.units)) or "none",
            rows_read=rejects.rows_read,
            rows_written=written,
            rows_quarantined=len(rejects),
            time_min=_iso(gaps.t_min),
            time_max=_iso(gaps.t_max),
            partitions=partitions,
            quarantine_key=quarantine_key,
            trade_id_gaps={
                "count": len(id_gaps),
                "missing_ids": sum(b - a + 1 for a, b in id_gaps),
                "ranges": [list(g) for g in id_gaps[:_MAX_LISTED]],
            },
            time_gaps=gaps.gaps,
            ingested_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            daap_version=_version(),
            history=[],
        )
        if existing is not None:
            manifest.history = [
                *existing.history,
                {
                    "sha256": existing.sha256,
                    "size": existing.size,
                    "ingested_at": existing.ingested_at,
                    "rows_written": existing.rows_written,
                    "superseded_at": manifest.ingested_at,
                },
            ]
        self.lake.write_manifest(manifest)  # publish: everything it points to is in place
        if existing is not None:
            keep = {p.key for p in partitions} | {quarantine_key}
            stale = [p.key for p in existing.partitions if p.key not in keep]
            if existing.quarantine_key and existing.quarantine_key not in keep:
                stale.append(existing.quarantine_key)
            self.lake.store.delete(stale)
        return manifest

    def ingest_files(self, paths: Sequence[str | Path], **kwargs: Any) -> list[Manifest]:
        """Ingest several files in order; see :meth:`ingest_file`.

        Examples:
            >>> import tempfile
            >>> from daap.sources.synthetic import SyntheticConfig, write_binance_files
            >>> files = write_binance_files(tempfile.mkdtemp(), SyntheticConfig(trades_per_day=100, days=2))
            >>> manifests = Ingestor(Lake(tempfile.mkdtemp())).ingest_files(files)
            >>> [(m.name, m.rows_written, m.partitions[0].date) for m in manifests]
            [('BTCUSDT-trades-2025-05-01.zip', 100, '2025-05-01'), ('BTCUSDT-trades-2025-05-02.zip', 100, '2025-05-02')]
        """
        return [self.ingest_file(p, **kwargs) for p in paths]

    # ----------------------------------------------------------------------------------------------- download
    def download(
        self,
        symbol: str,
        *,
        month: str | None = None,
        date: dt.date | str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        market: str = "spot",
        kind: str = "trades",
        on_file: Callable[[Manifest], None] | None = None,
    ) -> list[Manifest]:
        """Download Binance public-data files, verify each against its ``.CHECKSUM``, then ingest them.

        Give ``month`` (``YYYY-MM``, the monthly file), ``date`` (one daily file) or ``start`` and ``end`` (daily
        files, inclusive). Downloads run in parallel (``max_workers``), resume with HTTP ranges and retry with
        backoff; nothing is ingested before its sha256 matches.

        Raises:
            IngestError: after ingesting what it could, naming every file that failed and why.

        Examples:
            >>> import tempfile
            >>> from daap.sources.synthetic import SyntheticConfig, write_binance_files
            >>> mirror = Path(tempfile.mkdtemp())  # a local copy of data.binance.vision, served by file://
            >>> _ = write_binance_files(mirror / "data/spot/daily/trades/BTCUSDT", SyntheticConfig(trades_per_day=100))
            >>> ingestor = Ingestor(Lake(tempfile.mkdtemp()), base_url=mirror.as_uri(), download_dir=tempfile.mkdtemp())
            >>> [(m.name, m.rows_written) for m in ingestor.download("BTCUSDT", date="2025-05-01")]
            [('BTCUSDT-trades-2025-05-01.zip', 100)]
        """
        from daap import download as dl

        check_symbol(symbol)
        check_market(market)
        if kind != "trades":
            raise DaapError(f"unsupported kind {kind!r}: only 'trades' is ingested")
        items: list[dict[str, Any]] = []
        if month is not None:
            items.append({"month": month})
        if date is not None:
            items.append({"date": _as_date(date)})
        if start is not None or end is not None:
            if start is None or end is None:
                raise DaapError("give both start and end")
            d0, d1 = _as_date(start), _as_date(end)
            if d1 < d0:
                raise DaapError(f"end {d1} is before start {d0}")
            items += [{"date": d0 + dt.timedelta(days=i)} for i in range((d1 - d0).days + 1)]
        if not items:
            raise DaapError("give month=, date=, or start= and end=")
        base = dl.resolve_base_url(self.base_url).rstrip("/")
        jobs = []
        for item in items:
            rel = dl.binance_path(symbol, market=cast(Any, market), kind=cast(Any, kind), **item)
            jobs.append((f"{base}/{rel}", self.download_dir / rel))
        with bar(len(jobs), self.progress, f"download {symbol}", unit="file") as pbar:

            def tick(index: int, result: object) -> None:
                pbar.update()

            results = dl.download_many(jobs, max_workers=self.max_workers, on_result=tick)
        manifests: list[Manifest] = []
        failures: list[str] = []
        for (url, _dest), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                failures.append(f"{url}: {result}")
                continue
            checksum_file = Path(str(result.path) + ".CHECKSUM")
            checksum = checksum_file.read_text() if checksum_file.exists() else None
            try:
                m = self.ingest_file(result.path, symbol=symbol, market=market, url=url, checksum=checksum)
            except DaapError as exc:
                failures.append(f"{url}: {exc}")
                continue
            manifests.append(m)
            if on_file is not None:
                on_file(m)
        if failures:
            raise IngestError(
                f"{len(failures)} of {len(jobs)} file(s) failed ({len(manifests)} ingested):\n  "
                + "\n  ".join(failures)
            )
        return manifests


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise DaapError(f"{value!r} is not a date (YYYY-MM-DD)") from exc
