"""The diagnosis's estimates: copula features, canonical pairs and R² out of fold, resamples.

Columns are standardised once on all rows (least squares and CCA are invariant to it, up to
their tiny ridges). Out-of-fold quantities fit every fold on the other folds only; resamples
draw whole groups (rows when there are none).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm, rankdata
from tqdm import tqdm

from aligninfo.diagnose.settings import CCA_RIDGE, N_FOLDS, RHO_MIN
from aligninfo.linalg import Array, cca_from_cov
from aligninfo.pid import sample_pid
from aligninfo.stats import Interval

__all__ = [
    "Blocks",
    "assign_folds",
    "bootstrap",
    "cca",
    "centred_interval",
    "choose_k",
    "holds",
    "copula_normal",
    "group_weights",
    "in_sample",
    "nested_predictions",
    "out_of_fold",
    "r2_draws",
    "standardise",
    "weighted_corr",
    "weighted_cross_prediction",
    "cross_prediction_directions",
    "draw_groups",
]


def copula_normal(x: ArrayLike) -> Array:
    """Each column replaced by the normal scores of its ranks, Φ⁻¹(rank / (n + 1)).

    Args:
        x: Samples, shape (n, p); ties get their average rank.

    Returns:
        Shape (n, p), each column with standard normal marginal (up to ties).
    """
    a = np.asarray(x, dtype=np.float64)
    return np.asarray(norm.ppf(rankdata(a, axis=0) / (len(a) + 1)), dtype=np.float64)


def standardise(a: Array) -> Array:
    """Each column centred and scaled to unit variance (over all rows), shape of a."""
    return (a - a.mean(axis=0)) / a.std(axis=0)


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Blocks:
    """Column ranges of X1, X2 and the target in the stacked data."""

    p1: int
    p2: int
    q: int

    @property
    def x1(self) -> slice:
        """Columns of X1."""
        return slice(0, self.p1)

    @property
    def x2(self) -> slice:
        """Columns of X2."""
        return slice(self.p1, self.p1 + self.p2)

    @property
    def t(self) -> slice:
        """Columns of the target."""
        return slice(self.p1 + self.p2, self.p1 + self.p2 + self.q)


def cca(cov: Array, b: Blocks) -> tuple[Array, Array, Array]:
    """Canonical correlations and directions (rows) of X1 and X2 from a joint covariance."""
    ridge = CCA_RIDGE * np.eye(b.p1 + b.p2)
    c = cov[: b.p1 + b.p2, : b.p1 + b.p2] + ridge
    return cca_from_cov(c[b.x1, b.x1], c[b.x1, b.x2], c[b.x2, b.x2])


def assign_folds(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fold of each row: the groups (or rows) shuffled and dealt into N_FOLDS folds."""
    unique = np.unique(ids)
    fold_of = np.empty(int(unique.max()) + 1, dtype=np.int64)
    fold_of[rng.permutation(unique)] = np.arange(unique.size) % N_FOLDS
    return fold_of[ids]


def _fit_predict(cov: Array, given: Array, target: Array, held: Array) -> Array:
    """Least-squares prediction of the target columns from the given ones (centred data).

    Args:
        cov: Training covariance of all columns.
        given: Indices of the predictors.
        target: Indices of the target columns.
        held: Held-out rows of the predictors, centred by the training mean, (m, len(given)).
    """
    c_gg = cov[np.ix_(given, given)]
    scale = np.trace(c_gg) / len(c_gg)
    coef = np.linalg.solve(c_gg + 1e-9 * scale * np.eye(len(c_gg)), cov[np.ix_(given, target)])
    return held @ coef


def _r(s: slice) -> Array:
    return np.arange(s.start, s.stop)


def cross_prediction_directions(
    cov: Array, b: Blocks, scale: Array | None = None
) -> tuple[Array, Array]:
    """Reduced-rank regression of X2 on X1 from a joint covariance (cross-prediction).

    The encoder of X1 of rank-j cross-prediction spans the first j rows of
    ``W = Uᵀ C11^{-1/2}``, U the left singular vectors of ``C11^{-1/2} C12``
    (:func:`aligninfo.nuisance.cross_prediction_projection`): features uncorrelated, of unit
    variance, the j-th explaining a variance s_j² of X2 (as the columns are scaled).

    Args:
        cov: Joint covariance of (X1, X2, ...), shape (p, p).
        b: The column blocks.
        scale: Factor of each column of X2 in the predicted X2, shape (p2,); None: as in cov.

    Returns:
        (the values s, descending, shape (min(p1, p2),); W, shape (min(p1, p2), p1)).
    """
    ridge = CCA_RIDGE * np.eye(b.p1)
    lam, vec = np.linalg.eigh(cov[b.x1, b.x1] + ridge)
    root_inv = (vec / np.sqrt(lam)) @ vec.T
    c12 = cov[b.x1, b.x2] if scale is None else cov[b.x1, b.x2] * scale[None, :]
    u, s, vt = np.linalg.svd(root_inv @ c12, full_matrices=False)
    # one sign convention for every fold (each right singular vector's largest entry positive;
    # u and v flip together): the held-out features of the folds are pooled, and features of
    # opposite signs would cancel
    u = u * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    return s, u.T @ root_inv


