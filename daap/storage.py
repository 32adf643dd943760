"""Object stores under the lake: a local folder or S3 (``daap[s3]``), behind one small contract.

Keys are ``/``-separated paths relative to the store's root. Every write is atomic: an object is either absent or
complete, never half-written. ``open_store`` picks the store from a URI.

Examples:
    >>> import tempfile
    >>> store = open_store(tempfile.mkdtemp())
    >>> store.write_bytes("a/b.json", b"{}")
    >>> store.read_bytes("a/b.json"), [o.key for o in store.list("a/")]
    (b'{}', ['a/b.json'])
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from daap.errors import DaapError

__all__ = ["LocalStore", "ObjectInfo", "Store", "StoreError", "open_store", "sha256_of"]


class StoreError(DaapError, OSError):
    """A store operation failed (the message names the operation and the key, never credentials).

    Examples:
        >>> import tempfile
        >>> open_store(tempfile.mkdtemp()).read_bytes("missing.json")
        Traceback (most recent call last):
        ...
        daap.storage.StoreError: no object 'missing.json' in ...
        >>> issubclass(StoreError, DaapError), issubclass(StoreError, OSError)
        (True, True)
    """


@dataclass(frozen=True)
class ObjectInfo:
    """One object: its key relative to the store root, and its size in bytes.

    Examples:
        >>> import tempfile
        >>> store = open_store(tempfile.mkdtemp())
        >>> store.write_bytes("a/b.bin", b"abc")
        >>> store.list("a/")
        [ObjectInfo(key='a/b.bin', size=3)]
    """

    key: str
    size: int


@runtime_checkable
class Store(Protocol):
    """What the lake needs from a store.

    Examples:
        >>> import tempfile
        >>> isinstance(LocalStore(tempfile.mkdtemp()), Store), isinstance(open_store("s3://my-bucket/lake"), Store)
        (True, True)
    """

    uri: str

    def exists(self, key: str) -> bool:
        """True when the object exists.

        Examples:
            >>> import tempfile
            >>> store = open_store(tempfile.mkdtemp())
            >>> store.write_bytes("a.json", b"{}")
            >>> store.exists("a.json"), store.exists("b.json")
            (True, False)
        """
        ...

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes (raises :class:`StoreError` when missing).

        Examples:
            >>> import tempfile
            >>> store = open_store(tempfile.mkdtemp())
            >>> store.write_bytes("a.json", b'{"rows": 3}')
            >>> store.read_bytes("a.json")
            b'{"rows": 3}'
        """
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object atomically.

        Examples:
            >>> import tempfile
            >>> store = open_store(tempfile.mkdtemp())
            >>> store.write_bytes("m/a.json", b"old")
            >>> store.write_bytes("m/a.json", b"new")  # replaces the object whole
            >>> store.read_bytes("m/a.json"), [o.key for o in store.list("m/")]
            (b'new', ['m/a.json'])
        """
        ...

    def put_file(self, local: Path, key: str) -> None:
        """Upload a local file atomically, verifying what was stored.

        Examples:
            >>> import tempfile
            >>> local = Path(tempfile.mkdtemp()) / "day.csv"
            >>> _ = local.write_bytes(b"1,2,3")
            >>> store = open_store(tempfile.mkdtemp())
            >>> store.put_file(local, "raw/day.csv")
            >>> store.read_bytes("raw/day.csv")
            b'1,2,3'
        """
        ...

    def get_file(self, key: str, local: Path) -> None:
        """Download an object to a local file.

        Examples:
            >>> import tempfile
            >>> store = open_store(tempfile.mkdtemp())
            >>> store.write_bytes("raw/day.csv", b"1,2,3")
            >>> local = Path(tempfile.mkdtemp()) / "copy.csv"
            >>> store.get_file("raw/day.csv", local)
            >>> local.read_bytes()
            b'1,2,3'
        """
        ...

    def list(self, prefix: str) -> list[ObjectInfo]:
        """All objects whose key starts with ``prefix``, recursively, sorted by key.

        Examples:
            >>> import tempfile
            >>> store = open_store(tempfile.mkdtemp())
            >>> for key in ("a/z.json", "a/b/c.json", "d.json"):
            ...     store.write_bytes(key, b"{}")
            >>> [o.key for o in store.list("a/")]
            ['a/b/c.json', 'a/z.json']
        """
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects; missing ones are ignored.

        Examples:
            >>> import tempfile
            >>> store = open_store(tempfile.mkdtemp())
            >>> store.write_bytes("a.json", b"{}")
            >>> store.delete(["a.json", "never-written.json"])
            >>> store.exists("a.json")
            False
        """
        ...

    def local_path(self, key: str) -> Path | None:
        """A local path to read the object in place, when the store is local; else None.

        Examples:
            >>> import tempfile
            >>> open_store(tempfile.mkdtemp()).local_path("a/b.parquet").name
            'b.parquet'
            >>> open_store("s3://my-bucket/lake").local_path("a/b.parquet") is None
            True
        """
        ...


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file, read in chunks.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
        >>> _ = p.write_bytes(b"abc")
        >>> sha256_of(p)[:16]
        'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise StoreError(f"invalid object key {key!r}")
    return key


