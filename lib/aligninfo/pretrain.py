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
(:mod:`aligninfo.bigearthnet_stream`; :func:`aligninfo.train.fit` on a Dataset), optionally from
its decoded-patch cache. ``x1`` is Sentinel-2 (the 12 bands of
:data:`~aligninfo.data.bigearthnet.S2_BANDS`, surface reflectance: the files' values / 10,000),
``x2`` Sentinel-1 (VV, VH in dB), whole 120 x 120 patches, or with ``sub_patch`` one window of
that side per pair and epoch at a position drawn from ``(seed, epoch, pair)``, the same for both
sensors. The standardisation (per channel) is estimated on a seeded sample of pairs
(``norm_sample`` pairs, 1,000 by default, whole patches; every process computes the same), and
recorded in ``encoders.json`` (``standardisation``) as well as with the
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from aligninfo import __version__, distributed
from aligninfo.data.named import NAMES
from aligninfo.data.registry import DataFileError
from aligninfo.encoders import MultimodalEncoder, make_encoder, make_projector
from aligninfo.jsonio import write_json
from aligninfo.losses import OBJECTIVES, make_objective
from aligninfo.train import TrainConfig, encode, fit, load_checkpoint

if TYPE_CHECKING:
    from aligninfo.bigearthnet_stream import BigEarthNetStream
from aligninfo.userio import first_line, out_folder

__all__ = [
    "DATASETS",
    "STREAMED",
    "PretrainConfig",
    "PretrainInputError",
    "Pretrained",
    "build_model",
    "file_named",
    "cpu_time",
    "load_encoders",
    "load_pairs",
    "pretrain",
    "pretrain_stream",
    "standardisation_record",
]

FORMAT = 1
"""Version of the layout of ``encoders.json``."""

SPEC, WEIGHTS, CHECKPOINT = "encoders.json", "encoders.pt", "checkpoint.pt"

DATASETS = NAMES
"""Data sets known by name (their training rows)."""
STREAMED = ("bigearthnet",)
"""Data sets streamed from their files rather than held in memory."""

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


# --------------------------------------------------------------------------- standardisation


Scaling = dict[str, tuple[Tensor, Tensor]]
"""``{key: (mean, scale)}`` shaped to broadcast over one sample (``(channels, 1, 1)``)."""


def standardisation_record(scaling: Scaling, how: str) -> dict[str, Any]:
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
        "standardisation": standardisation_record(scaling, f"per {per}, from all {len(x1)} rows"),
    }
    shapes = {k: tuple(t.shape[1:]) for k, t in data.items()}
    return _train(data, shapes, scaling, config, out, about)


def pretrain_stream(
    stream: BigEarthNetStream, about: Mapping[str, Any], config: PretrainConfig, out: str | Path
) -> dict[str, Any]:
    """Train encoders on a streamed data set; write them to ``out``.

    The stream and ``about`` are what :func:`aligninfo.bigearthnet_stream.open_bigearthnet`
    returns.

    As :func:`pretrain` (one process or every process of a group, resume), with the data read
    through a DataLoader of ``config.train.loader_workers`` processes.

    Args:
        stream: The standardised training samples.
        about: What to record of the data.
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
    with file_named():
        return _train(stream, stream.shapes, stream.scaling, config, out, dict(about))


@contextlib.contextmanager
def file_named() -> Iterator[None]:
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
