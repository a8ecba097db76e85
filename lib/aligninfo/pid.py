"""Partial information decomposition (PID) of a scalar Gaussian target, exact and estimated.

Two sources X1, X2 (vectors) carry information about a target Y (a scalar). A PID splits

    I(X1, X2; Y) = redundant + unique1 + unique2 + synergy,
    I(X1; Y) = redundant + unique1,        I(X2; Y) = redundant + unique2.

Which PID. For jointly Gaussian variables with a *scalar* target this module uses the
minimum-mutual-information (MMI) PID, ``redundant = min(I(X1; Y), I(X2; Y))``. Barrett (2015,
"Exploration of synergistic and redundant information sharing in static and dynamical Gaussian
systems", Phys. Rev. E 91, 052802, arXiv:1411.2832) shows that for Gaussian systems with a
univariate target a broad class of PIDs reduces to it: those whose redundant and unique parts
depend only on the pairwise laws p(x1, y) and p(x2, y) (Bertschinger et al.'s assumption),
among them Harder et al.'s (2013) I_red and Bertschinger et al.'s (2014, "BROJA"). By the
argument below (ours, not quoted), so does the Gaussian PID of Venkatesh et al. (2023,
"Gaussian partial information decomposition: bias correction and application to
high-dimensional data", NeurIPS, arXiv:2307.10515), which restricts BROJA's optimisation to
Gaussian laws (the optimum below is Gaussian). For a vector target the reduction fails in
general (Venkatesh and Schamberg 2022, arXiv:2105.00769).

The reason, in BROJA's terms: the unique information of X1 is the least I_q(Y; X1 | X2) over
the laws q with the same pairs p(x1, y) and p(x2, y); any such q has I_q(Y; X1, X2) >=
max_i I(Y; X_i) (monotonicity), and with a scalar Y the bound is reached: each X_i informs on
Y only through the scalar E[Y | X_i] (a sufficient statistic), so the weaker source can be
re-coupled to the stronger as a degraded copy of it (Y - X_strong - X_weak a Markov chain, a
Gaussian q) without changing either pair. Hence redundancy is the smaller mutual information
and one of the two unique informations is always zero.

:func:`broja_gaussian_numeric` computes that minimisation by brute force (numerical optimisation
over the free cross-covariance of q), independently of the closed form, to check it.

Consequence to keep in mind: the MMI unique information of X1 is "how much better X1 predicts Y
than X2 does", not "what X1's modality-specific latent carries". In the book's latent model a
target driven only by S (unique share 0) can still have unique1 > 0 when X1 sees S more clearly
than X2. What alignment removes is measured by :func:`aligned_unique`: the information on Y of
the aligned representation (canonical variates of X1 with positive correlation) against X1's.

Estimation (:func:`sample_pid`): the mutual informations are computed from sample covariances
with the exact bias of the Gaussian log-determinant entropy estimator removed
(:func:`logdet_bias`), then split by the MMI rule. This corrects the three mutual informations,
not the atoms (a min of two estimates keeps a bias of its own); it is not Venkatesh et al.'s
bias correction of PID atoms.

All informations are in nats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import digamma

from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import Array, inv_sqrtm_pd, logdet_pd

__all__ = [
    "PID",
    "AlignedUnique",
    "aligned_unique",
    "broja_gaussian_numeric",
    "gaussian_mi",
    "gaussian_pid",
    "logdet_bias",
    "mmi_pid",
    "model_pid",
    "sample_pid",
]

Index = int | Sequence[int]


@dataclass(frozen=True)
class PID:
    """A partial information decomposition of I(X1, X2; Y), in nats.

    Attributes:
        redundant: Information on Y that both sources carry.
        unique1: Information on Y that only X1 carries.
        unique2: Information on Y that only X2 carries.
        synergy: Information on Y that only the two together carry.
        mi1: I(X1; Y) = redundant + unique1.
        mi2: I(X2; Y) = redundant + unique2.
        mi_joint: I(X1, X2; Y), the sum of the four atoms.
    """

    redundant: float
    unique1: float
    unique2: float
    synergy: float
    mi1: float
    mi2: float
    mi_joint: float

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain dict (for JSON)."""
        return {k: float(v) for k, v in asdict(self).items()}

    def shares(self) -> dict[str, float]:
        """Each atom as a share of I(X1, X2; Y) (NaN when that is 0)."""
        total = self.mi_joint
        atoms = ("redundant", "unique1", "unique2", "synergy")
        return {a: getattr(self, a) / total if total > 0 else float("nan") for a in atoms}


