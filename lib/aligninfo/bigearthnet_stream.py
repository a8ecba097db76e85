"""BigEarthNet v1 as a pretraining stream: S2 / S1 pairs decoded as training reads them.

``python -m aligninfo pretrain bigearthnet`` trains on this stream (:func:`open_bigearthnet`, then
:func:`aligninfo.pretrain.pretrain_stream`). ``x1`` is Sentinel-2 (the 12 bands of
:data:`~aligninfo.data.bigearthnet.S2_BANDS`, surface reflectance: the files' values /
:data:`S2_SCALE`), ``x2`` Sentinel-1 (VV, VH in dB), whole 120 x 120 patches or one window of
side ``sub_patch`` per pair and epoch (:class:`BigEarthNetStream`), standardised per channel
with the moments of a seeded sample of pairs (:func:`sample_scaling`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from aligninfo.data.registry import DataFileError
from aligninfo.pretrain import PretrainInputError, Scaling, file_named, standardisation_record
from aligninfo.userio import first_line

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aligninfo.data.bigearthnet import BigEarthNetPairs

__all__ = ["S2_SCALE", "BigEarthNetStream", "open_bigearthnet", "sample_scaling"]

S2_SCALE = 1e4
"""BigEarthNet's Sentinel-2 files hold surface reflectance x 10,000."""


