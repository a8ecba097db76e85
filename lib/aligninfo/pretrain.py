"""Pretrain encoders on paired modalities, on one process or many, and load them in a chapter.

::

    python -m aligninfo pretrain lfmc --objective info_nce -k 64 --epochs 20 --out enc
    torchrun --nproc_per_node 4 -m aligninfo pretrain x1.npy x2.npy -k 128 --device cuda --out enc
    torchrun --nproc_per_node 8 -m aligninfo pretrain bigearthnet --data-dir /data/ben \
        --split train --sub-patch 16 --cache-dir /scratch/ben --loader-workers 6 --out enc

    from aligninfo.pretrain import load_encoders
    encoders = load_encoders("enc")              # the folder (or its encoders.json)
    z1 = encoders.encode("x1", X1)               # (n, k) float32, inputs in raw units

The data are a named data set (``lfmc``: Sentinel-2 optical vs Sentinel-1 SAR, the official
training sites only; ``houston``: hyperspectral vs LiDAR, the official training pixels) or two
``.npy`` files of paired rows, ``(n, *shape1)`` and ``(n, *shape2)``. Each modality is
standardised with the statistics of the rows it is trained on (per feature for ``(n, d)``
inputs, per channel for ``(n, channels, ...)`` inputs), and those statistics are saved with the
encoders, which apply them to any input given to :meth:`Pretrained.encode`.

``bigearthnet`` is streamed rather than held in memory: the pairs of a BigEarthNet v1 download
(:class:`aligninfo.data.bigearthnet.BigEarthNetPairs`, one official split or all) are decoded
as training reads them, by ``loader_workers`` DataLoader processes per training process
(:class:`BigEarthNetStream`, :func:`aligninfo.train.fit` on a Dataset), optionally from its
decoded-patch cache. ``x1`` is Sentinel-2 (the 12 bands of
:data:`~aligninfo.data.bigearthnet.S2_BANDS`, surface reflectance: the files' values / 10,000),
``x2`` Sentinel-1 (VV, VH in dB), whole 120 x 120 patches, or with ``sub_patch`` one window of
that side per pair and epoch at a position drawn from ``(seed, epoch, pair)``, the same for both
sensors. The standardisation (per channel) is estimated on a seeded sample of pairs
(:func:`sample_scaling`, ``norm_sample`` pairs, 1,000 by default, whole patches; every process
computes the same), and recorded in ``encoders.json`` (``standardisation``) as well as with the
weights. Each epoch takes the ``n // batch_size`` full global batches of a new permutation of the
``n`` pairs: the ``n % batch_size`` left over (other pairs every epoch) are not trained on in that
epoch. A pair whose bands hold NaN or infinite values (a backscatter of 0 taken to dB is
``-inf``) stops the run with a :class:`~aligninfo.data.registry.DataFileError` naming its folder
and band. Units are not converted: S1 bands whose sampled means are all 0 or above (linear
units, not dB) are warned of.

The output folder holds ``encoders.pt`` (the state dict of the
:class:`~aligninfo.encoders.MultimodalEncoder` and the standardisation) and ``encoders.json``
(how to rebuild the model: encoder kind, input shape, embedding size and settings per modality,
the projection heads; and the objective, training settings, history, number of processes and
throughput), plus ``checkpoint.pt``: run the same command again, with as many processes or
another number, to resume an interrupted run, or with more ``--epochs`` to continue it
(:func:`aligninfo.train.fit`). Under torchrun only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from aligninfo import __version__, distributed
from aligninfo.data.named import NAMES
from aligninfo.data.registry import DataFileError
from aligninfo.encoders import MultimodalEncoder, make_encoder, make_projector
from aligninfo.jsonio import write_json
from aligninfo.losses import OBJECTIVES, make_objective
from aligninfo.train import TrainConfig, encode, fit, load_checkpoint

if TYPE_CHECKING:
    from aligninfo.data.bigearthnet import BigEarthNetPairs
from aligninfo.userio import first_line, out_folder

__all__ = [
    "DATASETS",
    "STREAMED",
    "BigEarthNetStream",
    "PretrainConfig",
    "PretrainInputError",
    "Pretrained",
    "build_model",
    "cpu_time",
    "load_encoders",
    "load_pairs",
    "open_bigearthnet",
    "pretrain",
    "pretrain_stream",
    "sample_scaling",
]

FORMAT = 1
"""Version of the layout of ``encoders.json``."""

SPEC, WEIGHTS, CHECKPOINT = "encoders.json", "encoders.pt", "checkpoint.pt"

DATASETS = NAMES
"""Data sets known by name (their training rows)."""
STREAMED = ("bigearthnet",)
"""Data sets streamed from their files rather than held in memory."""
S2_SCALE = 1e4
"""BigEarthNet's Sentinel-2 files hold surface reflectance x 10,000."""

