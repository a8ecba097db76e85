"""Houston 2013: hyperspectral + LiDAR pixels of the 2013 IEEE GRSS Data Fusion Contest.

The pixels of the official training set carry both modalities (CASI hyperspectral, 144 bands,
380-1050 nm; 21 LiDAR-derived features), values normalised to [0, 1] band-wise by the source
(Hong et al. 2021, "More Diverse Means Better"; data: Debes et al. 2014). The official test set is
LiDAR-only, so both-modality experiments use seeded stratified folds of the training pixels.

Example::

    from aligninfo.data import houston
    data = houston.load()
    for train, test in data.folds(n_splits=5, seed=0):
        ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from aligninfo.data.reading import frozen, read_mat
from aligninfo.data.registry import DataDir, DataFileError

DATASET = "houston2013"
N_TRAIN = 2832
"""Training pixels in the registered files (the loader counts the labels of the files)."""
N_TEST = 12197
"""Official test pixels in the registered files."""
N_HSI = 144
N_LIDAR = 21

CLASS_NAMES: tuple[str, ...] = (
    "Healthy grass", "Stressed grass", "Synthetic grass", "Trees", "Soil", "Water",
    "Residential", "Commercial", "Road", "Highway", "Railway", "Parking Lot 1",
    "Parking Lot 2", "Tennis Court", "Running Track",
)  # fmt: skip
"""The 15 classes of the 2013 GRSS Data Fusion Contest; class ``k`` is ``CLASS_NAMES[k]``."""


@dataclass(frozen=True, eq=False)
class Houston:
    """The Houston 2013 pixels; arrays are read-only and indexed by pixel on axis 0.

    Attributes:
        hsi: (n, 144) float64 in [0, 1], hyperspectral pixels of the official training set
            (n = 2832).
        lidar: (n, 21) float64 in [0, 1], LiDAR-derived features of the same pixels.
        y: (n,) int64, the target: class 0-14 (181 to 198 pixels each), names in
            :attr:`class_names`.
        lidar_test: (m, 21) float64 in [0, 1], LiDAR features of the official test pixels
            (m = 12197).
        y_test: (m,) int64, their classes 0-14.
        class_names: Name of each class index.
    """

    hsi: np.ndarray
    lidar: np.ndarray
    y: np.ndarray
    lidar_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def n(self) -> int:
        """Number of training pixels (those with both modalities)."""
        return int(self.y.shape[0])

    def modality(self, modality: str) -> np.ndarray:
        """Return the training pixels of one modality.

        Args:
            modality: ``"hsi"`` or ``"lidar"``.

        Returns:
            (n, 144) or (n, 21) float64 array (read-only).

        Raises:
            KeyError: For an unknown modality.
        """
        if modality not in ("hsi", "lidar"):
            raise KeyError(f"unknown Houston modality {modality!r}; expected 'hsi' or 'lidar'")
        return self.hsi if modality == "hsi" else self.lidar

    def folds(self, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split the training pixels into seeded, stratified cross-validation folds.

        Args:
            n_splits: Number of folds.
            seed: Seed of the shuffle; the same seed gives the same folds.

        Returns:
            ``n_splits`` pairs ``(train_idx, test_idx)`` of sorted int64 indices; the test parts
            are disjoint and cover every pixel once, each with the class proportions of ``y``.
        """
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        dummy = np.zeros((self.y.shape[0], 1))
        return [(train, test) for train, test in splitter.split(dummy, self.y)]


def load(data_dir: DataDir = None) -> Houston:
    """Fetch (if needed), check and load the Houston 2013 pixels.

    Args:
        data_dir: Data directory holding ``houston2013/``; defaults to ``$ALIGNINFO_DATA`` or
            pooch's cache (see :func:`aligninfo.data.registry.fetch`).

    Returns:
        The data set, with read-only arrays and 0-based classes.

    Raises:
        DataFileError: If a file is missing, damaged, lacks its variable, has the wrong shape
            (the features must have as many rows as their labels) or dtype, holds NaN or values
            outside [0, 1], or a label outside 1-15.
    """
    y = _labels("TrLabel", data_dir)
    y_test = _labels("TeLabel", data_dir)
    return Houston(
        hsi=frozen(_features("HSI_TrSet", (len(y), N_HSI), data_dir)),
        lidar=frozen(_features("LiDAR_TrSet", (len(y), N_LIDAR), data_dir)),
        y=frozen(y),
        lidar_test=frozen(_features("LiDAR_TeSet", (len(y_test), N_LIDAR), data_dir)),
        y_test=frozen(y_test),
    )


def _features(variable: str, shape: tuple[int, int], data_dir: DataDir) -> np.ndarray:
    """Read a feature matrix and stop unless its values lie in [0, 1]."""
    array = read_mat(DATASET, variable, shape, "f", data_dir).astype(np.float64)
    if array.min() < 0.0 or array.max() > 1.0:
        raise DataFileError(f"{DATASET}/{variable}.mat: expected values in [0, 1]")
    return array


def _labels(variable: str, data_dir: DataDir) -> np.ndarray:
    """Read an (n, 1) label column with classes 1-15 and return 0-based int64 classes."""
    labels = read_mat(DATASET, variable, (None, 1), "iu", data_dir).ravel().astype(np.int64)
    if labels.min() < 1 or labels.max() > len(CLASS_NAMES):
        raise DataFileError(f"{DATASET}/{variable}.mat: expected classes 1-{len(CLASS_NAMES)}")
    return labels - 1