def out_of_fold(
    data: Array, b: Blocks, folds: np.ndarray, k_max: int, x2_scale: Array | None = None
) -> dict[str, Array]:
    """Out-of-fold predictions of the target and held-out variates (one fold assignment).

    Every fold's CCA, cross-prediction and least-squares fits use the other folds only.
    ``x2_scale`` (shape (p2,)) rescales X2's columns for cross-prediction only (None: as in
    data); canonical pairs and least squares do not depend on it.

    Returns:
        "pred": predictions, shape (3 + 3 k_max, n, q): from X1, X2, X1+X2, then the top-j
        canonical variates of X1 for j = 1..k_max, then those of X2, then the top-j
        cross-prediction features of X1 (empty when q = 0);
        "u1", "u2": the held-out canonical variates of X1 and X2 (each fold's own directions,
        applied to its held-out rows), shape (n, k_max);
        "f1": the held-out cross-prediction features of X1, shape (n, k_max).
    """
    n, q = len(data), b.q
    pred = np.zeros((3 + 3 * k_max, n, q))
    held_u1, held_u2 = np.zeros((n, k_max)), np.zeros((n, k_max))
    held_f1 = np.zeros((n, k_max))
    i1, i2, it = _r(b.x1), _r(b.x2), _r(b.t)
    for f in range(N_FOLDS):
        test = folds == f
        train = data[~test]
        mu = train.mean(axis=0)
        cov = np.cov(train, rowvar=False).reshape(data.shape[1], data.shape[1])
        held = data[test] - mu
        _, w1, w2 = cca(cov, b)
        u1, u2 = held[:, b.x1] @ w1[:k_max].T, held[:, b.x2] @ w2[:k_max].T
        held_u1[test], held_u2[test] = u1, u2
        wf = cross_prediction_directions(cov, b, x2_scale)[1][:k_max]
        f1 = held[:, b.x1] @ wf.T
        held_f1[test] = f1
        if q == 0:
            continue
        pred[0, test] = _fit_predict(cov, i1, it, held[:, b.x1])
        pred[1, test] = _fit_predict(cov, i2, it, held[:, b.x2])
        pred[2, test] = _fit_predict(cov, np.r_[i1, i2], it, held[:, : b.p1 + b.p2])
        for m, (w, xs, u) in enumerate(((w1, b.x1, u1), (w2, b.x2, u2), (wf, b.x1, f1))):
            rows = slice(3 + m * k_max, 3 + (m + 1) * k_max)
            pred[rows, test] = nested_predictions(cov, w[:k_max], xs, b.t, u) + mu[b.t]
        pred[:3, test] += mu[b.t]
    return {"pred": pred, "u1": held_u1, "u2": held_u2, "f1": held_f1}


def nested_predictions(cov: Array, w: Array, xs: slice, ts: slice, u: Array) -> Array:
    """Least-squares predictions of the target from the top-j variates, for every j at once.

    With G = w C_xx wᵀ = L Lᵀ (Cholesky), the variates u L⁻ᵀ are uncorrelated (in training) and
    their first j span the first j variates, so the fit on the top j is the sum of the first j
    single-variate fits: a cumulative sum, O(k³) instead of one solve per j.

    Args:
        cov: Training covariance of all columns.
        w: Canonical directions (rows), shape (k, p_m).
        xs: Columns of the modality.
        ts: Columns of the target.
        u: Held-out variates, centred, shape (m, k).

    Returns:
        Shape (k, m, q): entry j - 1 predicts from the top j variates.
    """
    chol = np.linalg.cholesky(w @ cov[xs, xs] @ w.T)
    h = np.linalg.solve(chol, w @ cov[xs, ts])  # (k, q)
    v = np.linalg.solve(chol, u.T)  # (k, m): orthonormalised held-out variates
    return np.cumsum(v[:, :, None] * h[:, None, :], axis=0)


