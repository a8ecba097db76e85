"""Probes whose hyperparameters are chosen by inner cross-validation on the training data only.

Every probe here follows the scikit-learn ``fit`` / ``predict`` / ``score`` convention of
:mod:`aligninfo.probes`, standardises its features with statistics of the data it is fitted on,
and chooses its hyperparameters from those data alone (the held-out data never reach
``fit``), so the same selection applies to raw inputs and to learned representations:

- linear: :class:`aligninfo.probes.RidgeProbe` (ridge ``alpha`` by efficient leave-one-out
  cross-validation) and :class:`aligninfo.probes.LogisticProbe` (``C`` by stratified k-fold
  cross-validation of the log-loss, unless a fixed ``c`` is given);
- :class:`KNNCVProbe`: k-nearest neighbours with ``k`` chosen by k-fold cross-validation;
- :class:`MLPProbe`: a one-hidden-layer perceptron, early-stopped on an inner validation split.

Grouped inner folds: when samples come in groups that the held-out data never share (sites,
polygons), a random inner split puts samples of one group on both sides and favours
hyperparameters that interpolate within a group. ``make_probe(..., grouped=True)`` returns a
probe whose ``fit(z, y, groups)`` keeps every group on one side of each inner split
(:class:`GroupRidgeProbe`, and :class:`KNNCVProbe` given ``groups``).

::

    probe = make_probe("knn", "regression").fit(z_train, y_train)
    probe.score(z_test, y_test), chosen_hyperparameters(probe)     # R², {"k": 20}
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from aligninfo.probes import LogisticProbe, RidgeProbe, r2

__all__ = [
    "PROBE_KINDS",
    "GroupRidgeProbe",
    "KNNCVProbe",
    "MLPProbe",
    "chosen_hyperparameters",
    "make_probe",
]

PROBE_KINDS = ("linear", "knn", "mlp")
"""Probe families of :func:`make_probe`: linear (ridge / logistic), kNN, MLP."""

_TASKS = ("classification", "regression")


def _check_task(task: str) -> None:
    if task not in _TASKS:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")


def _matrix(z: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(z, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or len(a) < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"features must be a finite (n, k) array with n >= 2, got {a.shape}")
    return a


def _inner_folds(
    x: NDArray[np.float64],
    y: NDArray[Any],
    cv: int,
    seed: int,
    stratify: bool,
    groups: ArrayLike | None,
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Inner folds of the training data: by group when ``groups`` is given, else shuffled."""
    if groups is None:
        splitter = (
            StratifiedKFold(cv, shuffle=True, random_state=seed)
            if stratify
            else KFold(cv, shuffle=True, random_state=seed)
        )
        return list(splitter.split(x, y))
    g = np.asarray(groups)
    if g.shape != (len(x),):
        raise ValueError(f"groups must be (n,) like the samples, got shape {g.shape}")
    n_groups = len(np.unique(g))
    if n_groups < cv:
        raise ValueError(f"grouped inner CV needs at least cv={cv} groups, got {n_groups}")
    return list(GroupKFold(cv).split(x, y, g))


def _vote(labels: NDArray[Any]) -> NDArray[Any]:
    """Majority label of each row of ``(n, k)`` neighbour labels (ties: the smallest label)."""
    classes, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(labels.shape)
    counts = np.zeros((len(labels), len(classes)), dtype=np.int64)
    np.add.at(counts, (np.arange(len(labels))[:, None], codes), 1)
    return classes[counts.argmax(axis=1)]


