"""Progress bars for long work: shown on a terminal, quiet otherwise (logs, CI, pipes).

Examples:
    >>> with bar(total=10, enabled=False, desc="demo") as b:
    ...     b.update(10)
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["bar", "content_size"]


def bar(total: int | None, enabled: bool | None, desc: str, unit: str = "B") -> Any:
    """A tqdm bar in bytes. ``enabled=None`` shows it only when stderr is a terminal."""
    from tqdm.auto import tqdm

    scale = unit == "B"
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=scale,
        unit_divisor=1024 if scale else 1000,
        desc=desc,
        disable=None if enabled is None else not enabled,
        leave=False,
        dynamic_ncols=True,
    )


def content_size(path: Path) -> int | None:
    """Bytes of CSV a file holds (a zip's member size), or None when unknown (gzip)."""
    name = path.name.lower()
    if name.endswith(".zip"):
        with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(path) as zf:
            return sum(m.file_size for m in zf.infolist())
        return None
    if name.endswith(".gz"):
        return None
    return path.stat().st_size
