"""Vectorized numpy kernels behind the indicator specs (no Python loop over rows).

* :func:`linear_scan` runs the recursion ``y[t] = c * y[t-1] + u[t]`` (EMA, Wilder smoothing) blockwise: a
  ``(blocks × B) @ (B × B)`` product gives each block's response from a zero state, and the block-end states are
  carried by the same scan, recursively, over ``c**B``. Every output is a short dot product of decaying terms, so its
  rounding error is a few ulps of the smoothed value.
* :func:`window_sums` gives the mean and the centred sum of squares of every length-``n`` window. Each block of
  outputs is shifted by a local reference value before its prefix sums (one complex cumsum for both), so prices
  near 60,000 do not cancel, and windows whose values are all equal give exactly zero spread.

Examples:
    >>> import numpy as np
    >>> linear_scan(np.array([1.0, 1.0, 1.0]), 0.5, 4.0).tolist()
    [3.0, 2.5, 2.25]
    >>> mean, ss = window_sums(np.array([1.0, 2.0, 3.0, 4.0]), 2)
    >>> mean.tolist(), ss.tolist()
    ([1.5, 2.5, 3.5], [0.5, 0.5, 0.5])
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

    Examples:
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

    Examples:
        >>> rolling_sum(np.array([1.0, 0.0, 0.0, 2.0]), 2).tolist()
        [1.0, 0.0, 2.0]
    """
    m = x.shape[0] - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.float64)
    # The first h windows from the prefix sums of x[:h + n - 1] (real part), the others from those of x[h:]
    # (imaginary part), by one complex cumsum: its two additions are independent, so it costs about as much as a
    # real cumsum of half the length, and each part is summed exactly as by a real cumsum.
    h = m // 2
    c = np.empty(m - h + n, dtype=np.complex128)
    c[0] = 0.0
    re, im = c.real, c.imag
    np.subtract(x[: h + n - 1], shift, out=re[1 : h + n])
    re[h + n :] = 0.0
    np.subtract(x[h:], shift, out=im[1:])
    np.cumsum(c, out=c)
    out = np.empty(m, dtype=np.float64)
    np.subtract(re[n : h + n], re[:h], out=out[:h])
    np.subtract(im[n:], im[: m - h], out=out[h:])
    if shift:
        out += n * shift
    return out


def window_sums(x: F64, n: int, out: tuple[F64, F64] | None = None, *, with_mean: bool = True) -> tuple[F64, F64]:
    """Return, for every window ``x[i:i+n]``, its mean and its sum of squared deviations from its mean.

    Args:
        x: the values (finite).
        n: the window length, at least 1.
        out: two arrays of length ``len(x) - n + 1`` to write into (saves allocating fresh memory).
        with_mean: when False, the first array is left as scratch (saves a pass when only the spread is needed).

    Returns:
        Two arrays of length ``max(len(x) - n + 1, 0)``; the second is never negative, and exactly 0 for a window
        of equal values.

    Examples:
        >>> window_sums(np.array([5.0, 5.0, 5.0]), 2)[1].tolist()
        [0.0, 0.0]
    """
    m = x.shape[0] - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float64)
    means, centred = out if out is not None else (np.empty(m, dtype=np.float64), np.empty(m, dtype=np.float64))
    b = min(_WINDOW_BLOCK, m)
    k = m // b
    # Whole blocks of b outputs, read straight from x; the last few outputs by a call on the tail.
    ext = np.lib.stride_tricks.as_strided(x, shape=(k, b + n - 1), strides=(b * x.strides[0], x.strides[0]))
    ref = ext[:, n - 1 : n]
    # The prefix sums of the deviations (real part) and of their squares (imaginary part) in one complex cumsum:
    # the two additions of a complex one are independent, so it costs about as much as one real cumsum, and each
    # part is summed exactly as a real cumsum would.
    c = np.empty((k, b + n), dtype=np.complex128)
    c[:, 0] = 0.0
    c1, c2 = c.real, c.imag
    d = np.subtract(ext, ref, out=c1[:, 1:])
    np.multiply(d, d, out=c2[:, 1:])
    np.cumsum(c, axis=1, out=c)
    # A block's total sum of squares bounds every prefix sum in it, so its rounding noise too.
    bound = c2[:, -1] * (64 * np.finfo(np.float64).eps * (b + n))
    mean = means[: k * b].reshape(k, b)
    cen = centred[: k * b].reshape(k, b)
    s1 = np.subtract(c1[:, n:], c1[:, :-n])
    np.subtract(c2[:, n:], c2[:, :-n], out=cen)
    np.divide(s1, n, out=mean)
    s1 *= mean
    cen -= s1  # the sum of squares about the block's reference, less n * (mean - reference)²
    if with_mean:
        mean += ref
    # Rounding leaves noise of about ``bound`` where the true value is 0 (possibly below 0): windows of equal
    # values get exactly 0, and no window gets less than 0.
    for block in np.flatnonzero(cen.min(axis=1) <= bound).tolist():
        row = cen[block]
        small = np.flatnonzero(row <= bound[block])
        windows = np.lib.stride_tricks.sliding_window_view(x, n)[small + block * b]
        row[small[(windows == windows[:, :1]).all(axis=1)]] = 0.0
        np.maximum(row, 0.0, out=row)
    if k * b < m:
        window_sums(x[k * b :], n, (means[k * b :], centred[k * b :]), with_mean=with_mean)
    return means, centred
