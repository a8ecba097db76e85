"""Reading data files for the loaders: fetch, parse, check shape and dtype, freeze.

Every loader reads its files through :func:`read_npy` or :func:`read_mat`, which fetch the file
(:func:`aligninfo.data.registry.fetch`: address and SHA-256), parse it without pickle, and stop
with a :class:`~aligninfo.data.registry.DataFileError` naming the file when it cannot be parsed
or holds an array of another shape, dtype kind, or a NaN. Loaders hand out arrays marked
read-only by :func:`frozen`.

Shapes are given with ``None`` for the number of rows where a loader takes it from another file
(the registered hashes already pin the real files; the loaders check that the files agree with
each other, so the same code reads the tests' small fake files of the same layout).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from aligninfo.data.registry import DataDir, DataFileError, fetch

Shape = tuple[int | None, ...]
"""Expected shape of an array; ``None`` accepts any length on that axis."""


def frozen(array: np.ndarray) -> np.ndarray:
    """Mark ``array`` read-only and return it.

    Args:
        array: Any array (modified in place).

    Returns:
        The same array, no longer writeable.
    """
    array.setflags(write=False)
    return array


def check_array(array: object, source: Path | str, shape: Shape, kind: str) -> np.ndarray:
    """Stop unless ``array`` is a NumPy array of the expected shape, dtype kind and no NaN.

    Args:
        array: Object read from a data file.
        source: File (and variable) it came from, named in the error message.
        shape: Expected shape; ``None`` on an axis accepts any length.
        kind: Expected ``dtype.kind`` characters, e.g. ``"f"``, ``"iu"`` or ``"U"``.

    Returns:
        ``array``, checked.

    Raises:
        DataFileError: On a non-array, wrong shape, wrong dtype kind or any NaN.
    """
    if not isinstance(array, np.ndarray):
        raise DataFileError(f"{source}: expected an array, got {type(array).__name__}")
    fits = len(array.shape) == len(shape) and all(
        want is None or want == got for want, got in zip(shape, array.shape, strict=False)
    )
    if not fits:
        wanted = "(" + ", ".join("n" if s is None else str(s) for s in shape)
        wanted += ",)" if len(shape) == 1 else ")"
        raise DataFileError(f"{source}: expected shape {wanted}, got {array.shape}")
    if array.dtype.kind not in kind:
        raise DataFileError(f"{source}: expected dtype kind {kind!r}, got {array.dtype}")
    count = int(np.isnan(array).sum()) if array.dtype.kind == "f" else 0
    if count:
        raise DataFileError(f"{source}: expected no NaN, found {count}")
    return array


def read_npy(dataset: str, filename: str, shape: Shape, kind: str, data_dir: DataDir) -> np.ndarray:
    """Fetch one ``.npy`` file, load it without pickle and check it.

    Args:
        dataset: Data set (sub-folder) name, e.g. ``"lfmc"``.
        filename: Registered file name, e.g. ``"target.npy"``.
        shape: Expected shape (``None``: any length on that axis).
        kind: Expected ``dtype.kind`` characters.
        data_dir: Data directory (see :func:`aligninfo.data.registry.fetch`).

    Returns:
        The array (writeable: the loader freezes what it hands out).

    Raises:
        DataFileError: If the file is missing or damaged (see ``fetch``), is no ``.npy`` array,
            or fails :func:`check_array`.
    """
    path = fetch(dataset, filename, data_dir)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataFileError(f"{path}: cannot be read as a .npy array ({err})") from err
    return check_array(array, path, shape, kind)


def read_mat(dataset: str, variable: str, shape: Shape, kind: str, data_dir: DataDir) -> np.ndarray:
    """Fetch ``<variable>.mat``, read the variable of the same name and check it.

    Args:
        dataset: Data set (sub-folder) name, e.g. ``"houston2013"``.
        variable: Name of the MATLAB variable and of its file, e.g. ``"TrLabel"``.
        shape: Expected shape (``None``: any length on that axis).
        kind: Expected ``dtype.kind`` characters.
        data_dir: Data directory (see :func:`aligninfo.data.registry.fetch`).

    Returns:
        The variable's array.

    Raises:
        DataFileError: If the file is missing or damaged, cannot be read as a MATLAB file,
            lacks the variable, or the variable fails :func:`check_array`.
    """
    path = fetch(dataset, f"{variable}.mat", data_dir)
    try:
        content = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises several types on damaged files
        raise DataFileError(f"{path}: cannot be read as a MATLAB file ({err})") from err
    if variable not in content:
        raise DataFileError(f"{path}: expected a variable {variable!r}, found {sorted(content)}")
    return check_array(np.asarray(content[variable]), f"{path}:{variable}", shape, kind)
