"""Addresses and SHA-256 hashes of every real data file, and one function to fetch them.

Files live under ``<data_dir>/<dataset>/<filename>``. The data directory is, in order of
precedence: the ``data_dir`` argument, the environment variable ``ALIGNINFO_DATA``, or pooch's
operating-system cache for ``"aligninfo"``. A relative folder is read from the process's working
directory (the command line makes ``ALIGNINFO_DATA`` absolute before a chapter's kernel starts in
the chapter's folder). A named data directory must exist: it is never created, so a mistyped path
is an error naming it rather than a new folder and a download.

A file already present with the right hash is returned without any network access or write. A
file that is missing or has the wrong hash is downloaded again through pooch, unless its directory
is read-only (for instance the shared data folder the tests and CI read): then the loader stops
with a :class:`DataFileError` and the file is left as it is.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pooch

ENV_VAR = "ALIGNINFO_DATA"
"""Environment variable naming the data directory."""

DataDir = str | os.PathLike[str] | None
"""Type of a ``data_dir`` argument: a folder, or None for :func:`default_data_dir`."""

_PRESTO = (
    "https://raw.githubusercontent.com/nasaharvest/presto/"
    "13173d028f035abcbcc3b13829314323a5c15d02/data/fuel_moisture/"
)
_MDL_RS = (
    "https://raw.githubusercontent.com/danfenghong/IEEE_TGRS_MDL-RS/"
    "cb0e1287c6011dfa127a9d2fb10991dbb47e9ac1/MDL-RS_FC-Nets/HSI_LiDAR_FC/"
)


class DataFileError(RuntimeError):
    """A data file is missing, damaged or not what the loader expects."""


@dataclass(frozen=True)
class FileEntry:
    """Where one data file comes from and what it must hash to.

    Attributes:
        url: Address of the file at a pinned commit of its source repository.
        sha256: Expected SHA-256 of the file's bytes, lowercase hex.
    """

    url: str
    sha256: str


REGISTRY: dict[str, dict[str, FileEntry]] = {
    "lfmc": {
        "s1_s2_era5_srtm.npy": FileEntry(
            _PRESTO + "npy/s1_s2_era5_srtm.npy",
            "588e25049e68cb9c64572649518badab49ae418e130144c3b47a67797507da3e",
        ),
        "target.npy": FileEntry(
            _PRESTO + "npy/target.npy",
            "c0a178b8521481d85fd4fede1ebbb01e475d7c05c7b5162c0c6029afb54e11d4",
        ),
        "is_test.npy": FileEntry(
            _PRESTO + "npy/is_test.npy",
            "e6b98035b21df025b38ebe80c315592f4484250c2f044e8e782682dbba23182b",
        ),
        "site.npy": FileEntry(
            _PRESTO + "npy/site.npy",
            "7f7e8f73f2b2ccd4a84a5d5cd7213d6b63807616ca9750038125d94b62f25494",
        ),
        "latlon.npy": FileEntry(
            _PRESTO + "npy/latlon.npy",
            "a31dc1f4c68c8614ac1cfa0e1cdf24d6ac9448e4a16e977605b0e563cb92595f",
        ),
        "month.npy": FileEntry(
            _PRESTO + "npy/month.npy",
            "173f17192cb2dcd7bc7fc3c8dfba2c0690aa3ce023a90f94d9c2d4e5ccdfdf91",
        ),
        "train_test_split.json": FileEntry(
            _PRESTO + "train_test_split.json",
            "5142138327fc73d9840b6b069bc476b5f89e534f79114be9e70029981bcd98ec",
        ),
    },
    "houston2013": {
        "HSI_TrSet.mat": FileEntry(
            _MDL_RS + "HSI_TrSet.mat",
            "06d547a98f454631c3d57be1e031c946ed2d7cff82d865acb9fa07f0be944321",
        ),
        "LiDAR_TrSet.mat": FileEntry(
            _MDL_RS + "LiDAR_TrSet.mat",
            "20dfe8bc476af4e9c5b91258319668856c2da5dbb4d6a7dba27c5aed148b5386",
        ),
        "TrLabel.mat": FileEntry(
            _MDL_RS + "TrLabel.mat",
            "c1185317a8fd0a8b19a87163ca2d57ffc12f490f690e052c74120063f16fe2ae",
        ),
        "LiDAR_TeSet.mat": FileEntry(
            _MDL_RS + "LiDAR_TeSet.mat",
            "fae577c169f47010bf7bf44f5b33d1a339ab610c1e2c7803d6e8f2549724eee7",
        ),
        "TeLabel.mat": FileEntry(
            _MDL_RS + "TeLabel.mat",
            "aa4df0fb9d91ffc30bee19e537f7dd84d28cf74e8e5c16742f42003665315c6e",
        ),
    },
}
"""Every data file, by data set (sub-folder name) and file name."""


def default_data_dir() -> Path:
    """Return the data directory used when no ``data_dir`` is given.

    Returns:
        ``$ALIGNINFO_DATA`` if set and non-empty (made absolute from the working directory),
        else pooch's OS cache folder for "aligninfo".

    Raises:
        DataFileError: If ``$ALIGNINFO_DATA`` names a folder that does not exist.
    """
    env = os.environ.get(ENV_VAR, "")
    if not env:
        return Path(pooch.os_cache("aligninfo"))
    return data_root(env, f"the data folder {ENV_VAR}={env!r}")


def data_root(folder: str | os.PathLike[str], what: str = "the data folder") -> Path:
    """Check that a named data directory exists; return it as an absolute path.

    Args:
        folder: The data directory; relative to the working directory if not absolute.
        what: How to name it in the error message.

    Returns:
        The absolute path.

    Raises:
        DataFileError: If the folder does not exist (it is never created here), is a file, or
            is named by an empty string (which would mean the working directory).
    """
    if not str(folder):
        raise DataFileError(
            f"{what} is an empty path; name the folder holding lfmc/ and houston2013/"
        )
    path = Path(folder).absolute()
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataFileError(
            f"{what} ({path}) {problem}; create it or point at the folder "
            "holding lfmc/ and houston2013/"
        )
    return path


def sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes.

    Args:
        path: File to hash.

    Returns:
        Lowercase hex digest.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_writable(folder: Path) -> bool:
    """Tell whether the loader may write into ``folder``.

    A folder whose permission bits grant no write access counts as read-only even for root, so a
    read-only data folder is never written to, whoever runs the tests.

    Args:
        folder: Folder to check; if it does not exist, its nearest existing parent is checked.

    Returns:
        True when files may be created or replaced there.
    """
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    mode = stat.S_IMODE(folder.stat().st_mode)
    return os.access(folder, os.W_OK) and bool(mode & 0o222)


def entry(dataset: str, filename: str) -> FileEntry:
    """Look up one file in :data:`REGISTRY`.

    Args:
        dataset: Data set name, e.g. ``"lfmc"``.
        filename: File name within the data set.

    Returns:
        The file's address and hash.

    Raises:
        KeyError: If the file is not registered.
    """
    try:
        return REGISTRY[dataset][filename]
    except KeyError:
        raise KeyError(f"no registered data file {dataset}/{filename}") from None


def fetch(dataset: str, filename: str, data_dir: DataDir = None) -> Path:
    """Return the local path of a data file with the registered hash, downloading it if needed.

    Args:
        dataset: Data set name (sub-folder of the data directory), e.g. ``"houston2013"``.
        filename: Registered file name, e.g. ``"TrLabel.mat"``.
        data_dir: Data directory; defaults to :func:`default_data_dir`.

    Returns:
        Path ``<data_dir>/<dataset>/<filename>`` of a file whose SHA-256 matches the registry.

    Raises:
        DataFileError: If the data directory does not exist, or the file is missing or has the
            wrong hash and cannot be (re)downloaded, either because its folder is read-only or
            because the download failed.
    """
    item = entry(dataset, filename)
    root = default_data_dir() if data_dir is None else data_root(data_dir)
    folder = root / dataset
    path = folder / filename
    if path.is_file():
        actual = sha256(path)
        if actual == item.sha256:
            return path
        problem = f"has SHA-256 {actual}, expected {item.sha256} (damaged or truncated)"
    else:
        problem = "is missing"
    if not is_writable(folder):
        raise DataFileError(
            f"data file {path} {problem}; its folder is read-only, so it was not "
            f"(re)downloaded or overwritten. Restore it from {item.url}"
        )
    return _download(item, path, problem)


def _download(item: FileEntry, path: Path, problem: str) -> Path:
    """Download ``item`` to ``path`` through pooch, checking its hash.

    Args:
        item: Registry entry of the file.
        path: Destination path.
        problem: Why the download is needed, for the error message.

    Returns:
        ``path``, now holding the verified file.

    Raises:
        DataFileError: If the download or its hash check fails.
    """
    try:
        got = pooch.retrieve(
            item.url,
            known_hash=f"sha256:{item.sha256}",
            fname=path.name,
            path=path.parent,
            progressbar=False,
        )
    except Exception as err:  # network, HTTP or hash errors all mean the same to the caller
        raise DataFileError(
            f"data file {path} {problem}, and downloading it from {item.url} failed: "
            f"{type(err).__name__}: {err}"
        ) from err
    return Path(got)