def mmi_pid(mi1: float, mi2: float, mi_joint: float) -> PID:
    """The minimum-mutual-information PID from the three mutual informations.

    Args:
        mi1: I(X1; Y).
        mi2: I(X2; Y).
        mi_joint: I(X1, X2; Y).

    Returns:
        redundant = min(mi1, mi2), unique_i = mi_i - redundant,
        synergy = mi_joint - max(mi1, mi2). With estimated inputs the synergy can come out
        negative (sampling error); it is reported as computed, not clipped.
    """
    values = [float(v) for v in (mi1, mi2, mi_joint)]
    if not all(np.isfinite(values)):
        raise ValueError(f"mutual informations must be finite, got {values}")
    red = min(values[0], values[1])
    return PID(
        redundant=red,
        unique1=values[0] - red,
        unique2=values[1] - red,
        synergy=values[2] - max(values[0], values[1]),
        mi1=values[0],
        mi2=values[1],
        mi_joint=values[2],
    )


def _indices(cov: Array, x1: Index, x2: Index, y: Index) -> tuple[list[int], list[int], int]:
    """Validated index lists of the two sources and the index of the scalar target."""
    p = cov.shape[0]
    groups = []
    for name, idx in (("x1", x1), ("x2", x2), ("y", y)):
        lst = [int(idx)] if isinstance(idx, (int, np.integer)) else [int(i) for i in idx]
        if not lst or any(not 0 <= i < p for i in lst) or len(set(lst)) != len(lst):
            raise ValueError(f"{name} must be distinct indices in [0, {p}), got {idx!r}")
        groups.append(lst)
    if len(groups[2]) != 1:
        raise ValueError(f"y must be one index (a scalar target), got {y!r}")
    if len(set(groups[0] + groups[1] + groups[2])) != sum(map(len, groups)):
        raise ValueError(f"x1, x2 and y must not overlap, got {x1!r}, {x2!r}, {y!r}")
    return groups[0], groups[1], groups[2][0]


def _cov(cov: ArrayLike) -> Array:
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or not np.all(np.isfinite(c)):
        raise ValueError(f"cov must be a finite square matrix, got shape {c.shape}")
    if not np.allclose(c, c.T, rtol=1e-8, atol=1e-10 * max(np.abs(c).max(), 1.0)):
        raise ValueError("cov must be symmetric")
    return (c + c.T) / 2


def gaussian_mi(cov: ArrayLike, a: Sequence[int], b: Sequence[int]) -> float:
    """Gaussian mutual information I(A; B) = (log|C_aa| + log|C_bb| - log|C_ab,ab|) / 2, nats.

    Args:
        cov: Joint covariance, shape (p, p).
        a: Indices of A.
        b: Indices of B (disjoint from a).

    Raises:
        ValueError: If a covariance involved is singular (the information is infinite).
    """
    c = _cov(cov)
    ia, ib = list(a), list(b)
    both = ia + ib
    return 0.5 * (
        logdet_pd(c[np.ix_(ia, ia)], "Cov(A)")
        + logdet_pd(c[np.ix_(ib, ib)], "Cov(B)")
        - logdet_pd(c[np.ix_(both, both)], "Cov(A, B)")
    )


