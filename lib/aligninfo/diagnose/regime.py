"""Chapter 5's regime map for the data's own sensors: where alignment costs or helps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aligninfo.diagnose.estimates import Blocks, cca
from aligninfo.linalg import Array, r2_from_cov

__all__ = ["RegimeMap", "regime_map"]


@dataclass(frozen=True)
class RegimeMap:
    """Chapter 5's regime map for the data's own sensors (full-sample covariances).

    The embedding has room for all of X1 (size p1): its principal components are X1 itself,
    and the aligned representation of that size is chapter 5's aligned limit, the top-k
    canonical variates with the whole variance budget (zero padding, ``regimes.aligned_limit``).
    Both are read under σ-informativeness noise, so at σ = 0 the cost is the R² that alignment
    removes, and under noise alignment can help by concentrating the budget.

    Attributes:
        shares: Unique shares u, shape (a,).
        sigmas: Read-out noise levels σ, shape (b,).
        delta: Δ_σ(u) = R²_σ(X1) - R²_σ(aligned limit), shape (a, b): positive where
            alignment costs, negative where it helps.
        share_hat: The data's own unique share (in-sample lost share of R²(Y | X1)).
        delta_hat: Δ_σ at the data's own share, shape (b,).
        k: Aligned variates.
        size: Embedding size p1.
    """

    shares: Array
    sigmas: Array
    delta: Array
    share_hat: float
    delta_hat: Array
    k: int
    size: int


def regime_map(data: Array, b: Blocks, k: int) -> RegimeMap:
    """Δ_σ over (u, σ), moving Cov(X1, Y) between the aligned directions and the rest."""
    cov = np.cov(data, rowvar=False).reshape(data.shape[1], data.shape[1])
    _, w1, _ = cca(cov, b)
    aligned = w1[:k]  # rows with aligned @ C11 @ aligned.T = I (up to the ridge)
    c11, c1t, ctt = cov[b.x1, b.x1], cov[b.x1, b.t], cov[b.t, b.t]
    c_par = c11 @ aligned.T @ (aligned @ c1t)
    c_perp = c1t - c_par
    inv = np.linalg.inv(c11)
    e_par, e_perp = np.trace(c_par.T @ inv @ c_par), np.trace(c_perp.T @ inv @ c_perp)
    share_hat = float(e_perp / (e_par + e_perp))
    shares = np.linspace(0.0, 1.0, 41)
    sigmas = np.logspace(-2, 1, 41)
    pca = np.eye(b.p1)  # all principal components: X1 itself, rotated
    aligned = np.vstack([aligned, np.zeros((b.p1 - k, b.p1))])  # the aligned limit, padded

    def r2_sigma(w: Array, c_xt: Array, sig: Array) -> Array:
        c_zz = w @ c11 @ w.T
        s2 = np.trace(c_zz) / b.p1
        return np.asarray(r2_from_cov(c_zz / s2, w @ c_xt / np.sqrt(s2), ctt, sig**2))

    def cross(u: float) -> Array:
        a = np.sqrt((1 - u) / (1 - share_hat)) if share_hat < 1 else 0.0
        c = np.sqrt(u / share_hat) if share_hat > 0 else 0.0
        return np.asarray(a * c_par + c * c_perp)

    delta = np.array(
        [r2_sigma(pca, cross(u), sigmas) - r2_sigma(aligned, cross(u), sigmas) for u in shares]
    )
    delta_hat = r2_sigma(pca, c1t, sigmas) - r2_sigma(aligned, c1t, sigmas)
    return RegimeMap(shares, sigmas, delta, share_hat, delta_hat, k, b.p1)
