"""The lake on S3 or an S3-compatible store (MinIO, SeaweedFS, …), behind the :class:`~daap.storage.Store` contract.

Needs ``pip install 'daap[s3]'`` (boto3). Constructing an :class:`S3Store` only parses its URI; boto3 is imported and
the client is created at the first operation. Credentials come from the standard AWS sources (environment,
``~/.aws`` profiles, instance roles) and are never stored on the object or put into error messages.

Examples:
    >>> store = S3Store("s3://my-bucket/lake/", endpoint_url="http://127.0.0.1:8333")
    >>> store
    S3Store('s3://my-bucket/lake', endpoint_url='http://127.0.0.1:8333')
    >>> store.bucket, store.prefix
    ('my-bucket', 'lake')
    >>> store.write_bytes("a/b.json", b"{}")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from daap.errors import MissingDependencyError
from daap.storage import ObjectInfo, StoreError, _check_key, sha256_of

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Store", "UploadStats", "parse_s3_uri"]

MiB = 1 << 20
_DELETE_BATCH = 1000  # the most keys one DeleteObjects request accepts
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into a validated bucket name and a prefix without surrounding slashes.

    Args:
        uri: an S3 URI; the prefix is optional.

    Returns:
        ``(bucket, prefix)``; the prefix is ``""`` for the bucket's root.

    Raises:
        StoreError: the URI is not ``s3://…``, the bucket name breaks the S3 naming rules, or the prefix has empty,
            ``.`` or ``..`` segments.

    Examples:
        >>> parse_s3_uri("s3://daap-lake/prod/lake/")
        ('daap-lake', 'prod/lake')
        >>> parse_s3_uri("s3://Bad_Bucket")
        Traceback (most recent call last):
        ...
        daap.storage.StoreError: invalid S3 bucket name 'Bad_Bucket' in 's3://Bad_Bucket': ...
    """
    if not uri.startswith("s3://"):
        raise StoreError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    rest = uri[len("s3://") :]
    if "?" in rest or "#" in rest:
        raise StoreError(f"S3 URI {uri!r} must not have a query or a fragment")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket or _IPV4_RE.match(bucket):
        raise StoreError(
            f"invalid S3 bucket name {bucket!r} in {uri!r}: 3-63 characters of lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit, not an IP address"
        )
    prefix = prefix.rstrip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise StoreError(f"invalid prefix {prefix!r} in S3 URI {uri!r}: empty, '.' or '..' segments")
    return bucket, prefix


@dataclass(frozen=True)
class UploadStats:
    """What the last :meth:`S3Store.put_file` moved: bytes and seconds (hashing and verification included).

    Examples:
        >>> stats = UploadStats(bytes=250_000_000, seconds=2.0)
        >>> stats.bytes, stats.mb_per_s
        (250000000, 125.0)
    """

    bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10^6 bytes per second).

        Examples:
            >>> UploadStats(bytes=64_000_000, seconds=0.5).mb_per_s, UploadStats(bytes=10, seconds=0.0).mb_per_s
            (128.0, inf)
        """
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else float("inf")


def _aws_errors() -> tuple[type[Exception], ...]:
    """The exception classes of boto3/botocore that an S3 call may raise (imported lazily)."""
    try:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("the S3 lake", "s3") from exc
    return (ClientError, BotoCoreError, Boto3Error)


def _error_code(exc: BaseException) -> tuple[str, str]:
    """The AWS error code and message of an exception (``("", str(exc))`` when it is not a ClientError)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = str(err.get("Code") or status or "")
        return code, str(err.get("Message") or "")
    cause = exc.__cause__ or exc.__context__
    if cause is not None and getattr(cause, "response", None) is not None:
        return _error_code(cause)
    return "", str(exc)


