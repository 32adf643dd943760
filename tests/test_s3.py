"""The store contract, run on a local folder and on S3 (SeaweedFS), plus S3-only behaviour: multipart uploads,
verification, batching, credentials that never leak, and bounded retries against a dead endpoint."""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from daap.errors import MissingDependencyError
from daap.s3 import S3Store, parse_s3_uri
from daap.storage import LocalStore, ObjectInfo, Store, StoreError, open_store, sha256_of
from tests.s3_server import S3Server

MiB = 1 << 20
StoreFactory = Callable[[str], Store]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Stores that share one root (a folder, or a fresh bucket): ``make_store("lake")`` is ``<root>/lake``."""
    if request.param == "local":
        return lambda prefix: LocalStore(tmp_path / prefix)
    bucket = parse_s3_uri(request.getfixturevalue("s3_lake_uri"))[0]
    return lambda prefix: S3Store(f"s3://{bucket}/{prefix}")


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store("lake")


def write_random(path: Path, size: int, seed: int = 0) -> str:
    """Write ``size`` pseudo-random bytes and return their sha256."""
    data = hashlib.shake_256(str(seed).encode()).digest(min(size, MiB))
    h = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            block = data[: min(left, len(data))]
            f.write(block)
            h.update(block)
            left -= len(block)
    return h.hexdigest()


# -- the contract, identical for every store ----------------------------------------------------------------------


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


def test_write_read_exists(store: Store) -> None:
    assert not store.exists("a/b.json")
    store.write_bytes("a/b.json", b"{}")
    assert store.exists("a/b.json")
    assert store.read_bytes("a/b.json") == b"{}"
    store.write_bytes("a/b.json", b'{"v": 2}')  # overwrite
    assert store.read_bytes("a/b.json") == b'{"v": 2}'
    store.write_bytes("empty", b"")
    assert store.read_bytes("empty") == b""
    assert not store.exists("a")  # a "folder" is not an object


def test_read_missing_raises(store: Store) -> None:
    with pytest.raises(StoreError, match=r"no object 'nope/x\.bin'"):
        store.read_bytes("nope/x.bin")


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/../b", "a/./b", ".."])
def test_invalid_keys(store: Store, key: str) -> None:
    with pytest.raises(StoreError, match="invalid object key"):
        store.write_bytes(key, b"x")


def test_list(make_store: StoreFactory) -> None:
    store = make_store("lake")
    keys = ["b.json", "a/b/2.json", "a/1.json", "a/b/c/3.json", "c/x=1/y.parquet"]
    for i, key in enumerate(keys):
        store.write_bytes(key, b"x" * i)
    # A sibling whose name extends this store's prefix must stay out of it.
    make_store("lake2").write_bytes("a/1.json", b"other")

    everything = store.list("")
    assert [o.key for o in everything] == sorted(keys)
    assert ObjectInfo("a/b/c/3.json", 3) in everything
    assert [o.key for o in store.list("a/")] == ["a/1.json", "a/b/2.json", "a/b/c/3.json"]
    assert [o.key for o in store.list("a/b/")] == ["a/b/2.json", "a/b/c/3.json"]
    assert [o.key for o in store.list("a/b/2")] == ["a/b/2.json"]
    assert [o.key for o in store.list("c/x=1/")] == ["c/x=1/y.parquet"]
    assert store.list("zzz/") == []
    assert store.list("b.json") == [ObjectInfo("b.json", 0)]


def test_list_is_a_string_prefix(make_store: StoreFactory, request: pytest.FixtureRequest) -> None:
    """``list("a")`` matches ``a/…`` and ``ab/…`` alike, as the protocol says ("whose key starts with")."""
    store = make_store("lake")
    for key in ["a/1", "ab/2", "b/3"]:
        store.write_bytes(key, b"x")
    assert [o.key for o in store.list("a")] == ["a/1", "ab/2"]


def test_delete(store: Store) -> None:
    for key in ["a/1", "a/2", "b/3"]:
        store.write_bytes(key, b"x")
    store.delete(["a/1", "b/3", "never/was"])  # missing keys are ignored
    assert [o.key for o in store.list("")] == ["a/2"]
    store.delete([])
    assert not store.exists("a/1")


def test_put_get_file_round_trip(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    digest = write_random(src, 3 * MiB + 17)
    store.put_file(src, "raw/BTCUSDT/2024-01-01.zip")
    assert store.list("raw/") == [ObjectInfo("raw/BTCUSDT/2024-01-01.zip", 3 * MiB + 17)]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    back = out_dir / "back.zip"
    back.write_bytes(b"old content is replaced")
    store.get_file("raw/BTCUSDT/2024-01-01.zip", back)
    assert sha256_of(back) == digest
    assert os.listdir(out_dir) == ["back.zip"]  # no temporary files left behind


def test_get_missing_file_raises(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "target.bin"
    with pytest.raises(StoreError, match=r"no object 'missing\.bin'"):
        store.get_file("missing.bin", target)
    assert not target.exists()


# -- S3 only ---------------------------------------------------------------------------------------------------


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    assert parse_s3_uri("s3://bucket/") == ("bucket", "")
    assert parse_s3_uri("s3://my.bucket-1/a/b/") == ("my.bucket-1", "a/b")
    for bad in [
        "bucket/prefix",
        "s3:/bucket",
        "s3://",
        "s3://ab",
        "s3://Bucket",
        "s3://under_score",
        "s3://-dash",
        "s3://a..b",
        "s3://192.168.1.1",
        "s3://user:pw@bucket/x",
        "s3://bucket//x",
        "s3://bucket/a/../b",
        "s3://bucket/x?versionId=1",
    ]:
        with pytest.raises(StoreError):
            parse_s3_uri(bad)


def test_s3store_is_light(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAP_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    store = S3Store("s3://daap-lake/prod/")
    assert store.uri == "s3://daap-lake/prod"
    assert store.endpoint_url == "http://127.0.0.1:1"
    assert store._s3 is None
    assert store.local_path("x") is None
    clone = pickle.loads(pickle.dumps(store))
    assert repr(clone) == repr(store) == "S3Store('s3://daap-lake/prod', endpoint_url='http://127.0.0.1:1')"
    assert repr(S3Store("s3://b-1", endpoint_url="http://user:pw@host:9000")) == (
        "S3Store('s3://b-1', endpoint_url='http://host:9000')"
    )
    with pytest.raises(StoreError, match="5 MiB"):
        S3Store("s3://daap-lake", multipart_chunksize=MiB)


def test_importing_daap_s3_does_not_import_boto3() -> None:
    code = "import sys, daap.storage, daap.s3; daap.s3.S3Store('s3://abc/x'); assert 'boto3' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_boto3_raises_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("boto3", "boto3.exceptions", "botocore", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'daap\[s3\]'"):
        S3Store("s3://abc/x").exists("k")


def test_open_store_picks_s3() -> None:
    store = open_store("s3://daap-lake/lake", endpoint_url="http://127.0.0.1:9")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint_url) == ("daap-lake", "lake", "http://127.0.0.1:9")


def count_requests(store: S3Store, operation: str = "*") -> list[str]:
    """Record every HTTP attempt (retries included) the store's client sends."""
    sent: list[str] = []

    def hook(**kwargs: Any) -> None:
        sent.append(kwargs["event_name"])

    store.client.meta.events.register(f"before-send.s3.{operation}", hook)
    return sent