def gaussian_pid(cov: ArrayLike, x1: Index, x2: Index, y: Index) -> PID:
    """Exact MMI PID of a scalar Gaussian target Y from sources X1, X2 (see the module doc).

    Args:
        cov: Joint covariance of the variables, shape (p, p), positive definite on x1 + x2 + y.
        x1: Indices of X1 in cov (an int or a sequence).
        x2: Indices of X2.
        y: Index of the scalar target Y (an int or a one-element sequence).

    Returns:
        The :class:`PID`, in nats.

    Raises:
        ValueError: On bad indices, a non-symmetric matrix, or a singular covariance
            (e.g. a noiseless target that is a function of the sources: infinite information).
    """
    c = _cov(cov)
    i1, i2, iy = _indices(c, x1, x2, y)
    return mmi_pid(
        gaussian_mi(c, i1, [iy]), gaussian_mi(c, i2, [iy]), gaussian_mi(c, i1 + i2, [iy])
    )


def model_pid(model: GaussianModel, target: str = "Y1") -> PID:
    """Exact PID of a target of the book's model from the two modalities (X1, X2).

    Args:
        model: The linear-Gaussian model; the target needs target_noise > 0 or enough sensor
            noise that it is not a linear function of (X1, X2).
        target: "Y1" or "Y2".

    Returns:
        The :class:`PID` with X1 as source 1.
    """
    if target not in ("Y1", "Y2"):
        raise ValueError(f"target must be 'Y1' or 'Y2', got {target!r}")
    p1, p2 = model.dims
    cov = model.covariance("X1", "X2", target)
    return gaussian_pid(cov, range(p1), range(p1, p1 + p2), p1 + p2)


@dataclass(frozen=True)
class AlignedUnique:
    """What an aligned representation keeps of a modality's unique information.

    Attributes:
        pid: PID of the target from (X1, X2).
        aligned_pid: The same with X_m replaced by Z, its top canonical variates.
        modality: m, the modality that is aligned.
        k: Number of canonical variates in Z.
        kept: aligned_pid's unique_m / pid's unique_m, in [0, 1] (NaN when unique_m is 0).
        mi_lost: I(X_m; Y) - I(Z; Y) >= 0, what alignment removes of X_m's information on Y.
    """

    pid: PID
    aligned_pid: PID
    modality: int
    k: int
    kept: float
    mi_lost: float


def aligned_unique(
    model: GaussianModel, target: str = "Y1", modality: int = 1, k: int | None = None
) -> AlignedUnique:
    """How much of X_m's unique information on the target its aligned representation keeps.

    Z = the top-k canonical variates of X_m (gaussian.py's aligned representation; by default
    every variate with positive canonical correlation, whose information on the target is the
    alignment ceiling: I(Z; Y) = -log(1 - R²_ceiling) / 2 for a scalar Y). Under the MMI PID,
    unique_m(Z) = max(0, I(Z; Y) - I(X_other; Y)) <= unique_m(X_m), since I(Z; Y) <= I(X_m; Y).

    Args:
        model: The Gaussian model.
        target: "Y1" or "Y2".
        modality: m, 1 or 2.
        k: Number of canonical variates; None = all with correlation > 1e-9.

    Returns:
        The :class:`AlignedUnique`.
    """
    if modality not in (1, 2):
        raise ValueError(f"modality must be 1 or 2, got {modality!r}")
    rho = model.canonical_correlations()
    k = int(np.sum(rho > 1e-9)) if k is None else int(k)
    if k < 1:
        raise ValueError(
            "the modalities are uncorrelated (no canonical variate): nothing is aligned"
        )
    w = model.cca_projection(k, modality)
    lz = w @ model.loading(f"X{modality}")
    other = model.loading(f"X{3 - modality}")
    ly = model.loading(target)
    sources = (lz, other) if modality == 1 else (other, lz)
    joint = np.vstack([*sources, ly])
    cov = joint @ joint.T
    n1, n2 = sources[0].shape[0], sources[1].shape[0]
    aligned = gaussian_pid(cov, range(n1), range(n1, n1 + n2), n1 + n2)
    full = model_pid(model, target)
    u_full = full.unique1 if modality == 1 else full.unique2
    u_aligned = aligned.unique1 if modality == 1 else aligned.unique2
    mi_full = full.mi1 if modality == 1 else full.mi2
    mi_aligned = aligned.mi1 if modality == 1 else aligned.mi2
    kept = u_aligned / u_full if u_full > 1e-12 else float("nan")
    return AlignedUnique(full, aligned, modality, k, kept, mi_full - mi_aligned)


