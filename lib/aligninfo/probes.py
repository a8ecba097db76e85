"""Evaluation of frozen representations, scikit-learn style.

Inputs are NumPy arrays: representations ``Z`` of shape ``(n, k)`` (e.g. from
:func:`aligninfo.train.encode`) and targets ``y`` of shape ``(n,)`` or ``(n, q)``.

- :class:`RidgeProbe`, :class:`LogisticProbe`, :class:`KNNProbe`: ``fit`` / ``predict`` /
  ``score`` (R² for regression, accuracy for classification), regularisation chosen by
  cross-validation; ``predict`` and ``score`` before ``fit`` raise scikit-learn's
  ``NotFittedError``. scikit-learn's computations where they cost little; where its checks
  cost more than the arithmetic on the probes' small arrays, the same arithmetic in NumPy
  (:func:`r2`, :func:`ridge_loo_scores`, the inner-CV scorers :data:`FAST_SCORERS`),
  tested equal to scikit-learn's (bit for bit, or to 1e-10 for the closed-form ridge).
- :func:`block_r2`: R² of predicting each latent block (S, U1, U2) linearly from ``Z``.
- :func:`retrieval_accuracy`: cross-modal top-k retrieval of the paired sample.
- :func:`sigma_informativeness`: R² of the best linear predictor of ``y`` from the rescaled
  representation plus isotropic Gaussian noise, one value per noise level.

Multi-output R² is the explained share of the total variance,
``1 - sum_j SSE_j / sum_j SST_j``, the convention of :mod:`aligninfo.gaussian`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from aligninfo.linalg import mean_variance

__all__ = [
    "FAST_SCORERS",
    "KNNProbe",
    "LogisticProbe",
    "RidgeProbe",
    "accuracy",
    "block_r2",
    "neg_log_loss",
    "r2",
    "retrieval_accuracy",
    "ridge_loo_scores",
    "sigma_informativeness",
    "standardisation",
]

Array = NDArray[np.float64]


def as_features(z: ArrayLike, name: str = "Z") -> Array:
    """``z`` as a finite float64 ``(n, k)`` matrix (a vector is one column), ``n >= 2``."""
    a = np.asarray(z, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"{name} must be (n, k) with n >= 2, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def _paired(z: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    z_a, y_a = as_features(z, "Z"), as_features(y, "y")
    if len(z_a) != len(y_a):
        raise ValueError(f"Z and y have different numbers of samples: {len(z_a)} vs {len(y_a)}")
    return z_a, y_a


def r2(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of the total variance of ``y_true`` explained by ``y_pred``.

    scikit-learn's ``r2_score(..., multioutput="variance_weighted")``, the same operations
    in NumPy without its input checks (most of its cost on the probes' small arrays); inputs
    it would refuse or warn about (fewer than two samples, NaN, mismatched shapes) go to it.

    Args:
        y_true: ``(n,)`` or ``(n, q)``.
        y_pred: Same shape.

    Returns:
        ``1 - sum SSE / sum SST`` (a single output: the usual R²).
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    floating = [a.dtype for a in (t, p) if a.dtype.kind == "f"]
    dtype = np.result_type(*floating) if floating else np.float64
    t, p = (a.astype(dtype, copy=False) for a in (t, p))
    t, p = (a[:, None] if a.ndim == 1 else a for a in (t, p))
    if t.shape != p.shape or t.ndim != 2 or len(t) < 2 or not np.isfinite(t + p).all():
        return float(r2_score(y_true, y_pred, multioutput="variance_weighted"))
    numerator = np.sum((t - p) ** 2, axis=0)
    denominator = np.sum((t - np.average(t, axis=0)) ** 2, axis=0)
    scores = np.ones(t.shape[1], dtype=dtype)
    valid = (denominator != 0) & (numerator != 0)
    scores[valid] = 1 - numerator[valid] / denominator[valid]
    scores[(numerator != 0) & (denominator == 0)] = 0.0
    weights = denominator if np.any(denominator != 0) else None
    return float(np.average(scores, weights=weights))


def neg_log_loss(estimator: Any, x: ArrayLike, y: ArrayLike) -> float:
    """scikit-learn's ``"neg_log_loss"`` scorer of a fitted classifier, without its checks.

    The same operations as the scorer ``LogisticRegressionCV`` builds for each inner fold and
    candidate (a binary classifier's probabilities rebuilt from the positive class, clipped to
    ``[eps, 1 - eps]``), so the same scores and the same chosen penalty, at a fraction of the
    cost; ``y`` must hold only classes of ``estimator.classes_``.

    Args:
        estimator: A fitted classifier with ``predict_proba`` and ``classes_``.
        x: ``(m, d)`` features.
        y: ``(m,)`` labels.

    Returns:
        Minus the mean log-loss.
    """
    proba = estimator.predict_proba(x)
    if proba.shape[1] == 2:
        proba = np.stack([1 - proba[:, 1], proba[:, 1]], axis=1)
    eps = np.finfo(proba.dtype).eps
    logs = np.log(np.clip(proba, eps, 1 - eps))
    picked = logs[np.arange(len(logs)), np.searchsorted(estimator.classes_, np.asarray(y))]
    return -float(np.average(-picked))


def accuracy(estimator: Any, x: ArrayLike, y: ArrayLike) -> float:
    """scikit-learn's ``"accuracy"`` scorer of a fitted classifier, without its checks."""
    return float(np.average(np.asarray(y) == estimator.predict(x)))