@pytest.mark.s3
def test_open_store_on_server(s3_lake_uri: str) -> None:
    store = open_store(s3_lake_uri)
    assert isinstance(store, S3Store)
    store.write_bytes("x", b"1")
    assert open_store(s3_lake_uri).read_bytes("x") == b"1"


@pytest.mark.s3
def test_multipart_upload_verified(s3_lake_uri: str, s3_server: S3Server, tmp_path: Path) -> None:
    store = S3Store(s3_lake_uri, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    src = tmp_path / "big.bin"
    digest = write_random(src, 20 * MiB + 123, seed=7)
    parts = count_requests(store, "UploadPart")
    store.put_file(src, "raw/big.bin")
    assert len(parts) == 5
    head = s3_server.client().head_object(Bucket=store.bucket, Key="lake/raw/big.bin", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-5"')  # stored as a multipart object
    assert head["Metadata"]["sha256"] == digest
    assert head["ContentLength"] == 20 * MiB + 123
    assert store.last_upload is not None and store.last_upload.bytes == 20 * MiB + 123
    back = tmp_path / "back.bin"
    store.get_file("raw/big.bin", back)
    assert sha256_of(back) == digest


@pytest.mark.s3
def test_put_file_deletes_what_does_not_verify(
    s3_lake_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3Store(s3_lake_uri)
    src = tmp_path / "f.bin"
    write_random(src, 1000)
    real_head = store.client.head_object

    def corrupted_head(**kwargs: Any) -> Any:
        head = real_head(**kwargs)
        head["Metadata"]["sha256"] = "0" * 64
        return head

    monkeypatch.setattr(store.client, "head_object", corrupted_head)
    with pytest.raises(StoreError, match=r"did not verify.*deleted"):
        store.put_file(src, "f.bin")
    monkeypatch.undo()
    assert not store.exists("f.bin")


@pytest.mark.s3
def test_server_rejects_a_corrupted_body(s3_lake_uri: str) -> None:
    """SeaweedFS checks the SHA-256 the SDK sends: a body that does not match it is refused (BadDigest)."""
    import base64

    store = S3Store(s3_lake_uri)
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    with pytest.raises(Exception, match="BadDigest"):
        store.client.put_object(Bucket=store.bucket, Key="lake/x", Body=b"payload", ChecksumSHA256=wrong)
    assert not store.exists("x")


@pytest.mark.s3
def test_delete_in_batches_of_1000(s3_lake_uri: str) -> None:
    store = S3Store(s3_lake_uri)
    for key in ["k/0000", "k/0500", "k/1000"]:
        store.write_bytes(key, b"x")
    calls = count_requests(store, "DeleteObjects")
    store.delete([f"k/{i:04d}" for i in range(1001)])
    assert len(calls) == 2
    assert store.list("") == []


@pytest.mark.s3
def test_ensure_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, s3_lake_uri: str) -> None:
    store = S3Store(f"s3://daap-new-{os.getpid()}-{time.monotonic_ns() % 10**9}/lake")
    assert store.ensure_bucket() is True
    assert store.ensure_bucket() is False
    store.write_bytes("x", b"1")
    assert store.list("") == [ObjectInfo("x", 1)]


@pytest.mark.s3
def test_missing_bucket_is_a_store_error(s3_lake_uri: str) -> None:
    store = S3Store("s3://daap-no-such-bucket-here/lake")
    with pytest.raises(StoreError, match="daap-no-such-bucket-here"):
        store.list("")
    with pytest.raises(StoreError):
        store.write_bytes("x", b"1")


@pytest.mark.s3
def test_wrong_secret_never_leaks(s3_lake_uri: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "WRONG-secret-" + "9" * 24
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    store = S3Store(s3_lake_uri, max_attempts=2)
    actions: list[tuple[Callable[[], object], str]] = [
        (lambda: store.write_bytes("x", b"1"), "SignatureDoesNotMatch"),
        (lambda: store.list(""), "SignatureDoesNotMatch"),
        (lambda: store.exists("x"), "403"),  # a HEAD response has no body, hence no error code
    ]
    for action, code in actions:
        with pytest.raises(StoreError) as info:
            action()
        text = f"{info.value} {info.value!r} {store!r} {store.__dict__!r}"
        assert code in str(info.value)
        assert store.bucket in str(info.value)
        assert wrong not in text
        assert s3_server.secret_key not in text


@pytest.mark.s3
def test_wrong_access_key(s3_lake_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    with pytest.raises(StoreError, match="InvalidAccessKeyId"):
        S3Store(s3_lake_uri).read_bytes("x")


def test_endpoint_down_fails_after_bounded_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-not-to-print")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = S3Store("s3://daap-lake/lake", endpoint_url=f"http://127.0.0.1:{port}", max_attempts=3, connect_timeout=1)
    sent = count_requests(store)
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.read_bytes("a/b.json")
    assert time.monotonic() - started < 20
    assert len(sent) == 3  # the first try and two retries
    message = str(info.value)
    assert "GET s3://daap-lake/lake/a/b.json" in message
    assert f"127.0.0.1:{port}" in message and "EndpointConnectionError" in message
    assert "s3cr3t" not in message + repr(info.value)
