"""Small linear-algebra helpers for covariance matrices.

Everything here works on population or sample covariances alike: symmetric square roots,
logdets that refuse singular input, R² of the best linear predictor, CCA and principal angles.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

RTOL = 1e-10  # eigenvalues below RTOL * largest eigenvalue count as zero


def _eigh(c: ArrayLike, name: str) -> tuple[Array, Array]:
    """Eigen-decomposition of a symmetric matrix, eigenvalues ascending."""
    c = np.asarray(c, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {c.shape}")
    lam, vec = np.linalg.eigh((c + c.T) / 2)
    return lam, vec


def _require_pd(lam: Array, name: str) -> None:
    if lam.size and lam[0] <= RTOL * max(lam[-1], 0.0):
        raise ValueError(
            f"{name} is singular (eigenvalues {lam[0]:.3g} .. {lam[-1]:.3g}); "
            "a noiseless variable with more dimensions than sources has no density"
        )


def sqrtm_psd(c: ArrayLike) -> Array:
    """Symmetric square root of a positive semi-definite matrix.

    Args:
        c: Symmetric PSD matrix, shape (p, p).

    Returns:
        R with R = Rᵀ, R @ R = c, shape (p, p).
    """
    lam, vec = _eigh(c, "c")
    return (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T


def inv_sqrtm_pd(c: ArrayLike, name: str = "covariance") -> Array:
    """Symmetric inverse square root of a positive definite matrix.

    Args:
        c: Symmetric PD matrix, shape (p, p).
        name: What `c` is, for the error message.

    Returns:
        R with R = Rᵀ, R @ c @ R = I, shape (p, p).

    Raises:
        ValueError: If `c` is singular.
    """
    lam, vec = _eigh(c, name)
    _require_pd(lam, name)
    return (vec / np.sqrt(lam)) @ vec.T


def logdet_pd(c: ArrayLike, name: str = "covariance") -> float:
    """Log-determinant of a positive definite matrix (0 for a 0x0 matrix).

    Args:
        c: Symmetric PD matrix, shape (p, p).
        name: What `c` is, for the error message.

    Raises:
        ValueError: If `c` is singular.
    """
    lam, _ = _eigh(c, name)
    _require_pd(lam, name)
    return float(np.sum(np.log(lam)))


def mean_variance(c: ArrayLike, name: str = "Z") -> float:
    """Mean variance per dimension, tr(C) / k, of a (k, k) covariance.

    σ-informativeness divides a representation by its square root, so that it has unit mean
    variance per dimension (the convention of every σ-informativeness in the library).

    Raises:
        ValueError: If it is not positive (the representation is constant).
    """
    c_a = np.asarray(c, dtype=np.float64)
    s2 = float(np.trace(c_a)) / c_a.shape[0]
    if not s2 > 0:
        raise ValueError(f"{name} has zero variance")
    return s2


def top_eigenvectors(c: ArrayLike, k: int) -> Array:
    """Eigenvectors of the k largest eigenvalues of a symmetric matrix, as rows.

    Args:
        c: Symmetric matrix, shape (p, p).
        k: Number of eigenvectors, 1 <= k <= p.

    Returns:
        Orthonormal rows, largest eigenvalue first, shape (k, p).
    """
    lam, vec = _eigh(c, "c")
    if not 1 <= k <= lam.size:
        raise ValueError(f"k must be in [1, {lam.size}], got {k}")
    return vec[:, ::-1][:, :k].T


def r2_from_cov(
    c_gg: ArrayLike, c_gt: ArrayLike, c_tt: ArrayLike, noise_var: ArrayLike = 0.0
) -> Array:
    """R² of the best linear predictor of a target T from G + N(0, noise_var I).

    With a multi-dimensional target this is the explained share of total variance,
    tr(C_tg (C_gg + v I)⁺ C_gt) / tr(C_tt). Singular C_gg is handled by a pseudo-inverse,
    which is exact for covariances (C_gt lies in the range of C_gg).

    Args:
        c_gg: Covariance of the predictors G, shape (p, p).
        c_gt: Cross-covariance Cov(G, T), shape (p, q).
        c_tt: Covariance of the target, shape (q, q).
        noise_var: Variance(s) v >= 0 of independent noise added to each predictor; scalar
            or shape (s,).

    Returns:
        R², same shape as `noise_var` (a 0-d array for a scalar).
    """
    lam, vec = _eigh(c_gg, "c_gg")
    c_gt = np.asarray(c_gt, dtype=np.float64)
    c_gt = c_gt[:, None] if c_gt.ndim == 1 else c_gt
    v = np.asarray(noise_var, dtype=np.float64)
    if np.any(v < 0):
        raise ValueError(f"noise_var must be >= 0, got {v}")
    weight = np.sum((vec.T @ c_gt) ** 2, axis=1)  # (p,) squared cross-covariance per eigvec
    denom = lam.clip(0.0, None) + v[..., None]  # (..., p)
    tol = RTOL * max(float(lam.max(initial=0.0)), 0.0)
    inv = np.where(denom > tol, 1.0 / np.where(denom > tol, denom, 1.0), 0.0)
    return np.asarray((inv * weight).sum(axis=-1) / np.trace(np.atleast_2d(c_tt)))


def cca_from_cov(c11: ArrayLike, c12: ArrayLike, c22: ArrayLike) -> tuple[Array, Array, Array]:
    """Canonical correlation analysis from covariances.

    Args:
        c11: Covariance of X1, shape (p1, p1), positive definite.
        c12: Cross-covariance Cov(X1, X2), shape (p1, p2).
        c22: Covariance of X2, shape (p2, p2), positive definite.

    Returns:
        rho: Canonical correlations, descending, shape (min(p1, p2),).
        w1: Canonical directions of X1 as rows, shape (p1, p1): w1 @ c11 @ w1.T = I.
        w2: Canonical directions of X2 as rows, shape (p2, p2): w2 @ c22 @ w2.T = I, and
            w1 @ c12 @ w2.T is diagonal with `rho` on its diagonal.
    """
    r1, r2 = inv_sqrtm_pd(c11, "c11"), inv_sqrtm_pd(c22, "c22")
    u, rho, vt = np.linalg.svd(r1 @ np.asarray(c12, dtype=np.float64) @ r2)
    return np.clip(rho, 0.0, 1.0), u.T @ r1, vt @ r2


def principal_angles(a: ArrayLike, b: ArrayLike) -> Array:
    """Principal angles between the row spaces of two matrices.

    Args:
        a: Matrix whose rows span the first subspace, shape (k1, p).
        b: Matrix whose rows span the second subspace, shape (k2, p).

    Returns:
        Angles in radians, ascending, shape (min(rank a, rank b),).
    """
    qa, qb = _row_basis(a, "a"), _row_basis(b, "b")
    if qa.shape[1] != qb.shape[1]:
        raise ValueError(
            f"a and b must have the same number of columns, got {qa.shape[1]} and {qb.shape[1]}"
        )
    cos = np.linalg.svd(qa @ qb.T, compute_uv=False)
    return np.sort(np.arccos(np.clip(cos, -1.0, 1.0)))


def _row_basis(a: ArrayLike, name: str) -> Array:
    """Orthonormal basis of the row space, as rows, shape (rank, p)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {a.shape}")
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    rank = int(np.sum(s > RTOL * s.max(initial=0.0)))
    return vt[:rank]


