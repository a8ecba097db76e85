"""Grouped data (samples from sites, scenes, tiles): group-held-out splits and a group bootstrap.

Samples from one site are not independent, so a validation set must hold out whole sites, and
the uncertainty of a score on held-out sites comes from resampling sites, not samples::

    is_val = holdout_groups(sites[train_idx], fraction=0.2, seed=0)    # (n_train,) bool
    r2s = bootstrap_r2(y_test, [pred_a, pred_b], sites[test_idx])     # (n_boot, 2)
    np.percentile(r2s[:, 0] - r2s[:, 1], [2.5, 97.5])                   # interval of the gap

The bootstrap itself lives in :mod:`aligninfo.stats` (one implementation, re-exported here):
:func:`aligninfo.stats.hierarchical_bootstrap_r2` also resamples the training seeds.

Labelled pixels of a scene often come without their coordinates but in the raster's scan
order (Houston 2013): :func:`scan_order_groups` recovers spatially coherent groups (the labelled
polygons, approximately) from that order alone, for a bootstrap over polygons instead of pixels::

    polygons = scan_order_groups(y_test, max_gap=349)               # (n_test,) group ids
    hierarchical_bootstrap_mean(hits, groups=polygons)              # hits (methods, seeds, n)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from aligninfo.stats import bootstrap_r2, weighted_r2

__all__ = ["bootstrap_r2", "holdout_groups", "scan_order_groups", "weighted_r2"]


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


def scan_order_groups(labels: ArrayLike, max_gap: int) -> NDArray[np.intp]:
    """Spatially coherent groups of labelled pixels listed in the raster's scan order.

    A labelled polygon crossed by consecutive scan lines appears in the list as runs of its
    class, one per scan line, separated by the labelled pixels of the other polygons that the
    same lines cross. Chaining the pixels of one class that are at most ``max_gap`` positions
    apart in the list joins the scan lines of each polygon into one group when ``max_gap`` is
    at least the number of labelled pixels on one scan line (e.g. the scan line's length);
    polygons of one class that lie closer than that merge into one group, which only makes
    the groups coarser (the safe side for a bootstrap).

    Args:
        labels: ``(n,)`` class of each labelled pixel, in scan order.
        max_gap: Largest distance in the list (positions) between consecutive pixels of one
            group; 1 groups only unbroken runs.

    Returns:
        ``(n,)`` group id of each pixel, ``0 .. n_groups - 1`` in order of first appearance.

    Raises:
        ValueError: For labels that are not 1-D or a ``max_gap`` below 1.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if not isinstance(max_gap, (int, np.integer)) or max_gap < 1:
        raise ValueError(f"max_gap must be a positive integer, got {max_gap!r}")
    classes = [np.flatnonzero(y == c) for c in np.unique(y)]  # positions of each class
    starts = np.zeros(len(y), dtype=bool)  # first pixel of each chain of one class
    for where in classes:
        starts[where[np.r_[True, np.diff(where) > max_gap]]] = True
    chain = np.where(starts, np.cumsum(starts) - 1, 0)  # ids in order of first appearance
    for where in classes:  # each pixel joins the latest chain of its class started before it
        chain[where] = np.maximum.accumulate(chain[where])
    return chain.astype(np.intp)
