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
    """One bronze partition written from a source: its UTC date, object key and row count."""

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
        """JSON text (the ``status`` field is per call, not stored)."""
        data = asdict(self)
        data.pop("status")
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a stored manifest."""
        data = json.loads(text)
        data["partitions"] = [PartitionInfo(**p) for p in data.get("partitions", [])]
        return cls(**data)

    @property
    def reconciled(self) -> bool:
        """``rows_read == rows_written + rows_quarantined``."""
        return self.rows_read == self.rows_written + self.rows_quarantined


class Lake:
    """A data lake on a local path or ``s3://bucket/prefix``.

    Args:
        uri: where the lake lives (default ``./daap-lake``).
        **store_options: passed to the store, e.g. ``endpoint_url=`` for S3-compatible stores.
    """

    def __init__(self, uri: str | Path = DEFAULT_LAKE, **store_options: Any) -> None:
        self.store: Store = open_store(uri, **store_options)
        self.uri = self.store.uri

    def __repr__(self) -> str:
        return f"Lake({self.uri!r})"

    # ---------------------------------------------------------------------------------------------------- keys
    @staticmethod
    def raw_key(market: str, symbol: str, name: str) -> str:
        """Key of an original source file."""
        return f"raw/{market}/trades/{symbol}/{name}"

    @staticmethod
    def bronze_key(market: str, symbol: str, date: str, part: str) -> str:
        """Key of one bronze Parquet part."""
        return f"bronze/trades/market={market}/symbol={symbol}/date={date}/part-{part}.parquet"

    @staticmethod
    def quarantine_key(market: str, symbol: str, part: str) -> str:
        """Key of the rejected rows of one source version."""
        return f"quarantine/trades/market={market}/symbol={symbol}/{part}.parquet"

    @staticmethod
    def manifest_key(market: str, symbol: str, name: str) -> str:
        """Key of a source's manifest."""
        return f"_manifests/trades/market={market}/symbol={symbol}/{name}.json"

    @staticmethod
    def candles_key(interval: str, symbol: str, date: str) -> str:
        """Key of one day of candles."""
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
        """The complete kline files of the ``reference/`` zone (those with their ``.CHECKSUM``), sorted."""
        prefix = self.kline_key(market, interval, symbol, "")
        names = {obj.key for obj in self.store.list(prefix)}
        return sorted(k for k in names if k.endswith(".zip") and k + ".CHECKSUM" in names)

    # ----------------------------------------------------------------------------------------------- manifests
    def manifest(self, market: str, symbol: str, name: str) -> Manifest | None:
        """The current manifest of a source, or None when it was never ingested."""
        key = self.manifest_key(market, symbol, name)
        try:
            return Manifest.from_json(self.store.read_bytes(key).decode())
        except StoreError:
            if self.store.exists(key):
                raise
            return None

    def write_manifest(self, manifest: Manifest) -> None:
        """Publish a manifest (the last step of an ingest)."""
        key = self.manifest_key(manifest.market, manifest.symbol, manifest.name)
        self.store.write_bytes(key, manifest.to_json().encode())

    def manifests(self, market: str | None = None, symbol: str | None = None) -> list[Manifest]:
        """All current manifests, optionally for one market and symbol."""
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
        """Bronze parts of a symbol from its manifests, for UTC days in ``[start, end]``, in date order."""
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
        """Local paths for objects: in place for a local lake, downloaded to a temporary folder for S3."""
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
        """Per market and symbol: source files, days, rows, quarantined rows, first and last day."""
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
