"""Should I align my two sensors? A diagnosis of a paired data set, before any training.

:func:`diagnose` reads two modalities X1, X2 (rows paired) and optionally a target Y, and
reports what the theory chapters predict an alignment objective would do to them:

- **Canonical correlations** of the standardised modalities with bootstrap intervals, and the
  same canonical pairs' correlations out of fold (fitted on the other folds): a correlation
  that holds out of fold is a property of the sensors, one that does not is overfitting.
- **The alignment ceiling** (chapter 3): the aligned representation of X_m is spanned by its
  top-k canonical variates (unless given, k = the leading pairs whose out-of-fold correlation
  exceeds :data:`RHO_MIN` with a bootstrap interval above 0: a pair that holds out of fold
  only by chance would hide a loss). Out-of-fold R² of Y from X_m and from those variates; their
  difference is what alignment would cost a linear read-out of Y, and its share of R²(Y | X_m),
  the *lost share*, is the data's counterpart of the model's unique share (proportional to it,
  theorem ``thm-linear-cost`` of chapter 5).
- **An estimated PID** (:mod:`aligninfo.pid`) on copula-normalised features (each column
  replaced by the normal scores of its ranks) with a bootstrap interval; each log-determinant
  is corrected by its exact Gaussian bias (:func:`aligninfo.pid.logdet_bias`).
- **The regime map** of chapter 5 for the data's own sensors: the cost
  Δ_σ = R²_σ(X1) - R²_σ(aligned limit) of σ-informativeness (an embedding with room for all of
  X1; the aligned limit spends its whole budget on the top-k canonical variates) over the
  unique share u (the target's cross-covariance with X1 moved between the aligned directions
  and the rest at fixed R²(Y | X1), everything else as estimated) and the read-out noise σ,
  with the data placed at its estimated share.
- **A recommendation**: *align*, *align + specificity* (an alignment objective plus a term that
  keeps modality-specific variance, chapter 6) or *do not align*, with the numbers it rests on.

Every interval resamples rows, or whole groups (e.g. sites) when ``groups`` is given, and
cross-validation folds never split a group; identical rows count as one group. Out-of-fold
quantities are averaged over :data:`N_REPEATS` fold assignments. The intervals are conditional
on k (the lost share moves with it: ``r2_aligned_curve`` has every k). Columns are
standardised once on all rows, a rescaling to which least squares and CCA are invariant (up to
their tiny ridges), so nothing of the held-out rows reaches a fold's fits; k is chosen from X1
and X2 alone, never from Y. R² intervals resample the held-out rows of fixed out-of-fold
predictions (as chapter 8's site bootstrap does); in-sample statistics (canonical
correlations, PIDs) are recomputed on each resample and reported as the estimate plus the
bootstrap spread (resampling duplicates rows, which shifts log-determinants).

Example::

    d = diagnose(x1, x2, y, groups=sites, n_boot=200)
    print(d.recommendation, d.reasons)
    d.save("out/")  # diagnosis.json and diagnosis.png
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm, rankdata
from tqdm import tqdm

from aligninfo import __version__
from aligninfo.jsonio import write_json
from aligninfo.linalg import Array, cca_from_cov, r2_from_cov
from aligninfo.pid import PID, sample_pid
from aligninfo.stats import Interval, percentile_interval

__all__ = [
    "LOADERS",
    "RECOMMENDATIONS",
    "Diagnosis",
    "DiagnoseInputError",
    "RegimeMap",
    "copula_normal",
    "diagnose",
    "load_named",
    "plot",
    "read_array",
    "read_labels",
]

LOADERS = ("lfmc", "lfmc-context", "houston")
"""Data sets known by name: LFMC optical vs SAR, optical vs SAR + context, Houston HSI vs LiDAR."""
SAMPLES_PER_DIM = 5
"""Refuse fewer than this many rows per column of (X1, X2, Y)."""
MAX_COLUMNS = 1000
"""Refuse more columns of (X1, X2) than this (a choice: each of the n_boot resamples computes
covariances and a CCA of that size; reduce the columns first, e.g. PCA per modality)."""
N_FOLDS = 5
"""Cross-validation folds of the out-of-fold R² and canonical correlations."""
N_REPEATS = 5
"""Fold assignments averaged (repeated cross-validation), so the answer does not hang on one."""
RHO_MIN = 0.1
"""A canonical pair counts as aligned when its out-of-fold correlation exceeds this (a choice:
the smallest correlation worth aligning) *and* its bootstrap interval excludes 0; the aligned
pairs are the leading run of pairs that do (a pair that fails ends the run)."""
ALIGN_MAX_LOST = 0.1
"""Recommend *align* when the lost share's upper bound is below this (a choice: a tenth of
the linear R² is taken as negligible; nothing in the theory fixes it)."""
NO_ALIGN_MIN_LOST = 0.5
"""Recommend *do not align* when the lost share's lower bound is above this (a choice: most of
what X1 predicts would be lost)."""
MAX_CLASSES = 30
"""An integer target with at most this many distinct values is read as classes (auto)."""
CCA_RIDGE = 1e-6
"""Ridge added to standardised covariances before CCA (chapter 8's choice)."""
RECOMMENDATIONS = ("align", "align + specificity", "do not align")
BIAS_CORRECTION = (
    "Mutual informations are Gaussian (log-determinant) entropies of the sample covariance of "
    "copula-normalised features (normal scores of ranks; a one-hot class target is used as "
    "is), each log-determinant corrected by its exact bias under Gaussianity, "
    "E log|C_hat| - log|C| = p log(2/nu) + sum_{i=1..p} digamma((nu - i + 1)/2), nu = n - 1 "
    "(Wishart). The correction is exact for Gaussian data and approximate for copula-normalised "
    "or one-hot data; the MMI split min(I1, I2) biases the redundancy low when I1 and I2 are "
    "close. Intervals: the estimate plus the spread of the statistic over resamples of the "
    "rows (or groups)."
)


class DiagnoseInputError(ValueError):
    """Input that cannot be diagnosed; the message says which and why, in one line."""


# ---------------------------------------------------------------------------- reading
def read_array(path: str | os.PathLike[str], name: str, strings: bool = False) -> np.ndarray:
    """Read a .npy or .csv file (a header row of names is skipped).

    Args:
        path: The file.
        name: What it is (X1, X2, Y, groups), for messages.
        strings: Read values as text (group labels).

    Returns:
        The array (1-D or 2-D).

    Raises:
        DiagnoseInputError: If the file is missing, unreadable or neither .npy nor .csv.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise DiagnoseInputError(f"{name}: {p} is neither a .npy nor a .csv file")
    if not p.is_file():
        raise DiagnoseInputError(f"{name}: no file {p}")
    try:
        if suffix == ".npy":
            return np.asarray(np.load(p, allow_pickle=False))
        table = _read_csv(p, strings)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DiagnoseInputError(f"{name}: cannot read {p}: {first}") from err
    if _is_row_index(table):
        raise DiagnoseInputError(
            f"{name}: the first column of {p} counts the rows ({table[0, 0]:g}, "
            f"{table[1, 0]:g}, {table[2, 0]:g}, ...): a row index, not data (pandas writes one "
            "unless to_csv(index=False)); drop it"
        )
    return table


def _is_row_index(table: np.ndarray) -> bool:
    """Whether a numeric table's first column is 0, 1, 2, ... or 1, 2, 3, ... (n >= 3 rows)."""
    if table.dtype.kind != "f" or table.ndim != 2 or table.shape[1] < 2 or len(table) < 3:
        return False
    steps = np.arange(len(table), dtype=np.float64)
    return bool(np.array_equal(table[:, 0], steps) or np.array_equal(table[:, 0], steps + 1))


def read_labels(path: str | os.PathLike[str], name: str, n: int) -> np.ndarray:
    """Read one value per row (a target or groups): numbers, else text labels.

    A .csv of text has no way to mark a header, so a first line is taken as one when the file
    has exactly n + 1 lines.

    Args:
        path: The file (.npy or .csv).
        name: What it is (Y, groups), for messages.
        n: Rows of X1.

    Returns:
        The values, shape (n,) when the file fits.
    """
    try:
        return read_array(path, name)
    except DiagnoseInputError as err:
        if Path(path).suffix.lower() != ".csv" or not isinstance(err.__cause__, ValueError):
            raise  # missing, or read but refused (a row index): not text labels
    labels = read_array(path, name, strings=True)
    return labels[1:] if labels.ndim == 1 and len(labels) == n + 1 else labels


def _read_csv(path: Path, strings: bool) -> np.ndarray:
    """A comma-separated file of numbers (or text when ``strings``), with an optional header.

    A header is a first line that is not numbers, or the column numbers 0, 1, ..., p - 1 that
    pandas writes for an unnamed array (with more than one column).
    """
    kind = str if strings else np.float64
    try:
        table = np.loadtxt(path, delimiter=",", dtype=kind, ndmin=1)
    except ValueError:
        return np.loadtxt(path, delimiter=",", dtype=kind, ndmin=1, skiprows=1)
    if not strings and table.ndim == 2 and table.shape[1] > 1 and len(table) > 1:
        if np.array_equal(table[0], np.arange(table.shape[1])):
            return table[1:]
    return table


def load_named(
    name: str, data_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, tuple[str, str]]:
    """The two modalities, target and groups of a data set known by name.

    ``lfmc``: Sentinel-2 optical (36 columns) vs Sentinel-1 SAR (6), live fuel moisture,
    grouped by site. ``lfmc-context``: optical vs SAR + ERA5/SRTM context (static columns
    repeated over the time steps kept once). ``houston``: hyperspectral (144) vs LiDAR (21)
    pixels of the official training set, 15 classes, no groups: the pixels come without
    coordinates, and the polygons recovered from their scan order
    (:func:`aligninfo.groups.scan_order_groups`) give most classes 1 to 4 polygons, too few to
    hold whole polygons out (out-of-fold R² below 0), so rows are resampled and the reasons say
    the intervals are optimistic.

    Returns:
        (x1, x2, y, groups or None, (name of X1, name of X2)).

    Raises:
        DiagnoseInputError: For an unknown name or data that cannot be loaded.
    """
    from aligninfo.data import houston, lfmc
    from aligninfo.data.registry import DataFileError

    if name not in LOADERS:
        raise DiagnoseInputError(
            f"unknown data set {name!r}: expected one of {', '.join(LOADERS)}, or files X1 X2 [Y]"
        )
    try:
        if name == "houston":
            h = houston.load(data_dir)
            return np.array(h.hsi), np.array(h.lidar), np.array(h.y), None, ("HSI", "LiDAR")
        data = lfmc.load(data_dir)
    except (DataFileError, OSError, ValueError) as err:
        raise DiagnoseInputError(f"{name}: cannot load the data: {_first_line(err)}") from err
    optical = data.modality("optical", flatten=True)
    partner = data.modality("sar", flatten=True)
    names = ("optical", "SAR")
    if name == "lfmc-context":
        partner = np.hstack([partner, data.modality("context", flatten=True)])
        _, first = np.unique(partner, axis=1, return_index=True)
        partner = partner[:, np.sort(first)]
        names = ("optical", "SAR + context")
    return optical, partner, np.array(data.y), np.array(data.sites), names


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# ------------------------------------------------------------------------- checking
def _matrix(x: ArrayLike, name: str) -> Array:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise DiagnoseInputError(f"{name} must be numeric, got values of type {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise DiagnoseInputError(f"{name} must be (rows, columns), got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DiagnoseInputError(
            f"{name} has NaN or infinite values in {len(rows)} row(s) (first: row {rows[0]}); "
            "drop or impute them first"
        )
    const = np.flatnonzero(np.ptp(a, axis=0) == 0)
    if const.size:
        raise DiagnoseInputError(
            f"{name} has {const.size} constant column(s) (first: column {const[0]}); drop them"
        )
    return a


def _target(y: ArrayLike, kind: str, max_columns: int) -> tuple[Array, str, int]:
    """The target as columns: its values (continuous), or one-hot without the last class.

    Args:
        y: The target, shape (n,) or (n, 1).
        kind: "auto", "continuous" or "categorical".
        max_columns: Most one-hot columns the rows allow: more than MAX_CLASSES classes
            beyond it are refused before the one-hot code is built (e.g. numbers as text).
    """
    raw = np.asarray(y)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise DiagnoseInputError(f"Y must be one column (a scalar target), got shape {raw.shape}")
    if kind not in ("auto", "continuous", "categorical"):
        raise DiagnoseInputError(f"target kind must be auto, continuous or categorical: {kind!r}")
    numeric = raw.dtype.kind in "biuf"
    if not numeric and kind == "continuous" and _reads_as_numbers(raw):
        raw, numeric = raw.astype(np.float64), True  # numbers stored as text, said continuous
    if numeric and not np.all(np.isfinite(raw.astype(np.float64))):
        raise DiagnoseInputError("Y has NaN or infinite values; drop those rows first")
    classes, codes = np.unique(raw, return_inverse=True)
    if classes.size < 2:
        raise DiagnoseInputError("Y is constant: there is nothing to predict")
    if kind == "auto":
        values = raw.astype(np.float64) if numeric else None
        few_integers = values is not None and bool(np.all(values == np.round(values)))
        few_integers = few_integers and classes.size <= MAX_CLASSES
        kind = "categorical" if values is None or few_integers else "continuous"
    if kind == "continuous":
        if not numeric:
            raise DiagnoseInputError("Y is not numeric: use a categorical target")
        return _matrix(raw, "Y"), "continuous", 0
    if classes.size > MAX_CLASSES and classes.size - 1 > max_columns:
        hint = (
            "; its values are numbers stored as text: store them as numbers or say the "
            "target is continuous"
            if not numeric and _reads_as_numbers(classes)
            else ""
        )
        raise DiagnoseInputError(
            f"Y read as classes has {classes.size} distinct values in {len(raw)} rows, too many "
            f"for the rows ({SAMPLES_PER_DIM} rows per column of (X1, X2, one-hot Y)){hint}"
        )
    onehot = (codes[:, None] == np.arange(classes.size - 1)[None, :]).astype(np.float64)
    return onehot, "categorical", int(classes.size)


def _reads_as_numbers(values: np.ndarray) -> bool:
    """Whether every text value parses as a number."""
    try:
        np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _check_rank(blocks: Sequence[tuple[Array, str]]) -> None:
    """Refuse linearly dependent columns (a singular correlation matrix)."""
    for a, name in blocks:
        lam = np.linalg.eigvalsh(np.corrcoef(a, rowvar=False).reshape(a.shape[1], a.shape[1]))
        if lam[0] <= 1e-10 * lam[-1]:
            raise DiagnoseInputError(
                f"{name} has linearly dependent columns (e.g. a repeated column); drop them"
            )


def _singular(a: Array) -> bool:
    """Whether the columns of a are linearly dependent (a singular correlation matrix)."""
    lam = np.linalg.eigvalsh(np.corrcoef(a, rowvar=False).reshape(a.shape[1], a.shape[1]))
    return bool(lam[0] <= 1e-10 * lam[-1])


def _check_joint(std: Array, cop: Array, b: _Blocks) -> None:
    """Refuse a noiseless link between the blocks, as read (std) or copula-normalised (cop).

    A column shared by X1 and X2 (canonical correlation 1), or a target that is a function of
    them, makes a covariance of the PID singular: its information is infinite.
    """
    for name, cols in (("X1", b.x1), ("X2", b.x2)):
        if _singular(cop[:, cols]):
            raise DiagnoseInputError(
                f"{name} has columns that are monotone functions of others (dependent after "
                "normal scores of ranks, e.g. a band and its logarithm); drop the copies"
            )
    for data, how in ((std, "as given"), (cop, "after normal scores of ranks")):
        if _singular(data[:, : b.p1 + b.p2]):
            raise DiagnoseInputError(
                f"X1 and X2 share a column or a combination of columns ({how}): a noiseless "
                "shared variable (canonical correlation 1); drop it from one of them"
            )
        if b.q and _singular(data):
            raise DiagnoseInputError(
                f"Y is a function of X1 and X2 ({how}, no noise): its information is infinite; "
                "drop the columns that copy it"
            )


def _ids(groups: ArrayLike | None, n: int, rows: Array) -> tuple[np.ndarray, int | None, int]:
    """Integer group of each row, the number of groups given, and the repeated rows.

    Without groups each row is its own group, except that identical rows (of ``rows``, X1 and
    X2 side by side) share one, so that no fold holds a copy of a held-out row. With groups,
    identical rows in different groups are refused.

    Returns:
        (group id of each row, 0..; groups given or None; rows that repeat an earlier one).
    """
    _, first, same = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    same = same.ravel()
    repeats = n - len(first)
    if groups is None:
        return same, None, repeats
    g = np.asarray(groups)
    if g.ndim == 2 and g.shape[1] == 1:
        g = g[:, 0]
    if g.ndim != 1 or len(g) != n:
        raise DiagnoseInputError(f"groups must be one label per row ({n}), got shape {g.shape}")
    _, ids = np.unique(g, return_inverse=True)
    count = int(ids.max()) + 1
    if count < N_FOLDS:
        raise DiagnoseInputError(f"groups: need at least {N_FOLDS} groups, got {count}")
    split = np.flatnonzero(ids != ids[first[same]])
    if split.size:
        i = int(split[0])
        raise DiagnoseInputError(
            f"rows {int(first[same[i]])} and {i} of (X1, X2) are identical but in different "
            "groups: a copy would sit on both sides of a fold; drop repeated rows or group them"
        )
    return ids, count, repeats


# -------------------------------------------------------------------------- features
def copula_normal(x: ArrayLike) -> Array:
    """Each column replaced by the normal scores of its ranks, Φ⁻¹(rank / (n + 1)).

    Args:
        x: Samples, shape (n, p); ties get their average rank.

    Returns:
        Shape (n, p), each column with standard normal marginal (up to ties).
    """
    a = np.asarray(x, dtype=np.float64)
    return np.asarray(norm.ppf(rankdata(a, axis=0) / (len(a) + 1)), dtype=np.float64)


def _standardise(a: Array) -> Array:
    return (a - a.mean(axis=0)) / a.std(axis=0)


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class _Blocks:
    """Column ranges of X1, X2 and the target in the stacked data."""

    p1: int
    p2: int
    q: int

    @property
    def x1(self) -> slice:
        return slice(0, self.p1)

    @property
    def x2(self) -> slice:
        return slice(self.p1, self.p1 + self.p2)

    @property
    def t(self) -> slice:
        return slice(self.p1 + self.p2, self.p1 + self.p2 + self.q)


def _cca(cov: Array, b: _Blocks) -> tuple[Array, Array, Array]:
    """Canonical correlations and directions (rows) of X1 and X2 from a joint covariance."""
    ridge = CCA_RIDGE * np.eye(b.p1 + b.p2)
    c = cov[: b.p1 + b.p2, : b.p1 + b.p2] + ridge
    return cca_from_cov(c[b.x1, b.x1], c[b.x1, b.x2], c[b.x2, b.x2])


def _transposed_hint(*blocks: tuple[Array, str]) -> str:
    """A hint naming the arrays with more columns than rows (rows must be samples)."""
    wide = [
        f"{name} is {a.shape[0]} x {a.shape[1]}" for a, name in blocks if a.shape[1] > a.shape[0]
    ]
    return f" ({', '.join(wide)}: transposed? rows must be samples)" if wide else ""


def _folds(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fold of each row: the groups (or rows) shuffled and dealt into N_FOLDS folds."""
    unique = np.unique(ids)
    fold_of = np.empty(int(unique.max()) + 1, dtype=np.int64)
    fold_of[rng.permutation(unique)] = np.arange(unique.size) % N_FOLDS
    return fold_of[ids]


def _fit_predict(cov: Array, given: Array, target: Array, held: Array) -> Array:
    """Least-squares prediction of the target columns from the given ones (centred data).

    Args:
        cov: Training covariance of all columns.
        given: Indices of the predictors.
        target: Indices of the target columns.
        held: Held-out rows of the predictors, centred by the training mean, (m, len(given)).
    """
    c_gg = cov[np.ix_(given, given)]
    scale = np.trace(c_gg) / len(c_gg)
    coef = np.linalg.solve(c_gg + 1e-9 * scale * np.eye(len(c_gg)), cov[np.ix_(given, target)])
    return held @ coef


def _r(s: slice) -> Array:
    return np.arange(s.start, s.stop)


def _out_of_fold(data: Array, b: _Blocks, folds: np.ndarray, k_max: int) -> dict[str, Array]:
    """Out-of-fold predictions of the target and held-out canonical variates (one assignment).

    Every fold's CCA and least-squares fits use the other folds only.

    Returns:
        "pred": predictions, shape (3 + 2 k_max, n, q): from X1, X2, X1+X2, then the top-j
        canonical variates of X1 for j = 1..k_max, then those of X2 (empty when q = 0);
        "u1", "u2": the held-out canonical variates of X1 and X2 (each fold's own directions,
        applied to its held-out rows), shape (n, k_max).
    """
    n, q = len(data), b.q
    pred = np.zeros((3 + 2 * k_max, n, q))
    held_u1, held_u2 = np.zeros((n, k_max)), np.zeros((n, k_max))
    i1, i2, it = _r(b.x1), _r(b.x2), _r(b.t)
    for f in range(N_FOLDS):
        test = folds == f
        train = data[~test]
        mu = train.mean(axis=0)
        cov = np.cov(train, rowvar=False).reshape(data.shape[1], data.shape[1])
        held = data[test] - mu
        _, w1, w2 = _cca(cov, b)
        u1, u2 = held[:, b.x1] @ w1[:k_max].T, held[:, b.x2] @ w2[:k_max].T
        held_u1[test], held_u2[test] = u1, u2
        if q == 0:
            continue
        pred[0, test] = _fit_predict(cov, i1, it, held[:, b.x1])
        pred[1, test] = _fit_predict(cov, i2, it, held[:, b.x2])
        pred[2, test] = _fit_predict(cov, np.r_[i1, i2], it, held[:, : b.p1 + b.p2])
        for m, (w, xs, u) in enumerate(((w1, b.x1, u1), (w2, b.x2, u2))):
            rows = slice(3 + m * k_max, 3 + (m + 1) * k_max)
            pred[rows, test] = _nested_predictions(cov, w[:k_max], xs, b.t, u) + mu[b.t]
        pred[:3, test] += mu[b.t]
    return {"pred": pred, "u1": held_u1, "u2": held_u2}


def _nested_predictions(cov: Array, w: Array, xs: slice, ts: slice, u: Array) -> Array:
    """Least-squares predictions of the target from the top-j variates, for every j at once.

    With G = w C_xx wᵀ = L Lᵀ (Cholesky), the variates u L⁻ᵀ are uncorrelated (in training) and
    their first j span the first j variates, so the fit on the top j is the sum of the first j
    single-variate fits: a cumulative sum, O(k³) instead of one solve per j.

    Args:
        cov: Training covariance of all columns.
        w: Canonical directions (rows), shape (k, p_m).
        xs: Columns of the modality.
        ts: Columns of the target.
        u: Held-out variates, centred, shape (m, k).

    Returns:
        Shape (k, m, q): entry j - 1 predicts from the top j variates.
    """
    chol = np.linalg.cholesky(w @ cov[xs, xs] @ w.T)
    h = np.linalg.solve(chol, w @ cov[xs, ts])  # (k, q)
    v = np.linalg.solve(chol, u.T)  # (k, m): orthonormalised held-out variates
    return np.cumsum(v[:, :, None] * h[:, None, :], axis=0)


def _group_weights(ids: np.ndarray, n_boot: int, rng: np.random.Generator) -> Array:
    """Row weights of the full sample and of n_boot resamples of the groups (rows).

    Returns:
        Shape (1 + n_boot, n): row 0 all ones, then how many times each row's group was drawn.
    """
    n_groups = int(ids.max()) + 1
    picks = rng.integers(0, n_groups, (n_boot, n_groups))
    counts = np.stack([np.bincount(row, minlength=n_groups) for row in picks])
    return np.vstack([np.ones(n_groups), counts])[:, ids].astype(np.float64)


def _r2_draws(t: Array, pred: Array, weights: Array) -> tuple[Array, Array]:
    """R² of each prediction on all rows, and on the resamples the weights describe.

    The predictions are fixed (made out of fold); resampling the held-out rows gives the
    uncertainty due to which rows (groups) were observed, as chapter 8's site bootstrap does.

    Args:
        t: Target columns, shape (n, q).
        pred: Predictions, shape (models, n, q).
        weights: From :func:`_group_weights`, shape (1 + n_boot, n).

    Returns:
        (R² on all rows, shape (models,); R² per resample, shape (n_boot, models)).
    """
    sq = ((t[None] - pred) ** 2).sum(axis=2)  # (models, n)
    total = weights.sum(axis=1, keepdims=True)
    mean_t = weights @ t / total  # (1 + n_boot, q)
    sst = weights @ (t**2).sum(axis=1) - total[:, 0] * (mean_t**2).sum(axis=1)
    r2 = 1 - (weights @ sq.T) / sst[:, None]
    return r2[0], r2[1:]


def _weighted_corr(u1: Array, u2: Array, weights: Array) -> Array:
    """Correlation of each column pair of u1 and u2 under each row weighting.

    Args:
        u1: Shape (n, k).
        u2: Shape (n, k).
        weights: Shape (w, n).

    Returns:
        Shape (w, k).
    """
    total = weights.sum(axis=1, keepdims=True)

    def moment(a: Array, b: Array) -> Array:
        return np.asarray(weights @ (a * b)) / total

    m1, m2 = moment(u1, np.ones_like(u1)), moment(u2, np.ones_like(u2))
    cov = moment(u1, u2) - m1 * m2
    var1, var2 = moment(u1, u1) - m1**2, moment(u2, u2) - m2**2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / np.sqrt(var1 * var2)
    return np.asarray(np.nan_to_num(r), dtype=np.float64)


def _choose_k(rho_oof: Array, low: Array) -> int:
    """Aligned pairs: the leading run with correlation > RHO_MIN and interval above 0 (>= 1)."""
    holds = (rho_oof > RHO_MIN) & (low > 0)
    run = int(np.argmin(holds)) if not holds.all() else len(holds)
    return max(1, run)


# ----------------------------------------------------------------------- regime map
@dataclass(frozen=True)
class RegimeMap:
    """Chapter 5's regime map for the data's own sensors (full-sample covariances).

    The embedding has room for all of X1 (size p1): its principal components are X1 itself,
    and the aligned representation of that size is chapter 5's aligned limit, the top-k
    canonical variates with the whole variance budget (zero padding, ``regimes.aligned_limit``).
    Both are read under σ-informativeness noise, so at σ = 0 the cost is the R² that alignment
    removes, and under noise alignment can help by concentrating the budget.

    Attributes:
        shares: Unique shares u, shape (a,).
        sigmas: Read-out noise levels σ, shape (b,).
        delta: Δ_σ(u) = R²_σ(X1) - R²_σ(aligned limit), shape (a, b): positive where
            alignment costs, negative where it helps.
        share_hat: The data's own unique share (in-sample lost share of R²(Y | X1)).
        delta_hat: Δ_σ at the data's own share, shape (b,).
        k: Aligned variates.
        size: Embedding size p1.
    """

    shares: Array
    sigmas: Array
    delta: Array
    share_hat: float
    delta_hat: Array
    k: int
    size: int


def _regime_map(data: Array, b: _Blocks, k: int) -> RegimeMap:
    """Δ_σ over (u, σ), moving Cov(X1, Y) between the aligned directions and the rest."""
    cov = np.cov(data, rowvar=False).reshape(data.shape[1], data.shape[1])
    _, w1, _ = _cca(cov, b)
    aligned = w1[:k]  # rows with aligned @ C11 @ aligned.T = I (up to the ridge)
    c11, c1t, ctt = cov[b.x1, b.x1], cov[b.x1, b.t], cov[b.t, b.t]
    c_par = c11 @ aligned.T @ (aligned @ c1t)
    c_perp = c1t - c_par
    inv = np.linalg.inv(c11)
    e_par, e_perp = np.trace(c_par.T @ inv @ c_par), np.trace(c_perp.T @ inv @ c_perp)
    share_hat = float(e_perp / (e_par + e_perp))
    shares = np.linspace(0.0, 1.0, 41)
    sigmas = np.logspace(-2, 1, 41)
    pca = np.eye(b.p1)  # all principal components: X1 itself, rotated
    aligned = np.vstack([aligned, np.zeros((b.p1 - k, b.p1))])  # the aligned limit, padded

    def r2_sigma(w: Array, c_xt: Array, sig: Array) -> Array:
        c_zz = w @ c11 @ w.T
        s2 = np.trace(c_zz) / b.p1
        return np.asarray(r2_from_cov(c_zz / s2, w @ c_xt / np.sqrt(s2), ctt, sig**2))

    def cross(u: float) -> Array:
        a = np.sqrt((1 - u) / (1 - share_hat)) if share_hat < 1 else 0.0
        c = np.sqrt(u / share_hat) if share_hat > 0 else 0.0
        return np.asarray(a * c_par + c * c_perp)

    delta = np.array(
        [r2_sigma(pca, cross(u), sigmas) - r2_sigma(aligned, cross(u), sigmas) for u in shares]
    )
    delta_hat = r2_sigma(pca, c1t, sigmas) - r2_sigma(aligned, c1t, sigmas)
    return RegimeMap(shares, sigmas, delta, share_hat, delta_hat, k, b.p1)


# ------------------------------------------------------------------------- diagnosis
@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found, with bootstrap intervals (see the module docstring).

    Attributes:
        n: Rows.
        dims: Columns of X1, X2.
        names: Names of X1, X2.
        target: "continuous", "categorical" or None (no target).
        n_classes: Classes of a categorical target (0 otherwise).
        n_groups: Groups resampled (None: rows are resampled).
        n_boot: Bootstrap resamples.
        seed: Seed of the folds and resamples.
        k: Aligned variates (canonical pairs) in the aligned representation.
        rho: In-sample canonical correlations, largest first.
        rho_oof: Each canonical pair's out-of-fold correlation (each fold's directions on its
            held-out rows, pooled, averaged over N_REPEATS fold assignments), same order.
        rho_oof_low: Lower bounds of their bootstrap intervals (groups or rows resampled).
        r2: Out-of-fold R² of Y from "X1", "X2", "X1+X2", "aligned X1", "aligned X2" (the
            top-k canonical variates); for classes, the linear (one-hot) R².
        r2_aligned_curve: Out-of-fold R² from the top-j variates of X1 and X2, j = 1..,
            keys "X1", "X2".
        cost: R²(Y | X_m) - R²(Y | aligned X_m), keys "X1", "X2".
        lost_share: cost / R²(Y | X_m), keys "X1", "X2".
        pid: PID atoms and informations (nats) on copula-normalised features.
        pid_aligned: The same with X1 replaced by its top-k canonical variates (what an
            aligned representation of X1 keeps; see :func:`aligninfo.pid.aligned_unique`).
        regime: The regime map and the data's place on it (None without a target).
        recommendation: One of :data:`RECOMMENDATIONS`, or None without a target.
        reasons: Plain-language sentences the recommendation rests on.
        bias_correction: How the PID is estimated and corrected.
    """

    n: int
    dims: tuple[int, int]
    names: tuple[str, str]
    target: str | None
    n_classes: int
    n_groups: int | None
    n_boot: int
    seed: int
    k: int
    rho: list[Interval]
    rho_oof: list[float]
    rho_oof_low: list[float] = field(default_factory=list)
    r2: dict[str, Interval] = field(default_factory=dict)
    r2_aligned_curve: dict[str, list[float]] = field(default_factory=dict)
    cost: dict[str, Interval] = field(default_factory=dict)
    lost_share: dict[str, Interval] = field(default_factory=dict)
    pid: dict[str, Interval] = field(default_factory=dict)
    pid_aligned: dict[str, Interval] = field(default_factory=dict)
    regime: RegimeMap | None = None
    recommendation: str | None = None
    reasons: list[str] = field(default_factory=list)
    bias_correction: str = BIAS_CORRECTION

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready values."""
        out: dict[str, Any] = asdict(self)
        out["settings"] = {
            "aligninfo_version": __version__,
            "folds": N_FOLDS,
            "fold_repeats": N_REPEATS,
            "rho_min": RHO_MIN,
            "align_max_lost": ALIGN_MAX_LOST,
            "no_align_min_lost": NO_ALIGN_MIN_LOST,
            "samples_per_dim": SAMPLES_PER_DIM,
            "max_columns": MAX_COLUMNS,
            "cca_ridge": CCA_RIDGE,
        }
        return json.loads(json.dumps(out, default=_jsonable))

    def summary(self) -> str:
        """A few lines of text: the numbers and the recommendation."""
        lines = [
            f"{self.names[0]} ({self.dims[0]} columns) vs {self.names[1]} ({self.dims[1]}), "
            f"n = {self.n}" + (f", {self.n_groups} groups" if self.n_groups else ""),
            "canonical correlations: "
            + ", ".join(f"{r.estimate:.2f} [{r.low:.2f}, {r.high:.2f}]" for r in self.rho[:5])
            + (" ..." if len(self.rho) > 5 else ""),
            "out of fold: " + ", ".join(f"{r:.2f}" for r in self.rho_oof[:5]),
            f"aligned representation: top {self.k} canonical variates",
        ]
        for key, value in self.r2.items():
            lines.append(f"R²(Y | {key}) = {_fmt(value)}")
        for key in self.lost_share:
            lines.append(
                f"alignment costs {key}: {_fmt(self.cost[key])} of R², "
                f"a lost share of {_fmt(self.lost_share[key])}"
            )
        if self.pid:
            atoms = ("redundant", "unique1", "unique2", "synergy")
            lines.append("PID (nats): " + ", ".join(f"{a} {_fmt(self.pid[a])}" for a in atoms))
        if self.recommendation:
            lines.append(f"recommendation: {self.recommendation.upper()}")
        lines += [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)

    def save(self, folder: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write diagnosis.json (atomically) and diagnosis.png into a folder (created)."""
        out = Path(folder)
        target = write_json(out / "diagnosis.json", self.to_dict())
        figure = out / "diagnosis.png"
        plot(self, figure)
        return target, figure


def _fmt(i: Interval) -> str:
    return f"{i.estimate:.3f} [{i.low:.3f}, {i.high:.3f}]"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def diagnose(
    x1: ArrayLike,
    x2: ArrayLike,
    y: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    n_boot: int = 200,
    seed: int = 0,
    k: int | None = None,
    target: str = "auto",
    names: tuple[str, str] = ("X1", "X2"),
    level: float = 0.95,
    progress: bool = True,
) -> Diagnosis:
    """Diagnose a paired data set: should X1 and X2 be aligned (see the module docstring)?

    Args:
        x1: Modality 1, shape (n, p1) (the one the task is read from).
        x2: Modality 2, shape (n, p2), rows paired with x1.
        y: Target, shape (n,): continuous, or classes (integers or labels); None for none.
        groups: Group label of each row (e.g. site), shape (n,): resampled and kept within
            one fold; None resamples rows.
        n_boot: Bootstrap resamples, >= 20.
        seed: Seed of the folds and the resamples.
        k: Aligned variates; None picks them out of fold (see RHO_MIN).
        target: "auto" (integers with at most MAX_CLASSES values are classes),
            "continuous" or "categorical".
        names: Names of the modalities, for the report.
        level: Coverage of the intervals.
        progress: Show a progress bar when the bootstrap takes more than 2 s.

    Returns:
        The :class:`Diagnosis`.

    Raises:
        DiagnoseInputError: Mismatched rows, NaN or infinite values, constant or linearly
            dependent columns, too few samples for the dimension, too few groups, bad k.
    """
    a1, a2 = _matrix(x1, "X1"), _matrix(x2, "X2")
    n = len(a1)
    if len(a2) != n:
        raise DiagnoseInputError(
            f"X1 has {n} rows but X2 has {len(a2)}: rows must be paired"
            + _transposed_hint((a1, "X1"), (a2, "X2"))
        )
    if y is not None and len(np.asarray(y)) != n:
        raise DiagnoseInputError(f"X1 has {n} rows but Y has {len(np.asarray(y))}")
    if a1.shape[1] + a2.shape[1] > MAX_COLUMNS:
        raise DiagnoseInputError(
            f"X1 and X2 have {a1.shape[1]} + {a2.shape[1]} columns, more than {MAX_COLUMNS}: "
            "reduce them first (e.g. PCA of each modality)"
            + _transposed_hint((a1, "X1"), (a2, "X2"))
        )
    budget = n // SAMPLES_PER_DIM - a1.shape[1] - a2.shape[1]
    t, kind, n_classes = (
        _target(y, target, budget) if y is not None else (np.zeros((n, 0)), None, 0)
    )
    dim = a1.shape[1] + a2.shape[1] + t.shape[1]
    if n < SAMPLES_PER_DIM * dim:
        raise DiagnoseInputError(
            f"too few samples for the dimension: {n} rows for {dim} columns of (X1, X2, Y); "
            f"need at least {SAMPLES_PER_DIM} per column ({SAMPLES_PER_DIM * dim})"
            + _transposed_hint((a1, "X1"), (a2, "X2"))
        )
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 20:
        raise DiagnoseInputError(f"n_boot must be an integer >= 20, got {n_boot!r}")
    if not 0 < level < 1:
        raise DiagnoseInputError(f"level must be in (0, 1), got {level!r}")
    _check_rank([(a1, "X1"), (a2, "X2")])
    ids, n_groups, repeats = _ids(groups, n, np.hstack([a1, a2]))
    b = _Blocks(a1.shape[1], a2.shape[1], t.shape[1])
    k_max = min(b.p1, b.p2)
    if k is not None and (isinstance(k, bool) or int(k) != k or not 1 <= k <= k_max):
        raise DiagnoseInputError(f"k must be an integer in [1, {k_max}], got {k!r}")
    std = np.hstack([_standardise(a1), _standardise(a2), t])
    t_cop = copula_normal(t) if kind == "continuous" else t
    cop = np.hstack([copula_normal(a1), copula_normal(a2), t_cop])
    _check_joint(std, cop, b)
    rng = np.random.default_rng(seed)
    runs = [_out_of_fold(std, b, _folds(ids, rng), k_max) for _ in range(N_REPEATS)]
    weights = _group_weights(ids, n_boot, rng)
    rho_w = np.mean([_weighted_corr(r["u1"], r["u2"], weights) for r in runs], axis=0)
    rho_low = np.quantile(rho_w[1:], (1 - level) / 2, axis=0)
    if k is None:
        k = _choose_k(rho_w[0], rho_low)
    stat = _in_sample(b, k_max, k, kind is not None)
    full = stat(std, cop)
    draws, failed = _bootstrap(stat, std, cop, ids, n_boot, rng, progress, full)
    if kind is not None:
        pred = np.mean([r["pred"] for r in runs], axis=0)
        full["r2"], draws["r2"] = _r2_draws(std[:, b.t], pred, weights)
    full["rho_oof"], full["rho_oof_low"] = rho_w[0], rho_low
    d = _assemble(full, draws, b, k, kind, n_classes, n_groups, n_boot, seed, names, level, std)
    if failed:
        d.reasons.append(
            f"{failed} of {n_boot} resamples had a singular covariance (a class or a column's "
            "variation missing from the rows drawn) and were left out of the in-sample intervals"
        )
    if repeats:
        d.reasons.append(
            f"{repeats} row(s) of (X1, X2) repeat earlier ones: identical rows were kept in one "
            "fold and resampled together"
        )
    return d


def _in_sample(
    b: _Blocks, k_max: int, k: int, has_target: bool
) -> Callable[[Array, Array], dict[str, Array]]:
    """The in-sample statistics of one (re)sample: canonical correlations and the PIDs.

    "pid" decomposes I(X1, X2; Y); "pid_aligned" the same with X1 replaced by its top-k
    canonical variates Z (copula-normalised features; CCA on the same (re)sample), the
    estimated counterpart of :func:`aligninfo.pid.aligned_unique`.
    """

    def stat(std: Array, cop: Array) -> dict[str, Array]:
        cov = np.cov(std, rowvar=False).reshape(std.shape[1], std.shape[1])
        out = {"rho": _cca(cov, b)[0][:k_max]}
        if has_target:
            pid = sample_pid(cop[:, b.x1], cop[:, b.x2], cop[:, b.t])
            out["pid"] = np.array(list(pid.as_dict().values()))
            _, w1, _ = _cca(np.cov(cop, rowvar=False).reshape(cov.shape), b)
            z = cop[:, b.x1] @ w1[:k].T
            aligned = sample_pid(z, cop[:, b.x2], cop[:, b.t])
            out["pid_aligned"] = np.array(list(aligned.as_dict().values()))
        return out

    return stat


def _bootstrap(
    stat: Callable[[Array, Array], dict[str, Array]],
    std: Array,
    cop: Array,
    ids: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    progress: bool,
    full: dict[str, Array],
) -> tuple[dict[str, Array], int]:
    """In-sample statistics of n_boot resamples of the groups (rows), stacked by name.

    A resample whose covariance is singular (a class, or every varying value of a column,
    missing from the groups drawn) gives NaN draws, which the intervals leave out.

    Returns:
        (the draws by name, each shaped (n_boot, *full[name].shape); the singular resamples).
    """
    members = [np.flatnonzero(ids == g) for g in range(int(ids.max()) + 1)]
    out: dict[str, list[Array]] = {}
    failed = 0
    bar = tqdm(
        range(n_boot),
        desc="bootstrap",
        delay=2.0,
        mininterval=1.0,
        disable=not progress,
        file=sys.stderr,
    )
    for _ in bar:
        rows = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        try:
            values = stat(std[rows], cop[rows])
        except (ValueError, np.linalg.LinAlgError):
            values = {key: np.full_like(value, np.nan) for key, value in full.items()}
            failed += 1
        for key, value in values.items():
            out.setdefault(key, []).append(value)
    return {key: np.array(values) for key, values in out.items()}, failed


def _centred_interval(estimate: float, draws: Array, level: float) -> Interval:
    """The estimate plus the bootstrap spread: percentiles of draws - mean(draws).

    Used for in-sample statistics (canonical correlations, log-determinant informations), whose
    resamples are shifted by the duplicated rows a bootstrap draws; the spread is kept, the
    shift is not.
    """
    finite = draws[np.isfinite(draws)]
    if finite.size < 2:
        return Interval(float(estimate), float("nan"), float("nan"), level)
    lo, hi = np.quantile(finite - finite.mean(), [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(estimate + lo), float(estimate + hi), level)


def _assemble(
    full: dict[str, Array],
    draws: dict[str, Array],
    b: _Blocks,
    k: int,
    kind: str | None,
    n_classes: int,
    n_groups: int | None,
    n_boot: int,
    seed: int,
    names: tuple[str, str],
    level: float,
    std: Array,
) -> Diagnosis:
    """Intervals, the regime map and the recommendation from the statistics."""

    def iv(estimate: float, d: Array) -> Interval:
        finite = d[np.isfinite(d)]
        if finite.size < 2 or not np.isfinite(estimate):
            return Interval(float(estimate), float("nan"), float("nan"), level)
        return percentile_interval(finite, float(estimate), level)

    rho = [
        _centred_interval(full["rho"][j], draws["rho"][:, j], level)
        for j in range(len(full["rho"]))
    ]
    base = {
        "n": len(std),
        "dims": (b.p1, b.p2),
        "names": names,
        "target": kind,
        "n_classes": n_classes,
        "n_groups": n_groups,
        "n_boot": n_boot,
        "seed": seed,
        "k": k,
        "rho": rho,
        "rho_oof": [float(r) for r in full["rho_oof"]],
        "rho_oof_low": [float(r) for r in full["rho_oof_low"]],
    }
    if kind is None:
        reason = "no target given: the recommendation needs Y (what the task is)"
        return Diagnosis(**base, reasons=[reason])  # type: ignore[arg-type]
    k_max = len(full["rho"])
    cols = [0, 1, 2, 2 + k, 2 + k_max + k]  # X1, X2, X1+X2, top-k of X1, top-k of X2
    r2_full, r2_draws = full["r2"][cols], draws["r2"][:, cols]
    keys = ("X1", "X2", "X1+X2", "aligned X1", "aligned X2")
    r2 = {key: iv(r2_full[i], r2_draws[:, i]) for i, key in enumerate(keys)}
    cost, lost = {}, {}
    for m, (own, al) in {"X1": (0, 3), "X2": (1, 4)}.items():
        c_full, c_draws = r2_full[own] - r2_full[al], r2_draws[:, own] - r2_draws[:, al]
        cost[m] = iv(c_full, c_draws)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_draws = np.where(r2_draws[:, own] > 0, c_draws / r2_draws[:, own], np.nan)
        s_full = c_full / r2_full[own] if r2_full[own] > 0 else float("nan")
        lost[m] = iv(s_full, s_draws)
    fields = list(PID.__dataclass_fields__)
    pid, pid_aligned = (
        {f: _centred_interval(full[key][i], draws[key][:, i], level) for i, f in enumerate(fields)}
        for key in ("pid", "pid_aligned")
    )
    regime = _regime_map(std, b, k)
    recommendation, reasons = _recommend(full, r2, lost, pid, regime, names, k)
    reasons.insert(4, _aligned_pid_sentence(pid, pid_aligned, names[0], k))
    if n_groups is None or n_groups == len(std):
        reasons.append(
            "rows were resampled and split as independent samples: if they are not (pixels of "
            "one scene, repeated visits of a site), the intervals are optimistic; give groups"
        )
    if kind == "categorical":
        reasons.append(
            f"Y has {n_classes} classes: R² is that of the one-hot code, and the PID's "
            "informations are Gaussian (Wilks' lambda) values, which can exceed log(classes): "
            "compare the atoms with one another, not with the entropy of Y"
        )
    return Diagnosis(
        **base,  # type: ignore[arg-type]
        r2=r2,
        r2_aligned_curve={
            "X1": [float(v) for v in full["r2"][3 : 3 + k_max]],
            "X2": [float(v) for v in full["r2"][3 + k_max :]],
        },
        cost=cost,
        lost_share=lost,
        pid=pid,
        pid_aligned=pid_aligned,
        regime=regime,
        recommendation=recommendation,
        reasons=reasons,
    )


def _recommend(
    full: dict[str, Array],
    r2: dict[str, Interval],
    lost: dict[str, Interval],
    pid: dict[str, Interval],
    regime: RegimeMap,
    names: tuple[str, str],
    k: int,
) -> tuple[str, list[str]]:
    """The recommendation for reading Y from X1, and the sentences it rests on."""
    n1, n2 = names
    top = float(full["rho_oof"][0])
    share = lost["X1"]
    reasons = [
        f"the modalities share {k} canonical direction(s) whose out-of-fold correlation "
        f"exceeds {RHO_MIN} with an interval above 0 (the largest: {top:.2f}); the lost share "
        f"below is for these {k} and moves with k: {_k_sensitivity(full, k)}",
        f"a linear read-out of Y from {n1} reaches R² {_fmt(r2['X1'])} out of fold; from its "
        f"top {k} canonical variates (what an alignment objective keeps) {_fmt(r2['aligned X1'])}",
        f"so alignment would remove a share {_fmt(share)} of what {n1} predicts of Y "
        f"(decision thresholds, a choice: below {ALIGN_MAX_LOST} align, above "
        f"{NO_ALIGN_MIN_LOST} do not)",
        f"PID on copula-normalised features: redundant {_fmt(pid['redundant'])} nats, unique to "
        f"{n1} {_fmt(pid['unique1'])}, unique to {n2} {_fmt(pid['unique2'])}, synergy "
        f"{_fmt(pid['synergy'])}",
    ]
    reasons.append(_regime_sentence(regime))
    if top <= RHO_MIN:
        reasons.append(
            "no canonical pair holds out of fold: there is nothing shared for alignment to find"
        )
        return "do not align", reasons
    if not np.isfinite(share.high) or not r2["X1"].low > 0:
        reasons.append(f"{n1} does not reliably predict Y linearly: the lost share is uncertain")
        return "align + specificity", reasons
    if share.high < ALIGN_MAX_LOST:
        reasons.append(
            "the task lives in what both sensors see (multi-view redundancy): alignment keeps it"
        )
        return "align", reasons
    if share.low > NO_ALIGN_MIN_LOST:
        reasons.append(
            f"most of what {n1} knows of Y is specific to it: an alignment objective discards it"
        )
        return "do not align", reasons
    keep = (
        "add a term that keeps modality-specific variance (intra-modal or reconstruction, "
        "chapter 6) to the alignment objective"
    )
    if share.estimate < ALIGN_MAX_LOST:
        reasons.append(
            f"the lost share is small, but its interval reaches above {ALIGN_MAX_LOST}: the data "
            f"cannot rule out a loss, so {keep}"
        )
    else:
        reasons.append(f"part of the task is specific to {n1}: {keep}")
    return "align + specificity", reasons


def _k_sensitivity(full: dict[str, Array], k: int) -> str:
    """The lost share (point estimate) with one aligned variate fewer and one more."""
    r2_x1, curve = float(full["r2"][0]), full["r2"][3 : 3 + len(full["rho"])]
    parts = [
        f"{(r2_x1 - curve[j - 1]) / r2_x1:.2f} with k = {j}"
        for j in (k - 1, k + 1)
        if 1 <= j <= len(curve)
    ]
    return "lost share " + " and ".join(parts) if parts and r2_x1 > 0 else "see r2_aligned_curve"


def _aligned_pid_sentence(
    pid: dict[str, Interval], aligned: dict[str, Interval], name: str, k: int
) -> str:
    """What the aligned variates keep of X1's information on Y and of its unique part."""
    return (
        f"the top {k} canonical variates of {name} carry I = {_fmt(aligned['mi1'])} nats on Y "
        f"of the {_fmt(pid['mi1'])} that {name} carries, and keep {_fmt(aligned['unique1'])} "
        f"nats of its unique information {_fmt(pid['unique1'])}"
    )


def _regime_sentence(m: RegimeMap) -> str:
    """Where, along the read-out noise σ, the aligned limit costs or helps against X1."""
    sign = np.sign(m.delta_hat)
    runs, start = [], 0
    for i in range(1, len(sign) + 1):
        if i == len(sign) or sign[i] != sign[start]:
            word = {1.0: "costs", -1.0: "helps"}.get(float(sign[start]), "is neutral")
            runs.append(f"{word} for σ in [{m.sigmas[start]:.2g}, {m.sigmas[i - 1]:.2g}]")
            start = i
    return (
        f"on the regime map, at the data's unique share {m.share_hat:.2f} (in sample), the "
        f"aligned limit (top {m.k} canonical variates, embedding size {m.size}) against the "
        f"whole first modality, read under noise σ: " + ", ".join(runs)
    )


# ------------------------------------------------------------------------------ figure
def plot(d: Diagnosis, path: str | os.PathLike[str]) -> None:
    """Draw the diagnosis (canonical correlations, R², PID, regime map) into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), constrained_layout=True)
    _plot_rho(axes[0, 0], d)
    if d.target is not None and d.regime is not None:
        _plot_r2(axes[0, 1], d)
        _plot_pid(axes[1, 0], d)
        _plot_regime(fig, axes[1, 1], d.regime, d.lost_share["X1"], d.names[0])
        fig.suptitle(f"recommendation: {d.recommendation}")
    else:
        for ax in (axes[0, 1], axes[1, 0], axes[1, 1]):
            ax.set_axis_off()
        fig.suptitle("no target: canonical correlations only")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _errors(intervals: Sequence[Interval]) -> Array:
    """Error-bar lengths below and above each estimate, shape (2, len(intervals))."""
    low = [i.estimate - i.low for i in intervals]
    high = [i.high - i.estimate for i in intervals]
    return np.nan_to_num(np.clip(np.array([low, high]), 0, None))


def _plot_rho(ax: Any, d: Diagnosis) -> None:
    j = np.arange(1, len(d.rho) + 1)
    est = np.array([r.estimate for r in d.rho])
    err = _errors(d.rho)
    ax.bar(j, est, color="C0", alpha=0.6, label="in sample (bootstrap interval)")
    ax.errorbar(j, est, yerr=err, fmt="none", ecolor="k", lw=1)
    ax.plot(j, d.rho_oof, "r_", ms=10, mew=2, label="same pair, out of fold")
    ax.axhline(RHO_MIN, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="canonical pair", ylabel="correlation", ylim=(-0.1, 1.0))
    ax.set_title(f"{d.names[0]} / {d.names[1]}: canonical correlations")
    ax.legend(frameon=False, fontsize=8)


def _plot_r2(ax: Any, d: Diagnosis) -> None:
    keys = list(d.r2)
    est = [d.r2[key].estimate for key in keys]
    err = _errors([d.r2[key] for key in keys])
    labels = [key.replace("X1", d.names[0]).replace("X2", d.names[1]) for key in keys]
    ax.barh(range(len(keys)), est, xerr=err, color=["C0", "C1", "C2", "C0", "C1"])
    for bar in ax.patches[3:]:
        bar.set_alpha(0.45)
    ax.set_yticks(range(len(keys)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="out-of-fold R² of Y (linear)", title=f"aligned = top {d.k} canonical variates")


def _plot_pid(ax: Any, d: Diagnosis) -> None:
    atoms = ("redundant", "unique1", "unique2", "synergy")
    labels = ["redundant", f"unique to {d.names[0]}", f"unique to {d.names[1]}", "synergy"]
    from matplotlib.patches import Patch

    colours = ["C2", "C0", "C1", "C4"]
    x = np.arange(4)
    handles = []
    for shift, pid, alpha, label in (
        (-0.2, d.pid, 1.0, f"{d.names[0]}, {d.names[1]}"),
        (0.2, d.pid_aligned, 0.45, f"top {d.k} canonical variates of {d.names[0]}, {d.names[1]}"),
    ):
        est = [pid[a].estimate for a in atoms]
        err = _errors([pid[a] for a in atoms])
        ax.bar(x + shift, est, 0.4, yerr=err, color=colours, alpha=alpha)
        handles.append(Patch(facecolor="grey", alpha=alpha, label=label))
    ax.set_xticks(x, labels, fontsize=8)
    ax.legend(handles=handles, frameon=False, fontsize=8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(ylabel="nats", title="PID of Y (MMI, copula-normalised, bias-corrected)")


def _plot_regime(fig: Any, ax: Any, m: RegimeMap, lost: Interval, name: str) -> None:
    bound = max(float(np.abs(m.delta).max()), 1e-9)
    image = ax.pcolormesh(m.shares, m.sigmas, m.delta.T, cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.contour(m.shares, m.sigmas, m.delta.T, levels=[0.0], colors="k", linewidths=0.8)
    ax.set_yscale("log")
    if np.isfinite(lost.low) and np.isfinite(lost.high):
        ax.axvspan(max(lost.low, 0), min(lost.high, 1), color="k", alpha=0.15)
    ax.axvline(m.share_hat, color="k", lw=2, label=f"this data set (k = {m.k})")
    ax.set(
        xlabel=f"unique share u (share of R²(Y | {name}) outside the aligned directions)",
        ylabel="read-out noise σ",
        title=f"cost of alignment Δσ = R²σ({name}) - R²σ(aligned limit)",
    )
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    fig.colorbar(image, ax=ax, label="Δσ (red: alignment costs)")