FAST_SCORERS = {"neg_log_loss": neg_log_loss, "accuracy": accuracy}
"""Scorers of the logistic probes' inner CV by scikit-learn name: equal values, less work."""


class _Probe(BaseEstimator):
    """A probe whose fitted scikit-learn model ``model_`` predicts from the features."""

    def predict(self, z: ArrayLike) -> NDArray[Any]:
        """Predictions ``(n,)`` or ``(n, q)`` from ``Z (n, k)``.

        Raises:
            sklearn.exceptions.NotFittedError: Before :meth:`fit`.
        """
        check_is_fitted(self)
        return self.model_.predict(as_features(z))


def standardisation(x: Array) -> tuple[Array, Array]:
    """Mean and scale of each column of ``x (n, k)``, as scikit-learn's ``StandardScaler``.

    The scale is the standard deviation, or 1 for a column indistinguishable from a constant
    (its variance within the rounding error of a two-pass variance: scikit-learn's rule).

    Returns:
        ``(k,)`` means and ``(k,)`` scales.
    """
    mean, var = x.mean(axis=0), x.var(axis=0)
    n, eps = len(x), np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    return mean, np.where(constant, 1.0, np.sqrt(var))


def ridge_loo_scores(xc: Array, yc: Array, alphas: Array) -> tuple[Array, Array]:
    """Leave-one-out score of ridge with an intercept for every penalty, from one eigh.

    scikit-learn's ``RidgeCV`` in its ``gcv_mode="cov"`` (its operations, in its order, but
    for the diagonal of the hat matrix), for all penalties at once instead of one pass each:
    with ``xc' xc = V diag(lam) V'`` and ``H_a = V diag(1 / (lam + a)) V'``, the
    leave-one-out residual of penalty ``a`` is
    ``(yc - xc H_a xc' yc) / (1 - diag(xc H_a xc') - (1 - xc H_a xc' 1) / n)`` (the last term
    is the intercept's leverage).

    Args:
        xc: ``(n, k)`` centred features.
        yc: ``(n, q)`` centred targets.
        alphas: ``(a,)`` penalties.

    Returns:
        ``(a,)`` scores (minus the mean squared leave-one-out residual over samples and
        outputs) and the ``(a, k, q)`` coefficients of each penalty.
    """
    lam, vec = np.linalg.eigh(xc.T @ xc)
    shrink = 1 / (lam[None, :] + alphas[:, None])  # (a, k)
    h_inv = (vec[None] * shrink[:, None, :]) @ vec.T  # (a, k, k)
    coef = h_inv @ (xc.T @ yc)  # (a, k, q)
    fitted_one = (h_inv @ xc.sum(axis=0)) @ xc.T  # (a, n): xc H_a xc' 1
    leverage = shrink @ ((xc @ vec) ** 2).T  # (a, n): diag(xc H_a xc'), no (a, n, k) array
    denominator = 1 - leverage - (1 - fitted_one) / len(xc)
    residual = (yc.T - coef.transpose(0, 2, 1) @ xc.T) / denominator[:, None, :]  # (a, q, n)
    return -np.mean(residual**2, axis=(1, 2)), coef


