"""Grouped data (samples from sites, scenes, tiles): group-held-out splits and a group bootstrap.

Samples from one site are not independent, so a validation set must hold out whole sites, and
the uncertainty of a score on held-out sites comes from resampling sites, not samples::

    is_val = holdout_groups(sites[train_idx], fraction=0.2, seed=0)    # (n_train,) bool
    r2s = bootstrap_r2(y_test, [pred_a, pred_b], sites[test_idx])     # (n_boot, 2)
    np.percentile(r2s[:, 0] - r2s[:, 1], [2.5, 97.5])                   # interval of the gap
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["bootstrap_r2", "holdout_groups", "weighted_r2"]


def holdout_groups(groups: ArrayLike, fraction: float, seed: int = 0) -> NDArray[np.bool_]:
    """Mark the samples of a random subset of whole groups (e.g. a site-held-out validation set).

    Args:
        groups: ``(n,)`` group label of each sample (any hashable dtype: site names, ids).
        fraction: Share of the *groups* to hold out, in (0, 1); at least one group is held
            out and at least one kept.
        seed: Seed of the draw of the groups.

    Returns:
        ``(n,)`` boolean mask, True for the samples of the held-out groups.

    Raises:
        ValueError: For a fraction outside (0, 1) or fewer than two groups.
    """
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(f"groups must be 1-D, got shape {labels.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    unique = np.unique(labels)
    if len(unique) < 2:
        raise ValueError(f"need at least two groups to hold one out, got {len(unique)}")
    n_out = min(max(int(round(fraction * len(unique))), 1), len(unique) - 1)
    chosen = np.random.default_rng(seed).choice(unique, size=n_out, replace=False)
    return np.isin(labels, chosen)


def weighted_r2(y: ArrayLike, pred: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """R² of predictions with sample weights (multiplicities of a bootstrap draw).

    ``R² = 1 - sum w (y - pred)^2 / sum w (y - mean_w y)^2`` with the weighted mean, so that
    integer weights give the ordinary R² of the data set in which sample ``i`` appears ``w_i``
    times.

    Args:
        y: ``(n,)`` targets.
        pred: ``(runs, n)`` or ``(n,)`` predictions.
        weights: ``(draws, n)`` or ``(n,)`` non-negative weights, each row with a positive sum.

    Returns:
        ``(draws, runs)`` R² values (leading axes of size one kept).
    """
    y_a = np.asarray(y, dtype=np.float64)
    p = np.atleast_2d(np.asarray(pred, dtype=np.float64))
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if y_a.ndim != 1 or p.shape[1] != len(y_a) or w.shape[1] != len(y_a):
        raise ValueError(
            f"expected y (n,), pred (runs, n), weights (draws, n); got {y_a.shape}, "
            f"{p.shape}, {w.shape}"
        )
    if np.any(w < 0) or np.any(w.sum(axis=1) <= 0):
        raise ValueError("weights must be non-negative with a positive sum per row")
    total = w.sum(axis=1, keepdims=True)
    mean = (w @ y_a)[:, None] / total  # (draws, 1)
    sst = (w * (y_a[None, :] - mean) ** 2).sum(axis=1)  # (draws,)
    sse = w @ ((y_a[None, :] - p) ** 2).T  # (draws, runs)
    if np.any(sst <= 0):
        raise ValueError("the target is constant on a weighted draw; R² is undefined")
    out: NDArray[np.float64] = 1.0 - sse / sst[:, None]
    return out


def bootstrap_r2(
    y: ArrayLike, preds: ArrayLike, groups: ArrayLike, n_boot: int = 1000, seed: int = 0
) -> NDArray[np.float64]:
    """R² of several predictors on bootstrap resamples of whole groups (a cluster bootstrap).

    Each draw picks as many groups as there are, with replacement, and keeps every sample of
    each picked group (as often as it was picked). All predictors are scored on the same draws,
    so differences between their columns are paired.

    Args:
        y: ``(n,)`` held-out targets.
        preds: ``(runs, n)`` or ``(n,)`` predictions of ``y``.
        groups: ``(n,)`` group label of each sample.
        n_boot: Number of draws.
        seed: Seed of the draws.

    Returns:
        ``(n_boot, runs)`` R² values.
    """
    labels = np.asarray(groups)
    if labels.ndim != 1 or len(labels) != len(np.asarray(y)):
        raise ValueError(f"groups must be (n,) like y, got shape {labels.shape}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot}")
    _, index = np.unique(labels, return_inverse=True)
    n_groups = int(index.max()) + 1
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
                       for _ in range(n_boot)])  # (n_boot, n_groups) picks per group
    return weighted_r2(y, preds, counts[:, index])
