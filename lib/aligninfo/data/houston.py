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
import scipy.io
from sklearn.model_selection import StratifiedKFold

from aligninfo.data.registry import DataDir, DataFileError, check_array, fetch

DATASET = "houston2013"
N_TRAIN = 2832
N_TEST = 12197
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
        hsi: (2832, 144) float64 in [0, 1], hyperspectral pixels of the official training set.
        lidar: (2832, 21) float64 in [0, 1], LiDAR-derived features of the same pixels.
        y: (2832,) int64, class 0-14 (181 to 198 pixels each), names in :attr:`class_names`.
        lidar_test: (12197, 21) float64 in [0, 1], LiDAR features of the official test pixels.
        y_test: (12197,) int64, their classes 0-14.
        class_names: Name of each class index.
    """

    hsi: np.ndarray
    lidar: np.ndarray
    y: np.ndarray
    lidar_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES

    def modality(self, modality: str) -> np.ndarray:
        """Return the training pixels of one modality.

        Args:
            modality: ``"hsi"`` or ``"lidar"``.

        Returns:
            (2832, 144) or (2832, 21) float64 array (read-only).

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
        DataFileError: If a file is missing, damaged, lacks its variable, has the wrong shape or
            dtype, holds NaN or values outside [0, 1], or a label outside 1-15.
    """
    return Houston(
        hsi=_frozen(_features("HSI_TrSet", (N_TRAIN, N_HSI), data_dir)),
        lidar=_frozen(_features("LiDAR_TrSet", (N_TRAIN, N_LIDAR), data_dir)),
        y=_frozen(_labels("TrLabel", N_TRAIN, data_dir)),
        lidar_test=_frozen(_features("LiDAR_TeSet", (N_TEST, N_LIDAR), data_dir)),
        y_test=_frozen(_labels("TeLabel", N_TEST, data_dir)),
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    """Mark ``array`` read-only and return it."""
    array.setflags(write=False)
    return array


def _read(variable: str, shape: tuple[int, ...], kind: str, data_dir: DataDir) -> np.ndarray:
    """Fetch ``<variable>.mat``, read its one variable and check shape, dtype and NaN."""
    path = fetch(DATASET, f"{variable}.mat", data_dir)
    try:
        content = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises several types on damaged files
        raise DataFileError(f"{path}: cannot be read as a MATLAB file ({err})") from err
    if variable not in content:
        raise DataFileError(f"{path}: expected a variable {variable!r}, found {sorted(content)}")
    array = np.asarray(content[variable])
    check_array(array, f"{path}:{variable}", shape, kind)
    return array


def _features(variable: str, shape: tuple[int, ...], data_dir: DataDir) -> np.ndarray:
    """Read a feature matrix and stop unless its values lie in [0, 1]."""
    array = _read(variable, shape, "f", data_dir).astype(np.float64)
    if array.min() < 0.0 or array.max() > 1.0:
        raise DataFileError(f"{DATASET}/{variable}.mat: expected values in [0, 1]")
    return array


def _labels(variable: str, n: int, data_dir: DataDir) -> np.ndarray:
    """Read an (n, 1) label column with classes 1-15 and return 0-based int64 classes."""
    labels = _read(variable, (n, 1), "iu", data_dir).ravel().astype(np.int64)
    if labels.min() < 1 or labels.max() > len(CLASS_NAMES):
        raise DataFileError(f"{DATASET}/{variable}.mat: expected classes 1-{len(CLASS_NAMES)}")
    return labels - 1