# ---------------------------------------------------------------- numeric check (BROJA)
def _contraction(b: Array) -> Array:
    """B (I + BᵀB)^(-1/2): any matrix mapped to one with singular values s / sqrt(1 + s²) < 1."""
    u, s, vt = np.linalg.svd(b, full_matrices=False)
    return (u * (s / np.sqrt(1 + s**2))) @ vt


def broja_gaussian_numeric(
    cov: ArrayLike, x1: Index, x2: Index, y: Index, starts: int = 5, seed: int = 0
) -> PID:
    """BROJA PID over Gaussian laws, by numerical optimisation (no closed form used).

    Union information min_q I_q(Y; X1, X2) over jointly Gaussian q with the same pairs
    (X1, Y) and (X2, Y): writing X_i = a_i Y + N_i, only Cov(N1, N2) = Σ1^½ M Σ2^½ is free,
    M any contraction (parametrised as B (I + BᵀB)^-½). In whitened noise coordinates
    I_q = log(1 + Var(Y) aᵀ [[I, M], [Mᵀ, I]]⁻¹ a) / 2, minimised by L-BFGS from several
    random starts. Then redundant = I(X1; Y) + I(X2; Y) - union, unique_i = union - I(X_j; Y),
    synergy = I(X1, X2; Y) - union.

    Args:
        cov: Joint covariance, shape (p, p).
        x1: Indices of X1.
        x2: Indices of X2.
        y: Index of the scalar target.
        starts: Number of random starting points.
        seed: Seed of the starting points.

    Returns:
        The numerically obtained :class:`PID`.
    """
    c = _cov(cov)
    i1, i2, iy = _indices(c, x1, x2, y)
    var_y = c[iy, iy]
    a, whiten = [], []
    for idx in (i1, i2):
        c_xy = c[idx, iy]
        cond = c[np.ix_(idx, idx)] - np.outer(c_xy, c_xy) / var_y
        r = inv_sqrtm_pd(cond, "Cov(X | Y)")
        whiten.append(r)
        a.append(r @ c_xy / var_y)
    a_all = np.concatenate(a)
    p1, p2 = len(i1), len(i2)

    def union(theta: Array) -> float:
        m = _contraction(theta.reshape(p1, p2))
        noise = np.block([[np.eye(p1), m], [m.T, np.eye(p2)]])
        quad = a_all @ np.linalg.solve(noise, a_all)
        return 0.5 * float(np.log1p(var_y * quad))

    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(int(starts)):
        res = minimize(union, rng.standard_normal(p1 * p2), method="L-BFGS-B")
        best = min(best, float(res.fun))
    mi1, mi2 = gaussian_mi(c, i1, [iy]), gaussian_mi(c, i2, [iy])
    joint = gaussian_mi(c, i1 + i2, [iy])
    return PID(
        redundant=mi1 + mi2 - best,
        unique1=best - mi2,
        unique2=best - mi1,
        synergy=joint - best,
        mi1=mi1,
        mi2=mi2,
        mi_joint=joint,
    )