def maximal_correlation_spectrum(rho: ArrayLike, k: int) -> tuple[Array, list[tuple[int, ...]]]:
    """The k largest nonlinear (Lancaster) correlations of two Gaussian vectors.

    For jointly Gaussian vectors with canonical correlations ``rho``, the singular values of the
    conditional-expectation operator ``f ↦ E[f(X1) | X2]`` on mean-zero functions are the
    products ``∏_i rho_i ** n_i`` over multi-indices ``n ≠ 0``; the singular functions are
    products of normalised Hermite polynomials of degrees ``n_i`` in the canonical variates
    (Lancaster 1958). Zero correlations contribute nothing and are dropped.

    Args:
        rho: Canonical correlations in [0, 1), shape (d,).
        k: How many values to return, >= 1.

    Returns:
        values: The k largest products, descending, shape (k,) (zeros once exhausted, which
            only happens when every rho is 0).
        degrees: For each value its multi-index (Hermite degree per positive correlation, in
            the order of ``rho``'s positive entries), a tuple of length (number of rho > 0).
    """
    r = np.asarray(rho, dtype=np.float64)
    if r.ndim != 1 or np.any(r < 0) or np.any(r >= 1) or not np.all(np.isfinite(r)):
        raise ValueError(f"rho must be a 1-D array of values in [0, 1), got {r}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k}")
    pos = r[r > RTOL]
    values: list[float] = []
    degrees: list[tuple[int, ...]] = []
    # Best-first search from the degree-one indices: each child adds one degree to one entry and
    # has a smaller product than its parent, so the heap pops the products in decreasing order.
    units = [tuple(int(i == j) for i in range(pos.size)) for j in range(pos.size)]
    heap = [(-float(p), n) for p, n in zip(pos, units, strict=True)]
    heapq.heapify(heap)
    seen = set(units)
    while heap and len(values) < k:
        neg, n = heapq.heappop(heap)
        values.append(-neg)
        degrees.append(n)
        for j in range(pos.size):
            child = n[:j] + (n[j] + 1,) + n[j + 1 :]
            if child not in seen:
                seen.add(child)
                heapq.heappush(heap, (neg * float(pos[j]), child))
    pad = k - len(values)
    return np.array(values + [0.0] * pad), degrees + [tuple([0] * pos.size)] * pad
