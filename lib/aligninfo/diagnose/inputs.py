"""Reading and checking the diagnosis's inputs: files, named data sets, and what is refused.

Every refusal is a :class:`DiagnoseInputError` whose message says, in one line, what is wrong
and what to do.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from aligninfo.data.named import NAMES
from aligninfo.diagnose.estimates import Blocks
from aligninfo.diagnose.settings import MAX_CLASSES, N_FOLDS, SAMPLES_PER_DIM
from aligninfo.linalg import Array
from aligninfo.userio import first_line

__all__ = [
    "HOUSTON_POLYGON_GAP",
    "LOADERS",
    "NamedPair",
    "DiagnoseInputError",
    "check_joint",
    "check_matrix",
    "check_rank",
    "check_scale",
    "group_ids",
    "label_ids",
    "load_named",
    "read_array",
    "read_labels",
    "target_columns",
    "transposed_hint",
]

LOADERS = NAMES
"""Data sets known by name: LFMC optical vs SAR, optical vs SAR + context, Houston HSI vs LiDAR."""
HOUSTON_POLYGON_GAP = 349
"""Pixels of one class at most this far apart in Houston's scan order share a polygon group
(chapter 9's ``polygon_gap``)."""


MIN_SD, MAX_SD = 1e-100, 1e100
"""Columns whose standard deviation lies outside this range are refused: their covariances
(sums of squares) would underflow or overflow float64 (a bound with a wide margin, a choice)."""


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
        blank = _blank_line(p)
        table = _read_csv(p, strings)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DiagnoseInputError(f"{name}: cannot read {p}: {first}") from err
    if blank is not None:
        raise DiagnoseInputError(
            f"{name}: line {blank} of {p} is empty (a missing value?): the reader would skip it "
            "and shift the rows below; fill it or drop that row from every file"
        )
    if table.size == 0:
        raise DiagnoseInputError(f"{name}: {p} holds no values (an empty file?)")
    if _is_row_index(table):
        raise DiagnoseInputError(
            f"{name}: the first column of {p} counts the rows ({table[0, 0]:g}, "
            f"{table[1, 0]:g}, {table[2, 0]:g}, ...): a row index, not data (pandas writes one "
            "unless to_csv(index=False)); drop it"
        )
    return table


def _blank_line(path: Path) -> int | None:
    """The first empty line (1-based) before the file's last non-empty one, or None."""
    lines = path.read_text(errors="replace").splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    return next((i + 1 for i in range(last) if not lines[i].strip()), None)


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
    with warnings.catch_warnings():  # an empty file: refused by read_array, not warned of
        warnings.filterwarnings("ignore", "loadtxt: input contained no data", UserWarning)
        try:
            table = np.loadtxt(path, delimiter=",", dtype=kind, ndmin=1)
        except ValueError:
            return np.loadtxt(path, delimiter=",", dtype=kind, ndmin=1, skiprows=1)
    if not strings and table.ndim == 2 and table.shape[1] > 1 and len(table) > 1:
        if np.array_equal(table[0], np.arange(table.shape[1])):
            return table[1:]
    return table


class NamedPair(NamedTuple):
    """A data set known by name, ready for :func:`aligninfo.diagnose.diagnose`.

    Attributes:
        x1: Modality 1, shape (n, p1).
        x2: Modality 2, shape (n, p2).
        y: Target, shape (n,), or None (files without one).
        groups: Groups held out whole by the folds and resampled (sites), or None.
        resample_groups: Groups resampled only, the folds splitting them (polygons too few
            to hold out), or None.
        names: Names of X1 and X2.
    """

    x1: np.ndarray
    x2: np.ndarray
    y: np.ndarray | None
    groups: np.ndarray | None
    resample_groups: np.ndarray | None
    names: tuple[str, str]

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`aligninfo.diagnose.diagnose` for this pair."""
        return self._asdict()


def load_named(name: str, data_dir: str | os.PathLike[str] | None = None) -> NamedPair:
    """The two modalities, target and groups of a data set known by name.

    The pairs are :func:`aligninfo.data.named.load`'s, every row of them. LFMC's rows are
    grouped by site. Houston's pixels come without coordinates; the polygons recovered from
    their scan order (:func:`aligninfo.groups.scan_order_groups` with chapter 9's gap,
    :data:`HOUSTON_POLYGON_GAP`) are resampled, as chapter 9 resamples its test polygons,
    but they give most classes 1 to 4 polygons, too few to hold whole polygons out
    (held-out-polygon R² below 0): the folds split them, and the reasons say the out-of-fold
    R² is optimistic.

    Returns:
        The :class:`NamedPair`.

    Raises:
        DiagnoseInputError: For an unknown name or data that cannot be loaded.
    """
    from aligninfo.data import named
    from aligninfo.data.registry import DataFileError
    from aligninfo.groups import scan_order_groups

    if name not in LOADERS:
        raise DiagnoseInputError(
            f"unknown data set {name!r}: expected one of {', '.join(LOADERS)}, or files X1 X2 [Y]"
        )
    try:
        pair = named.load(name, data_dir)
    except (DataFileError, OSError, ValueError) as err:
        raise DiagnoseInputError(f"{name}: cannot load the data: {first_line(err)}") from err
    if pair.sites is None:  # Houston
        polygons = scan_order_groups(pair.y, HOUSTON_POLYGON_GAP)
        return NamedPair(pair.x1, pair.x2, pair.y, None, polygons, pair.names)
    return NamedPair(pair.x1, pair.x2, pair.y, pair.sites, None, pair.names)


# ------------------------------------------------------------------------- checking
def check_matrix(x: ArrayLike, name: str) -> Array:
    """The data as a float (rows, columns) array; refuse text, NaN and constant columns."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise DiagnoseInputError(f"{name} must be numeric, got values of type {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise DiagnoseInputError(f"{name} must be (rows, columns), got shape {a.shape}")
    if len(a) == 0:
        raise DiagnoseInputError(f"{name} has no rows")
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
    check_scale(a, name)
    return a


def check_scale(a: Array, name: str) -> None:
    """Refuse a column whose spread float64 covariances cannot hold (squares over- or underflow).

    Args:
        a: Finite data without constant columns, shape (rows, columns).
        name: What it is (X1, X2, Y), for messages.
    """
    peak = np.abs(a).max(axis=0)  # > 0: no column is constant
    sd = peak * (a / peak).std(axis=0)  # computed without squaring the values themselves
    bad = np.flatnonzero((sd < MIN_SD) | (sd > MAX_SD))
    if bad.size:
        j = int(bad[0])
        raise DiagnoseInputError(
            f"{name} column {j} has a standard deviation of {sd[j]:.3g}, outside "
            f"[{MIN_SD:g}, {MAX_SD:g}] where covariances of float64 values over- or underflow; "
            "rescale it"
        )


def target_columns(y: ArrayLike, kind: str, max_columns: int) -> tuple[Array, str, int]:
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
        return check_matrix(raw, "Y"), "continuous", 0
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


def check_rank(blocks: Sequence[tuple[Array, str]]) -> None:
    """Refuse linearly dependent columns (a singular correlation matrix)."""
    for a, name in blocks:
        lam = np.linalg.eigvalsh(np.corrcoef(a, rowvar=False).reshape(a.shape[1], a.shape[1]))
        if lam[0] <= 1e-10 * lam[-1]:
            raise DiagnoseInputError(
                f"{name} has linearly dependent columns (e.g. a repeated column); drop them"
            )


def singular(a: Array) -> bool:
    """Whether the columns of a are linearly dependent (a singular correlation matrix)."""
    lam = np.linalg.eigvalsh(np.corrcoef(a, rowvar=False).reshape(a.shape[1], a.shape[1]))
    return bool(lam[0] <= 1e-10 * lam[-1])


def check_joint(std: Array, cop: Array, b: Blocks) -> None:
    """Refuse a noiseless link between the blocks, as read (std) or copula-normalised (cop).

    A column shared by X1 and X2 (canonical correlation 1), or a target that is a function of
    them, makes a covariance of the PID singular: its information is infinite.
    """
    for name, cols in (("X1", b.x1), ("X2", b.x2)):
        if singular(cop[:, cols]):
            raise DiagnoseInputError(
                f"{name} has columns that are monotone functions of others (dependent after "
                "normal scores of ranks, e.g. a band and its logarithm); drop the copies"
            )
    for data, how in ((std, "as given"), (cop, "after normal scores of ranks")):
        if singular(data[:, : b.p1 + b.p2]):
            raise DiagnoseInputError(
                f"X1 and X2 share a column or a combination of columns ({how}): a noiseless "
                "shared variable (canonical correlation 1); drop it from one of them"
            )
        if b.q and singular(data):
            raise DiagnoseInputError(
                f"Y is a function of X1 and X2 ({how}, no noise): its information is infinite; "
                "drop the columns that copy it"
            )


def group_ids(groups: ArrayLike | None, n: int, rows: Array) -> tuple[np.ndarray, int | None, int]:
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
    ids, count = label_ids(groups, n, "groups")
    split = np.flatnonzero(ids != ids[first[same]])
    if split.size:
        i = int(split[0])
        raise DiagnoseInputError(
            f"rows {int(first[same[i]])} and {i} of (X1, X2) are identical but in different "
            "groups: a copy would sit on both sides of a fold; drop repeated rows or group them"
        )
    return ids, count, repeats


def label_ids(labels: ArrayLike, n: int, name: str) -> tuple[np.ndarray, int]:
    """Integer id 0.. of each row's label and the number of labels (at least N_FOLDS).

    Args:
        labels: One label per row, shape (n,) or (n, 1).
        n: Rows.
        name: What the labels are (groups, resample_groups), for messages.
    """
    g = np.asarray(labels)
    if g.ndim == 2 and g.shape[1] == 1:
        g = g[:, 0]
    if g.ndim != 1 or len(g) != n:
        raise DiagnoseInputError(f"{name} must be one label per row ({n}), got shape {g.shape}")
    _, ids = np.unique(g, return_inverse=True)
    count = int(ids.max()) + 1
    if count < N_FOLDS:
        raise DiagnoseInputError(f"{name}: need at least {N_FOLDS} groups, got {count}")
    return ids.ravel(), count


def transposed_hint(*blocks: tuple[Array, str]) -> str:
    """A hint naming the arrays with more columns than rows (rows must be samples)."""
    wide = [
        f"{name} is {a.shape[0]} x {a.shape[1]}" for a, name in blocks if a.shape[1] > a.shape[0]
    ]
    return f" ({', '.join(wide)}: transposed? rows must be samples)" if wide else ""