class KNNCVProbe(BaseEstimator):
    """k-nearest-neighbour probe on standardised features, ``k`` by inner cross-validation.

    For each inner fold of the training data, the neighbours of the held-out part are found
    once (up to the largest candidate) and every candidate ``k`` is scored on them (accuracy
    for classes, R² for regression, pooled over folds); the best ``k`` (the largest among ties)
    is refitted on all the training data.

    Args:
        task: ``"classification"`` (majority vote) or ``"regression"`` (mean of neighbours).
        ks: Candidate numbers of neighbours (those above the inner training size are dropped).
        cv: Inner folds.
        seed: Seed of the fold shuffling.

    Attributes:
        k_: The chosen number of neighbours.
        cv_scores_: ``{k: inner cross-validated score}``.
    """

    def __init__(
        self,
        task: str = "regression",
        ks: Sequence[int] = (1, 3, 5, 10, 20, 40, 80),
        cv: int = 5,
        seed: int = 0,
    ) -> None:
        self.task, self.ks, self.cv, self.seed = task, ks, cv, seed

    def _predict_from(self, neighbour_y: NDArray[Any], k: int) -> NDArray[Any]:
        if self.task == "classification":
            return _vote(neighbour_y[:, :k])
        return neighbour_y[:, :k].mean(axis=1)

    def _score(self, y: NDArray[Any], pred: NDArray[Any]) -> float:
        if self.task == "classification":
            return float(accuracy_score(y, pred))
        return r2(y, pred)

    def fit(self, z: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None) -> KNNCVProbe:
        """Choose ``k`` on ``Z (n, d)``, ``y (n,)`` by inner cross-validation, then fit.

        Args:
            z: ``(n, d)`` features.
            y: ``(n,)`` targets.
            groups: ``(n,)`` group of each sample (None: shuffled folds); with groups, every
                group lies on one side of each inner split (scikit-learn's ``GroupKFold``).
        """
        _check_task(self.task)
        x, y_a = _matrix(z), np.asarray(y)
        if len(y_a) != len(x):
            raise ValueError(f"Z and y have different numbers of samples: {len(x)} vs {len(y_a)}")
        if self.cv < 2 or not self.ks or min(self.ks) < 1:
            raise ValueError("need cv >= 2 and positive candidate ks")
        folds = _inner_folds(x, y_a, self.cv, self.seed, self.task == "classification", groups)
        ks = sorted({k for k in self.ks if k <= min(len(tr) for tr, _ in folds)})
        if not ks:
            raise ValueError(f"every candidate k exceeds the inner training size; got {self.ks}")
        dtype = y_a.dtype if self.task == "classification" else np.float64
        preds = {k: np.empty(len(y_a), dtype=dtype) for k in ks}
        for train, held in folds:
            scaler = StandardScaler().fit(x[train])
            nn = NearestNeighbors(n_neighbors=ks[-1]).fit(scaler.transform(x[train]))
            index = nn.kneighbors(scaler.transform(x[held]), return_distance=False)
            for k in ks:
                preds[k][held] = self._predict_from(y_a[train][index], k)
        self.cv_scores_ = {k: self._score(y_a, preds[k]) for k in ks}
        best = max(self.cv_scores_.values())
        self.k_ = max(k for k, s in self.cv_scores_.items() if s == best)
        self.scaler_ = StandardScaler().fit(x)
        self.nn_ = NearestNeighbors(n_neighbors=self.k_).fit(self.scaler_.transform(x))
        self.y_ = y_a
        return self

    def predict(self, z: ArrayLike) -> NDArray[Any]:
        """Predicted targets ``(m,)`` for ``Z (m, d)``."""
        index = self.nn_.kneighbors(self.scaler_.transform(_matrix(z)), return_distance=False)
        return self._predict_from(self.y_[index], self.k_)

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """Accuracy (classification) or R² (regression) on ``(Z, y)``."""
        return self._score(np.asarray(y), self.predict(z))


