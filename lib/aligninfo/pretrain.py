"""Pretrain encoders on paired modalities, on one process or many, and load them in a chapter.

::

    python -m aligninfo pretrain lfmc --objective info_nce -k 64 --epochs 20 --out enc
    torchrun --nproc_per_node 4 -m aligninfo pretrain x1.npy x2.npy -k 128 --device cuda --out enc

    from aligninfo.pretrain import load_encoders
    encoders = load_encoders("enc")              # the folder (or its encoders.json)
    z1 = encoders.encode("x1", X1)               # (n, k) float32, inputs in raw units

The data are a named data set (``lfmc``: Sentinel-2 optical vs Sentinel-1 SAR, the official
training sites only; ``houston``: hyperspectral vs LiDAR, the official training pixels) or two
``.npy`` files of paired rows, ``(n, *shape1)`` and ``(n, *shape2)``. Each modality is
standardised with the statistics of the rows it is trained on (per feature for ``(n, d)``
inputs, per channel for ``(n, channels, ...)`` inputs), and those statistics are saved with the
encoders, which apply them to any input given to :meth:`Pretrained.encode`.

The output folder holds ``encoders.pt`` (the state dict of the
:class:`~aligninfo.encoders.MultimodalEncoder` and the standardisation) and ``encoders.json``
(how to rebuild the model: encoder kind, input shape, embedding size and settings per modality,
the projection heads; and the objective, training settings, history, number of processes and
throughput), plus ``checkpoint.pt``: run the same command again, with as many processes or
another number, to resume an interrupted run, or with more ``--epochs`` to continue it
(:func:`aligninfo.train.fit`). Under torchrun only rank 0 writes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aligninfo import __version__, distributed
from aligninfo.data.named import NAMES
from aligninfo.encoders import MultimodalEncoder, make_encoder, make_projector
from aligninfo.jsonio import write_json
from aligninfo.losses import OBJECTIVES, make_objective
from aligninfo.train import TrainConfig, encode, fit, load_checkpoint
from aligninfo.userio import first_line, out_folder

__all__ = [
    "DATASETS",
    "PretrainConfig",
    "PretrainInputError",
    "Pretrained",
    "build_model",
    "load_encoders",
    "load_pairs",
    "pretrain",
]

FORMAT = 1
"""Version of the layout of ``encoders.json``."""

SPEC, WEIGHTS, CHECKPOINT = "encoders.json", "encoders.pt", "checkpoint.pt"

DATASETS = NAMES
"""Data sets known by name (their training rows)."""

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
    from aligninfo.data.registry import DataFileError

    if name not in DATASETS:
        raise PretrainInputError(
            f"unknown data set {name!r}: expected one of {', '.join(DATASETS)}, or two .npy files"
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
    kwargs = {"hidden": list(config.hidden)} if config.encoder == "mlp" else {}
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
    spec = _model_spec({k: tuple(t.shape[1:]) for k, t in data.items()}, config)
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
    started, cpu = time.perf_counter(), time.process_time()
    history = fit(model, objective, data, config=config.train, checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    cpu_seconds = distributed.sum_float(time.process_time() - cpu)  # of every process
    trained = ((history.steps[-1] if history.steps else done) - done) * config.train.batch_size
    record = {
        "format": FORMAT,
        **spec,
        "modalities": dict(zip(data, names, strict=True)),
        "source": source,
        "samples": len(x1),
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
