"""A k-nearest-neighbour regression probe of several targets that share one neighbour search.

:class:`aligninfo.cvprobes.KNNCVProbe` probes one target; probing many targets (each block of
latents, each task) from the same features with it repeats the neighbour searches, which cost
far more than the averages. :func:`knn_scores` searches the neighbours once per inner fold and
once for the test samples, and chooses ``k`` for each target separately, by the same inner
cross-validation on the fitting data only: for a single target it returns exactly what
``KNNCVProbe("regression")`` chooses and scores (``tests/test_knntargets.py``).

::

    scores = knn_scores(z_fit, {"S": s_fit, "U1": u_fit}, z_test, {"S": s_test, "U1": u_test})
    scores["U1"]                                                     # (R², chosen k)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.model_selection import KFold
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from aligninfo.probes import r2

__all__ = ["knn_scores"]

KS = (1, 3, 5, 10, 20, 40, 80)
"""Candidate numbers of neighbours (those of :class:`aligninfo.cvprobes.KNNCVProbe`)."""


def _targets(targets: Mapping[str, ArrayLike], n: int) -> dict[str, NDArray[np.float64]]:
    """Each target as a float ``(n, q)`` array, checked against the number of samples."""
    out = {}
    for name, y in targets.items():
        a = np.asarray(y, dtype=np.float64)
        a = a[:, None] if a.ndim == 1 else a.reshape(len(a), -1)
        if len(a) != n:
            raise ValueError(f"target {name!r} has {len(a)} samples, the features {n}")
        out[name] = a
    return out


def _neighbours(fit: NDArray[np.float64], query: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """Indices ``(m, k)`` of the ``k`` nearest fitting samples, features standardised on ``fit``."""
    scaler = StandardScaler().fit(fit)
    search = NearestNeighbors(n_neighbors=k).fit(scaler.transform(fit))
    index: NDArray[np.intp] = search.kneighbors(scaler.transform(query), return_distance=False)
    return index


def knn_scores(
    z_fit: ArrayLike,
    targets_fit: Mapping[str, ArrayLike],
    z_test: ArrayLike,
    targets_test: Mapping[str, ArrayLike],
    ks: Sequence[int] = KS,
    cv: int = 5,
    seed: int = 0,
) -> dict[str, tuple[float, int]]:
    """Held-out R² of a kNN regression probe of each target, ``k`` chosen by inner CV.

    For each target the candidate ``k`` with the best inner cross-validated R² on the fitting
    data (pooled over ``cv`` shuffled folds; the largest ``k`` among ties) predicts the test
    targets as the mean of the ``k`` nearest fitting samples (features standardised on the
    fitting data). A target of several columns is scored by ``1 - sum SSE / sum SST``.

    Args:
        z_fit: ``(n, d)`` features to fit on.
        targets_fit: ``{name: (n,) or (n, q)}`` targets to fit on.
        z_test: ``(m, d)`` held-out features.
        targets_test: ``{name: (m,) or (m, q)}`` held-out targets, the same names.
        ks: Candidate numbers of neighbours (those above the inner training size are dropped).
        cv: Inner folds.
        seed: Seed of the fold shuffling.

    Returns:
        ``{name: (held-out R², chosen k)}``.
    """
    x, x_test = np.asarray(z_fit, dtype=np.float64), np.asarray(z_test, dtype=np.float64)
    if x.ndim != 2 or x_test.ndim != 2 or x.shape[1] != x_test.shape[1]:
        raise ValueError(f"features must be (n, d) and (m, d); got {x.shape}, {x_test.shape}")
    if set(targets_fit) != set(targets_test):
        raise ValueError("targets_fit and targets_test must name the same targets")
    if cv < 2 or not ks or min(ks) < 1:
        raise ValueError("need cv >= 2 and positive candidate ks")
    y_fit, y_test = _targets(targets_fit, len(x)), _targets(targets_test, len(x_test))
    folds = list(KFold(cv, shuffle=True, random_state=seed).split(x))
    candidates = sorted({k for k in ks if k <= min(len(tr) for tr, _ in folds)})
    if not candidates:
        raise ValueError(f"every candidate k exceeds the inner training size; got {ks}")
    inner = {name: {k: np.empty_like(y) for k in candidates} for name, y in y_fit.items()}
    for train, held in folds:
        index = _neighbours(x[train], x[held], candidates[-1])
        for name, y in y_fit.items():
            near = y[train][index]  # (held, k_max, q)
            for k in candidates:
                inner[name][k][held] = near[:, :k].mean(axis=1)
    chosen = {}
    for name, y in y_fit.items():
        cv_scores = {k: r2(y, inner[name][k]) for k in candidates}
        best = max(cv_scores.values())
        chosen[name] = max(k for k, s in cv_scores.items() if s == best)
    index = _neighbours(x, x_test, max(chosen.values()))
    return {
        name: (r2(y_test[name], y_fit[name][index[:, :k]].mean(axis=1)), k)
        for name, k in chosen.items()
    }