class BigEarthNetStream(Dataset[dict[str, Tensor]]):
    """BigEarthNet pairs as training samples: ``{"x1": S2, "x2": S1}``, standardised.

    Worker-safe and picklable as :class:`~aligninfo.data.bigearthnet.BigEarthNetPairs` is (it
    holds paths; files are opened per item). ``x1`` is the 12 Sentinel-2 bands in surface
    reflectance (the files' values / :data:`S2_SCALE`), ``x2`` VV and VH in dB, each then
    standardised per channel with ``scaling``. With ``sub_patch``, each item is one square
    window of both sensors at the position drawn from ``(seed, epoch, index)``
    (:meth:`set_epoch`, which :func:`aligninfo.train.fit` calls), so a run sees other windows
    every epoch and the same ones when repeated or resumed.

    Args:
        pairs: The pairs.
        scaling: Per-channel ``(mean, scale)`` of ``"x1"`` and ``"x2"`` in the units above
            (:func:`sample_scaling`); None: none (raw units).
        sub_patch: Side of the windows in 10 m pixels (None: whole 120 x 120 patches).
        seed: Seed of the windows' positions.
    """

    def __init__(
        self,
        pairs: BigEarthNetPairs,
        scaling: Scaling | None = None,
        sub_patch: int | None = None,
        seed: int = 0,
    ) -> None:
        _check_sub_patch(sub_patch)
        self.pairs, self.scaling, self.sub_patch, self.seed = pairs, scaling, sub_patch, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the windows of this epoch (with ``sub_patch``)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of one sample of each modality."""
        from aligninfo.data.bigearthnet import PATCH, S1_BANDS, S2_BANDS

        side = self.sub_patch or PATCH
        return {"x1": (len(S2_BANDS), side, side), "x2": (len(S1_BANDS), side, side)}

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """One pair (or window of it).

        Returns:
            ``{"x1": (12, s, s), "x2": (2, s, s)}`` float32 tensors, ``s`` the side.

        Raises:
            DataFileError: Naming the file, if a band file is unreadable or mis-sized; naming
                the patch folder, if a band holds NaN or infinite values (e.g. a backscatter
                of 0 taken to dB), which would make the standardisation or the loss NaN.
        """
        item = self.pairs[index]
        views = {"x1": item["s2"] / S2_SCALE, "x2": item["s1"]}
        _check_finite(views, self.pairs.pairs[int(item["index"])])
        if self.sub_patch is not None:
            last = views["x1"].shape[-1] - self.sub_patch
            rng = np.random.default_rng([self.seed, self.epoch, int(item["index"])])
            i, j = (int(v) for v in rng.integers(0, last + 1, size=2))
            views = {
                k: v[:, i : i + self.sub_patch, j : j + self.sub_patch] for k, v in views.items()
            }
        if self.scaling is not None:
            views = {k: (v - self.scaling[k][0]) / self.scaling[k][1] for k, v in views.items()}
        return {k: v.contiguous() for k, v in views.items()}

    def fingerprint(self) -> str:
        """What a checkpoint keys the data by: the pairs, resampling, windows and scaling."""
        import hashlib

        names = "\n".join(p.s2_name for p in self.pairs.pairs).encode()
        scaling = (
            b""
            if self.scaling is None
            else b"".join(t.numpy().tobytes() for pair in self.scaling.values() for t in pair)
        )
        digest = hashlib.blake2b(names + b"|" + scaling, digest_size=16).hexdigest()
        return (
            f"pairs {digest}, resampling {self.pairs.resampling}, sub_patch {self.sub_patch}, "
            f"window seed {self.seed}"
        )


def _check_sub_patch(sub_patch: int | None) -> None:
    """Refuse a window side outside ``[1, PATCH]`` (before any file is read)."""
    from aligninfo.data.bigearthnet import PATCH

    if sub_patch is not None and not (
        isinstance(sub_patch, int) and not isinstance(sub_patch, bool) and 1 <= sub_patch <= PATCH
    ):
        raise PretrainInputError(f"sub_patch must be an integer in [1, {PATCH}], got {sub_patch!r}")


def _check_finite(views: Mapping[str, Tensor], pair: Any) -> None:
    """Stop, naming the patch folder and band, if a whole patch holds NaN or infinite values."""
    from aligninfo.data.bigearthnet import S1_BANDS, S2_BANDS

    for key, folder, bands in (("x1", pair.s2_dir, S2_BANDS), ("x2", pair.s1_dir, S1_BANDS)):
        bad = (~torch.isfinite(views[key])).sum(dim=(-2, -1))
        if bad.any():
            band = int(torch.argmax(bad))
            raise DataFileError(
                f"{folder}: {int(bad[band])} pixels of band {bands[band]} are NaN or infinite "
                "(the stream needs finite values; remove the pair or repair its file)"
            )


def open_bigearthnet(
    data_dir: str | Path | None,
    split: str | None = None,
    *,
    sub_patch: int | None = None,
    cache_dir: str | Path | None = None,
    norm_sample: int = 1000,
    seed: int = 0,
    workers: int = 0,
) -> tuple[BigEarthNetStream, dict[str, Any]]:
    """The pairs of a BigEarthNet v1 download as a standardised training stream.

    Args:
        data_dir: Folder holding ``BigEarthNet-v1.0/`` and ``BigEarthNet-S1-v1.0/``.
        split: ``"train"``, ``"val"``, ``"test"`` (an official list) or None (every pair).
        sub_patch: Side of the training windows (None: whole patches).
        cache_dir: Folder of the decoded-patch cache (``.npy`` per pair), or None.
        norm_sample: Pairs of the seeded sample the standardisation is estimated on.
        seed: Seed of the sample and of the windows.
        workers: DataLoader processes decoding the sample.

    Returns:
        The stream and what ``encoders.json`` records of it (modalities, bands, units,
        source, split, pairs, skipped pairs, standardisation).

    Raises:
        PretrainInputError: If ``sub_patch`` is out of range (refused before any file is
            read), the folder is no download (naming what is missing), the split is unknown,
            or it holds fewer than 2 pairs.
        DataFileError: Naming the file or folder, if a pair of the sample is unreadable or
            holds NaN or infinite values.
    """
    from aligninfo.data import bigearthnet as ben

    _check_sub_patch(sub_patch)  # before reading any pair
    if data_dir is None:
        raise PretrainInputError(
            "bigearthnet needs --data-dir, the folder holding "
            + " and ".join(ben.ARCHIVE_FOLDERS.values())
        )
    try:
        pairs = ben.BigEarthNetPairs.from_archive(
            data_dir, split, on_error="skip", cache_dir=cache_dir
        )
    except (DataFileError, ValueError) as err:
        raise PretrainInputError(f"bigearthnet: {first_line(err)}") from err
    if len(pairs) < 2:
        raise PretrainInputError(
            f"bigearthnet: {len(pairs)} pairs in {data_dir} (split {split}): pretraining "
            "needs at least 2"
        )
    raw = BigEarthNetStream(pairs, None, None, seed)
    with file_named():
        scaling, sampled = sample_scaling(raw, norm_sample, seed, workers)
    _warn_linear_backscatter(scaling["x2"][0])
    stream = BigEarthNetStream(pairs, scaling, sub_patch, seed)
    record = {
        "modalities": {"x1": "Sentinel-2 L2A", "x2": "Sentinel-1 GRD"},
        "bands": {"x1": list(ben.S2_BANDS), "x2": list(ben.S1_BANDS)},
        "units": {
            "x1": f"surface reflectance (the files' values / {S2_SCALE:g})",
            "x2": "backscatter (dB)",
        },
        "source": f"bigearthnet {data_dir}",
        "split": split,
        "samples": len(pairs),
        "skipped": [f"{s.path.name}: {s.reason}" for s in pairs.skipped],
        "sub_patch": sub_patch,
        "resampling": pairs.resampling,
        "standardisation": standardisation_record(
            scaling, f"per channel, from {sampled} pairs drawn with seed {seed} (whole patches)"
        ),
    }
    return stream, record


def _warn_linear_backscatter(mean: Tensor) -> None:
    """Warn when no S1 channel's mean is below 0 dB: files in linear units would look so."""
    if bool((mean >= 0).all()):
        values = ", ".join(f"{v:.3g}" for v in mean.flatten().tolist())
        warnings.warn(
            f"the Sentinel-1 bands' mean values ({values}) are not negative: BigEarthNet v1 "
            "stores backscatter in dB (about -10 to -20 on land); files in linear units are "
            "read as dB here",
            stacklevel=3,
        )