class LocalStore:
    """A folder on the local file system. Atomic writes go through a temporary file and ``os.replace``.

    Examples:
        >>> import tempfile
        >>> store = LocalStore(tempfile.mkdtemp())
        >>> store.write_bytes("a/b.json", b"{}")
        >>> sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*"))  # no temporary file left
        ['a', 'a/b.json']
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def __repr__(self) -> str:
        return f"LocalStore({self.uri!r})"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    @contextlib.contextmanager
    def _atomic(self, key: str) -> Iterator[Path]:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        try:
            yield Path(tmp)
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def exists(self, key: str) -> bool:
        """True when the object exists.

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.write_bytes("a/b.json", b"{}")
            >>> store.exists("a/b.json"), store.exists("a")  # a folder is not an object
            (True, False)
            >>> store.exists("../outside.json")
            Traceback (most recent call last):
            ...
            daap.storage.StoreError: invalid object key '../outside.json'
        """
        return self._path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes.

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.write_bytes("a.json", b"{}")
            >>> store.read_bytes("a.json")
            b'{}'
            >>> store.read_bytes("b.json")
            Traceback (most recent call last):
            ...
            daap.storage.StoreError: no object 'b.json' in ...
        """
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"no object {key!r} in {self.uri}") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object atomically.

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.write_bytes("deep/folder/a.json", b"{}")  # parent folders are created
            >>> (store.root / "deep" / "folder" / "a.json").read_bytes()
            b'{}'
        """
        with self._atomic(key) as tmp:
            tmp.write_bytes(data)

    def put_file(self, local: Path, key: str) -> None:
        """Copy a local file in atomically and check its size.

        Examples:
            >>> import tempfile
            >>> local = Path(tempfile.mkdtemp()) / "day.csv"
            >>> _ = local.write_bytes(b"1,2,3")
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.put_file(local, "raw/day.csv")
            >>> store.list("raw/")
            [ObjectInfo(key='raw/day.csv', size=5)]
        """
        with self._atomic(key) as tmp:
            shutil.copyfile(local, tmp)
            if tmp.stat().st_size != Path(local).stat().st_size:
                raise StoreError(f"short copy of {local} to {key!r}")

    def get_file(self, key: str, local: Path) -> None:
        """Copy an object out.

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.write_bytes("raw/day.csv", b"1,2,3")
            >>> local = Path(tempfile.mkdtemp()) / "copy.csv"
            >>> store.get_file("raw/day.csv", local)
            >>> local.read_bytes()
            b'1,2,3'
        """
        try:
            shutil.copyfile(self._path(key), local)
        except FileNotFoundError as exc:
            raise StoreError(f"no object {key!r} in {self.uri}") from exc

    def list(self, prefix: str) -> list[ObjectInfo]:
        """All objects under ``prefix`` (temporary files excluded), sorted by key.

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> for key in ("a/b.json", "ab.json", "c.json"):
            ...     store.write_bytes(key, b"{}")
            >>> _ = (store.root / ".c.json.123.tmp").write_bytes(b"{")  # an unfinished write
            >>> [o.key for o in store.list("a")], [o.key for o in store.list("a/")], len(store.list(""))
            (['a/b.json', 'ab.json'], ['a/b.json'], 3)
        """
        base = self.root / prefix
        start = base if prefix == "" or prefix.endswith("/") else base.parent
        if not start.is_dir():
            return []
        out = []
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                p = Path(dirpath) / name
                key = p.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    out.append(ObjectInfo(key, p.stat().st_size))
        return sorted(out, key=lambda o: o.key)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects (missing ones are ignored).

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.write_bytes("a.json", b"{}")
            >>> store.write_bytes("b.json", b"{}")
            >>> store.delete(["a.json", "missing.json"])
            >>> [o.key for o in store.list("")]
            ['b.json']
        """
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                self._path(key).unlink()

    def local_path(self, key: str) -> Path | None:
        """The object's path: local stores are read in place.

        Examples:
            >>> import tempfile
            >>> store = LocalStore(tempfile.mkdtemp())
            >>> store.local_path("a/b.parquet") == store.root / "a" / "b.parquet"
            True
        """
        return self._path(key)


def open_store(uri: str | Path, **options: object) -> Store:
    """The store for a URI: ``s3://bucket/prefix`` (needs ``daap[s3]``) or a local path.

    Args:
        uri: where the lake lives.
        **options: store options, e.g. ``endpoint_url`` for S3-compatible stores.

    Examples:
        >>> import tempfile
        >>> open_store(tempfile.mkdtemp())
        LocalStore('...')
        >>> open_store("s3://my-bucket/lake").uri
        's3://my-bucket/lake'
        >>> open_store("ftp://host/lake")
        Traceback (most recent call last):
        ...
        daap.storage.StoreError: unsupported lake URI 'ftp://host/lake': use a local path or s3://bucket/prefix
    """
    text = str(uri)
    if text.startswith("s3://"):
        from daap.s3 import S3Store

        return S3Store(text, **options)  # type: ignore[arg-type]
    if "://" in text and not text.startswith("file://"):
        raise StoreError(f"unsupported lake URI {text!r}: use a local path or s3://bucket/prefix")
    return LocalStore(text.removeprefix("file://"))
