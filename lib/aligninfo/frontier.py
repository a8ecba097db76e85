"""The alignment / residual-variance frontier of k-dimensional linear representations.

Split the covariance of one modality as ``C = Σ_sh + Σ_res``, with ``Σ_sh`` the covariance of
what the other modality predicts (see :meth:`aligninfo.gaussian.GaussianModel.split_covariance`,
or build it from sample covariances). A *frame* is a ``(k, p)`` matrix ``W`` with orthonormal
rows: a k-dimensional subspace of the modality with the sensor's own variance budget. It keeps

- shared variance ``a(W) = tr W Σ_sh Wᵀ``,
- residual variance ``b(W) = tr W Σ_res Wᵀ``,
- alignment ``α(W) = a / (a + b)``, the share of its variance predictable from the other modality.

The frames that maximise ``a + γ b`` (top-k eigenvectors of ``Σ_sh + γ Σ_res``, Ky Fan) trace the
Pareto frontier between alignment and residual variance: ``γ = 0`` is redundancy analysis,
``γ = 1`` PCA, ``γ → ∞`` PCA of the residual; negative ``γ`` continues it to the frame of largest
alignment (:func:`max_alignment_frame`). Works on population and sample covariances alike.

Example:
    >>> sh, res = GaussianModel.random(seed=0).split_covariance()
    >>> fr = tradeoff_frontier(sh, res, k=3, gammas=[0.0, 1.0])
    >>> fr.alignment  # α at redundancy analysis, then at PCA (non-increasing)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from aligninfo.linalg import Array, top_eigenvectors

__all__ = [
    "Frontier",
    "ascend_frame",
    "change_coordinates",
    "kept",
    "max_alignment_frame",
    "orthonormal_rows",
    "random_frames",
    "support",
    "tradeoff_frontier",
]


def _split(sh: ArrayLike, res: ArrayLike) -> tuple[Array, Array]:
    sh_a, res_a = np.asarray(sh, dtype=np.float64), np.asarray(res, dtype=np.float64)
    if sh_a.ndim != 2 or sh_a.shape[0] != sh_a.shape[1] or sh_a.shape != res_a.shape:
        raise ValueError(
            f"sh and res must be square matrices of one shape, got {sh_a.shape} and {res_a.shape}"
        )
    if not (np.all(np.isfinite(sh_a)) and np.all(np.isfinite(res_a))):
        raise ValueError("sh and res must be finite")
    return (sh_a + sh_a.T) / 2, (res_a + res_a.T) / 2


def orthonormal_rows(w: ArrayLike) -> Array:
    """An orthonormal basis, as rows, of the row space of ``W`` (full row rank).

    Args:
        w: ``(k, p)`` projection with rank k.

    Returns:
        ``(k, p)`` frame spanning the same features.

    Raises:
        ValueError: If ``W`` is not 2-D or has rank below k.
    """
    w_a = np.asarray(w, dtype=np.float64)
    if w_a.ndim != 2 or not np.all(np.isfinite(w_a)):
        raise ValueError(f"W must be a finite 2-D array, got shape {w_a.shape}")
    _, s, vt = np.linalg.svd(w_a, full_matrices=False)
    if s.size == 0 or s[-1] <= 1e-10 * s[0]:
        raise ValueError(f"W must have full row rank, singular values {s}")
    return vt


def kept(w: ArrayLike, sh: ArrayLike, res: ArrayLike) -> tuple[float, float]:
    """Shared and residual variance of ``Z = W X``: ``(tr W Σ_sh Wᵀ, tr W Σ_res Wᵀ)``.

    Args:
        w: ``(k, p)`` projection (a frame, for the frontier's coordinates).
        sh: ``(p, p)`` covariance Σ_sh.
        res: ``(p, p)`` covariance Σ_res.

    Returns:
        ``(a, b)``.
    """
    sh_a, res_a = _split(sh, res)
    w_a = np.asarray(w, dtype=np.float64)
    if w_a.ndim != 2 or w_a.shape[1] != sh_a.shape[0]:
        raise ValueError(f"W must have shape (k, {sh_a.shape[0]}), got {w_a.shape}")
    return float(np.trace(w_a @ sh_a @ w_a.T)), float(np.trace(w_a @ res_a @ w_a.T))


def support(sh: ArrayLike, res: ArrayLike, k: int, gamma: float) -> float:
    """φ(γ) = max over frames of ``a + γ b``: the sum of the top-k eigenvalues of Σ_sh + γ Σ_res.

    Every frame ``W`` satisfies ``a(W) + γ b(W) <= φ(γ)`` (Ky Fan), for every real ``γ``.
    """
    sh_a, res_a = _split(sh, res)
    lam = np.linalg.eigvalsh(sh_a + gamma * res_a)
    if not 1 <= k <= lam.size:
        raise ValueError(f"k must be in [1, {lam.size}], got {k}")
    return float(lam[::-1][:k].sum())


@dataclass(frozen=True)
class Frontier:
    """Frames of the trade-off family and their coordinates, one entry per γ.

    Attributes:
        gammas: ``(g,)`` weights γ of the residual variance.
        frames: ``(g, k, p)`` top-k eigenvectors of Σ_sh + γ Σ_res.
        shared: ``(g,)`` shared variance a.
        residual: ``(g,)`` residual variance b.
    """

    gammas: Array
    frames: Array
    shared: Array
    residual: Array

    @property
    def alignment(self) -> Array:
        """``(g,)`` alignment kept ``a / (a + b)``."""
        return self.shared / (self.shared + self.residual)


def tradeoff_frontier(sh: ArrayLike, res: ArrayLike, k: int, gammas: ArrayLike) -> Frontier:
    """The frames maximising ``tr W (Σ_sh + γ Σ_res) Wᵀ`` for each γ, and their coordinates.

    Where the k-th and (k+1)-th eigenvalues tie, the maximiser is not unique and the frame
    returned is one of them (as ``numpy.linalg.eigh`` orders them).

    Args:
        sh: ``(p, p)`` covariance Σ_sh.
        res: ``(p, p)`` covariance Σ_res.
        k: Embedding size, ``1 <= k <= p``.
        gammas: ``(g,)`` real weights (negative ones penalise residual variance).

    Returns:
        The :class:`Frontier`.
    """
    sh_a, res_a = _split(sh, res)
    g = np.atleast_1d(np.asarray(gammas, dtype=np.float64))
    if g.ndim != 1 or not np.all(np.isfinite(g)):
        raise ValueError(f"gammas must be finite, scalar or 1-D, got {gammas!r}")
    frames = np.stack([top_eigenvectors(sh_a + gamma * res_a, k) for gamma in g])
    a = np.einsum("gki,ij,gkj->g", frames, sh_a, frames)
    b = np.einsum("gki,ij,gkj->g", frames, res_a, frames)
    return Frontier(g, frames, a, b)


def max_alignment_frame(
    sh: ArrayLike, res: ArrayLike, k: int, tol: float = 1e-12, max_iter: int = 200
) -> tuple[Array, float]:
    """The frame of largest alignment kept, by Dinkelbach's iteration on the trace ratio.

    Maximises ``α(W) = tr W Σ_sh Wᵀ / tr W C Wᵀ`` (``C = Σ_sh + Σ_res``, positive definite) over
    frames: iterate ``W ← top-k eigenvectors of Σ_sh - θ C``, ``θ ← α(W)``; θ increases
    monotonically to the maximum α*. The frame is the trade-off family's member at
    ``γ = -α* / (1 - α*)``.

    Args:
        sh: ``(p, p)`` covariance Σ_sh.
        res: ``(p, p)`` covariance Σ_res.
        k: Embedding size.
        tol: Stop when θ increases by less than this.
        max_iter: Most iterations.

    Returns:
        ``(W, α*)``: the ``(k, p)`` frame and its alignment kept.
    """
    sh_a, res_a = _split(sh, res)
    c = sh_a + res_a
    if np.linalg.eigvalsh(c)[0] <= 0:
        raise ValueError("Σ_sh + Σ_res must be positive definite")
    w = top_eigenvectors(sh_a, k)
    theta = np.trace(w @ sh_a @ w.T) / np.trace(w @ c @ w.T)
    for _ in range(max_iter):
        w = top_eigenvectors(sh_a - theta * c, k)
        new = np.trace(w @ sh_a @ w.T) / np.trace(w @ c @ w.T)
        done = new - theta <= tol
        theta = max(theta, new)
        if done:
            break
    return w, float(theta)


def random_frames(p: int, k: int, n: int, seed: int | np.random.Generator = 0) -> Array:
    """``n`` frames drawn uniformly (Haar) from the k-dimensional subspaces of R^p.

    Returns:
        ``(n, k, p)`` orthonormal rows.
    """
    if not 1 <= k <= p or n < 1:
        raise ValueError(f"need 1 <= k <= p and n >= 1, got p={p}, k={k}, n={n}")
    g = np.random.default_rng(seed).standard_normal((n, p, k))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    return np.transpose(q, (0, 2, 1))


def change_coordinates(sh: ArrayLike, res: ArrayLike, t: ArrayLike) -> tuple[Array, Array]:
    """The split of ``T X`` for an invertible ``T``: ``(T Σ_sh Tᵀ, T Σ_res Tᵀ)``.

    Frames of ``T X`` are another variance budget for ``X`` (``W T`` with ``W Wᵀ = I``): the
    frontier depends on the coordinates in which the budget is counted. ``T = C^{-1/2}``
    (whitening) gives every frame the same total ``a + b = k``.

    Args:
        sh: ``(p, p)`` covariance Σ_sh.
        res: ``(p, p)`` covariance Σ_res.
        t: ``(p, p)`` invertible matrix.

    Returns:
        ``(T Σ_sh Tᵀ, T Σ_res Tᵀ)``.
    """
    sh_a, res_a = _split(sh, res)
    t_a = np.asarray(t, dtype=np.float64)
    if t_a.shape != sh_a.shape or not np.all(np.isfinite(t_a)):
        raise ValueError(f"T must be a finite {sh_a.shape} matrix, got shape {t_a.shape}")
    if np.linalg.matrix_rank(t_a) < t_a.shape[0]:
        raise ValueError("T must be invertible")
    return t_a @ sh_a @ t_a.T, t_a @ res_a @ t_a.T


def ascend_frame(
    m: ArrayLike,
    k: int,
    starts: int = 8,
    steps: int = 1000,
    seed: int | np.random.Generator = 0,
) -> tuple[Array, float]:
    """Maximise ``tr W M Wᵀ`` over frames by gradient ascent from random starts.

    An independent check of Ky Fan's maximum (no eigen-decomposition): from each Haar-random
    start, step ``W ← qr(W + η W M)`` (rows re-orthonormalised; ``η = 1 / (2 ‖M‖_F)``), which is
    power iteration on ``I + η M`` and never decreases the objective. Keeps the best end point.

    Args:
        m: ``(p, p)`` symmetric matrix.
        k: Frame size.
        starts: Random starting frames.
        steps: Ascent steps per start.
        seed: Seed or generator of the starts.

    Returns:
        ``(W, value)``: the best ``(k, p)`` frame found and ``tr W M Wᵀ``.
    """
    m_a, _ = _split(m, m)
    p = m_a.shape[0]
    if starts < 1 or steps < 1:
        raise ValueError(f"starts and steps must be >= 1, got {starts}, {steps}")
    eta = 1.0 / (2.0 * max(float(np.linalg.norm(m_a)), 1e-300))
    best_w, best = np.zeros((k, p)), -np.inf
    for w in random_frames(p, k, starts, seed):
        for _ in range(steps):
            q, r = np.linalg.qr((w + eta * w @ m_a).T)
            w = (q * np.sign(np.diagonal(r))).T
        value = float(np.trace(w @ m_a @ w.T))
        if value > best:
            best_w, best = w, value
    return best_w, best
