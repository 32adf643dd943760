"""A small headless-Chromium helper for tests: dump a page's DOM after its scripts ran, or take a screenshot.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it). A missing browser is an error, never a skip.
Every run gets a fresh ``--user-data-dir``, runs in its own process group and is killed (the whole group) when it
is done or when it overruns its timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
#: The flags of every run (plus the mode: --dump-dom or --screenshot, and the page).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserError(RuntimeError):
    """Chromium is missing, failed or timed out."""


def find_chromium() -> str:
    """The Chromium executable: ``/usr/bin/chromium``, else the first of :data:`CANDIDATES` on ``PATH``."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError(
        "Chromium is not installed (looked for /usr/bin/chromium and chromium, chromium-browser, google-chrome on "
        "PATH): install it with `apt-get install -y chromium` (.ci/run does this on CI)"
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group this helper started for ``proc`` (Chromium forks renderer and GPU processes)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_chromium(*args: str, timeout: float = 60.0, stderr: bool = False) -> str:
    """Run headless Chromium with :data:`FLAGS`, a fresh profile and ``args``; return its standard output.

    With ``stderr=True``, return its standard error instead (where ``--enable-logging=stderr`` writes the console).

    Raises:
        BrowserError: Chromium is missing, exited non-zero or ran past ``timeout`` seconds (it is killed).
    """
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="daap-chromium-", ignore_cleanup_errors=True) as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", *args]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so it can be killed with all its children
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise BrowserError(f"Chromium ran for more than {timeout:.0f} s and was killed: {' '.join(cmd)}") from None
        finally:
            _kill_group(proc)  # leftovers (crashpad handler, zygote) of a finished run
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        raise BrowserError(f"Chromium exited with status {proc.returncode}: {' '.join(cmd)}\n{tail}")
    return (err if stderr else out).decode("utf-8", errors="replace")


_CONSOLE = re.compile(r"(?:INFO|WARNING|ERROR):CONSOLE[^\]]*\] \"(?P<message>.*)\", source: (?P<source>.*)$")


def js_errors(page: Path, *, budget_ms: int = 5000, timeout: float = 60.0) -> list[str]:
    """Uncaught JavaScript exceptions the page logged while it loaded (from Chromium's console log, which does not
    tell ``console.error`` from ``console.log``)."""
    log = run_chromium(
        "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={budget_ms}", "--dump-dom",
        page.resolve().as_uri(), timeout=timeout, stderr=True,
    )  # fmt: skip
    errors = []
    for line in log.splitlines():
        m = _CONSOLE.search(line)
        if m and m["message"].startswith("Uncaught"):
            errors.append(f"{m['message']} ({m['source']})")
    return errors


def dump_dom(page: Path, *, budget_ms: int = 5000, timeout: float = 60.0) -> str:
    """The page's DOM after its scripts ran (``--dump-dom`` with ``--virtual-time-budget``)."""
    return run_chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri(), timeout=timeout)


def screenshot(
    page: Path,
    png: Path,
    *,
    size: tuple[int, int] = (1400, 1800),
    budget_ms: int = 5000,
    timeout: float = 60.0,
) -> Path:
    """A PNG screenshot of the page, taken after its scripts ran."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    run_chromium(
        f"--screenshot={png.resolve()}",
        f"--window-size={size[0]},{size[1]}",
        f"--virtual-time-budget={budget_ms}",
        page.resolve().as_uri(),
        timeout=timeout,
    )
    if not png.exists():
        raise BrowserError(f"Chromium wrote no screenshot to {png}")
    return png


@dataclass(frozen=True)
class PngSummary:
    """What a PNG holds, read without an imaging library.

    Attributes:
        width: pixels.
        height: pixels.
        distinct_rows: how many different (filtered) scanlines it has: a blank page has a handful, a chart
            has hundreds.
    """

    width: int
    height: int
    distinct_rows: int

    @property
    def distinct_fraction(self) -> float:
        """``distinct_rows / height``."""
        return self.distinct_rows / self.height if self.height else 0.0


def png_summary(path: Path) -> PngSummary:
    """Read a non-interlaced 8-bit PNG's size and count its distinct scanlines (a cheap "is it blank?" test)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    pos, idat = 8, []
    width = height = depth = colour = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if depth != 8 or interlace:
        raise ValueError(f"{path}: only non-interlaced 8-bit PNGs are read here (depth {depth}, interlace {interlace})")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(idat))
    stride = 1 + width * channels
    rows = {raw[i * stride : (i + 1) * stride] for i in range(height)}
    return PngSummary(width, height, len(rows))
