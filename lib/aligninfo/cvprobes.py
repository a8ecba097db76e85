"""Probes whose hyperparameters are chosen by inner cross-validation on the training data only.

Every probe here follows the scikit-learn ``fit`` / ``predict`` / ``score`` convention of
:mod:`aligninfo.probes`, standardises its features with statistics of the data it is fitted on,
and chooses its hyperparameters from those data alone (the held-out data never reach
``fit``), so the same selection applies to raw inputs and to learned representations:

- linear: :class:`aligninfo.probes.RidgeProbe` (ridge ``alpha`` by efficient leave-one-out
  cross-validation) and :class:`aligninfo.probes.LogisticProbe` (``C`` by stratified k-fold
  cross-validation of the log-loss, unless a fixed ``c`` is given); :class:`GroupRidgeProbe`
  and :class:`GroupLogisticProbe` choose them on k-fold splits that can hold out groups;
- :class:`KNNCVProbe`: k-nearest neighbours with ``k`` chosen by k-fold cross-validation;
- :class:`MLPProbe`: a one-hidden-layer perceptron, early-stopped on an inner validation split.

Grouped inner folds: when samples come in groups that the held-out data never share (sites,
polygons), a random inner split puts samples of one group on both sides and favours
hyperparameters that interpolate within a group. ``make_probe(..., grouped=True)`` returns a
probe whose ``fit(z, y, groups)`` keeps every group on one side of each inner split
(:class:`GroupRidgeProbe`, :class:`GroupLogisticProbe`, and :class:`KNNCVProbe` and
:class:`MLPProbe` given ``groups``); its ``inner_splits_`` lists the splits it used.

:class:`KNNCVProbe` also probes several targets at once (``y`` a mapping of named targets):
one neighbour search per inner fold, ``k`` chosen per target. Every probe refuses
``predict`` / ``score`` before ``fit`` (scikit-learn's ``NotFittedError``).

::

    probe = make_probe("knn", "regression").fit(z_train, y_train)
    probe.score(z_test, y_test), chosen_hyperparameters(probe)     # R², {"k": 20}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from aligninfo.groups import holdout_groups
from aligninfo.probes import (
    FAST_SCORERS,
    LogisticProbe,
    RidgeProbe,
    as_features,
    r2,
    standardisation,
)

__all__ = [
    "PROBE_KINDS",
    "GroupLogisticProbe",
    "GroupRidgeProbe",
    "KNNCVProbe",
    "MLPProbe",
    "chosen_hyperparameters",
    "class_holdout",
    "make_probe",
]

PROBE_KINDS = ("linear", "knn", "mlp")
"""Probe families of :func:`make_probe`: linear (ridge / logistic), kNN, MLP."""

_TASKS = ("classification", "regression")
InnerSplits = list[tuple[NDArray[np.intp], NDArray[np.intp]]]
"""Inner ``(train, held-out)`` index pairs of a probe's selection."""


def _check_task(task: str) -> None:
    if task not in _TASKS:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")


def _inner_folds(
    x: NDArray[np.float64],
    y: NDArray[Any],
    cv: int,
    seed: int,
    stratify: bool,
    groups: ArrayLike | None,
) -> InnerSplits:
    """Inner folds of the training data: by group when ``groups`` is given, else shuffled.

    Grouped folds of class labels (``stratify``) balance the classes across folds as far as
    whole groups allow (scikit-learn's ``StratifiedGroupKFold``, shuffled by ``seed``), so
    that a class with several groups is seen on both sides of a split; other grouped folds
    balance only their sizes (``GroupKFold``).
    """
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
    if stratify:
        return list(StratifiedGroupKFold(cv, shuffle=True, random_state=seed).split(x, y, g))
    return list(GroupKFold(cv).split(x, y, g))


def _vote(labels: NDArray[Any]) -> NDArray[Any]:
    """Majority label of each row of ``(n, k)`` neighbour labels (ties: the smallest label)."""
    classes, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(labels.shape)
    counts = np.zeros((len(labels), len(classes)), dtype=np.int64)
    np.add.at(counts, (np.arange(len(labels))[:, None], codes), 1)
    return classes[counts.argmax(axis=1)]


