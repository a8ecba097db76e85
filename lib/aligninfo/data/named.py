"""The real pairs that the commands (``diagnose``, ``pretrain``) know by name.

Each name gives the two modalities as (rows, columns) arrays, the target, the sites its
rows are grouped by, and the rows a pretraining may see (the official training rows).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

__all__ = ["NAMES", "NamedData", "load"]

NAMES = ("lfmc", "lfmc-context", "houston")
"""LFMC optical vs SAR, optical vs SAR + context, Houston hyperspectral vs LiDAR."""


class NamedData(NamedTuple):
    """A named pair.

    Attributes:
        x1: ``(n, d1)`` first modality.
        x2: ``(n, d2)`` second modality, rows paired with ``x1``.
        y: ``(n,)`` target (live fuel moisture, or Houston's class).
        sites: ``(n,)`` site of each row (LFMC), or None (Houston's pixels have none).
        train_rows: Indices of the official training rows.
        names: Names of the two modalities.
    """

    x1: np.ndarray
    x2: np.ndarray
    y: np.ndarray
    sites: np.ndarray | None
    train_rows: np.ndarray
    names: tuple[str, str]


def load(name: str, data_dir: str | os.PathLike[str] | None = None) -> NamedData:
    """Load a pair of :data:`NAMES`.

    ``lfmc``: Sentinel-2 optical (36 columns) vs Sentinel-1 SAR (6), grouped by site.
    ``lfmc-context``: optical vs SAR + ERA5/SRTM context (static columns repeated over the
    time steps kept once). ``houston``: hyperspectral (144) vs LiDAR (21) pixels of the
    official training set, all of them training rows.

    Raises:
        ValueError: For a name not in :data:`NAMES`.
        aligninfo.data.DataFileError: For data that cannot be fetched or read.
    """
    from aligninfo.data import houston, lfmc

    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}: expected one of {', '.join(NAMES)}")
    if name == "houston":
        h = houston.load(data_dir)
        rows = np.arange(len(h.y))
        return NamedData(
            np.array(h.hsi), np.array(h.lidar), np.array(h.y), None, rows, ("HSI", "LiDAR")
        )
    data = lfmc.load(data_dir)
    partner = data.modality("sar", flatten=True)
    names = ("optical", "SAR")
    if name == "lfmc-context":
        partner = np.hstack([partner, data.modality("context", flatten=True)])
        _, first = np.unique(partner, axis=1, return_index=True)
        partner = partner[:, np.sort(first)]
        names = ("optical", "SAR + context")
    optical = data.modality("optical", flatten=True)
    return NamedData(
        optical, partner, np.array(data.y), np.array(data.sites), np.array(data.train_idx), names
    )
