"""The data lake: zones over a local folder or ``s3://bucket/prefix``, with manifests and atomic publishing.

Zones (ARCHITECTURE.md section 1):

- ``raw/{market}/trades/{symbol}/``: the original files, byte-exact, with their ``.CHECKSUM``.
- ``bronze/trades/market={m}/symbol={s}/date={YYYY-MM-DD}/``: normalized trades, Parquet (zstd), one partition per
  UTC day. File names carry the source file and its sha256, so a rerun rewrites the same objects.
- ``quarantine/trades/market={m}/symbol={s}/``: rejected rows with the source file, line number and reason.
- ``candles/interval={i}/symbol={s}/date={YYYY-MM-DD}/``: what the candle step writes.
- ``_manifests/trades/market={m}/symbol={s}/{file}.json``: one record per ingested source.
- ``reference/klines/market={m}/interval={i}/symbol={s}/``: Binance's official kline files, byte-exact, each with
  the ``.CHECKSUM`` it was verified against (written last), for :mod:`daap.reconcile`.

Publishing order makes every write safe to interrupt: data objects first, the manifest last. Readers only follow
manifests, so a half-finished ingest is invisible, and a rerun rewrites the same object names.

Examples:
    >>> import tempfile
    >>> lake = Lake(tempfile.mkdtemp())
    >>> lake.bronze_key("spot", "BTCUSDT", "2025-01-01", "BTCUSDT-trades-2025-01-01-0123456789ab")
    'bronze/trades/market=spot/symbol=BTCUSDT/date=2025-01-01/part-BTCUSDT-trades-2025-01-01-0123456789ab.parquet'
    >>> lake.manifests()
    []
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from daap.errors import DaapError
from daap.storage import Store, StoreError, open_store

__all__ = ["DEFAULT_LAKE", "Lake", "Manifest", "PartitionInfo"]

#: The lake used when none is given.
_KEY_DAY = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/")
_CANDLES_DAY = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/candles\.parquet$")
DEFAULT_LAKE = "./daap-lake"
MARKETS = ("spot", "um")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


def check_market(market: str) -> str:
    """Validate a market name (``spot`` or ``um``)."""
    if market not in MARKETS:
        raise DaapError(f"unknown market {market!r}: use one of {', '.join(MARKETS)}")
    return market


def check_symbol(symbol: str) -> str:
    """Validate a symbol (upper-case letters and digits, as Binance writes them)."""
    if not _SYMBOL.match(symbol):
        raise DaapError(f"invalid symbol {symbol!r}: expected upper-case letters and digits, e.g. BTCUSDT")
    return symbol


@dataclass
class PartitionInfo:
    """One bronze partition written from a source: its UTC date, object key and row count.

    Examples:
        >>> import tempfile, daap
        >>> m = daap.Ingestor(Lake(tempfile.mkdtemp())).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
        >>> part = m.partitions[0]
        >>> part.date, part.rows, Lake.day_of_key(part.key)
        ('2023-03-24', 2000, '2023-03-24')
    """

    date: str
    key: str
    rows: int


@dataclass
class Manifest:
    """What one ingest of one source file produced. Serialized as JSON under ``_manifests/``.

    Attributes:
        name: the source file name (the manifest's identity with ``market`` and ``symbol``).
        sha256: digest of the source bytes; re-ingesting the same digest is a no-op.
        status: ``"ingested"``, or ``"unchanged"`` when the same bytes were already in the lake.
        history: earlier versions of this source (a file Binance replaced), newest last.

    Examples:
        >>> import tempfile, daap
        >>> m = daap.Ingestor(Lake(tempfile.mkdtemp())).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
        >>> m.name, m.market, m.symbol, m.dialect, m.time_unit, m.rows_read, m.status
        ('BTCUSDT-trades-2023-03-24.csv', 'spot', 'BTCUSDT', 'spot', 'ms', 2000, 'ingested')
    """

    name: str
    market: str
    symbol: str
    kind: str
    sha256: str
    size: int
    source: str
    url: str | None
    raw_key: str
    dialect: str
    time_unit: str
    rows_read: int
    rows_written: int
    rows_quarantined: int
    time_min: str | None
    time_max: str | None
    partitions: list[PartitionInfo]
    quarantine_key: str | None
    trade_id_gaps: dict[str, Any]
    time_gaps: list[dict[str, Any]]
    ingested_at: str
    daap_version: str
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ingested"

    def to_json(self) -> str:
        """JSON text (the ``status`` field is per call, not stored).

        Examples:
            >>> import json, tempfile, daap
            >>> m = daap.Ingestor(Lake(tempfile.mkdtemp())).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> data = json.loads(m.to_json())
            >>> data["rows_written"], data["partitions"][0]["date"], "status" in data
            (2000, '2023-03-24', False)
        """
        data = asdict(self)
        data.pop("status")
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a stored manifest.

        Examples:
            >>> import tempfile, daap
            >>> m = daap.Ingestor(Lake(tempfile.mkdtemp())).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> again = Manifest.from_json(m.to_json())
            >>> again == m, again.partitions[0].rows
            (True, 2000)
        """
        data = json.loads(text)
        data["partitions"] = [PartitionInfo(**p) for p in data.get("partitions", [])]
        return cls(**data)

    @property
    def reconciled(self) -> bool:
        """``rows_read == rows_written + rows_quarantined``.

        Examples:
            >>> import tempfile, daap
            >>> m = daap.Ingestor(Lake(tempfile.mkdtemp())).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> m.reconciled, (m.rows_read, m.rows_written, m.rows_quarantined)
            (True, (2000, 2000, 0))
        """
        return self.rows_read == self.rows_written + self.rows_quarantined


class Lake:
    """A data lake on a local path or ``s3://bucket/prefix``.

    Args:
        uri: where the lake lives (default ``./daap-lake``).
        **store_options: passed to the store, e.g. ``endpoint_url=`` for S3-compatible stores.

    Examples:
        >>> import tempfile, daap
        >>> lake = Lake(tempfile.mkdtemp())
        >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
        >>> [(m.name, m.rows_written) for m in lake.manifests()]
        [('BTCUSDT-trades-2023-03-24.csv', 2000)]
        >>> Lake("s3://my-bucket/lake").uri
        's3://my-bucket/lake'
    """

    def __init__(self, uri: str | Path = DEFAULT_LAKE, **store_options: Any) -> None:
        self.store: Store = open_store(uri, **store_options)
        self.uri = self.store.uri

    def __repr__(self) -> str:
        return f"Lake({self.uri!r})"

    # ---------------------------------------------------------------------------------------------------- keys
    @staticmethod
    def raw_key(market: str, symbol: str, name: str) -> str:
        """Key of an original source file.

        Examples:
            >>> Lake.raw_key("spot", "BTCUSDT", "BTCUSDT-trades-2025-01-01.zip")
            'raw/spot/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip'
        """
        return f"raw/{market}/trades/{symbol}/{name}"

    @staticmethod
    def bronze_key(market: str, symbol: str, date: str, part: str) -> str:
        """Key of one bronze Parquet part.

        Examples:
            >>> Lake.bronze_key("um", "BTCUSDT", "2025-01-01", "BTCUSDT-trades-2025-01-0123456789ab")
            'bronze/trades/market=um/symbol=BTCUSDT/date=2025-01-01/part-BTCUSDT-trades-2025-01-0123456789ab.parquet'
        """
        return f"bronze/trades/market={market}/symbol={symbol}/date={date}/part-{part}.parquet"

    @staticmethod
    def quarantine_key(market: str, symbol: str, part: str) -> str:
        """Key of the rejected rows of one source version.

        Examples:
            >>> Lake.quarantine_key("spot", "BTCUSDT", "BTCUSDT-trades-2025-01-01-0123456789ab")
            'quarantine/trades/market=spot/symbol=BTCUSDT/BTCUSDT-trades-2025-01-01-0123456789ab.parquet'
        """
        return f"quarantine/trades/market={market}/symbol={symbol}/{part}.parquet"

    @staticmethod
    def manifest_key(market: str, symbol: str, name: str) -> str:
        """Key of a source's manifest.

        Examples:
            >>> Lake.manifest_key("spot", "BTCUSDT", "BTCUSDT-trades-2025-01-01.zip")
            '_manifests/trades/market=spot/symbol=BTCUSDT/BTCUSDT-trades-2025-01-01.zip.json'
        """
        return f"_manifests/trades/market={market}/symbol={symbol}/{name}.json"

    @staticmethod
    def candles_key(interval: str, symbol: str, date: str) -> str:
        """Key of one day of candles.

        Examples:
            >>> Lake.candles_key("1h", "BTCUSDT", "2025-01-01")
            'candles/interval=1h/symbol=BTCUSDT/date=2025-01-01/candles.parquet'
        """
        return f"candles/interval={interval}/symbol={symbol}/date={date}/candles.parquet"

    @staticmethod
    def kline_key(market: str, interval: str, symbol: str, name: str) -> str:
        """Key of an official Binance kline file in the ``reference/`` zone.

        Examples:
            >>> Lake.kline_key("spot", "1m", "BTCUSDT", "BTCUSDT-1m-2025-01.zip")
            'reference/klines/market=spot/interval=1m/symbol=BTCUSDT/BTCUSDT-1m-2025-01.zip'
        """
        return f"reference/klines/market={market}/interval={interval}/symbol={symbol}/{name}"

    def kline_keys(self, market: str, interval: str, symbol: str) -> list[str]:
        """The complete kline files of the ``reference/`` zone (those with their ``.CHECKSUM``), sorted.

        Examples:
            >>> import tempfile
            >>> lake = Lake(tempfile.mkdtemp())
            >>> key = Lake.kline_key("spot", "1m", "BTCUSDT", "BTCUSDT-1m-2025-01.zip")
            >>> lake.store.write_bytes(key, b"zip bytes")
            >>> lake.kline_keys("spot", "1m", "BTCUSDT")  # no .CHECKSUM yet: incomplete
            []
            >>> lake.store.write_bytes(key + ".CHECKSUM", b"sha256  BTCUSDT-1m-2025-01.zip")
            >>> lake.kline_keys("spot", "1m", "BTCUSDT")
            ['reference/klines/market=spot/interval=1m/symbol=BTCUSDT/BTCUSDT-1m-2025-01.zip']
        """
        prefix = self.kline_key(market, interval, symbol, "")
        names = {obj.key for obj in self.store.list(prefix)}
        return sorted(k for k in names if k.endswith(".zip") and k + ".CHECKSUM" in names)

    # ----------------------------------------------------------------------------------------------- manifests
    def manifest(self, market: str, symbol: str, name: str) -> Manifest | None:
        """The current manifest of a source, or None when it was never ingested.

        Examples:
            >>> import tempfile, daap
            >>> lake = Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> lake.manifest("spot", "BTCUSDT", "BTCUSDT-trades-2023-03-24.csv").rows_written
            2000
            >>> lake.manifest("spot", "BTCUSDT", "BTCUSDT-trades-2023-03-25.csv") is None
            True
        """
        key = self.manifest_key(market, symbol, name)
        try:
            return Manifest.from_json(self.store.read_bytes(key).decode())
        except StoreError:
            if self.store.exists(key):
                raise
            return None

    def write_manifest(self, manifest: Manifest) -> None:
        """Publish a manifest (the last step of an ingest).

        Examples:
            >>> import dataclasses, tempfile, daap
            >>> m = daap.Ingestor(Lake(tempfile.mkdtemp())).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> other = Lake(tempfile.mkdtemp())
            >>> other.write_manifest(dataclasses.replace(m, url="https://example.com/BTCUSDT-trades-2023-03-24.csv"))
            >>> other.manifest("spot", "BTCUSDT", m.name).url
            'https://example.com/BTCUSDT-trades-2023-03-24.csv'
        """
        key = self.manifest_key(manifest.market, manifest.symbol, manifest.name)
        self.store.write_bytes(key, manifest.to_json().encode())

    def manifests(self, market: str | None = None, symbol: str | None = None) -> list[Manifest]:
        """All current manifests, optionally for one market and symbol.

        Examples:
            >>> import tempfile, daap
            >>> lake = Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> [m.name for m in lake.manifests("spot", "BTCUSDT")], lake.manifests("um")
            (['BTCUSDT-trades-2023-03-24.csv'], [])
        """
        prefix = "_manifests/trades/"
        if market:
            prefix += f"market={market}/"
            if symbol:
                prefix += f"symbol={symbol}/"
        out = []
        for obj in self.store.list(prefix):
            if obj.key.endswith(".json"):
                m = Manifest.from_json(self.store.read_bytes(obj.key).decode())
                if symbol is None or m.symbol == symbol:
                    out.append(m)
        return out

    # ------------------------------------------------------------------------------------------------- reading
    def bronze_keys(
        self, symbol: str, *, market: str = "spot", start: dt.date | None = None, end: dt.date | None = None
    ) -> list[str]:
        """Bronze parts of a symbol from its manifests, for UTC days in ``[start, end]``, in date order.

        Examples:
            >>> import datetime as dt
            >>> import tempfile, daap
            >>> lake = Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> [Lake.day_of_key(k) for k in lake.bronze_keys("BTCUSDT")]
            ['2023-03-24']
            >>> lake.bronze_keys("BTCUSDT", start=dt.date(2023, 3, 25))
            []
        """
        parts = []
        for m in self.manifests(market, symbol):
            for p in m.partitions:
                day = dt.date.fromisoformat(p.date)
                if (start is None or day >= start) and (end is None or day <= end):
                    parts.append((p.date, p.key))
        return [k for _, k in sorted(parts)]

    def candle_keys(
        self, interval: str, symbol: str | None = None, *, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[str]:
        """Day files of the ``candles/`` zone for an interval (and symbol), UTC days in ``[start, end]``, sorted.

        Examples:
            >>> import tempfile
            >>> Lake(tempfile.mkdtemp()).candle_keys("1m", "BTCUSDT")
            []
        """
        prefix = f"candles/interval={interval}/" + (f"symbol={symbol}/" if symbol else "")
        keys = []
        for obj in self.store.list(prefix):
            m = _CANDLES_DAY.search(obj.key)
            if m is None:
                continue
            day = dt.date.fromisoformat(m.group(1))
            if (start is None or day >= start) and (end is None or day <= end):
                keys.append(obj.key)
        return sorted(keys)

    @staticmethod
    def day_of_key(key: str) -> str:
        """The ``YYYY-MM-DD`` of a partitioned key (``.../date=YYYY-MM-DD/...``).

        Examples:
            >>> Lake.day_of_key(Lake.candles_key("1m", "BTCUSDT", "2025-01-01"))
            '2025-01-01'
        """
        m = _KEY_DAY.search(key)
        if m is None:
            raise ValueError(f"{key!r} has no date=YYYY-MM-DD part")
        return m.group(1)

    @contextlib.contextmanager
    def local_files(self, keys: Sequence[str]) -> Iterator[list[Path]]:
        """Local paths for objects: in place for a local lake, downloaded to a temporary folder for S3.

        Examples:
            >>> import pyarrow.parquet as pq
            >>> import tempfile, daap
            >>> lake = Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> with lake.local_files(lake.bronze_keys("BTCUSDT")) as paths:
            ...     [pq.read_metadata(p).num_rows for p in paths]
            [2000]
        """
        paths = [self.store.local_path(k) for k in keys]
        if all(p is not None for p in paths):
            yield [p for p in paths if p is not None]
            return
        with tempfile.TemporaryDirectory(prefix="daap-lake-") as tmp:
            out = []
            for i, key in enumerate(keys):
                local = Path(tmp) / f"{i:06d}-{Path(key).name}"
                self.store.get_file(key, local)
                out.append(local)
            yield out

    def summary(self) -> list[dict[str, Any]]:
        """Per market and symbol: source files, days, rows, quarantined rows, first and last day.

        Examples:
            >>> import tempfile, daap
            >>> lake = Lake(tempfile.mkdtemp())
            >>> _ = daap.Ingestor(lake).ingest_file("tests/data/BTCUSDT-trades-2023-03-24.csv")
            >>> lake.summary()  # doctest: +NORMALIZE_WHITESPACE
            [{'market': 'spot', 'symbol': 'BTCUSDT', 'files': 1, 'rows': 2000, 'quarantined': 0, 'days': 1,
              'first': '2023-03-24', 'last': '2023-03-24'}]
        """
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for m in self.manifests():
            r = rows.setdefault(
                (m.market, m.symbol),
                {"market": m.market, "symbol": m.symbol, "files": 0, "days": set(), "rows": 0, "quarantined": 0},
            )
            r["files"] += 1
            r["days"].update(p.date for p in m.partitions)
            r["rows"] += m.rows_written
            r["quarantined"] += m.rows_quarantined
        out = []
        for key in sorted(rows):
            r = rows[key]
            days = sorted(r.pop("days"))
            out.append({**r, "days": len(days), "first": days[0] if days else None, "last": days[-1] if days else None})
        return out