class RidgeProbe(BaseEstimator):
    """Linear regression probe: standardised features, ridge with efficient leave-one-out CV.

    scikit-learn's ``StandardScaler`` + ``RidgeCV(alphas)`` (the penalty with the best
    leave-one-out squared error, the first among ties), computed in closed form for all
    penalties at once (:func:`ridge_loo_scores`): the same penalty, predictions equal to
    rounding.

    Args:
        alphas: Candidate regularisation strengths.

    Attributes:
        alpha_: The chosen penalty.
        cv_scores_: ``(len(alphas),)`` minus the mean squared leave-one-out residual.
    """

    def __init__(self, alphas: Sequence[float] = tuple(np.logspace(-4, 4, 17))) -> None:
        self.alphas = alphas

    def fit(self, z: ArrayLike, y: ArrayLike) -> RidgeProbe:
        """Fit on ``Z (n, k)`` and targets ``y (n,)`` or ``(n, q)``; returns self."""
        z_a, y_a = _paired(z, y)
        alphas = np.asarray(self.alphas, dtype=np.float64).reshape(-1)
        if len(alphas) == 0 or not np.all(alphas > 0):
            raise ValueError(f"alphas must be positive, got {self.alphas!r}")
        self.mean_, self.scale_ = standardisation(z_a)
        xs = (z_a - self.mean_) / self.scale_
        self.x_offset_, self.y_offset_ = xs.mean(axis=0), y_a.mean(axis=0)
        self.cv_scores_, coefs = ridge_loo_scores(xs - self.x_offset_, y_a - self.y_offset_, alphas)
        best = int(np.argmax(self.cv_scores_))
        self.alpha_, self.coef_ = float(alphas[best]), coefs[best]  # (k, q), standardised
        self.one_output_ = y_a.shape[1] == 1  # (n, 1) too, as scikit-learn
        return self

    def predict(self, z: ArrayLike) -> Array:
        """Predictions ``(n,)`` (one output) or ``(n, q)`` from ``Z (n, k)``.

        Raises:
            sklearn.exceptions.NotFittedError: Before :meth:`fit`.
        """
        check_is_fitted(self)
        xs = (as_features(z) - self.mean_) / self.scale_
        pred: Array = (xs - self.x_offset_) @ self.coef_ + self.y_offset_
        return pred[:, 0] if self.one_output_ else pred

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """R² on ``(Z, y)`` (variance-weighted over outputs)."""
        return r2(y, self.predict(z))


class LogisticProbe(_Probe):
    """Linear classification probe: standardised features, logistic regression, C by CV.

    Args:
        cs: Number of candidate inverse regularisation strengths (log-spaced) or the list.
        cv: Stratified folds.
        max_iter: Solver iterations.
        seed: Seed of the fold shuffling.
        c: A fixed inverse regularisation strength instead of the cross-validated choice
            (many times faster: one fit instead of ``cv * len(cs)``).

    The regularisation is chosen by cross-validated log-loss unless ``c`` is given.
    """

    def __init__(
        self,
        cs: int | Sequence[float] = 10,
        cv: int = 5,
        max_iter: int = 1000,
        seed: int = 0,
        c: float | None = None,
    ) -> None:
        self.cs, self.cv, self.max_iter, self.seed, self.c = cs, cv, max_iter, seed, c

    def fit(self, z: ArrayLike, y: ArrayLike) -> LogisticProbe:
        """Fit on ``Z (n, k)`` and labels ``y (n,)``; returns self."""
        z_a = as_features(z)
        clf: LogisticRegression | LogisticRegressionCV
        if self.c is not None:
            clf = LogisticRegression(C=self.c, max_iter=self.max_iter)
        else:
            folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.seed)
            clf = LogisticRegressionCV(
                Cs=self.cs, cv=folds, max_iter=self.max_iter, scoring=neg_log_loss
            )
        self.model_: Pipeline = make_pipeline(StandardScaler(), clf)
        with warnings.catch_warnings():  # scikit-learn's notices of changing defaults
            warnings.simplefilter("ignore", FutureWarning)
            self.model_.fit(z_a, np.asarray(y))
        return self

    def predict_proba(self, z: ArrayLike) -> Array:
        """Class probabilities ``(n, classes)``.

        Raises:
            sklearn.exceptions.NotFittedError: Before :meth:`fit`.
        """
        check_is_fitted(self)
        return self.model_.predict_proba(as_features(z))

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """Accuracy on ``(Z, y)``."""
        return float(accuracy_score(np.asarray(y), self.predict(z)))


