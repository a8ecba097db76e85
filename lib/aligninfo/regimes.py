"""Closed-form σ-informativeness over whole grids, and where a representation puts its variance.

Companion of :meth:`aligninfo.gaussian.GaussianModel.sigma_informativeness` for regime maps.
For ``Z = W X_m`` rescaled to unit mean variance per dimension (``Z' = Z / s``,
``s² = tr Cov(Z) / k``) and ``Cov(Z') = Σ_i λ_i u_i u_iᵀ``,

    R²_σ(Y | Z) = Σ_i (u_iᵀ c)² / (λ_i + σ²) / Var(Y),      c = Cov(Z', Y),

and moving the target's weight between S and U_m (:meth:`GaussianModel.with_unique_share`)
changes only ``c``, as ``c(u) = √(1-u) c_0 + √u c_1``. So one eigen-decomposition per ``W``
gives R²_σ on a whole (unique share x σ) grid: :func:`sigma_r2_grid`.

:func:`aligned_split` splits ``W`` into its part in the aligned subspace of ``X_m`` (the span of
the canonical directions with positive correlation) and the part uncorrelated with the other
modality; :func:`sigma_spectrum` lists, per principal direction of ``Z'``, its variance, its
contribution to R²_0 and how much of it is aligned.

Example:
    >>> m = GaussianModel.random(seed=0)
    >>> shares, sigmas = np.linspace(0, 1, 100), np.logspace(-2, 1, 100)
    >>> grid = sigma_r2_grid(m, m.pca_projection(4), shares, sigmas)  # (100, 100)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import RTOL, Array, mean_variance

__all__ = [
    "SigmaSpectrum",
    "aligned_basis",
    "aligned_limit",
    "aligned_split",
    "infonce_optimum_r2",
    "sigma_r2_grid",
    "sigma_spectrum",
    "specific_r2",
    "temperature_limit_gaps",
]


def _rescaled(model: GaussianModel, w: ArrayLike, modality: int) -> tuple[Array, Array]:
    """(Cov(Z'), the loading of Z' on the sources) for Z' = W X_m / s."""
    w = model.check_projection(w, modality)
    lz = w @ model.loading(f"X{modality}")
    c_zz = lz @ lz.T
    s2 = mean_variance(c_zz, "W X (W must not annihilate X)")
    return c_zz / s2, lz / np.sqrt(s2)


def _target_variance(model: GaussianModel, target: str) -> float:
    """Var(target); an error when zero (R² is a share of it)."""
    var = float(np.sum(model.loading(target) ** 2))
    if not var > 0:
        raise ValueError(f"target {target} has zero variance: its R² is undefined")
    return var


def _check_grid(values: ArrayLike, name: str, upper: float = np.inf) -> Array:
    a = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a > upper):
        raise ValueError(f"{name} must be a 1-D array of values in [0, {upper}], got {values!r}")
    return a


def sigma_r2_grid(
    model: GaussianModel,
    w: ArrayLike,
    shares: ArrayLike,
    sigmas: ArrayLike,
    modality: int = 1,
) -> Array:
    """R²_σ(Y_m | W X_m) for every unique share of Y_m and every noise level σ.

    Equal, point by point, to
    ``model.with_unique_share(u).sigma_informativeness(w, f"Y{m}", m, σ)`` (the other target's
    share is irrelevant), at the cost of one k x k eigen-decomposition in all.

    Args:
        model: The Gaussian model; its targets must allow every share asked for (both target
            directions nonzero, unless all shares are 0 or 1).
        w: Projection W, shape (k, dim_m).
        shares: Unique shares u in [0, 1] of Var(Y_m) (without target noise), shape (a,).
        sigmas: Noise levels σ >= 0, shape (b,).
        modality: 1 or 2.

    Returns:
        R²_σ, shape (a, b).
    """
    u = _check_grid(shares, "shares", 1.0)
    sig = _check_grid(sigmas, "sigmas")
    c_zz, lz = _rescaled(model, w, modality)
    lam, vec = np.linalg.eigh(c_zz)
    lam = lam.clip(0.0, None)
    target = f"Y{modality}"
    var_y = _target_variance(model, target)
    ends = []
    for share in (0.0, 1.0):
        if (share == 0.0 and np.all(u == 1.0)) or (share == 1.0 and np.all(u == 0.0)):
            ends.append(np.zeros(lam.size))
            continue
        other = model.unique_share[2 - modality]
        pair = (share, other) if modality == 1 else (other, share)
        ends.append(vec.T @ (lz @ model.with_unique_share(pair).loading(target).T)[:, 0])
    denom = lam[None, :] + sig[:, None] ** 2  # (b, k)
    tol = RTOL * max(float(lam.max(initial=0.0)), 0.0)
    inv = np.where(denom > tol, 1.0 / np.where(denom > tol, denom, 1.0), 0.0)
    a0, a1 = ends
    q00, q01, q11 = inv @ (a0 * a0), inv @ (a0 * a1), inv @ (a1 * a1)  # (b,)
    r0, r1 = np.sqrt(1 - u)[:, None], np.sqrt(u)[:, None]
    return (r0**2 * q00 + 2 * r0 * r1 * q01 + r1**2 * q11) / var_y


