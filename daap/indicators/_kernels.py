"""Vectorized numpy kernels behind the indicator specs (no Python loop over rows).

* :func:`linear_scan` runs the recursion ``y[t] = c * y[t-1] + u[t]`` (EMA, Wilder smoothing) blockwise: a
  ``(blocks × B) @ (B × B)`` product gives each block's response from a zero state, and the block-end states are
  carried by the same scan, recursively, over ``c**B``. Every output is a short dot product of decaying terms, so its
  rounding error is a few ulps of the smoothed value.
* :func:`window_sums` gives the sum and the centred sum of squares of every length-``n`` window. Each block of
  outputs is shifted by a local reference value before its prefix sums, so prices near 60,000 do not cancel, and
  windows whose values are all equal give exactly zero spread.

Example:
    >>> import numpy as np
    >>> linear_scan(np.array([1.0, 1.0, 1.0]), 0.5, 4.0).tolist()
    [3.0, 2.5, 2.25]
    >>> s, ss = window_sums(np.array([1.0, 2.0, 3.0, 4.0]), 2)
    >>> s.tolist(), ss.tolist()
    ([3.0, 5.0, 7.0], [0.5, 0.5, 0.5])
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

_SCAN_BLOCK = 32
_WINDOW_BLOCK = 256


@functools.lru_cache(maxsize=128)
def _scan_matrix(c: float, scale: float, b: int) -> F64:
    """``(b + 1) × b``: rows ``i < b`` map input ``i`` of a block to its outputs, row ``b`` the carried state."""
    lag = np.arange(b)[None, :] - np.arange(b)[:, None]
    with np.errstate(under="ignore"):
        tri = np.where(lag >= 0, np.float64(c) ** np.maximum(lag, 0), 0.0) * scale
        powers = np.float64(c) ** np.arange(1, b + 1, dtype=np.float64)
    return np.ascontiguousarray(np.vstack((tri, powers[None, :])))


def linear_scan(u: F64, c: float, y0: F64 | float, scale: float = 1.0, prefix: int = 0) -> F64:
    """Return ``y`` with ``y[t] = c * y[t-1] + scale * u[t]`` and ``y[-1] = y0``, along the last axis.

    Args:
        u: the inputs, shape ``(m,)`` or ``(series, m)``.
        c: the decay factor, in ``[0, 1]``.
        y0: the state before ``u[..., 0]`` (one per series).
        scale: a factor applied to every input.
        prefix: leave this many uninitialized slots before ``y`` in the result (for the caller to fill), which
            saves copying ``y`` into a longer array.

    Example:
        >>> linear_scan(np.array([2.0, 0.0]), 0.5, 0.0).tolist()
        [2.0, 1.0]
        >>> linear_scan(np.array([[1.0], [2.0]]), 0.5, np.array([0.0, 2.0]), scale=2.0).tolist()
        [[2.0], [5.0]]
    """
    flat = u.ndim == 1
    u2 = u.reshape(1, -1) if flat else u
    s, m = u2.shape
    start = np.broadcast_to(np.asarray(y0, dtype=np.float64), (s,))
    if m == 0:
        return np.empty((*u.shape[:-1], prefix), dtype=np.float64)
    b = min(_SCAN_BLOCK, m)
    k, full = -(-m // b), m // b
    mat = _scan_matrix(float(c), float(scale), b)
    # np.empty, not np.zeros: a large calloc maps fresh pages, and page faults cost more than the arithmetic.
    blocks = np.empty((s, k, b + 1), dtype=np.float64)
    blocks[:, :full, :b] = u2[:, : full * b].reshape(s, full, b)
    if full < k:
        blocks[:, full, : m - full * b] = u2[:, full * b :]
        blocks[:, full, m - full * b : b] = 0.0
    if k == 1:
        blocks[:, 0, b] = start
    else:
        ends = blocks[:, :, :b] @ mat[:b, -1]
        blocks[:, 0, b] = start
        blocks[:, 1:, b] = linear_scan(ends[:, :-1], float(mat[b, -1]), start)
    out = np.empty((s, prefix + k * b), dtype=np.float64)
    np.matmul(blocks, mat, out=out[:, prefix:].reshape(s, k, b))
    result: F64 = out[:, : prefix + m]
    return result[0] if flat else result


def rolling_sum(x: F64, n: int, shift: float = 0.0) -> F64:
    """Return the sum of every window ``x[i:i+n]`` from one prefix sum of ``x - shift``.

    Windows of zeros (with ``shift=0``) sum to exactly 0. The rounding error is about ``len(x) / n`` ulps of a
    window's sum, for values of one sign: shift prices by a nearby price first.

    Example:
        >>> rolling_sum(np.array([1.0, 0.0, 0.0, 2.0]), 2).tolist()
        [1.0, 0.0, 2.0]
    """
    m = x.shape[0] - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.float64)
    c = np.empty(x.shape[0] + 1, dtype=np.float64)
    c[0] = 0.0
    np.cumsum(x - shift if shift else x, out=c[1:])
    out: F64 = c[n:] - c[:m]
    if shift:
        out += n * shift
    return out


def window_sums(x: F64, n: int, out: tuple[F64, F64] | None = None) -> tuple[F64, F64]:
    """Return, for every window ``x[i:i+n]``, its sum and its sum of squared deviations from its mean.

    Args:
        x: the values (finite).
        n: the window length, at least 1.
        out: two arrays of length ``len(x) - n + 1`` to write into (saves allocating fresh memory).

    Returns:
        Two arrays of length ``max(len(x) - n + 1, 0)``; the second is never negative, and exactly 0 for a window
        of equal values.

    Example:
        >>> window_sums(np.array([5.0, 5.0, 5.0]), 2)[1].tolist()
        [0.0, 0.0]
    """
    m = x.shape[0] - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float64)
    sums, centred = out if out is not None else (np.empty(m, dtype=np.float64), np.empty(m, dtype=np.float64))
    b = min(_WINDOW_BLOCK, m)
    k = m // b
    # Whole blocks of b outputs, read straight from x; the last few outputs by a call on the tail.
    ext = np.lib.stride_tricks.sliding_window_view(x, b + n - 1)[::b][:k]
    ref = ext[:, n - 1 : n]
    c1 = np.empty((k, b + n), dtype=np.float64)
    c2 = np.empty((k, b + n), dtype=np.float64)
    c1[:, 0] = 0.0
    c2[:, 0] = 0.0
    d = np.subtract(ext, ref, out=c1[:, 1:])
    sq = np.multiply(d, d, out=c2[:, 1:])
    bound = sq.max(axis=1, keepdims=True)
    bound *= 64 * np.finfo(np.float64).eps * (b + n)
    np.cumsum(d, axis=1, out=d)
    np.cumsum(sq, axis=1, out=sq)
    s1 = sums[: k * b].reshape(k, b)
    cen = centred[: k * b].reshape(k, b)
    np.subtract(c1[:, n:], c1[:, :-n], out=s1)
    np.subtract(c2[:, n:], c2[:, :-n], out=cen)
    tmp = np.multiply(s1, s1, out=c1[:, :b])
    tmp /= n
    cen -= tmp
    np.maximum(cen, 0.0, out=cen)
    s1 += n * ref
    # Rounding leaves noise of about ``bound`` where the true value is 0: windows of equal values get exactly 0.
    for block in np.flatnonzero(cen.min(axis=1) <= bound[:, 0]).tolist():
        small = np.flatnonzero(cen[block] <= bound[block]) + block * b
        windows = np.lib.stride_tricks.sliding_window_view(x, n)[small]
        centred[small[(windows == windows[:, :1]).all(axis=1)]] = 0.0
    if k * b < m:
        window_sums(x[k * b :], n, (sums[k * b :], centred[k * b :]))
    return sums, centred
