"""Exceptions raised by daap: one class per kind of failure a user must handle.

Every exception derives from :class:`DaapError`, so ``except daap.errors.DaapError`` catches all of them.

Examples:
    >>> from daap.errors import InvalidIntervalError, DaapError
    >>> issubclass(InvalidIntervalError, DaapError)
    True
"""

from __future__ import annotations

from pathlib import Path


class DaapError(Exception):
    """Base class of every error daap raises on purpose.

    Examples:
        >>> from daap.intervals import Interval
        >>> try:
        ...     Interval.parse("7m")
        ... except DaapError as exc:
        ...     print(type(exc).__name__, isinstance(exc, ValueError))
        InvalidIntervalError True
    """


class MissingDependencyError(DaapError, ImportError):
    """An optional dependency (an extra) is not installed.

    The message names the ``pip install`` command that fixes it.
    """

    def __init__(self, what: str, extra: str) -> None:
        self.what = what
        self.extra = extra
        super().__init__(f"{what} needs the optional dependencies of daap[{extra}]: pip install 'daap[{extra}]'")


class UnknownEngineError(DaapError, ValueError):
    """No engine is registered under the requested name."""


class InvalidIntervalError(DaapError, ValueError):
    """An interval string that daap does not support, or a rollup between incompatible intervals."""


class InputFormatError(DaapError, ValueError):
    """Input that cannot be read as Binance trades.

    Attributes:
        path: the file, or ``None`` for in-memory input.
        line: 1-based line number in the (decompressed) CSV, when known.
        column: the column name, when the problem is in one field.
        reason: what is wrong, in words.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        self.reason = reason
        where = self.path or "<input>"
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


class EmptyInputError(InputFormatError):
    """A file, or a zip member, that holds no data rows."""


class UnsafeArchiveError(InputFormatError):
    """A zip archive that daap refuses to open (several members, a path escaping the archive, and so on)."""


class ImplausibleTimestampError(InputFormatError):
    """A trade time that is neither seconds, milliseconds nor microseconds of a plausible date."""


class ValidationError(DaapError, ValueError):
    """Data that breaks the candle or trade contract (raised by ``validate=True``)."""