def aligned_basis(model: GaussianModel, modality: int = 1, tol: float = 1e-8) -> Array:
    """Canonical directions of X_m with correlation > tol, as rows A with A C_mm Aᵀ = I.

    Their span is the aligned subspace V of X_m (chapter 3): the directions w whose feature
    wᵀ X_m correlates with the other modality. Shape (dim V, dim_m).
    """
    if modality not in (1, 2):
        raise ValueError(f"modality must be 1 or 2, got {modality!r}")
    rho = model.canonical_correlations()
    rank = int(np.sum(rho > tol))
    if rank == 0:
        return np.zeros((0, model.dims[modality - 1]))
    return model.cca_projection(rank, modality)


def aligned_split(model: GaussianModel, w: ArrayLike, modality: int = 1) -> tuple[Array, Array]:
    """Split each row of W into its aligned part and its part uncorrelated with X_other.

    The split is orthogonal in the covariance metric ⟨a, b⟩ = aᵀ C_mm b: ``w_par`` lies in the
    aligned subspace V, ``w_perp`` satisfies w_perp C_mo = 0, so Var(W X_m) splits as
    tr(w_par C_mm w_parᵀ) + tr(w_perp C_mm w_perpᵀ).

    Args:
        model: The Gaussian model.
        w: Projection W, shape (k, dim_m).
        modality: 1 or 2.

    Returns:
        (w_par, w_perp), each of shape (k, dim_m), summing to W.
    """
    w = model.check_projection(w, modality)
    basis = aligned_basis(model, modality)
    c_mm = model.covariance(f"X{modality}")
    w_par = w @ c_mm @ basis.T @ basis
    return w_par, w - w_par


@dataclass(frozen=True)
class SigmaSpectrum:
    """Principal directions of a rescaled representation Z' = W X_m / s, largest first.

    Attributes:
        variance: λ_i, the variance of Z' along each direction (mean 1), shape (k,).
        r2: r_i, the R² of Y_m from that direction alone; the directions are uncorrelated, so
            R²_0 = Σ r_i and R²_σ = Σ r_i λ_i / (λ_i + σ²). Shape (k,).
        aligned: Share of each direction's variance that lies in the aligned subspace, in
            [0, 1], shape (k,).
    """

    variance: Array
    r2: Array
    aligned: Array

    def r2_sigma(self, sigmas: ArrayLike) -> Array:
        """R²_σ = Σ_i r_i λ_i / (λ_i + σ²) for each σ, shape (b,)."""
        sig = _check_grid(sigmas, "sigmas")
        lam = self.variance[None, :]
        keep = np.divide(
            lam,
            lam + sig[:, None] ** 2,
            out=np.zeros((sig.size, lam.size)),
            where=lam + sig[:, None] ** 2 > 0,
        )
        return keep @ self.r2


def sigma_spectrum(model: GaussianModel, w: ArrayLike, modality: int = 1) -> SigmaSpectrum:
    """Variance, R² contribution and aligned share of each principal direction of W X_m.

    Args:
        model: The Gaussian model (target Y_m).
        w: Projection W, shape (k, dim_m).
        modality: 1 or 2.

    Returns:
        The :class:`SigmaSpectrum`.
    """
    w = model.check_projection(w, modality)
    c_zz, lz = _rescaled(model, w, modality)
    lam, vec = np.linalg.eigh(c_zz)
    lam, vec = lam[::-1].clip(0.0, None), vec[:, ::-1]
    ly = model.loading(f"Y{modality}")
    cov = vec.T @ (lz @ ly.T)[:, 0]
    var_y = _target_variance(model, f"Y{modality}")
    tol = RTOL * max(float(lam.max(initial=0.0)), 0.0)
    pos = lam > tol
    r2 = np.where(pos, cov**2 / np.where(pos, lam, 1.0) / var_y, 0.0)
    # Direction i of Z' is the feature v_iᵀ W X_m / s; split its row as in `aligned_split`.
    s = np.sqrt(np.trace(w @ model.covariance(f"X{modality}") @ w.T) / w.shape[0])
    rows = vec.T @ w / s
    par, perp = aligned_split(model, rows, modality)
    c_mm = model.covariance(f"X{modality}")
    v_par = np.einsum("ij,jk,ik->i", par, c_mm, par)
    v_perp = np.einsum("ij,jk,ik->i", perp, c_mm, perp)
    total = v_par + v_perp
    aligned = np.divide(v_par, total, out=np.zeros_like(total), where=total > 0)
    return SigmaSpectrum(variance=lam, r2=r2, aligned=aligned)