def class_holdout(
    groups: ArrayLike, y: ArrayLike, fraction: float, seed: int = 0
) -> NDArray[np.bool_]:
    """Hold out whole groups so that every class with two groups or more is on both sides.

    Each class with ``m >= 2`` groups gets about ``fraction * m`` of them held out (at least
    one, at most ``m - 1``); a class with a single group stays on the training side only (it
    cannot lie on both). Groups are visited in a seeded random order and a group is held out
    when a class it holds still needs one and every class it holds keeps a group in training,
    so groups that mix classes are handled too (a class may then miss the held-out side:
    compare ``np.unique(y[held])`` with the classes).

    Args:
        groups: ``(n,)`` group of each sample.
        y: ``(n,)`` class of each sample.
        fraction: Share of each class's groups to hold out, in (0, 1).
        seed: Seed of the order in which groups are visited.

    Returns:
        ``(n,)`` boolean mask of the held-out samples (all False when no class has two groups).
    """
    g, labels = np.asarray(groups), np.asarray(y)
    if g.shape != labels.shape or g.ndim != 1:
        raise ValueError(f"groups and y must both be (n,), got {g.shape} and {labels.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    unique, g_code = np.unique(g, return_inverse=True)
    y_code = np.unique(labels, return_inverse=True)[1]
    member = np.zeros((len(unique), int(y_code.max(initial=-1)) + 1), dtype=bool)
    member[g_code, y_code] = True  # (groups, classes): which classes each group holds
    n_groups = member.sum(axis=0)
    target = np.minimum(np.maximum(np.rint(fraction * n_groups), 1), n_groups - 1)
    kept, held_count = n_groups.copy(), np.zeros_like(n_groups)
    held = np.zeros(len(unique), dtype=bool)
    for i in np.random.default_rng(seed).permutation(len(unique)):
        cls = member[i]
        if np.all(kept[cls] >= 2) and np.any(held_count[cls] < target[cls]):
            held[i], kept[cls], held_count[cls] = True, kept[cls] - 1, held_count[cls] + 1
    return held[g_code]


Target = ArrayLike | Mapping[str, ArrayLike]
"""One target (an ``(n,)`` or ``(n, q)`` array) or several, by name (:class:`KNNCVProbe`)."""


def _target_blocks(y: Target, n: int, task: str) -> dict[str, NDArray[Any]]:
    """Each target as an ``(n, q)`` array (one unnamed target: the key ``""``), checked."""
    named = dict(y) if isinstance(y, Mapping) else {"": y}
    if not named:
        raise ValueError("need at least one target")
    blocks = {}
    for name, values in named.items():
        a = np.asarray(values)
        a = a.astype(np.float64) if task == "regression" else a
        a = a[:, None] if a.ndim == 1 else a.reshape(len(a), -1)
        if len(a) != n:
            raise ValueError(f"target {name!r} has {len(a)} samples, the features {n}")
        if task == "regression" and not np.all(np.isfinite(a)):
            raise ValueError(f"target {name!r} holds NaN or Inf")
        blocks[name] = a
    return blocks


class KNNCVProbe(BaseEstimator):
    """k-nearest-neighbour probe on standardised features, ``k`` by inner cross-validation.

    For each inner fold of the training data, the neighbours of the held-out part are found
    once (up to the largest candidate) and every candidate ``k`` is scored on them (accuracy
    for classes, R² for regression, pooled over folds); the best ``k`` (the largest among ties)
    is refitted on all the training data.

    Several targets share the neighbour searches, which cost far more than the averages: pass
    ``y`` as a mapping ``{name: (n,) or (n, q)}`` and each target gets its own ``k`` (a
    target of several columns is one block, scored as a whole: ``1 - sum SSE / sum SST``, or
    the accuracy over its entries); :meth:`predict` then returns a mapping and
    :meth:`score_targets` the score of each. For one target this is exactly the single-target
    probe::

        probe = KNNCVProbe("regression").fit(z_fit, {"S": s_fit, "U1": u_fit})
        probe.score_targets(z_test, {"S": s_test, "U1": u_test})    # {"S": R², "U1": R²}
        probe.ks_                                                   # {"S": 20, "U1": 40}

    Args:
        task: ``"classification"`` (majority vote) or ``"regression"`` (mean of neighbours).
        ks: Candidate numbers of neighbours (those above the inner training size are dropped).
        cv: Inner folds.
        seed: Seed of the fold shuffling.

    Attributes:
        k_: The chosen number of neighbours (several targets: the largest of ``ks_``).
        ks_: ``{target name: chosen k}`` (one unnamed target: the name ``""``).
        cv_scores_: ``{k: inner cross-validated score}`` (several targets: ``{name: {k:
            score}}``).
        inner_splits_: The inner ``(train, held-out)`` index pairs of the selection.
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
        """Predictions ``(m, q)`` from the targets ``(m, k_max, q)`` of the nearest samples."""
        if self.task == "regression":
            return neighbour_y[:, :k].mean(axis=1)
        columns = [_vote(neighbour_y[:, :k, j]) for j in range(neighbour_y.shape[2])]
        return np.stack(columns, axis=1)

    def _score(self, y: NDArray[Any], pred: NDArray[Any]) -> float:
        if self.task == "classification":
            return float(np.mean(y == pred))
        return r2(y, pred)

    def fit(self, z: ArrayLike, y: Target, groups: ArrayLike | None = None) -> KNNCVProbe:
        """Choose ``k`` on ``Z (n, d)`` and each target by inner cross-validation, then fit.

        Args:
            z: ``(n, d)`` features.
            y: ``(n,)`` or ``(n, q)`` target, or ``{name: (n,) or (n, q)}`` targets.
            groups: ``(n,)`` group of each sample (None: shuffled folds, stratified for one
                class label); with groups, every group lies on one side of each inner split
                (scikit-learn's ``StratifiedGroupKFold`` for one class label, else
                ``GroupKFold``).
        """
        _check_task(self.task)
        x = as_features(z)
        blocks = _target_blocks(y, len(x), self.task)
        if self.cv < 2 or not self.ks or min(self.ks) < 1:
            raise ValueError("need cv >= 2 and positive candidate ks")
        single = len(blocks) == 1 and next(iter(blocks.values())).shape[1] == 1
        stratify = self.task == "classification" and single
        labels = next(iter(blocks.values()))[:, 0] if single else np.zeros(len(x))
        folds = _inner_folds(x, labels, self.cv, self.seed, stratify, groups)
        ks = sorted({k for k in self.ks if k <= min(len(tr) for tr, _ in folds)})
        if not ks:
            raise ValueError(f"every candidate k exceeds the inner training size; got {self.ks}")
        preds = {name: {k: np.empty_like(b) for k in ks} for name, b in blocks.items()}
        for train, held in folds:
            index = _neighbours(x[train], x[held], ks[-1])
            for name, b in blocks.items():
                near = b[train][index]  # (held, k_max, q)
                for k in ks:
                    preds[name][k][held] = self._predict_from(near, k)
        scores = {
            name: {k: self._score(b, preds[name][k]) for k in ks} for name, b in blocks.items()
        }
        self.ks_ = {
            name: max(k for k, v in s.items() if v == max(s.values())) for name, s in scores.items()
        }
        self.k_ = max(self.ks_.values())
        self.cv_scores_: dict[Any, Any] = scores[""] if not isinstance(y, Mapping) else scores
        self.inner_splits_ = folds
        self.scaler_ = StandardScaler().fit(x)
        self.nn_ = NearestNeighbors(n_neighbors=self.k_).fit(self.scaler_.transform(x))
        self.blocks_ = blocks
        self.shapes_ = {name: np.shape(v)[1:] for name, v in _named(y).items()}
        self.named_ = isinstance(y, Mapping)
        return self

    def _block_predictions(self, z: ArrayLike) -> dict[str, NDArray[Any]]:
        check_is_fitted(self)
        index = self.nn_.kneighbors(self.scaler_.transform(as_features(z)), return_distance=False)
        return {
            name: self._predict_from(b[index], self.ks_[name]) for name, b in self.blocks_.items()
        }

    def predict(self, z: ArrayLike) -> NDArray[Any] | dict[str, NDArray[Any]]:
        """Predicted targets for ``Z (m, d)``: shaped as ``y`` was (a mapping for a mapping)."""
        blocks = self._block_predictions(z)
        out = {name: p.reshape(len(p), *self.shapes_[name]) for name, p in blocks.items()}
        return out if self.named_ else out[""]

    def score_targets(self, z: ArrayLike, y: Target) -> dict[str, float]:
        """Score of each target on ``(Z, y)``: accuracy (classification) or R² (regression).

        Args:
            z: ``(m, d)`` features.
            y: The targets, in the form given to :meth:`fit` (the same names).

        Returns:
            ``{name: score}`` (one unnamed target: the name ``""``).
        """
        pred = self._block_predictions(z)
        truth = _target_blocks(y, len(next(iter(pred.values()))), self.task)
        if set(truth) != set(pred):
            raise ValueError(f"expected the targets {sorted(pred)}, got {sorted(truth)}")
        return {name: self._score(truth[name], p) for name, p in pred.items()}

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """Accuracy (classification) or R² (regression) of one target on ``(Z, y)``.

        Raises:
            ValueError: For a probe fitted on several named targets (use :meth:`score_targets`).
        """
        check_is_fitted(self)
        if self.named_ or isinstance(y, Mapping):
            raise ValueError("several targets: use score_targets(z, y) for the score of each")
        return self.score_targets(z, y)[""]


def _named(y: Target) -> dict[str, Any]:
    return dict(y) if isinstance(y, Mapping) else {"": y}


def _neighbours(fit: NDArray[np.float64], query: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """Indices ``(m, k)`` of the ``k`` nearest fitting samples, features standardised on ``fit``."""
    scaler = StandardScaler().fit(fit)
    search = NearestNeighbors(n_neighbors=k).fit(scaler.transform(fit))
    index: NDArray[np.intp] = search.kneighbors(scaler.transform(query), return_distance=False)
    return index


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
        inner_splits_: The inner ``(train, held-out)`` index pairs of the selection.
        coef_: ``(d, q)`` coefficients of the refit on the standardised features (scikit-learn's
            ``StandardScaler`` + ``Ridge(alpha_)``, from one SVD).
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
        x = as_features(z)
        y_a = np.asarray(y, dtype=np.float64)
        y2 = y_a.reshape(len(y_a), -1)
        if len(y2) != len(x) or not np.all(np.isfinite(y2)):
            raise ValueError(f"y must be finite with one row per sample; got shape {y_a.shape}")
        alphas = np.asarray(self.alphas, dtype=np.float64).reshape(-1)
        if self.cv < 2 or len(alphas) == 0 or np.any(alphas <= 0):
            raise ValueError("need cv >= 2 and positive candidate alphas")
        pred = np.empty((len(alphas), *y2.shape))
        self.inner_splits_ = _inner_folds(x, y2, self.cv, self.seed, False, groups)
        for train, held in self.inner_splits_:
            pred[:, held] = _ridge_path(x[train], y2[train], x[held], alphas)
        sse = ((pred - y2[None]) ** 2).sum(axis=(1, 2))
        sst = ((y2 - y2.mean(axis=0)) ** 2).sum()
        scores = 1 - sse / sst if sst > 0 else -sse
        self.cv_scores_ = {float(a): float(v) for a, v in zip(alphas, scores, strict=True)}
        best = scores.max()
        self.alpha_ = float(alphas[scores == best].max())
        chosen = np.array([self.alpha_])
        self.mean_, self.scale_, coef, self.intercept_ = _ridge_solution(x, y2, chosen)
        self.coef_, self.one_output_ = coef[0], y2.shape[1] == 1  # (n, 1) too, as Ridge
        return self

    def predict(self, z: ArrayLike) -> NDArray[Any]:
        """Predicted targets ``(m,)`` (one output) or ``(m, q)`` for ``Z (m, d)``."""
        check_is_fitted(self)
        pred = (as_features(z) - self.mean_) / self.scale_ @ self.coef_ + self.intercept_
        return pred[:, 0] if self.one_output_ else pred

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """R² on ``(Z, y)`` (variance-weighted over outputs)."""
        return r2(y, self.predict(z))


def _ridge_solution(
    x: NDArray[np.float64], y: NDArray[np.float64], alphas: NDArray[np.float64]
) -> tuple[NDArray[np.float64], ...]:
    """Ridge with an intercept on standardised features for every penalty, from one SVD.

    Args:
        x: ``(n, d)`` training features (standardised here with their own statistics).
        y: ``(n, q)`` training targets.
        alphas: ``(a,)`` penalties.

    Returns:
        The features' ``(d,)`` means and scales, the ``(a, d, q)`` coefficients on the
        standardised features and the ``(q,)`` intercept: ``StandardScaler`` +
        ``Ridge(alpha)``'s fit.
    """
    mean, scale = standardisation(x)
    xs = (x - mean) / scale
    y_mean = y.mean(axis=0)
    u, s, vt = np.linalg.svd(xs, full_matrices=False)
    uty = u.T @ (y - y_mean)  # (r, q)
    shrink = s[None, :] / (s[None, :] ** 2 + alphas[:, None])  # (a, r)
    return mean, scale, np.einsum("dr,ar,rq->adq", vt.T, shrink, uty), y_mean


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
    mean, scale, coef, y_mean = _ridge_solution(x, y, alphas)
    return np.einsum("md,adq->amq", (x_new - mean) / scale, coef) + y_mean


class MLPProbe(BaseEstimator):
    """Nonlinear probe: one hidden ReLU layer, early-stopped on an inner validation split.

    Features (and regression targets) are standardised on the training data; a scikit-learn
    ``MLPRegressor`` / ``MLPClassifier`` (Adam) stops when the score on a held-out
    ``validation_fraction`` of the *training* data has not improved for ``patience`` epochs,
    and keeps the weights of its best epoch. Without groups the validation part is a random
    one (stratified for classes: scikit-learn's own early stopping); with ``groups`` it holds
    out whole groups, so that early stopping rewards what transfers to unseen groups: for
    regression a random ``validation_fraction`` of the groups
    (:func:`aligninfo.groups.holdout_groups`); for classes, :func:`class_holdout`, which
    keeps every class with two groups or more on both sides, and every class on the training
    side (a class whose only group were held out would never be learnt). A class with a
    single group is not validated (``unvalidated_classes_``); when no class has two groups,
    no grouped split can validate any class, and the probe falls back to a stratified random
    split of the samples, with a warning (``validation_`` says which split was used).

    Args:
        task: ``"classification"`` or ``"regression"``.
        hidden: Width of the hidden layer.
        alpha: L2 penalty.
        validation_fraction: Share of the training data (of the groups, with groups) held out
            for early stopping.
        patience: Epochs without improvement before stopping.
        max_iter: Maximum epochs.
        seed: Seed of the initialisation, the inner split and the batches.

    Attributes:
        n_iter_: Epochs run before early stopping.
        inner_splits_: With groups, the one ``(train, validation)`` index pair of early
            stopping (None without groups or in the fallback: scikit-learn draws it).
        validation_: ``"groups"`` (whole groups held out) or ``"samples"`` (a random split:
            no groups given, or the fallback).
        unvalidated_classes_: Classes absent from a grouped validation part (each has a
            single group); empty otherwise.
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

    def _network(self, early_stopping: bool) -> MLPClassifier | MLPRegressor:
        kwargs: dict[str, Any] = dict(
            hidden_layer_sizes=(self.hidden,),
            alpha=self.alpha,
            early_stopping=early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.patience,
            max_iter=self.max_iter,
            random_state=self.seed,
        )
        return MLPClassifier(**kwargs) if self.task == "classification" else MLPRegressor(**kwargs)

    def fit(self, z: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None) -> MLPProbe:
        """Fit on ``Z (n, d)`` and ``y (n,)`` or ``(n, q)``; returns self.

        Args:
            z: ``(n, d)`` features.
            y: ``(n,)`` labels, or ``(n,)`` / ``(n, q)`` regression targets.
            groups: ``(n,)`` group of each sample: the early-stopping split holds out whole
                groups (None: a random split).
        """
        _check_task(self.task)
        x = as_features(z)
        self.scaler_ = StandardScaler().fit(x)
        y_a = np.asarray(y)
        if len(y_a) != len(x):
            raise ValueError(f"Z and y have different numbers of samples: {len(x)} vs {len(y_a)}")
        target = y_a
        if self.task == "regression":
            y2 = y_a.astype(np.float64).reshape(len(y_a), -1)
            self.y_mean_, self.y_scale_ = y2.mean(axis=0), y2.std(axis=0) + 1e-12
            self.y_shape_ = y_a.shape[1:]
            standardised = (y2 - self.y_mean_) / self.y_scale_
            target = standardised[:, 0] if y_a.ndim == 1 else standardised
        xs = self.scaler_.transform(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.inner_splits_: InnerSplits | None = None
            self.unvalidated_classes_ = np.unique(target)[:0]
            held = None if groups is None else self._held_out(target, groups)
            self.validation_ = "samples" if held is None else "groups"
            if held is None:
                self.model_ = self._network(early_stopping=True).fit(xs, target)
                self.n_iter_ = int(self.model_.n_iter_)
            else:
                self.n_iter_ = self._fit_grouped(xs, target, held)
        return self

    def _held_out(self, target: NDArray[Any], groups: ArrayLike) -> NDArray[np.bool_] | None:
        """The grouped early-stopping part (None: fall back to a random split, with a warning)."""
        g = np.asarray(groups)
        if g.shape != (len(target),):
            raise ValueError(f"groups must be (n,) like the samples, got shape {g.shape}")
        if self.task == "regression":
            return holdout_groups(g, self.validation_fraction, self.seed)
        held = class_holdout(g, target, self.validation_fraction, self.seed)
        if not held.any():
            warnings.warn(
                "MLPProbe: no class has two groups, so no grouped early-stopping split keeps "
                "every class in training; falling back to a random split of the samples",
                UserWarning,
                stacklevel=3,
            )
            return None
        self.unvalidated_classes_ = np.setdiff1d(np.unique(target), target[held])
        return held

    def _fit_grouped(
        self, x: NDArray[np.float64], target: NDArray[Any], held: NDArray[np.bool_]
    ) -> int:
        """Epochs on the kept groups, early-stopped on the held-out ones (best epoch kept).

        Returns:
            The number of epochs run (``partial_fit`` counts one per call in ``n_iter_``).
        """
        train, val = np.flatnonzero(~held), np.flatnonzero(held)
        self.inner_splits_ = [(train, val)]
        model = self._network(early_stopping=False)
        extra = {"classes": np.unique(target)} if self.task == "classification" else {}
        best, best_weights, stale, epochs = -np.inf, None, 0, 0
        for epochs in range(1, self.max_iter + 1):  # noqa: B007 (the count is returned)
            model.partial_fit(x[train], target[train], **extra)
            score = model.score(x[val], target[val])
            if score > best + model.tol:
                best, stale = score, 0
                best_weights = (
                    [c.copy() for c in model.coefs_],
                    [b.copy() for b in model.intercepts_],
                )
            else:
                stale += 1
            if stale >= self.patience:
                break
        assert best_weights is not None
        model.coefs_, model.intercepts_ = best_weights
        self.model_ = model
        return epochs

    def predict(self, z: ArrayLike) -> NDArray[Any]:
        """Predicted labels ``(m,)`` or targets ``(m,)`` / ``(m, q)``."""
        check_is_fitted(self)
        out = self.model_.predict(self.scaler_.transform(as_features(z)))
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


class GroupLogisticProbe(LogisticProbe):
    """The logistic probe of :class:`aligninfo.probes.LogisticProbe`, inner folds over groups.

    Standardised features, multinomial logistic regression, the inverse penalty ``C`` chosen
    by the cross-validated log-loss or another ``scoring`` (scikit-learn's
    ``LogisticRegressionCV``) on inner folds that keep every group on one side and balance the
    classes as far as whole groups allow (``StratifiedGroupKFold``), or on the stratified
    shuffled folds of :class:`~aligninfo.probes.LogisticProbe` without groups (then, with the
    same solver and scoring, the same probe).

    Args:
        cs: Number of candidate inverse penalties (log-spaced, 1e-4 to 1e4) or the list.
        cv: Inner folds.
        max_iter: Solver iterations.
        seed: Seed of the fold shuffling.
        c: A fixed inverse penalty instead of the cross-validated choice.
        solver: scikit-learn's solver (``"lbfgs"``; ``"newton-cg"`` converges in fewer, more
            costly steps, faster on weakly penalised fits of a few dozen features).
        scoring: scikit-learn's scorer of the inner folds (``"neg_log_loss"``; with whole
            groups held out, ``"accuracy"``: the log-loss of samples of unseen groups, or of
            classes absent from an inner training side, rewards flat, under-confident
            predictions and drives ``C`` to the smallest candidate).

    Attributes:
        inner_splits_: The inner ``(train, held-out)`` index pairs (None with a fixed ``c``).
    """

    def __init__(
        self,
        cs: int | Sequence[float] = 10,
        cv: int = 5,
        max_iter: int = 1000,
        seed: int = 0,
        c: float | None = None,
        solver: str = "lbfgs",
        scoring: str = "neg_log_loss",
    ) -> None:
        super().__init__(cs=cs, cv=cv, max_iter=max_iter, seed=seed, c=c)
        self.solver, self.scoring = solver, scoring

    def fit(
        self, z: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None
    ) -> GroupLogisticProbe:
        """Choose ``C`` on ``Z (n, d)`` and labels ``y (n,)`` by inner CV, then fit.

        Args:
            z: ``(n, d)`` features.
            y: ``(n,)`` class labels.
            groups: ``(n,)`` group of each sample (None: stratified shuffled folds).
        """
        x, y_a = as_features(z), np.asarray(y)
        if y_a.shape != (len(x),):
            raise ValueError(f"y must be (n,) labels like Z's rows, got shape {y_a.shape}")
        clf: LogisticRegression | LogisticRegressionCV
        self.inner_splits_: InnerSplits | None = None
        if self.c is not None:
            clf = LogisticRegression(C=self.c, max_iter=self.max_iter, solver=self.solver)
        else:
            self.inner_splits_ = _inner_folds(x, y_a, self.cv, self.seed, True, groups)
            clf = LogisticRegressionCV(
                Cs=self.cs,
                cv=self.inner_splits_,
                max_iter=self.max_iter,
                scoring=FAST_SCORERS.get(self.scoring, self.scoring),
                solver=self.solver,
            )
        self.model_ = make_pipeline(StandardScaler(), clf)
        with warnings.catch_warnings():  # scikit-learn's notices of changing defaults
            warnings.simplefilter("ignore", FutureWarning)
            self.model_.fit(x, y_a)
        return self


def make_probe(
    kind: str,
    task: str,
    seed: int = 0,
    logistic_c: float | None = None,
    grouped: bool = False,
    logistic_cs: int | Sequence[float] = 10,
    inner_folds: int = 5,
    logistic_solver: str = "lbfgs",
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
            inner splits that hold out whole groups: :class:`GroupRidgeProbe` (linear
            regression), :class:`GroupLogisticProbe` (linear classification),
            :class:`KNNCVProbe`, :class:`MLPProbe` (its early-stopping split).
        logistic_cs: Candidate inverse penalties of the logistic probe's inner CV: a number
            of log-spaced values (scikit-learn's grid, 1e-4 to 1e4) or the list itself.
        inner_folds: Inner folds of the logistic and kNN probes' selection.
        logistic_solver: scikit-learn solver of the logistic probe; another than ``"lbfgs"``
            returns a :class:`GroupLogisticProbe` (which also fits without groups).

    Returns:
        An unfitted probe with ``fit``, ``predict`` and ``score``.
    """
    _check_task(task)
    if kind == "linear":
        if task == "regression":
            return GroupRidgeProbe(seed=seed) if grouped else RidgeProbe()
        if grouped or logistic_solver != "lbfgs":
            return GroupLogisticProbe(
                logistic_cs, inner_folds, seed=seed, c=logistic_c, solver=logistic_solver
            )
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
    if isinstance(probe, RidgeProbe | GroupRidgeProbe):
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