# --------------------------------------------------------------------- estimation
def logdet_bias(p: int, dof: int) -> float:
    """Exact bias E[log|Ĉ|] - log|C| of the log-determinant of a Gaussian sample covariance.

    Ĉ = scatter / dof with scatter ~ Wishart_p(C, dof) (dof = n - 1 when the mean is
    estimated), so E log|Ĉ| = log|C| + p log(2 / dof) + Σ_{i=1}^{p} ψ((dof - i + 1) / 2)
    (ψ the digamma function). Subtracting it makes each entropy term unbiased for Gaussian data.

    Args:
        p: Dimension.
        dof: Degrees of freedom, > p - 1.

    Returns:
        The bias (negative: the plug-in log-determinant underestimates).
    """
    if p < 0 or dof <= p - 1:
        raise ValueError(f"need dof > p - 1 (more samples than dimensions), got p={p}, dof={dof}")
    i = np.arange(1, p + 1)
    return float(p * np.log(2.0 / dof) + np.sum(digamma((dof - i + 1) / 2.0)))


def _logdet_unbiased(c: Array, dof: int) -> float:
    return logdet_pd(c, "sample covariance") - logdet_bias(c.shape[0], dof)


def sample_mi(cov: Array, a: Sequence[int], b: Sequence[int], dof: int) -> float:
    """Gaussian mutual information from a sample covariance, each log-det bias-corrected."""
    ia, ib = list(a), list(b)
    both = ia + ib
    return 0.5 * (
        _logdet_unbiased(cov[np.ix_(ia, ia)], dof)
        + _logdet_unbiased(cov[np.ix_(ib, ib)], dof)
        - _logdet_unbiased(cov[np.ix_(both, both)], dof)
    )


def sample_pid(x1: ArrayLike, x2: ArrayLike, y: ArrayLike, bias_correct: bool = True) -> PID:
    """MMI PID estimated from samples under a Gaussian model of (X1, X2, Y).

    Each mutual information is a sum of Gaussian log-determinant entropies of the sample
    covariance (normalised by n - 1); with ``bias_correct`` each log-determinant has its exact
    bias (:func:`logdet_bias`, dof = n - 1) removed, so every mutual information is unbiased
    when the data are Gaussian. The MMI split (a min of two estimates) keeps a small bias of
    its own: E min(a, b) <= min(E a, E b), so redundancy is biased low (and the larger unique
    information high) when the two informations are close.

    A target of several columns (e.g. a one-hot class code) is accepted: the three mutual
    informations are then Gaussian informations of a vector target, and the MMI split is an
    upper bound on the redundancy of BROJA-type PIDs rather than equal to it (the reduction of
    the module docstring needs a scalar target).

    Args:
        x1: Samples of X1, shape (n, p1).
        x2: Samples of X2, shape (n, p2).
        y: Samples of the target, shape (n,) or (n, q).
        bias_correct: Remove the log-determinant bias.

    Returns:
        The estimated :class:`PID` (synergy and uniques may be slightly negative by sampling
        error; they are not clipped).
    """
    a1, a2, yy = (_columns(v) for v in (x1, x2, y))
    if not len(a1) == len(a2) == len(yy):
        raise ValueError(
            f"need x1 (n, p1), x2 (n, p2), y (n,) or (n, q) with the same n, got "
            f"{a1.shape}, {a2.shape}, {yy.shape}"
        )
    data = np.hstack([a1, a2, yy])
    n, p = data.shape
    if n - 1 <= p:
        raise ValueError(f"need more than {p + 1} samples for {p} variables, got {n}")
    cov = np.cov(data, rowvar=False)
    p1, p2 = a1.shape[1], a2.shape[1]
    i1, i2, iy = list(range(p1)), list(range(p1, p1 + p2)), list(range(p1 + p2, p))
    dof = n - 1

    def mi(a: list[int]) -> float:
        if bias_correct:
            return sample_mi(cov, a, iy, dof)
        return gaussian_mi(cov, a, iy)

    return mmi_pid(mi(i1), mi(i2), mi(i1 + i2))


def _columns(x: ArrayLike) -> Array:
    """Samples as a 2-D float array, shape (n, columns); a 1-D array is one column."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        return a[:, None]
    if a.ndim != 2:
        raise ValueError(f"samples must be 1-D or 2-D, got shape {a.shape}")
    return a
