"""Grouped data (samples from sites, scenes, tiles): group-held-out splits and a group bootstrap.

Samples from one site are not independent, so a validation set must hold out whole sites, and
the uncertainty of a score on held-out sites comes from resampling sites, not samples::

    is_val = holdout_groups(sites[train_idx], fraction=0.2, seed=0)    # (n_train,) bool
    r2s = bootstrap_r2(y_test, [pred_a, pred_b], sites[test_idx])     # (n_boot, 2)
    np.percentile(r2s[:, 0] - r2s[:, 1], [2.5, 97.5])                   # interval of the gap

The bootstrap itself lives in :mod:`aligninfo.stats` (one implementation, re-exported here):
:func:`aligninfo.stats.hierarchical_bootstrap_r2` also resamples the training seeds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from aligninfo.stats import bootstrap_r2, weighted_r2

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