def draw_groups(n_groups: int, strata: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """The groups of one resample: n_groups drawn with replacement, or as many per stratum.

    Args:
        n_groups: Groups 0 .. n_groups - 1.
        strata: Stratum of each group, shape (n_groups,), or None: each stratum keeps its
            number of groups (e.g. polygons of one class each: every class stays present).
        rng: The generator.

    Returns:
        Indices of the groups drawn, shape (n_groups,).
    """
    if strata is None:
        return rng.integers(0, n_groups, n_groups)
    return np.concatenate(
        [rng.choice(np.flatnonzero(strata == s), np.sum(strata == s)) for s in np.unique(strata)]
    )


def group_weights(
    ids: np.ndarray, n_boot: int, rng: np.random.Generator, strata: np.ndarray | None = None
) -> Array:
    """Row weights of the full sample and of n_boot resamples of the groups (rows).

    Args:
        ids: Group of each row, 0 .. n_groups - 1, shape (n,).
        n_boot: Resamples.
        rng: The generator.
        strata: Stratum of each group (see :func:`draw_groups`), or None.

    Returns:
        Shape (1 + n_boot, n): row 0 all ones, then how many times each row's group was drawn.
    """
    n_groups = int(ids.max()) + 1
    if strata is None:
        picks = rng.integers(0, n_groups, (n_boot, n_groups))
    else:
        picks = np.stack([draw_groups(n_groups, strata, rng) for _ in range(n_boot)])
    counts = np.stack([np.bincount(row, minlength=n_groups) for row in picks])
    return np.vstack([np.ones(n_groups), counts])[:, ids].astype(np.float64)


def r2_draws(t: Array, pred: Array, weights: Array) -> tuple[Array, Array]:
    """R² of each prediction on all rows, and on the resamples the weights describe.

    The predictions are fixed (made out of fold); resampling the held-out rows gives the
    uncertainty due to which rows (groups) were observed, as chapter 8's site bootstrap does.

    Args:
        t: Target columns, shape (n, q).
        pred: Predictions, shape (models, n, q).
        weights: From :func:`group_weights`, shape (1 + n_boot, n).

    Returns:
        (R² on all rows, shape (models,); R² per resample, shape (n_boot, models)).
    """
    sq = ((t[None] - pred) ** 2).sum(axis=2)  # (models, n)
    total = weights.sum(axis=1, keepdims=True)
    mean_t = weights @ t / total  # (1 + n_boot, q)
    sst = weights @ (t**2).sum(axis=1) - total[:, 0] * (mean_t**2).sum(axis=1)
    r2 = 1 - (weights @ sq.T) / sst[:, None]
    return r2[0], r2[1:]


def weighted_corr(u1: Array, u2: Array, weights: Array) -> Array:
    """Correlation of each column pair of u1 and u2 under each row weighting.

    Args:
        u1: Shape (n, k).
        u2: Shape (n, k).
        weights: Shape (w, n).

    Returns:
        Shape (w, k).
    """
    total = weights.sum(axis=1, keepdims=True)

    def moment(a: Array, b: Array) -> Array:
        return np.asarray(weights @ (a * b)) / total

    m1, m2 = moment(u1, np.ones_like(u1)), moment(u2, np.ones_like(u2))
    cov = moment(u1, u2) - m1 * m2
    var1, var2 = moment(u1, u1) - m1**2, moment(u2, u2) - m2**2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / np.sqrt(var1 * var2)
    return np.asarray(np.nan_to_num(r), dtype=np.float64)


def weighted_cross_prediction(f: Array, x2: Array, weights: Array) -> Array:
    """Cross-prediction value of each feature under each row weighting.

    The value of a feature f is the root of the variance of X2 that f explains by least
    squares, ``sqrt(sum_c Cov(f, x2_c)² / Var f)``: on out-of-fold features, the held-out
    counterpart of the singular values of ``C11^{-1/2} C12``.

    Args:
        f: Features, shape (n, k).
        x2: The columns of X2 (as scaled), shape (n, p2).
        weights: Shape (w, n).

    Returns:
        Shape (w, k).
    """
    total = weights.sum(axis=1, keepdims=True)
    n, k = f.shape
    mf, mx = weights @ f / total, weights @ x2 / total
    cross = (weights @ (f[:, :, None] * x2[:, None, :]).reshape(n, -1)) / total
    cov = cross.reshape(len(weights), k, -1) - mf[:, :, None] * mx[:, None, :]
    var = weights @ f**2 / total - mf**2
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.sqrt((cov**2).sum(axis=2) / var)
    return np.asarray(np.nan_to_num(values), dtype=np.float64)


def holds(rho_oof: Array, low: Array) -> np.ndarray:
    """Which canonical pairs hold out of fold: correlation > RHO_MIN and interval above 0.

    The one rule for what counts as shared: :func:`choose_k` aligns the leading run of pairs
    that hold, and the phase placement counts a pair that does not as noise.

    Args:
        rho_oof: Out-of-fold correlations, shape (k_max,).
        low: Lower bounds of their bootstrap intervals, shape (k_max,).

    Returns:
        Shape (k_max,), bool.
    """
    return np.asarray((np.asarray(rho_oof) > RHO_MIN) & (np.asarray(low) > 0), dtype=bool)


def choose_k(rho_oof: Array, low: Array) -> int:
    """Aligned pairs: the leading run of pairs that :func:`holds` (at least 1)."""
    held = holds(rho_oof, low)
    run = int(np.argmin(held)) if not held.all() else len(held)
    return max(1, run)


def in_sample(
    b: Blocks, k_max: int, k: int, has_target: bool
) -> Callable[[Array, Array], dict[str, Array]]:
    """The in-sample statistics of one (re)sample: canonical correlations and the PIDs.

    "pid" decomposes I(X1, X2; Y); "pid_aligned" the same with X1 replaced by its top-k
    canonical variates Z (copula-normalised features; CCA on the same (re)sample), the
    estimated counterpart of :func:`aligninfo.pid.aligned_unique`.
    """

    def stat(std: Array, cop: Array) -> dict[str, Array]:
        cov = np.cov(std, rowvar=False).reshape(std.shape[1], std.shape[1])
        out = {"rho": cca(cov, b)[0][:k_max]}
        if has_target:
            pid = sample_pid(cop[:, b.x1], cop[:, b.x2], cop[:, b.t])
            out["pid"] = np.array(list(pid.as_dict().values()))
            _, w1, _ = cca(np.cov(cop, rowvar=False).reshape(cov.shape), b)
            z = cop[:, b.x1] @ w1[:k].T
            aligned = sample_pid(z, cop[:, b.x2], cop[:, b.t])
            out["pid_aligned"] = np.array(list(aligned.as_dict().values()))
        return out

    return stat


def bootstrap(
    stat: Callable[[Array, Array], dict[str, Array]],
    std: Array,
    cop: Array,
    ids: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    progress: bool,
    full: dict[str, Array],
    strata: np.ndarray | None = None,
) -> tuple[dict[str, Array], int]:
    """In-sample statistics of n_boot resamples of the groups (rows), stacked by name.

    Groups are drawn as :func:`draw_groups` does (within their strata when given).

    A resample whose covariance is singular (a class, or every varying value of a column,
    missing from the groups drawn) gives NaN draws, which the intervals leave out.

    Returns:
        (the draws by name, each shaped (n_boot, *full[name].shape); the singular resamples).
    """
    members = [np.flatnonzero(ids == g) for g in range(int(ids.max()) + 1)]
    out: dict[str, list[Array]] = {}
    failed = 0
    bar = tqdm(
        range(n_boot),
        desc="bootstrap",
        delay=2.0,
        mininterval=1.0,
        disable=not progress,
        file=sys.stderr,
    )
    for _ in bar:
        rows = np.concatenate([members[g] for g in draw_groups(len(members), strata, rng)])
        try:
            values = stat(std[rows], cop[rows])
        except (ValueError, np.linalg.LinAlgError):
            values = {key: np.full_like(value, np.nan) for key, value in full.items()}
            failed += 1
        for key, value in values.items():
            out.setdefault(key, []).append(value)
    return {key: np.array(values) for key, values in out.items()}, failed


def centred_interval(estimate: float, draws: Array, level: float) -> Interval:
    """The estimate plus the bootstrap spread: percentiles of draws - mean(draws).

    Used for in-sample statistics (canonical correlations, log-determinant informations), whose
    resamples are shifted by the duplicated rows a bootstrap draws; the spread is kept, the
    shift is not.
    """
    finite = draws[np.isfinite(draws)]
    if finite.size < 2:
        return Interval(float(estimate), float("nan"), float("nan"), level)
    lo, hi = np.quantile(finite - finite.mean(), [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(estimate + lo), float(estimate + hi), level)