def sample_scaling(
    stream: BigEarthNetStream, size: int, seed: int = 0, workers: int = 0
) -> tuple[Scaling, int]:
    """Per-channel mean and standard deviation of a seeded sample of pairs (whole patches).

    Pairs are drawn without replacement (all of them when ``size`` exceeds their number) and
    decoded through a DataLoader; the moments are accumulated in float64, pair by pair (the
    pooled mean and the population standard deviation over every pixel of the sample). A
    channel whose deviation is 0 gets scale 1.

    Args:
        stream: The pairs in raw units (a stream without scaling or windows).
        size: Pairs to draw (a positive integer).
        seed: Seed of the draw.
        workers: DataLoader processes.

    Returns:
        ``({key: (mean, scale)}`` shaped ``(channels, 1, 1)`` float32, the pairs drawn).

    Raises:
        PretrainInputError: For a ``size`` below 1.
    """
    if not isinstance(size, int) or size < 1:
        raise PretrainInputError(f"norm_sample must be a positive integer, got {size!r}")
    n = len(stream)
    chosen = np.sort(np.random.default_rng(seed).choice(n, min(size, n), replace=False))
    loader = DataLoader(stream, batch_size=None, sampler=chosen.tolist(), num_workers=workers)
    moments: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
    for item in loader:
        for key, x in item.items():
            moments[key] = _merge(moments.get(key), x.numpy().astype(np.float64))
    scaling = {}
    for key, (count, mean, m2) in moments.items():
        std = np.sqrt(m2 / count)
        scale = np.where(std > 0, std, 1.0)
        scaling[key] = (
            torch.as_tensor(mean[:, None, None], dtype=torch.float32),
            torch.as_tensor(scale[:, None, None], dtype=torch.float32),
        )
    return scaling, len(chosen)


def _merge(
    acc: tuple[int, np.ndarray, np.ndarray] | None, x: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan et al.'s pooled count, mean and sum of squared deviations per channel (axis 0)."""
    flat = x.reshape(x.shape[0], -1)
    count, mean = flat.shape[1], flat.mean(axis=1)
    m2 = ((flat - mean[:, None]) ** 2).sum(axis=1)
    if acc is None:
        return count, mean, m2
    n0, mean0, m20 = acc
    total = n0 + count
    delta = mean - mean0
    return total, mean0 + delta * count / total, m20 + m2 + delta**2 * n0 * count / total