def aligned_limit(
    model: GaussianModel,
    k: int,
    sigmas: ArrayLike,
    target: str = "Y1",
    modality: int = 1,
) -> Array:
    """R²_σ of the aligned limit of size k: whitened canonical variates, padded with zeros.

    With r = min(k, dim V) the top-r canonical variates of X_m (unit variance, uncorrelated) and
    k - r constant features, ``s² = r / k``, so each variate has variance k / r after rescaling:

        R²_σ = R²(target | top-r variates) · (k/r) / (k/r + σ²).

    For k >= dim V the first factor is the alignment ceiling, whatever k; the second grows with k
    (the padding's share of the budget goes to the variates), towards 1.

    Args:
        model: The Gaussian model.
        k: Embedding size, ``k >= 1``.
        sigmas: Noise levels σ >= 0, shape (b,).
        target: Target name.
        modality: 1 or 2.

    Returns:
        R²_σ, shape (b,).
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    sig = _check_grid(sigmas, "sigmas")
    rank = min(int(k), aligned_basis(model, modality).shape[0])
    if rank == 0:
        return np.zeros(sig.size)
    r2 = model.r2_projection(target, model.cca_projection(rank, modality), modality)
    budget = k / rank
    return r2 * budget / (budget + sig**2)


def specific_r2(model: GaussianModel, target: str = "Y1", modality: int = 1) -> float:
    """R² of target from the features of X_m uncorrelated with the other modality.

    These features (rows w with w C_mo = 0) and the aligned ones are uncorrelated, so this is
    ``R²(target | X_m) - R²(target | aligned variates)``: what alignment removes in the noiseless
    reading. Computed from the complement's own covariances (not as that difference).
    """
    w = model.check_projection(np.eye(model.dims[modality - 1]), modality)
    _, perp = aligned_split(model, w, modality)
    _, s, vt = np.linalg.svd(perp)
    basis = vt[: int(np.sum(s > 1e-9 * s[0]))] if s.size and s[0] > 0 else vt[:0]
    if basis.shape[0] == 0:
        return 0.0
    return model.r2_projection(target, basis, modality)


def infonce_optimum_r2(
    model: GaussianModel, k: int, target: str = "Y1", modality: int = 1
) -> tuple[float, float]:
    """Least and most R²(target | W_m X_m) over the large-batch optima of dot-product InfoNCE.

    The optima are the encoder pairs with ``W_1ᵀ W_2 = τ M*`` (chapter 3, ``M*`` of rank
    ``d = dim V``, at any temperature τ). For ``k <= d`` the rows of ``W_m`` span the top-k
    canonical directions: one value. For ``k > d`` they span V plus ``k - d`` free directions
    (paired with nothing in the other encoder, chapter 4), so the objective leaves the R²
    anywhere from that of V (the alignment ceiling) to that of V and the best linear predictor
    of the target together, which is ``R²(target | X_m)``.

    Args:
        model: The Gaussian model.
        k: Embedding size, ``k >= 1``.
        target: Target name.
        modality: 1 or 2.

    Returns:
        ``(least, most)``; equal when ``k <= dim V``.
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    basis = aligned_basis(model, modality)
    kept = basis[: min(int(k), basis.shape[0])]
    least = model.r2_projection(target, kept, modality) if kept.shape[0] else 0.0
    if k <= basis.shape[0]:
        return least, least
    x = f"X{modality}"
    best = np.linalg.solve(model.covariance(x), model.cross_covariance(x, target))
    return least, model.r2_projection(target, np.vstack([kept, best.T]), modality)


def temperature_limit_gaps(tau: float, n: int) -> tuple[float, float]:
    """Bounds of chapter 5's temperature limits of InfoNCE on normalised embeddings, batch n.

    With cosines ``s_ij`` in [-1, 1], mean positive cosine ``s̄₊``, mean cosine ``s̄`` and mean
    hardest-negative margin ``m``, the symmetric loss ``L(τ)`` satisfies

        0 <= L(τ) - (log n - (s̄₊ - s̄) / τ) <= 1 / (2 τ²)      (high temperature),
        0 <= τ L(τ) - m <= τ log n                            (low temperature).

    Args:
        tau: Temperature, > 0.
        n: Batch size, >= 1.

    Returns:
        ``(1 / (2 τ²), τ log n)``: how far InfoNCE can be from each limit at this τ.
    """
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be positive and finite, got {tau!r}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return 1 / (2 * tau**2), float(tau * np.log(n))