NEEDS_MORE = {
    "reconstruction": "decoders",
    "cross_recon": "decoders",
    "comm": "a fusion head",
}
"""Objectives this command cannot train, and what their models would need."""


class PretrainInputError(ValueError):
    """Input the command refuses before training (a one-line message)."""


@dataclass(frozen=True)
class PretrainConfig:
    """What :func:`pretrain` trains and how.

    Attributes:
        objective: A name of :data:`aligninfo.losses.OBJECTIVES` (but those of
            :data:`NEEDS_MORE`).
        objective_kwargs: Its hyperparameters (``decur`` gets ``n_common = k // 2`` unless
            given).
        k: Embedding size of each encoder (its backbone output).
        encoder: ``"mlp"``, ``"linear"``, ``"conv1d"`` or ``"cnn2d"``
            (:func:`aligninfo.encoders.make_encoder`).
        hidden: Hidden widths of the MLP encoders (ignored by the others).
        channels: Channels of the ``cnn2d`` encoders' convolutions (ignored by the others).
        projector: Output size of a projection head on each encoder (None: no head; the loss
            acts on the backbone).
        train: Epochs, the global batch size, learning rate, seed, device
            (:class:`aligninfo.train.TrainConfig`).
    """

    objective: str = "info_nce"
    objective_kwargs: Mapping[str, Any] = field(default_factory=dict)
    k: int = 64
    encoder: str = "mlp"
    hidden: tuple[int, ...] = (256, 256)
    channels: tuple[int, ...] = (32, 64, 128)
    projector: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            trainable = (name for name in OBJECTIVES if name not in NEEDS_MORE)
            raise PretrainInputError(
                f"unknown objective {self.objective!r}; choose from {', '.join(trainable)}"
            )
        if self.objective in NEEDS_MORE:
            raise PretrainInputError(
                f"objective {self.objective!r} needs {NEEDS_MORE[self.objective]}, which "
                "pretrain does not build; choose another"
            )
        for name in ("k", "projector"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise PretrainInputError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class Pretrained:
    """Encoders loaded by :func:`load_encoders`: the model, its standardisation and its record.

    Attributes:
        model: The :class:`~aligninfo.encoders.MultimodalEncoder`, on the CPU, in eval mode.
        scaling: ``{key: (mean, scale)}`` applied to raw inputs before the encoders.
        spec: The contents of ``encoders.json``.
    """

    model: MultimodalEncoder
    scaling: dict[str, tuple[torch.Tensor, torch.Tensor]]
    spec: dict[str, Any]

    @property
    def keys(self) -> list[str]:
        """The modality keys (``"x1"``, ``"x2"``)."""
        return self.model.keys

    def standardise(self, key: str, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Scale raw inputs of one modality as in pretraining.

        Args:
            key: Modality key.
            x: ``(n, *shape)`` raw inputs.

        Returns:
            ``(n, *shape)`` float32 tensor.
        """
        mean, scale = self.scaling[key]
        return (torch.as_tensor(np.asarray(x), dtype=torch.float32) - mean) / scale

    def encode(self, key: str, x: np.ndarray | torch.Tensor, batch_size: int = 4096) -> np.ndarray:
        """Backbone features of raw inputs (standardised first).

        Args:
            key: Modality key.
            x: ``(n, *shape)`` raw inputs.
            batch_size: Rows per forward pass.

        Returns:
            ``(n, k)`` float32 array.
        """
        return encode(self.model, self.standardise(key, x), key, batch_size)

    def require(
        self, bands: Mapping[str, Sequence[str]], shapes: Mapping[str, Sequence[int]]
    ) -> None:
        """Refuse encoders that do not read these bands and input shapes, in one line.

        Args:
            bands: The band names each modality's input holds, in order, by key (what
                ``encoders.json`` records as ``bands``; encoders trained on arrays record none
                and are refused).
            shapes: The shape of one input of each modality, by key, e.g. ``(12, 16, 16)``.

        Raises:
            ValueError: Naming what differs: the modality keys, a band list or an input shape.
        """
        recorded = self.spec.get("bands") or {}
        if sorted(recorded) != sorted(bands):
            raise ValueError(
                f"the encoders read {sorted(recorded) or 'no named bands'}, not {sorted(bands)}: "
                "they were pretrained on other data"
            )
        for key, wanted in bands.items():
            if list(recorded[key]) != list(wanted):
                raise ValueError(
                    f"the {key} encoder reads the bands {list(recorded[key])}, not {list(wanted)}"
                )
            have = list(self.spec["encoders"][key]["in_shape"])
            if have != list(shapes[key]):
                raise ValueError(
                    f"the {key} encoder was pretrained on inputs of shape {tuple(have)}, not "
                    f"{tuple(shapes[key])} (channels, height, width): pretrain with a matching "
                    "--sub-patch"
                )


# --------------------------------------------------------------------------- data


def load_pairs(
    sources: Sequence[str], data_dir: str | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, str], str]:
    """The paired training rows of a named data set or of two ``.npy`` files.

    Args:
        sources: ``[name]`` (one of :data:`DATASETS`) or ``[x1.npy, x2.npy]``.
        data_dir: Data folder of a named data set (default: ``ALIGNINFO_DATA``).

    Returns:
        ``(x1, x2, names of the modalities, description of the source)``, float32 arrays.

    Raises:
        PretrainInputError: For an unknown name, an unreadable file, rows that do not pair,
            non-numeric, NaN or infinite values.
    """
    if len(sources) == 1:
        x1, x2, names = _named(sources[0], data_dir)
    elif len(sources) == 2:
        x1, x2 = (_read(path, name) for path, name in zip(sources, ("X1", "X2"), strict=True))
        names = ("X1", "X2")
    else:
        raise PretrainInputError(
            f"give a data set ({', '.join(DATASETS)}) or two .npy files, got {len(sources)} inputs"
        )
    if len(x1) != len(x2):
        raise PretrainInputError(f"X1 has {len(x1)} rows and X2 {len(x2)}: rows must pair")
    if len(x1) < 2:
        raise PretrainInputError(f"{len(x1)} rows: pretraining needs at least 2")
    return x1, x2, names, " ".join(sources)


def _named(name: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    from aligninfo.data import named

    if name not in DATASETS:
        raise PretrainInputError(
            f"unknown data set {name!r}: expected one of {', '.join((*DATASETS, *STREAMED))}, "
            "or two .npy files"
        )
    try:
        pair = named.load(name, data_dir)
    except (DataFileError, OSError, ValueError) as err:
        raise PretrainInputError(f"{name}: cannot load the data: {first_line(err)}") from err
    rows = pair.train_rows  # the official training rows only: test sites stay unseen
    return _float(pair.x1[rows]), _float(pair.x2[rows]), pair.names


def _read(path: str, name: str) -> np.ndarray:
    if not path.endswith(".npy"):
        raise PretrainInputError(f"{name}: {path} is not a .npy file")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise PretrainInputError(f"{name}: cannot read {path}: {first_line(err)}") from err
    if array.dtype.kind not in "biuf":
        raise PretrainInputError(f"{name}: {path} holds {array.dtype} values, not numbers")
    if array.ndim < 2 or 0 in array.shape[1:]:
        raise PretrainInputError(f"{name}: {path} must be (rows, features...), got {array.shape}")
    if not np.isfinite(array).all():
        raise PretrainInputError(f"{name}: {path} holds NaN or infinite values")
    return _float(array)


def _float(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def _scaling(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and scale per feature (2-D) or per channel (axis 1 of more), shaped to broadcast."""
    axes = (0,) if x.ndim == 2 else (0, *range(2, x.ndim))
    mean = x.mean(axis=axes, dtype=np.float64, keepdims=True)[0]
    std = x.std(axis=axes, dtype=np.float64, keepdims=True)[0]
    scale = np.where(std > 0, std, 1.0)
    return torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(scale, dtype=torch.float32)


# --------------------------------------------------------------------------- streamed data


Scaling = dict[str, tuple[Tensor, Tensor]]
"""``{key: (mean, scale)}`` shaped to broadcast over one sample (``(channels, 1, 1)``)."""


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
    with _file_named():
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
        "standardisation": _recorded(
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


def _recorded(scaling: Scaling, how: str) -> dict[str, Any]:
    """The standardisation as ``encoders.json`` records it."""
    return {
        "how": how,
        **{
            key: {"mean": mean.flatten().tolist(), "scale": scale.flatten().tolist()}
            for key, (mean, scale) in scaling.items()
        },
    }


# --------------------------------------------------------------------------- model


def build_model(spec: Mapping[str, Any]) -> MultimodalEncoder:
    """The (untrained) model that ``encoders.json`` describes.

    Args:
        spec: ``{"encoders": {key: {"kind", "in_shape", "out_dim", "kwargs"}},
            "projector": None or {"out_dim", "hidden"}}``.

    Returns:
        A :class:`~aligninfo.encoders.MultimodalEncoder` with those encoders and heads.
    """
    encoders = {
        key: make_encoder(e["kind"], e["in_shape"], e["out_dim"], **e["kwargs"])
        for key, e in spec["encoders"].items()
    }
    head = spec.get("projector")
    projectors = (
        {
            key: make_projector(e["out_dim"], head["out_dim"], head["hidden"])
            for key, e in spec["encoders"].items()
        }
        if head
        else None
    )
    return MultimodalEncoder(encoders, projectors=projectors)


def _model_spec(shapes: Mapping[str, tuple[int, ...]], config: PretrainConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "mlp": {"hidden": list(config.hidden)},
        "cnn2d": {"channels": list(config.channels)},
    }.get(config.encoder, {})
    encoders = {
        key: {
            "kind": config.encoder,
            "in_shape": list(shape),
            "out_dim": config.k,
            "kwargs": kwargs,
        }
        for key, shape in shapes.items()
    }
    head = None if config.projector is None else {"out_dim": config.projector, "hidden": None}
    return {"encoders": encoders, "projector": head}


# --------------------------------------------------------------------------- training


def pretrain(
    x1: np.ndarray,
    x2: np.ndarray,
    config: PretrainConfig,
    out: str | Path,
    names: tuple[str, str] = ("X1", "X2"),
    source: str = "",
) -> dict[str, Any]:
    """Train encoders of ``x1`` and ``x2`` with an objective; write them to ``out``.

    Runs on one process, or data-parallel on every process of an initialised group (each
    process calls it with the same arguments; only rank 0 writes). A ``checkpoint.pt`` left in
    ``out`` by an interrupted run is resumed.

    Args:
        x1: ``(n, *shape1)`` first modality (raw units).
        x2: ``(n, *shape2)`` second modality, rows paired with ``x1``.
        config: What to train and how.
        out: Output folder (created).
        names: Names of the two modalities, recorded.
        source: Where the data came from, recorded.

    Returns:
        The record written to ``encoders.json``.

    Raises:
        PretrainInputError: For a model the inputs do not fit.
        ValueError: For training settings :func:`aligninfo.train.fit` refuses (a batch larger
            than the data, or not a multiple of the number of processes), or a checkpoint of
            another run.
        FloatingPointError: If the training loss becomes NaN or infinite (the checkpoint keeps
            the last finite epoch).
    """
    out = out_folder(out, PretrainInputError)
    scaling = {"x1": _scaling(x1), "x2": _scaling(x2)}
    data = {
        key: (torch.as_tensor(x) - mean) / scale
        for (key, (mean, scale)), x in zip(scaling.items(), (x1, x2), strict=True)
    }
    per = "feature" if x1.ndim == 2 else "channel"
    about = {
        "modalities": dict(zip(data, names, strict=True)),
        "source": source,
        "samples": len(x1),
        "standardisation": _recorded(scaling, f"per {per}, from all {len(x1)} rows"),
    }
    shapes = {k: tuple(t.shape[1:]) for k, t in data.items()}
    return _train(data, shapes, scaling, config, out, about)


def pretrain_stream(
    stream: BigEarthNetStream, about: Mapping[str, Any], config: PretrainConfig, out: str | Path
) -> dict[str, Any]:
    """Train encoders on a streamed data set (:func:`open_bigearthnet`); write them to ``out``.

    As :func:`pretrain` (one process or every process of a group, resume), with the data read
    through a DataLoader of ``config.train.loader_workers`` processes.

    Args:
        stream: The standardised training samples.
        about: What to record of the data (the second output of :func:`open_bigearthnet`).
        config: What to train and how (``encoder="cnn2d"``).
        out: Output folder (created).

    Returns:
        The record written to ``encoders.json``.

    Raises:
        PretrainInputError: For an encoder other than ``cnn2d`` or a model the data do not fit.
        ValueError, FloatingPointError: As :func:`pretrain`.
    """
    out = out_folder(out, PretrainInputError)
    if config.encoder != "cnn2d":
        raise PretrainInputError(f"image patches need --encoder cnn2d, not {config.encoder!r}")
    if stream.scaling is None:
        raise PretrainInputError("the stream has no standardisation: see sample_scaling")
    with _file_named():
        return _train(stream, stream.shapes, stream.scaling, config, out, dict(about))


@contextlib.contextmanager
def _file_named() -> Iterator[None]:
    """Re-raise a DataFileError of a DataLoader worker with its own message, naming the file.

    A worker's exception comes back as ``Caught DataFileError in DataLoader worker process 0``
    followed by its traceback, whose last line holds the original message.
    """
    try:
        yield
    except DataFileError as err:
        lines = str(err).strip().splitlines()
        if len(lines) > 1 and lines[0].startswith("Caught "):
            raise DataFileError(lines[-1].split(": ", 1)[-1]) from err
        raise


def _train(
    data: Mapping[str, Tensor] | Dataset[dict[str, Tensor]],
    shapes: Mapping[str, tuple[int, ...]],
    scaling: Scaling,
    config: PretrainConfig,
    out: Path,
    about: dict[str, Any],
) -> dict[str, Any]:
    """Build, train (resuming a checkpoint in ``out``), record and (rank 0) save the encoders."""
    spec = _model_spec(shapes, config)
    torch.manual_seed(config.train.seed)
    try:
        model = build_model(spec)
        kwargs = dict(config.objective_kwargs)
        if config.objective == "decur":
            kwargs.setdefault("n_common", (config.projector or config.k) // 2)
        objective = make_objective(config.objective, **kwargs)
    except (TypeError, ValueError) as err:
        raise PretrainInputError(f"cannot build the model or objective: {err}") from err
    checkpoint = out / CHECKPOINT
    done = load_checkpoint(checkpoint)["step"] if checkpoint.exists() else 0  # resumed steps
    started, cpu = time.perf_counter(), cpu_time()
    history = fit(model, objective, data, config=config.train, checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    cpu_seconds = distributed.sum_float(cpu_time() - cpu)  # of every process
    trained = ((history.steps[-1] if history.steps else done) - done) * config.train.batch_size
    record = {
        "format": FORMAT,
        **spec,
        **about,
        "objective": config.objective,
        "objective_kwargs": kwargs,
        "train": {k: _plain(v) for k, v in asdict(config.train).items()},
        "processes": distributed.world_size(),
        "history": history.as_dict(),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "samples_per_second": _throughput(history.as_dict(), config.train.batch_size),
        "samples_per_cpu_second": trained / cpu_seconds if cpu_seconds > 0 else math.nan,
        "version": __version__,
    }
    if distributed.is_main():
        state = {"model": model.state_dict(), "scaling": {k: list(v) for k, v in scaling.items()}}
        torch.save(state, out / WEIGHTS)
        write_json(out / SPEC, record)
    distributed.barrier()
    return record


def cpu_time() -> float:
    """CPU seconds of this process and of its children that have ended (DataLoader workers).

    Returns:
        User plus system time, this process's and its waited-for children's.
    """
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _throughput(history: Mapping[str, Any], batch_size: int) -> float:
    """Training samples per second, over the epochs after the first (the first if alone)."""
    steps, times = history["steps"], history["time"]
    if len(steps) < 2:
        return steps[0] * batch_size / times[0] if steps and times[0] > 0 else math.nan
    return (steps[-1] - steps[0]) * batch_size / (times[-1] - times[0])


def load_encoders(path: str | Path) -> Pretrained:
    """Load encoders written by :func:`pretrain` (on any machine; they come back on the CPU).

    Args:
        path: The output folder, or its ``encoders.json``.

    Returns:
        The encoders, their standardisation and record.

    Raises:
        FileNotFoundError: If the folder lacks ``encoders.json`` or ``encoders.pt``.
        ValueError: If ``encoders.json`` has another format.
    """
    folder = Path(path)
    folder = folder.parent if folder.name == SPEC else folder
    for name in (SPEC, WEIGHTS):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found: not a folder written by pretrain")
    spec = json.loads((folder / SPEC).read_text())
    if spec.get("format") != FORMAT:
        raise ValueError(f"{folder / SPEC} has format {spec.get('format')}, not {FORMAT}")
    state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
    model = build_model(spec)
    model.load_state_dict(state["model"])
    model.eval()
    scaling = {k: (v[0], v[1]) for k, v in state["scaling"].items()}
    return Pretrained(model=model, scaling=scaling, spec=spec)
