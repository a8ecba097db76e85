"""Paired patches from two co-registered rasters (two sensors over the same place).

Each sensor is one raster file or several (for instance one GeoTIFF per band), in any format GDAL
reads: a local path, or a name GDAL resolves itself (``/vsizip/...``, ``/vsicurl/https://...``,
``zip://archive.zip!band.tif``, ``s3://...``), which is handed to GDAL untouched. The first file of
the first sensor fixes the *reference grid* (CRS, transform, size); every other file, of either
sensor, whose grid differs (CRS, resolution, extent, or pixel alignment by more than 1e-4 pixel)
is resampled onto it on the fly through a :class:`rasterio.vrt.WarpedVRT`, with the resampling
method chosen by the caller (``"bilinear"`` by default, for continuous values; ``"nearest"`` for
classes, ``"average"`` to aggregate finer pixels). Files already on the reference grid are read as
they are. Between two CRSs, GDAL places the resampled pixels with its approximate transformer,
within 1/8 pixel of the exact position (GDAL's default error threshold); between grids of one
CRS the placement is exact.

Patches of ``size`` x ``size`` pixels start at rows and columns ``0, stride, 2 * stride, ...`` of
the reference grid, as long as they fit: a remainder narrower than a patch at the right or bottom
edge is not covered, and never read.

Validity rule. A pixel of the reference grid is *invalid* for a sensor when it is invalid in any
band of any of the sensor's files. In a file on the reference grid, a pixel is invalid when GDAL
masks it (the file's nodata value, an internal mask band or an alpha band) or its value is not
finite (NaN, infinity). For a resampled file, GDAL's warper decides from the file's own pixels,
invalid by that same rule, the space outside the file counting as invalid: with ``"nearest"`` and
the interpolating methods (``"bilinear"``, ``"cubic"``, ``"lanczos"``, ...) a pixel is invalid
when its centre falls on an invalid pixel of the file or outside it, and otherwise interpolates
the valid neighbours only (their weights renormalised); with ``"average"`` and the other
aggregating methods (``"mode"``, ``"min"``, ``"max"``, ``"sum"``, ``"rms"``, ...) a pixel is
invalid only when no valid pixel of the file overlaps it, and otherwise aggregates the valid ones
(one valid 10 m pixel out of 16 makes a valid 40 m average; a pixel 40 % inside the file is
valid). A patch pair is dropped when more than a fraction
``max_nodata`` of its pixels is invalid in either sensor (the default 0 keeps only fully valid
pairs); :attr:`PatchPairs.dropped` counts the dropped pairs. Invalid pixels of a kept pair are set
to ``fill_value`` and reported by the validity masks.

Band names come from the files' band descriptions (else the file name, with the band number for
multi-band files). An alpha band only masks: it is not handed out as a band. Values are read as
float32 (integers above 2**24 and float64 values lose precision), then scaled by the files' scales
and offsets (``value * scale + offset``, as GDAL defines them) and handed out as float32;
``fill_value`` is in these scaled units. Complex rasters (SAR single-look complex) are refused:
convert them to real bands (amplitude, intensity, phase) first.

Memory. All reads are windowed. Opening scans both sensors once, in full-width strips of about
4 million pixels of the reference grid, whatever the stride, keeping only per-column counts of
invalid pixels at the rows where pending patches start; items are then read one patch window
per file. GDAL keeps recently read blocks in its own cache,
up to ``GDAL_CACHEMAX`` (5 % of the machine's memory by default, in each process): set it lower
(``rasterio.Env(GDAL_CACHEMAX=256)``, in MB, or the environment variable) where memory is tight.

Example::

    from aligninfo.data.raster import PatchPairs, read_patch_pairs

    pairs = read_patch_pairs("optical.tif", "sar.tif", size=32, stride=16)
    pairs.first.shape, pairs.second.shape   # (n, bands1, 32, 32), (n, bands2, 32, 32)
    pairs.dropped                           # pairs left out by the validity rule

    with PatchPairs(["B02.tif", "B03.tif", "B04.tif"], ["VV.tif", "VH.tif"], size=60) as data:
        x1, x2 = data[0]                    # a map-style dataset (torch DataLoader accepts it)
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, SupportsIndex

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import RasterioIOError
from rasterio.io import DatasetReader
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from aligninfo.data.registry import DataFileError

PathLike = str | os.PathLike[str]
Files = PathLike | Sequence[PathLike]
"""One sensor: a raster file, or a sequence of files whose bands are stacked in that order."""
Source = Path | str
"""A local file (a Path), or a name GDAL resolves itself (a str: ``/vsi...``, ``scheme://...``)."""

_SCAN_PIXELS = 1 << 22
"""Pixels of the reference grid read at once per file while scanning (full-width strips)."""
_GRID_TOLERANCE = 1e-4
"""Largest difference, in pixels of the reference grid, between two transforms taken as equal."""


@dataclass(frozen=True)
class Grid:
    """The reference grid every patch is cut from: that of the first sensor's first file.

    Attributes:
        crs: Coordinate reference system (None when the file has none).
        transform: Affine map from (column, row) pixel corners to coordinates.
        height: Rows of the grid.
        width: Columns of the grid.
    """

    crs: CRS | None
    transform: Affine
    height: int
    width: int

    def window_transform(self, row: int, col: int) -> Affine:
        """Return the transform of the patch whose top-left pixel is (``row``, ``col``).

        Args:
            row: Row of the patch's top-left pixel.
            col: Column of the patch's top-left pixel.

        Returns:
            The affine transform of that patch (same resolution and CRS as the grid).
        """
        return self.transform @ Affine.translation(col, row)


@dataclass(frozen=True, eq=False)
class Bands:
    """What one sensor's bands are, from its files' metadata.

    Attributes:
        files: The sensor's files, in the order their bands are stacked.
        names: (bands,) band names: descriptions, else file name (``stem_k`` for band k of a
            multi-band file without descriptions); alpha bands are left out.
        scales: (bands,) float64 scale of each band (1 where the file gives none).
        offsets: (bands,) float64 offset of each band (0 where the file gives none).
    """

    files: tuple[Source, ...]
    names: tuple[str, ...]
    scales: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True, eq=False)