class KNNProbe(_Probe):
    """k-nearest-neighbour probe, for classification (majority vote) or regression (mean).

    Args:
        k: Neighbours.
        task: ``"classification"`` or ``"regression"``.
        metric: ``"cosine"`` or ``"euclidean"``.
    """

    def __init__(self, k: int = 5, task: str = "classification", metric: str = "cosine") -> None:
        self.k, self.task, self.metric = k, task, metric

    def fit(self, z: ArrayLike, y: ArrayLike) -> KNNProbe:
        """Fit on ``Z (n, k)`` and targets ``y``; returns self."""
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        if self.metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {self.metric!r}")
        estimator = KNeighborsClassifier if self.task == "classification" else KNeighborsRegressor
        self.model_ = estimator(n_neighbors=self.k, metric=self.metric)
        self.model_.fit(as_features(z), np.asarray(y))
        return self

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """Accuracy (classification) or R² (regression) on ``(Z, y)``."""
        if self.task == "classification":
            return float(accuracy_score(np.asarray(y), self.predict(z)))
        return r2(y, self.predict(z))


def block_r2(
    z: ArrayLike,
    blocks: Mapping[str, ArrayLike],
    z_test: ArrayLike | None = None,
    blocks_test: Mapping[str, ArrayLike] | None = None,
) -> dict[str, float]:
    """R² of predicting each latent block linearly (ridge probe) from the representation.

    Args:
        z: ``(n, k)`` representation, to fit on.
        blocks: ``(n, d_b)`` latent block by name, e.g. ``{"S": S, "U1": U1, "U2": U2}``.
        z_test: Held-out ``(m, k)`` representation to score on (default: score on ``z``).
        blocks_test: The blocks of the held-out samples.

    Returns:
        R² (share of the block's variance explained) by block name.
    """
    if (z_test is None) != (blocks_test is None):
        raise ValueError("give both z_test and blocks_test, or neither")
    scores = {}
    for name, block in blocks.items():
        probe = RidgeProbe().fit(z, as_features(block, name))
        if z_test is None or blocks_test is None:
            scores[name] = probe.score(z, as_features(block, name))
        else:
            scores[name] = probe.score(z_test, as_features(blocks_test[name], name))
    return scores


def retrieval_accuracy(
    queries: ArrayLike,
    keys: ArrayLike,
    ks: Sequence[int] = (1, 5),
    metric: str = "cosine",
    chunk: int = 1024,
) -> dict[int, float]:
    """Cross-modal retrieval: how often the paired key is among the top ``k`` for a query.

    Query ``i`` (e.g. an optical embedding) ranks all keys (e.g. SAR embeddings) by similarity.
    With ``a`` other keys strictly more similar than key ``i`` and ``t`` other keys exactly as
    similar (tied, up to floating-point rounding), ties are broken uniformly at random and the
    expected success is counted: ``clip((k - a) / (t + 1), 0, 1)``. Without ties this is 1 when
    ``a < k``, else 0; constant embeddings score chance level, ``k / n``.

    Args:
        queries: ``(n, d)``.
        keys: ``(n, d)``, row ``i`` paired with ``queries[i]``.
        ks: Cut-offs.
        metric: ``"cosine"`` or ``"euclidean"`` (negative distance as similarity).
        chunk: Queries per block of the similarity matrix (memory ``chunk * n``).

    Returns:
        Top-k accuracy by ``k`` (the expected one under random tie-breaking).
    """
    q, c = as_features(queries, "queries"), as_features(keys, "keys")
    if q.shape != c.shape:
        raise ValueError(f"queries and keys must have the same shape, got {q.shape}, {c.shape}")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    if metric == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    n, d = q.shape
    c_norm = np.linalg.norm(c, axis=1).max()
    above, tied = np.empty(n), np.empty(n)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        sim = q[rows] @ c.T
        scale = np.linalg.norm(q[rows], axis=1) * c_norm
        if metric == "euclidean":
            sim = 2 * sim - (c**2).sum(axis=1)  # -|q - c|^2 up to a per-row constant
            scale = 2 * scale + c_norm**2
        true = sim[np.arange(len(rows)), rows][:, None]
        tol = (8 * d * np.finfo(np.float64).eps * scale)[:, None]  # rounding of the products
        above[rows] = (sim > true + tol).sum(axis=1)
        tied[rows] = (np.abs(sim - true) <= tol).sum(axis=1)  # the paired key included
    return {int(k): float(np.mean(np.clip((k - above) / tied, 0.0, 1.0))) for k in ks}