class GroupRidgeProbe(BaseEstimator):
    """Ridge regression probe, penalty chosen by k-fold inner cross-validation over groups.

    The linear probe of :class:`aligninfo.probes.RidgeProbe` (standardised features, ridge with
    an intercept, the same candidate penalties) with another selection: instead of leave-one-out
    over samples, ``cv`` inner folds that hold out whole groups (shuffled folds when no groups
    are given). Each inner fold standardises with its own training part; the penalty with the
    best pooled held-out R² (the largest among ties) is refitted on all the training data.

    Args:
        alphas: Candidate penalties.
        cv: Inner folds.
        seed: Seed of the fold shuffling (folds without groups).

    Attributes:
        alpha_: The chosen penalty.
        cv_scores_: ``{alpha: pooled inner held-out R²}``.
        model_: The refitted ``StandardScaler`` + ``Ridge`` pipeline.
    """

    def __init__(
        self, alphas: Sequence[float] = tuple(np.logspace(-4, 4, 17)), cv: int = 5, seed: int = 0
    ) -> None:
        self.alphas, self.cv, self.seed = alphas, cv, seed

    def fit(self, z: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None) -> GroupRidgeProbe:
        """Choose the penalty on ``Z (n, d)``, ``y (n,)`` or ``(n, q)``, then fit.

        Args:
            z: ``(n, d)`` features.
            y: ``(n,)`` or ``(n, q)`` targets.
            groups: ``(n,)`` group of each sample; every group lies on one side of each inner
                split (None: shuffled folds).
        """
        x = _matrix(z)
        y_a = np.asarray(y, dtype=np.float64)
        y2 = y_a.reshape(len(y_a), -1)
        if len(y2) != len(x) or not np.all(np.isfinite(y2)):
            raise ValueError(f"y must be finite with one row per sample; got shape {y_a.shape}")
        alphas = np.asarray(self.alphas, dtype=np.float64)
        if self.cv < 2 or len(alphas) == 0 or np.any(alphas <= 0):
            raise ValueError("need cv >= 2 and positive candidate alphas")
        pred = np.empty((len(alphas), *y2.shape))
        for train, held in _inner_folds(x, y2, self.cv, self.seed, False, groups):
            pred[:, held] = _ridge_path(x[train], y2[train], x[held], alphas)
        sse = ((pred - y2[None]) ** 2).sum(axis=(1, 2))
        sst = ((y2 - y2.mean(axis=0)) ** 2).sum()
        scores = 1 - sse / sst if sst > 0 else -sse
        self.cv_scores_ = {float(a): float(v) for a, v in zip(alphas, scores, strict=True)}
        best = scores.max()
        self.alpha_ = float(alphas[scores == best].max())
        self.model_: Pipeline = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha_))
        self.model_.fit(x, y_a)
        return self

    def predict(self, z: ArrayLike) -> NDArray[Any]:
        """Predicted targets ``(m,)`` or ``(m, q)`` for ``Z (m, d)``."""
        return np.asarray(self.model_.predict(_matrix(z)))

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """R² on ``(Z, y)`` (variance-weighted over outputs)."""
        return r2(y, self.predict(z))