def _redact(url: str | None) -> str | None:
    """An endpoint URL without any ``user:password@`` part."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class S3Store:
    """A lake folder in an S3 bucket: ``s3://bucket/prefix``.

    Keys are relative to the prefix. Writes are atomic (a PUT or a completed multipart upload either lands whole or
    not at all), uploads carry SHA-256 checksums the server verifies, and :meth:`put_file` re-reads the stored size
    and hash before it returns. Transient errors (throttling, 5xx, dropped connections) are retried with
    exponential backoff by botocore's ``standard`` retry mode; what still fails raises
    :class:`~daap.storage.StoreError` naming the operation, bucket, key and AWS error code, never the credentials.

    Args:
        uri: ``s3://bucket/prefix``.
        endpoint_url: an S3-compatible endpoint; defaults to ``$DAAP_S3_ENDPOINT_URL``, then to AWS's own
            configuration (``AWS_ENDPOINT_URL_S3``, ``~/.aws/config``, or AWS itself). Path-style addressing is used
            whenever an endpoint is set.
        region_name: the bucket's region; defaults to the AWS configuration.
        profile: an ``~/.aws`` profile name; defaults to ``$AWS_PROFILE`` or the default chain.
        multipart_threshold: files at least this large are uploaded and downloaded in parts.
        multipart_chunksize: the part size.
        max_concurrency: parallel parts per transfer.
        max_attempts: total attempts per request, retries included.
        connect_timeout: seconds to open a connection.
        read_timeout: seconds to wait for data on an open connection.

    Attributes:
        uri: the normalized URI, ``s3://bucket/prefix``.
        bucket: the bucket name.
        prefix: the key prefix, without surrounding slashes (``""`` for the bucket root).
        last_upload: :class:`UploadStats` of the most recent :meth:`put_file`, for benchmarks.

    Examples:
        >>> store = S3Store("s3://daap-lake/prod")
        >>> store.uri, store.local_path("raw/x.zip")
        ('s3://daap-lake/prod', None)
        >>> store.put_file(Path("BTCUSDT-trades-2024-01-01.zip"), "raw/BTCUSDT.zip")  # doctest: +SKIP
        >>> f"{store.last_upload.mb_per_s:.0f} MB/s"  # doctest: +SKIP
        '250 MB/s'
    """

    def __init__(
        self,
        uri: str,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        profile: str | None = None,
        multipart_threshold: int = 64 * MiB,
        multipart_chunksize: int = 64 * MiB,
        max_concurrency: int = 4,
        max_attempts: int = 8,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.uri = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.endpoint_url = endpoint_url or os.environ.get("DAAP_S3_ENDPOINT_URL") or None
        self.region_name = region_name
        self.profile = profile
        if multipart_chunksize < 5 * MiB:
            raise StoreError(
                f"multipart_chunksize must be at least 5 MiB (S3's smallest part), got {multipart_chunksize}"
            )
        if max_concurrency < 1 or max_attempts < 1:
            raise StoreError("max_concurrency and max_attempts must be at least 1")
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.last_upload: UploadStats | None = None
        self._s3: S3Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        endpoint = _redact(self.endpoint_url)
        extra = f", endpoint_url={endpoint!r}" if endpoint else ""
        return f"S3Store({self.uri!r}{extra})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the configuration only (a client is created again where the store is used, e.g. on Spark)."""
        state = self.__dict__.copy()
        state["_s3"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- the heavy part, created on first use ---------------------------------------------------------------------

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client, created on first use (thread-safe; boto3 clients may be shared across threads).

        Examples:
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> client = store.client  # no request is sent yet
            >>> client.meta.endpoint_url, client.meta.config.s3, store.client is client
            ('http://127.0.0.1:8333', {'addressing_style': 'path'}, True)
        """
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    self._s3 = self._make_client()
        return self._s3

    def _make_client(self) -> S3Client:
        errors = _aws_errors()
        import boto3
        from botocore.config import Config

        env_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        config = Config(
            retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=max(10, 2 * self.max_concurrency),
            s3={"addressing_style": "path"} if (self.endpoint_url or env_endpoint) else None,
        )
        try:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region_name)
            return session.client("s3", endpoint_url=self.endpoint_url, config=config)
        except errors as exc:
            raise self._error("connect to", None, exc) from exc

    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_chunksize,
            max_concurrency=self.max_concurrency,
        )

    # -- helpers --------------------------------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self, key: str | None) -> str:
        if key is None:
            return f"s3://{self.bucket}"
        return f"s3://{self.bucket}/{self.prefix}/{key}" if self.prefix else f"s3://{self.bucket}/{key}"

    def _error(self, op: str, key: str | None, exc: BaseException) -> StoreError:
        code, message = _error_code(exc)
        detail = f"{code}: {message}" if code else f"{type(exc).__name__}: {message}"
        endpoint = _redact(self.endpoint_url)
        via = f" (endpoint {endpoint})" if endpoint else ""
        return StoreError(f"S3 {op} {self._where(key)} failed{via}: {detail}")

    @contextlib.contextmanager
    def _op(self, op: str, key: str | None, *, reading: bool = False) -> Iterator[None]:
        errors = _aws_errors()
        try:
            yield
        except errors as exc:
            code, message = _error_code(exc)
            if reading and key is not None and code in _NOT_FOUND:
                raise StoreError(f"no object {key!r} in {self.uri} ({code}: {message or 'not found'})") from exc
            raise self._error(op, key, exc) from exc

    # -- the Store contract ---------------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """True when the object exists (a HEAD request; 404 means False).

        Examples:
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> with Stubber(store.client) as server:  # canned answers instead of a server
            ...     server.add_response("head_object", {}, {"Bucket": "my-bucket", "Key": "lake/a.json"})
            ...     server.add_client_error("head_object", "404", http_status_code=404)
            ...     store.exists("a.json"), store.exists("b.json")
            (True, False)
        """
        full = self._key(key)
        errors = _aws_errors()
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
        except errors as exc:
            if _error_code(exc)[0] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._error("HEAD", key, exc) from exc
        return True

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes (raises :class:`~daap.storage.StoreError` when missing).

        Examples:
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> with Stubber(store.client) as server:  # a canned answer instead of a server
            ...     server.add_client_error("get_object", "NoSuchKey", http_status_code=404)
            ...     store.read_bytes("a.json")
            Traceback (most recent call last):
            ...
            daap.storage.StoreError: no object 'a.json' in s3://my-bucket/lake (NoSuchKey: not found)
        """
        full = self._key(key)
        with self._op("GET", key, reading=True):
            body = self.client.get_object(Bucket=self.bucket, Key=full)["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object in one PUT (atomic), with a SHA-256 checksum the server verifies.

        Examples:
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> expected = {"Bucket": "my-bucket", "Key": "lake/a.json", "Body": b"{}", "ChecksumAlgorithm": "SHA256",
            ...     "Metadata": {"sha256": hashlib.sha256(b"{}").hexdigest()}}
            >>> with Stubber(store.client) as server:  # fails unless the request has exactly these parameters
            ...     server.add_response("put_object", {}, expected)
            ...     store.write_bytes("a.json", b"{}")
            >>> store.write_bytes("../a.json", b"{}")  # keys are checked before any request
            Traceback (most recent call last):
            ...
            daap.storage.StoreError: invalid object key '../a.json'
        """
        full = self._key(key)
        with self._op("PUT", key):
            self.client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                ChecksumAlgorithm="SHA256",
                Metadata={"sha256": hashlib.sha256(data).hexdigest()},
            )

    def put_file(self, local: Path, key: str) -> None:
        """Upload a file (in parts when large), then check the stored size and SHA-256.

        The SDK sends a SHA-256 checksum with every part and the server rejects a corrupted part; the whole file's
        hex SHA-256 is stored as the ``sha256`` user metadata and compared after the upload. A mismatching object
        is deleted. :attr:`last_upload` records bytes and seconds.

        Args:
            local: the file to upload.
            key: the object key, relative to the store's prefix.

        Raises:
            StoreError: the upload failed, or what was stored differs from the file.

        Examples:
            >>> import tempfile
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> local = Path(tempfile.mkdtemp()) / "a.json"
            >>> _ = local.write_bytes(b"{}")
            >>> stored = {"ContentLength": 2, "Metadata": {"sha256": hashlib.sha256(b"{}").hexdigest()}}
            >>> with Stubber(store.client) as server:  # canned answers instead of a server
            ...     server.add_response("put_object", {})
            ...     server.add_response("head_object", stored)  # the check after the upload
            ...     store.put_file(local, "a.json")
            >>> store.last_upload.bytes
            2
        """
        full = self._key(key)
        path = Path(local)
        started = time.perf_counter()
        try:
            size = path.stat().st_size
            digest = sha256_of(path)
        except OSError as exc:
            raise StoreError(f"cannot read {path} to upload it to {self._where(key)}: {exc}") from exc
        with self._op("upload to", key):
            self.client.upload_file(
                str(path),
                self.bucket,
                full,
                ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": digest}},
                Config=self._transfer_config(),
            )
        with self._op("verify (HEAD)", key):
            head = self.client.head_object(Bucket=self.bucket, Key=full)
        stored_size = head.get("ContentLength")
        stored_hash = head.get("Metadata", {}).get("sha256")
        if stored_size != size or stored_hash != digest:
            with contextlib.suppress(*_aws_errors()):
                self.client.delete_object(Bucket=self.bucket, Key=full)
            raise StoreError(
                f"S3 upload of {path} to {self._where(key)} did not verify: stored {stored_size} bytes, "
                f"sha256 {stored_hash}; expected {size} bytes, sha256 {digest} (the object was deleted)"
            )
        self.last_upload = UploadStats(size, time.perf_counter() - started)

    def get_file(self, key: str, local: Path) -> None:
        """Download an object (in parts when large) to a temporary file next to ``local``, then rename it.

        Examples:
            >>> import tempfile
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> folder = Path(tempfile.mkdtemp())
            >>> with Stubber(store.client) as server:  # a canned answer instead of a server
            ...     server.add_client_error("head_object", "404", http_status_code=404)
            ...     store.get_file("a.json", folder / "a.json")
            Traceback (most recent call last):
            ...
            daap.storage.StoreError: no object 'a.json' in s3://my-bucket/lake (404: not found)
            >>> list(folder.iterdir())  # no partial file is left behind
            []
        """
        full = self._key(key)
        final = Path(local)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        try:
            with self._op("download", key, reading=True):
                self.client.download_file(self.bucket, full, tmp, Config=self._transfer_config())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def list(self, prefix: str) -> list[ObjectInfo]:
        """All objects whose key starts with ``prefix``, recursively, with keys relative to the store, sorted.

        Examples:
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> page = {"Contents": [{"Key": "lake/a/c.json", "Size": 5}, {"Key": "lake/a/b.json", "Size": 2}]}
            >>> with Stubber(store.client) as server:  # a canned answer instead of a server
            ...     server.add_response("list_objects_v2", page, {"Bucket": "my-bucket", "Prefix": "lake/a/"})
            ...     store.list("a/")
            [ObjectInfo(key='a/b.json', size=2), ObjectInfo(key='a/c.json', size=5)]
        """
        root = f"{self.prefix}/" if self.prefix else ""
        out: list[ObjectInfo] = []
        with self._op("LIST", prefix or None):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    full = obj.get("Key", "")
                    if full.startswith(root) and not full.endswith("/"):
                        out.append(ObjectInfo(full[len(root) :], int(obj.get("Size", 0))))
        return sorted(out, key=lambda o: o.key)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects in batches of 1000; missing ones are ignored.

        Examples:
            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> answer = {"Errors": [{"Key": "lake/a.json", "Code": "NoSuchKey"},
            ...     {"Key": "lake/b.json", "Code": "AccessDenied", "Message": "Access Denied"}]}
            >>> with Stubber(store.client) as server:  # a canned answer instead of a server
            ...     server.add_response("delete_objects", answer)
            ...     store.delete(["a.json", "b.json"])
            Traceback (most recent call last):
            ...
            daap.storage.StoreError: S3 DELETE failed for 1 object(s) in s3://my-bucket, first 'lake/b.json': ...
        """
        fulls = [self._key(k) for k in keys]
        for i in range(0, len(fulls), _DELETE_BATCH):
            batch = fulls[i : i + _DELETE_BATCH]
            with self._op("DELETE", None):
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            failed = [e for e in response.get("Errors", []) if e.get("Code") not in _NOT_FOUND]
            if failed:
                first = failed[0]
                raise StoreError(
                    f"S3 DELETE failed for {len(failed)} object(s) in s3://{self.bucket}, first "
                    f"{first.get('Key')!r}: {first.get('Code')}: {first.get('Message')}"
                )

    def local_path(self, key: str) -> Path | None:
        """None: S3 objects are not local files.

        Examples:
            >>> S3Store("s3://my-bucket/lake").local_path("a.json") is None
            True
        """
        return None

    # -- administration -------------------------------------------------------------------------------------------

    def ensure_bucket(self) -> bool:
        """Create the bucket when it does not exist.

        Returns:
            True when the bucket was created, False when it already existed.

        Examples:
            ``S3Store("s3://daap-test/lake").ensure_bucket()`` is True the first time, then False:

            >>> from botocore.stub import Stubber
            >>> store = S3Store("s3://my-bucket/lake", endpoint_url="http://127.0.0.1:8333")
            >>> with Stubber(store.client) as server:  # canned answers instead of a server
            ...     server.add_client_error("head_bucket", "404", http_status_code=404)
            ...     server.add_response("create_bucket", {"Location": "/my-bucket"})
            ...     server.add_response("head_bucket", {})
            ...     store.ensure_bucket(), store.ensure_bucket()
            (True, False)
        """
        errors = _aws_errors()
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except errors as exc:
            if _error_code(exc)[0] not in {"404", "NoSuchBucket", "NotFound"}:
                raise self._error("HEAD bucket", None, exc) from exc
        region = self.client.meta.region_name
        try:
            if region and region != "us-east-1" and not self.endpoint_url:
                self.client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
            else:
                self.client.create_bucket(Bucket=self.bucket)
        except errors as exc:
            if _error_code(exc)[0] == "BucketAlreadyOwnedByYou":
                return False
            raise self._error("create bucket", None, exc) from exc
        return True