def _check_target(y: Array, name: str) -> None:
    """Refuse a constant target: every R² divides by its (zero) variance."""
    if np.all(np.ptp(y, axis=0) == 0):
        raise ValueError(f"{name} has zero variance (constant): its R² is undefined")


def sigma_informativeness(
    z: ArrayLike,
    y: ArrayLike,
    sigmas: ArrayLike,
    z_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
) -> Array:
    """R² of the best linear predictor of ``y`` from the rescaled ``Z`` plus Gaussian noise.

    Convention (shared with :meth:`aligninfo.gaussian.GaussianModel.sigma_informativeness`):
    rescale ``Z (n, k)`` to unit mean variance per dimension, ``Z' = Z / s`` with
    ``s^2 = tr Cov(Z) / k``, add ``N(0, sigma^2 I_k)``. With ``C = Cov(Z')``, ``c = Cov(Z', y)``
    and the noise integrated out exactly, the best linear predictor has weights
    ``b = (C + sigma^2 I)^+ c`` and ``R^2_sigma = tr(c^T b) / tr Var(y)``. It does not depend on
    the scale of ``Z``, equals the ordinary least-squares R² at ``sigma = 0`` and decreases to 0
    as ``sigma`` grows.

    With held-out data, ``s``, ``b`` and the means come from ``(z, y)`` and the score is
    ``1 - [tr Var_test(y - b^T Z') + sigma^2 |b|_F^2] / tr Var_test(y)``, the expected squared
    error over the noise (the test means are used, so a mean shift is not penalised).

    Args:
        z: ``(n, k)`` representation to fit on.
        y: ``(n,)`` or ``(n, q)`` targets.
        sigmas: Noise levels ``>= 0``, scalar or 1-D.
        z_test: ``(m, k)`` held-out representation (optional).
        y_test: ``(m,)`` or ``(m, q)`` held-out targets.

    Returns:
        ``(len(sigmas),)`` R² values.

    Raises:
        ValueError: If ``y`` (or ``y_test``) is constant: R² is a share of its variance, which
            is zero; or if ``Z`` is constant (it cannot be rescaled).
    """
    z_a, y_a = _paired(z, y)
    sig = np.atleast_1d(np.asarray(sigmas, dtype=np.float64))
    if sig.ndim != 1 or not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise ValueError(f"sigmas must be finite, >= 0, scalar or 1-D; got {sigmas!r}")
    if (z_test is None) != (y_test is None):
        raise ValueError("give both z_test and y_test, or neither")
    _check_target(y_a, "y")
    zc, yc = z_a - z_a.mean(axis=0), y_a - y_a.mean(axis=0)
    n, k = zc.shape
    s2 = mean_variance(zc.T @ zc / n)
    zc /= np.sqrt(s2)
    lam, vec = np.linalg.eigh(zc.T @ zc / n)
    proj = vec.T @ (zc.T @ yc / n)  # c in the eigenbasis, (k, q)
    tol = max(lam.max(), 0.0) * k * np.finfo(np.float64).eps
    held_out = None if z_test is None or y_test is None else _paired(z_test, y_test)
    if held_out is not None:
        _check_target(held_out[1], "y_test")
    out = np.empty(len(sig))
    for i, s in enumerate(sig):
        shrink = np.divide(1.0, lam + s**2, out=np.zeros_like(lam), where=lam + s**2 > tol)
        b_eig = shrink[:, None] * proj  # b in the eigenbasis
        if held_out is None:
            out[i] = np.sum(proj * b_eig) / np.sum(yc**2 / n)
            continue
        zt, yt = held_out
        resid = yt - (zt / np.sqrt(s2)) @ (vec @ b_eig)
        mse = resid.var(axis=0).sum() + s**2 * np.sum(b_eig**2)
        out[i] = 1 - mse / yt.var(axis=0).sum()
    return out