def _ridge_path(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    x_new: NDArray[np.float64],
    alphas: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Ridge predictions on standardised features for every penalty, from one SVD.

    Args:
        x: ``(n, d)`` training features (standardised here with their own statistics).
        y: ``(n, q)`` training targets.
        x_new: ``(m, d)`` features to predict.
        alphas: ``(a,)`` penalties.

    Returns:
        ``(a, m, q)`` predictions, as ``StandardScaler`` + ``Ridge(alpha)`` would give.
    """
    scaler = StandardScaler().fit(x)
    xs, xn = scaler.transform(x), scaler.transform(x_new)
    mean = y.mean(axis=0)
    u, s, vt = np.linalg.svd(xs, full_matrices=False)
    uty = u.T @ (y - mean)  # (r, q)
    shrink = s[None, :] / (s[None, :] ** 2 + alphas[:, None])  # (a, r)
    coef = np.einsum("dr,ar,rq->adq", vt.T, shrink, uty)
    return np.einsum("md,adq->amq", xn, coef) + mean


class MLPProbe(BaseEstimator):
    """Nonlinear probe: one hidden ReLU layer, early-stopped on an inner validation split.

    Features (and regression targets) are standardised on the training data; scikit-learn's
    ``MLPRegressor`` / ``MLPClassifier`` (Adam) stops when the score on a held-out
    ``validation_fraction`` of the *training* data has not improved for ``patience`` epochs.

    Args:
        task: ``"classification"`` or ``"regression"``.
        hidden: Width of the hidden layer.
        alpha: L2 penalty.
        validation_fraction: Share of the training data held out for early stopping.
        patience: Epochs without improvement before stopping.
        max_iter: Maximum epochs.
        seed: Seed of the initialisation, the inner split and the batches.

    Attributes:
        n_iter_: Epochs run before early stopping.
    """

    def __init__(
        self,
        task: str = "regression",
        hidden: int = 64,
        alpha: float = 1e-4,
        validation_fraction: float = 0.15,
        patience: int = 10,
        max_iter: int = 300,
        seed: int = 0,
    ) -> None:
        self.task, self.hidden, self.alpha = task, hidden, alpha
        self.validation_fraction, self.patience, self.max_iter, self.seed = (
            validation_fraction,
            patience,
            max_iter,
            seed,
        )

    def fit(self, z: ArrayLike, y: ArrayLike) -> MLPProbe:
        """Fit on ``Z (n, d)`` and ``y (n,)`` or ``(n, q)``; returns self."""
        _check_task(self.task)
        x = _matrix(z)
        self.scaler_ = StandardScaler().fit(x)
        kwargs: dict[str, Any] = dict(
            hidden_layer_sizes=(self.hidden,),
            alpha=self.alpha,
            early_stopping=True,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.patience,
            max_iter=self.max_iter,
            random_state=self.seed,
        )
        y_a = np.asarray(y)
        if self.task == "classification":
            self.model_: MLPClassifier | MLPRegressor = MLPClassifier(**kwargs)
            target = y_a
        else:
            y2 = y_a.astype(np.float64).reshape(len(y_a), -1)
            self.y_mean_, self.y_scale_ = y2.mean(axis=0), y2.std(axis=0) + 1e-12
            self.y_shape_ = y_a.shape[1:]
            self.model_ = MLPRegressor(**kwargs)
            standardised = (y2 - self.y_mean_) / self.y_scale_
            target = standardised[:, 0] if y_a.ndim == 1 else standardised
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(self.scaler_.transform(x), target)
        self.n_iter_ = int(self.model_.n_iter_)
        return self

    def predict(self, z: ArrayLike) -> NDArray[Any]:
        """Predicted labels ``(m,)`` or targets ``(m,)`` / ``(m, q)``."""
        out = self.model_.predict(self.scaler_.transform(_matrix(z)))
        if self.task == "classification":
            return out
        out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
        pred = out * self.y_scale_ + self.y_mean_
        return pred.reshape(len(pred), *self.y_shape_)

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """Accuracy (classification) or R² (regression) on ``(Z, y)``."""
        if self.task == "classification":
            return float(accuracy_score(np.asarray(y), self.predict(z)))
        return r2(y, self.predict(z))


def make_probe(
    kind: str,
    task: str,
    seed: int = 0,
    logistic_c: float | None = None,
    grouped: bool = False,
    logistic_cs: int | Sequence[float] = 10,
    inner_folds: int = 5,
) -> BaseEstimator:
    """A probe of the given family whose hyperparameters are chosen on its training data.

    Args:
        kind: ``"linear"`` (ridge for regression, logistic for classes), ``"knn"`` or
            ``"mlp"``.
        task: ``"regression"`` or ``"classification"``.
        seed: Seed of inner folds / initialisation.
        logistic_c: A fixed inverse penalty for the logistic probe (None: inner CV, the
            default; a fixed value skips the selection).
        grouped: Return a probe whose ``fit(z, y, groups)`` chooses its hyperparameters on
            inner folds that hold out whole groups: :class:`GroupRidgeProbe` (linear
            regression) or :class:`KNNCVProbe`. The logistic and MLP probes have no grouped
            selection (a ValueError).
        logistic_cs: Candidate inverse penalties of the logistic probe's inner CV: a number
            of log-spaced values (scikit-learn's grid, 1e-4 to 1e4) or the list itself.
        inner_folds: Inner folds of the logistic and kNN probes' selection.

    Returns:
        An unfitted probe with ``fit``, ``predict`` and ``score``.
    """
    _check_task(task)
    if grouped and (kind == "mlp" or (kind == "linear" and task == "classification")):
        raise ValueError(f"no grouped inner CV for the {kind} {task} probe; use grouped=False")
    if kind == "linear":
        if task == "regression":
            return GroupRidgeProbe(seed=seed) if grouped else RidgeProbe()
        return LogisticProbe(cs=logistic_cs, cv=inner_folds, seed=seed, c=logistic_c)
    if kind == "knn":
        return KNNCVProbe(task, cv=inner_folds, seed=seed)
    if kind == "mlp":
        return MLPProbe(task, seed=seed)
    raise ValueError(f"unknown probe kind {kind!r}; choose from {PROBE_KINDS}")


def chosen_hyperparameters(probe: BaseEstimator) -> dict[str, float]:
    """The hyperparameters a fitted probe chose on its training data.

    Args:
        probe: A fitted probe of :func:`make_probe`.

    Returns:
        ``{"alpha": ...}`` (ridge), ``{"C": ...}`` (logistic; the fixed value when given),
        ``{"k": ...}`` (kNN), ``{"epochs": ...}`` (MLP, epochs before early stopping).
    """
    if isinstance(probe, RidgeProbe):
        return {"alpha": float(probe.model_[-1].alpha_)}
    if isinstance(probe, GroupRidgeProbe):
        return {"alpha": probe.alpha_}
    if isinstance(probe, LogisticProbe):
        clf = probe.model_[-1]
        c = clf.C_ if hasattr(clf, "C_") else clf.C
        return {"C": float(np.ravel(c)[0])}
    if isinstance(probe, KNNCVProbe):
        return {"k": float(probe.k_)}
    if isinstance(probe, MLPProbe):
        return {"epochs": float(probe.n_iter_)}
    raise TypeError(f"not a probe of make_probe: {type(probe).__name__}")