class PatchArrays:
    """Every kept patch pair as arrays (see :func:`read_patch_pairs`).

    Attributes:
        first: (n, bands1, size, size) float32 patches of the first sensor, scaled.
        second: (n, bands2, size, size) float32 patches of the second sensor on the same grid.
        valid_first: (n, size, size) bool, True where the first sensor's pixel is valid.
        valid_second: (n, size, size) bool, the same for the second sensor.
        origins: (n, 2) int64 (row, column) of each patch's top-left pixel on :attr:`grid`.
        dropped: Number of candidate pairs left out by the validity rule.
        first_bands: Names, scales and offsets of the first sensor's bands.
        second_bands: The same for the second sensor.
        grid: The reference grid (first sensor's first file).
    """

    first: np.ndarray
    second: np.ndarray
    valid_first: np.ndarray
    valid_second: np.ndarray
    origins: np.ndarray
    dropped: int
    first_bands: Bands
    second_bands: Bands
    grid: Grid


class _Source:
    """One file opened for reading on the reference grid (directly or through a WarpedVRT)."""

    def __init__(self, path: Source, grid: Grid, reference: Source, resampling: Resampling) -> None:
        self.path = path
        self.dataset = _open(path)
        self.view: DatasetReader | WarpedVRT = self.dataset
        try:
            self.indexes = _data_bands(self.dataset, path)
        except Exception:
            self.dataset.close()
            raise
        if not _same_grid(self.dataset, grid):
            try:
                _check_overlap(self.dataset, path, grid, reference)
                self.view = WarpedVRT(
                    self.dataset,
                    crs=grid.crs,
                    transform=grid.transform,
                    width=grid.width,
                    height=grid.height,
                    resampling=resampling,
                    nodata=np.nan,
                    dtype="float32",
                )
            except Exception:
                self.dataset.close()
                raise

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Read one window of the reference grid.

        Args:
            window: Window of the reference grid.

        Returns:
            ``(values, valid)``: (bands, h, w) float32 raw values (unscaled) of the data bands
            (alpha bands left out) and (h, w) bool, True where every band is unmasked and
            finite.
        """
        try:
            values = self.view.read(self.indexes, window=window, out_dtype="float32")
            valid = np.all(np.isfinite(values), axis=0)
            if self.view is self.dataset:  # a WarpedVRT's mask is its NaN nodata: seen above
                valid &= np.all(self.dataset.read_masks(self.indexes, window=window) > 0, axis=0)
        except RasterioIOError as err:
            raise DataFileError(f"{self.path}: reading failed ({err})") from err
        return values, valid

    def valid(self, window: Window) -> np.ndarray:
        """Where one window of the reference grid is valid, reading one band at a time.

        Masks are read for a file on the grid, values only for floating-point bands (NaN,
        infinity) and for a WarpedVRT (whose mask is its NaN nodata).

        Args:
            window: Window of the reference grid.

        Returns:
            (h, w) bool, True where every data band is unmasked and finite.
        """
        warped = self.view is not self.dataset
        valid = np.ones((int(window.height), int(window.width)), dtype=bool)
        try:
            for index in self.indexes:
                if not warped:
                    valid &= self.dataset.read_masks(index, window=window) > 0
                if np.dtype(self.view.dtypes[index - 1]).kind == "f":
                    valid &= np.isfinite(self.view.read(index, window=window))
        except RasterioIOError as err:
            raise DataFileError(f"{self.path}: reading failed ({err})") from err
        return valid

    def close(self) -> None:
        """Close the VRT (if any) and the file."""
        if self.view is not self.dataset:
            self.view.close()
        self.dataset.close()


class PatchPairs:
    """Paired patches of two sensors on one grid, as a map-style dataset.

    Opening checks every file and scans both sensors once to find the kept pairs: one pass over
    the rows and columns that patches cover, in full-width strips, whatever the stride, holding
    only per-column counts of invalid pixels. Items are then read on demand, one window per
    file. File handles are opened per process (a torch ``DataLoader`` with workers reopens them
    in each worker) and are not pickled.

    Args:
        first: The first sensor's file or files (local paths, or names GDAL resolves such as
            ``/vsizip/...``); its first file fixes the reference grid.
        second: The second sensor's file or files, resampled onto that grid when needed.
        size: Patch side in pixels of the reference grid.
        stride: Step between patch origins in pixels (default: ``size``, no overlap).
        resampling: Name of a :class:`rasterio.enums.Resampling` method (or the enum) used for
            files not on the reference grid.
        max_nodata: Largest fraction of invalid pixels a patch may hold in either sensor, in
            [0, 1].
        fill_value: Value given to invalid pixels of kept patches.

    Raises:
        DataFileError: If a file is missing, is a directory or anything else GDAL cannot read,
            holds complex values or only alpha bands, a file off the reference grid lacks a CRS
            (while the grid has one, or the other way round; ground control points, as in
            Sentinel-1 GRD files, are not used), or does not overlap the reference grid; the
            error names the file.
        ValueError: For a size or stride that is not a positive integer, a patch larger than
            the reference grid (naming its file), an unknown resampling method, or
            ``max_nodata`` outside [0, 1], or a sensor given no file.
    """

    def __init__(
        self,
        first: Files,
        second: Files,
        size: int,
        stride: int | None = None,
        *,
        resampling: str | Resampling = "bilinear",
        max_nodata: float = 0.0,
        fill_value: float = 0.0,
    ) -> None:
        self.files = (_paths(first, "first"), _paths(second, "second"))
        reference = self.files[0][0]
        self.size = _positive(size, "size", reference)
        self.stride = self.size if stride is None else _positive(stride, "stride", reference)
        self.resampling = _resampling(resampling)
        if not 0.0 <= max_nodata <= 1.0:
            raise ValueError(f"max_nodata={max_nodata}: expected a fraction in [0, 1]")
        self.max_nodata = float(max_nodata)
        self.fill_value = float(fill_value)
        with _open(reference) as dataset:
            self.grid = Grid(dataset.crs, dataset.transform, dataset.height, dataset.width)
        if self.size > min(self.grid.height, self.grid.width):
            raise ValueError(
                f"size={self.size}: patches larger than {reference}'s grid "
                f"({self.grid.height} x {self.grid.width} pixels)"
            )
        self._handles: tuple[int, list[list[_Source]]] | None = None
        self.bands = tuple(_bands(files) for files in self.files)
        self.origins, self.dropped = self._scan()

    @property
    def first_bands(self) -> Bands:
        """Names, scales and offsets of the first sensor's bands."""
        return self.bands[0]

    @property
    def second_bands(self) -> Bands:
        """Names, scales and offsets of the second sensor's bands."""
        return self.bands[1]

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    def __getitem__(self, index: SupportsIndex) -> tuple[np.ndarray, np.ndarray]:
        """Read the ``index``-th kept pair.

        Args:
            index: Position among the kept pairs (negative counts from the end).

        Returns:
            ``(x1, x2)``: (bands1, size, size) and (bands2, size, size) float32, scaled, invalid
            pixels set to ``fill_value``.
        """
        x1, x2, _, _ = self.read(index)
        return x1, x2

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield every kept pair in order, as :meth:`__getitem__` does."""
        for index in range(len(self)):
            yield self[index]

    def read(self, index: SupportsIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Read the ``index``-th kept pair with its validity masks.

        Args:
            index: Position among the kept pairs (negative counts from the end).

        Returns:
            ``(x1, x2, valid1, valid2)``: the patches as in :meth:`__getitem__` and two
            (size, size) bool masks, True where the sensor's pixel is valid.

        Raises:
            TypeError: If ``index`` is not an integer (a slice, a float).
            IndexError: If ``index`` is out of range.
        """
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"patch pair {index} out of range for {len(self)} kept pairs")
        row, col = (int(v) for v in self.origins[index])
        window = Window(col, row, self.size, self.size)
        out = [self._read_sensor(k, window) for k in (0, 1)]
        for values, valid in out:
            values[:, ~valid] = self.fill_value
        return out[0][0], out[1][0], out[0][1], out[1][1]

    def arrays(self) -> PatchArrays:
        """Read every kept pair into arrays.

        Returns:
            The patches, masks and origins, with the band metadata and the dropped count.
        """
        reads = [self.read(i) for i in range(len(self))]
        side = (self.size, self.size)
        empty = [np.zeros((0, len(self.bands[k]), *side), np.float32) for k in (0, 1)]
        empty += [np.zeros((0, *side), bool)] * 2
        stack = [np.stack(part) for part in zip(*reads, strict=True)] if reads else empty
        return PatchArrays(
            first=stack[0],
            second=stack[1],
            valid_first=stack[2],
            valid_second=stack[3],
            origins=self.origins.copy(),
            dropped=self.dropped,
            first_bands=self.bands[0],
            second_bands=self.bands[1],
            grid=self.grid,
        )

    def close(self) -> None:
        """Close every file this process opened (they reopen on the next read)."""
        if self._handles is not None and self._handles[0] == os.getpid():
            for sources in self._handles[1]:
                for source in sources:
                    source.close()
        self._handles = None

    def __enter__(self) -> PatchPairs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = None
        return state

    def _sources(self) -> list[list[_Source]]:
        """The open files of both sensors, opened once per process."""
        if self._handles is None or self._handles[0] != os.getpid():
            reference = self.files[0][0]
            sources: list[list[_Source]] = []
            try:
                for files in self.files:
                    sources.append([])
                    for path in files:
                        sources[-1].append(_Source(path, self.grid, reference, self.resampling))
            except Exception:
                for opened in sources:
                    for source in opened:
                        source.close()
                raise
            self._handles = (os.getpid(), sources)
        return self._handles[1]

    def _read_sensor(self, sensor: int, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Read one window of one sensor: (bands, h, w) float32 scaled values, (h, w) valid."""
        reads = [source.read(window) for source in self._sources()[sensor]]
        values = np.concatenate([v for v, _ in reads])
        valid = np.logical_and.reduce([m for _, m in reads])
        bands = self.bands[sensor]
        scaled = values * bands.scales[:, None, None] + bands.offsets[:, None, None]
        return scaled.astype(np.float32), valid

    def _valid(self, sensor: int, window: Window) -> np.ndarray:
        """(h, w) bool: True where every band of every file of one sensor is valid."""
        return np.logical_and.reduce([source.valid(window) for source in self._sources()[sensor]])

    def _scan(self) -> tuple[np.ndarray, int]:
        """Find the kept patch origins in one pass over the rows and columns patches cover.

        Full-width strips are read in turn. For each sensor, the invalid pixels of every column
        are counted from the top of the grid, at the rows where patches start and end only
        (sums over the rows in between); a patch row's per-column counts are the difference
        between its bottom and its top, summed over each patch's columns. At most
        ``size / stride + 1`` rows of per-column counts are pending at a time.

        Returns:
            ``(origins, dropped)``: (n, 2) int64 (row, column) of the kept patches, and the
            number of candidates dropped by the validity rule.
        """
        size, stride = self.size, self.stride
        tops = range(0, self.grid.height - size + 1, stride)
        cols = np.arange(0, self.grid.width - size + 1, stride)
        height, width = tops[-1] + size, int(cols[-1]) + size

        def tops_from(low: int, high: int) -> range:
            """Patch top rows in [low, high)."""
            return range(max(0, -(-low // stride) * stride), min(high, tops.stop), stride)

        above = np.zeros((2, width), dtype=np.int32)  # invalid pixels per column, rows scanned
        pending: dict[int, np.ndarray] = {}  # top row -> `above` there, until its bottom row
        kept: list[np.ndarray] = [np.zeros((0, 2), dtype=np.int64)]  # (k, 2) per patch row
        step = max(1, _SCAN_PIXELS // width)
        for first in range(0, height, step):
            last = min(first + step, height)
            starting, ending = tops_from(first, last), tops_from(first - size + 1, last - size + 1)
            marks = sorted({first, last, *starting, *(top + size for top in ending)})
            counts = self._column_counts(Window(0, first, width, last - first), marks, above)
            at = dict(zip(marks, counts, strict=True))
            above = at[last].copy()  # copies: the strip's counts are then freed
            pending.update((top, at[top].copy()) for top in starting)
            for top in ending:
                along = np.zeros((2, width + 1), dtype=np.int64)
                np.cumsum(at[top + size] - pending.pop(top), axis=1, out=along[:, 1:])
                invalid = (along[:, cols + size] - along[:, cols]) / (size * size)
                ok = cols[np.all(invalid <= self.max_nodata, axis=0)]
                kept.append(np.stack([np.full_like(ok, top), ok], axis=1).astype(np.int64))
        origins = np.concatenate(kept)
        return origins, len(tops) * len(cols) - len(origins)

    def _column_counts(self, strip: Window, marks: list[int], above: np.ndarray) -> np.ndarray:
        """Invalid pixels per column from the top of the grid, at some rows of a strip.

        Args:
            strip: Full-width rows of the reference grid (from its first column).
            marks: Sorted rows, from the strip's first row to the row after its last.
            above: (2, w) int32 invalid pixels of each sensor and column above the strip.

        Returns:
            (len(marks), 2, w) int32: entry [i, s, c] counts the invalid pixels of sensor s in
            column c from the top of the grid down to row ``marks[i]`` (excluded).
        """
        counts = np.empty((len(marks), 2, int(strip.width)), dtype=np.int32)
        starts = [mark - int(strip.row_off) for mark in marks[:-1]]
        for sensor in (0, 1):
            invalid = ~self._valid(sensor, strip)
            between = np.add.reduceat(invalid, starts, axis=0, dtype=np.int32)
            counts[0, sensor] = above[sensor]
            np.cumsum(between, axis=0, out=counts[1:, sensor])
            counts[1:, sensor] += above[sensor]
        return counts


def read_patch_pairs(
    first: Files,
    second: Files,
    size: int,
    stride: int | None = None,
    *,
    resampling: str | Resampling = "bilinear",
    max_nodata: float = 0.0,
    fill_value: float = 0.0,
) -> PatchArrays:
    """Cut paired patches from two sensors' rasters and return them as arrays.

    See :class:`PatchPairs` for the arguments, the errors and the validity rule.

    Args:
        first: The first sensor's file or files; its first file fixes the reference grid.
        second: The second sensor's file or files, resampled onto that grid when needed.
        size: Patch side in pixels of the reference grid.
        stride: Step between patch origins (default: ``size``).
        resampling: Resampling method for files off the reference grid.
        max_nodata: Largest fraction of invalid pixels a kept patch may hold in either sensor.
        fill_value: Value given to invalid pixels of kept patches.

    Returns:
        The kept pairs: ``first`` (n, bands1, size, size), ``second`` (n, bands2, size, size),
        masks, origins, band metadata and the number dropped.
    """
    with PatchPairs(
        first,
        second,
        size,
        stride,
        resampling=resampling,
        max_nodata=max_nodata,
        fill_value=fill_value,
    ) as pairs:
        return pairs.arrays()


def _paths(files: Files, which: str) -> tuple[Source, ...]:
    """One sensor's files as a non-empty tuple: local Paths, or names GDAL resolves (str)."""
    given = [files] if isinstance(files, str | os.PathLike) else list(files)
    if not given:
        raise ValueError(f"the {which} sensor has no file")
    return tuple(_source(os.fspath(f)) for f in given)


def _source(name: str) -> Source:
    """A GDAL virtual file system name or URL stays a str (Path would mangle ``//``)."""
    return name if name.startswith("/vsi") or "://" in name else Path(name)


def _stem(path: Source) -> str:
    """The file name without its extension, also inside an archive (``a.zip!b.tif``: ``b``)."""
    name = path.name if isinstance(path, Path) else path.rsplit("!", 1)[-1]
    return PurePosixPath(name).stem


def _positive(value: int, name: str, reference: Source) -> int:
    """Stop unless ``value`` is a positive integer (patch size or stride)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"{name}={value!r}: expected a positive whole number of pixels of {reference}'s grid"
        )
    return int(value)


def _resampling(method: str | Resampling) -> Resampling:
    """The Resampling enum named by ``method``."""
    if isinstance(method, Resampling):
        return method
    try:
        return Resampling[method]
    except KeyError:
        known = ", ".join(r.name for r in Resampling)
        raise ValueError(f"unknown resampling {method!r}; expected one of: {known}") from None


def _open(path: Source) -> DatasetReader:
    """Open a raster, with errors that name the file (names GDAL resolves go to GDAL as given)."""
    if isinstance(path, Path) and not path.exists():
        raise DataFileError(f"{path}: no such file")
    try:
        return rasterio.open(path)
    except RasterioIOError as err:
        folder = isinstance(path, Path) and path.is_dir()
        what = "a directory GDAL cannot read" if folder else "GDAL cannot read it"
        raise DataFileError(f"{path}: {what} as a raster ({err})") from err


def _data_bands(dataset: DatasetReader, path: Source) -> list[int]:
    """Indexes (from 1) of a file's bands that hold values: all but alpha bands."""
    complex_types = [t for t in dataset.dtypes if np.dtype(t).kind == "c"]
    if complex_types:
        raise DataFileError(
            f"{path}: complex values ({complex_types[0]}); convert them to real bands "
            "(amplitude, intensity or phase) first"
        )
    indexes = [k + 1 for k, colour in enumerate(dataset.colorinterp) if colour != ColorInterp.alpha]
    if not indexes:
        raise DataFileError(f"{path}: only alpha bands, no values")
    return indexes


def _same_grid(dataset: DatasetReader, grid: Grid) -> bool:
    """Whether a file lies on the reference grid: same CRS and size, transforms within 1e-4 px.

    The transforms are compared in pixels of the reference grid, not in coordinate units (in
    degrees, a pixel can be far smaller than any fixed tolerance).
    """
    if dataset.crs != grid.crs or (dataset.height, dataset.width) != (grid.height, grid.width):
        return False
    in_pixels = ~grid.transform @ dataset.transform  # file pixel -> reference pixel
    return all(
        abs(a - b) <= _GRID_TOLERANCE
        for a, b in zip(in_pixels[:6], Affine.identity()[:6], strict=True)
    )


def _check_overlap(dataset: DatasetReader, path: Source, grid: Grid, reference: Source) -> None:
    """Stop unless a file off the reference grid can be resampled onto it and overlaps it."""
    if dataset.crs is None and dataset.gcps[0]:
        raise DataFileError(
            f"{path}: georeferenced by ground control points only ({len(dataset.gcps[0])}), "
            f"which are not used here: warp it onto a CRS first (for instance gdalwarp -t_srs "
            f"with {reference}'s CRS)"
        )
    if dataset.crs is None or grid.crs is None:
        lacking = path if dataset.crs is None else reference
        raise DataFileError(
            f"{lacking}: has no CRS, so {path} cannot be resampled onto {reference}'s grid"
        )
    left, bottom, right, top = transform_bounds(dataset.crs, grid.crs, *dataset.bounds)
    x0, y0 = grid.transform @ (0, 0)
    x1, y1 = grid.transform @ (grid.width, grid.height)
    overlap_x = min(right, max(x0, x1)) - max(left, min(x0, x1))
    overlap_y = min(top, max(y0, y1)) - max(bottom, min(y0, y1))
    if overlap_x <= 0 or overlap_y <= 0:
        raise DataFileError(f"{path}: does not overlap {reference} (no pixel in common)")


def _bands(files: tuple[Source, ...]) -> Bands:
    """Band names, scales and offsets of one sensor's data bands, from its files' metadata."""
    names: list[str] = []
    scales: list[float] = []
    offsets: list[float] = []
    for path in files:
        with _open(path) as dataset:
            indexes = _data_bands(dataset, path)
            for index in indexes:
                default = _stem(path) if len(indexes) == 1 else f"{_stem(path)}_{index}"
                names.append(dataset.descriptions[index - 1] or default)
                scale, offset = dataset.scales[index - 1], dataset.offsets[index - 1]
                scales.append(1.0 if scale is None else float(scale))
                offsets.append(0.0 if offset is None else float(offset))
    return Bands(tuple(files), tuple(names), np.array(scales), np.array(offsets))
