"""One training loop for every objective.

::

    model = MultimodalEncoder({"x1": MLP(d1, k), "x2": MLP(d2, k)})
    history = fit(model, make_objective("info_nce"), {"x1": X1, "x2": X2}, val={...},
                  epochs=20, batch_size=256, checkpoint="run.ckpt", checkpoint_every=500)
    Z1 = encode(model, X1, "x1")        # frozen features for aligninfo.probes

The data live in memory as tensors: each epoch permutes them once (a generator seeded by
``(seed, epoch)``) and the loop takes contiguous slices, with no per-sample DataLoader. On CUDA
the data move to the device once when they fit (``max_device_bytes``), else they stay in pinned
host memory and each batch is copied with ``non_blocking``. A training set too large for memory
is streamed instead: a torch :class:`~torch.utils.data.Dataset` of dicts of tensors, read by a
DataLoader (``loader_workers`` processes) through :class:`aligninfo.distributed.BlockSampler`,
which takes the same permutation and batches as the arrays would, so the same samples give the
same losses either way; the rest of the loop (checkpoints, resume, data parallelism) is shared.
Forward passes run under bfloat16 autocast on CUDA (the losses compute in float32); on CPU
everything is float32, and a seeded run
is bitwise reproducible, also across an interruption: the checkpoint (written to a temporary
file, then renamed) holds the model, objective, optimizer, torch RNG states, the step, the
partial epoch's loss and the early-stopping state, and :func:`fit` called again with the same
arguments resumes from it.

A checkpoint is used only by the run it belongs to. It holds a fingerprint of everything that
changes the result: the objective (class, hyperparameters, parameter names and shapes), the
model (module classes, their settings, parameter and buffer names, shapes and dtypes), the
settings of :class:`TrainConfig` that change the optimisation (``batch_size``, ``lr``,
``temperature_lr``, ``weight_decay``, ``grad_clip``, ``seed``, ``patience``, ``min_delta`` and the
arithmetic, float32 or bfloat16 autocast), and a digest of the training and validation data.
:func:`fit` refuses a checkpoint whose fingerprint differs and names the fields that differ.
The data digest is BLAKE2b over each array's bytes, in row order, with its shape and dtype; an
array over ``DIGEST_BYTES`` (64 MiB) is read through every ``s``-th row only (``s`` the smallest
stride that keeps the read under the limit), so two large data sets that differ only in the rows
skipped are not told apart. A streamed training set is described by its class, its length and
the string its ``fingerprint()`` method returns, when it has one (else two data sets of one
class and length are not told apart).

``epochs`` and ``max_steps`` are budgets, not part of the fingerprint: a call with more of them
continues the checkpoint's run, and since the learning rate is constant (no schedule depends on
the number of epochs) the result is bitwise identical to one uninterrupted run of that length
on CPU. A run that stopped early stays stopped (an uninterrupted run would have stopped at the
same epoch); a budget smaller than what the checkpoint already holds is refused. ``device`` is
not in the fingerprint either: a run may move between machines (numerically equal up to
floating-point rounding, not bitwise), but not between float32 and bfloat16 arithmetic.
``restore_best``, ``checkpoint_every``, ``progress``, ``log_every``, ``max_device_bytes`` and
``loader_workers`` do not change the training and are taken as asked.

Under a process group of several processes (``torchrun``; :mod:`aligninfo.distributed`),
:func:`fit` trains data-parallel with DistributedDataParallel: ``batch_size`` is the global
batch, each process takes its block of every global batch, the objectives compute their loss on
the gathered global batch, only rank 0 writes the checkpoint, and a checkpoint resumes on any
number of processes (what stays identical is listed in :mod:`aligninfo.distributed`). Without
such a group the loop is the single-process one described above, bit for bit.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm  # text bar on stderr: no widget state in executed notebooks

from aligninfo import distributed
from aligninfo.encoders import MultimodalEncoder
from aligninfo.losses import LearnableTemperature, Objective, finite_checks
from aligninfo.runtime import (
    autocast,
    eval_mode,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
)

__all__ = ["CheckpointError", "History", "TrainConfig", "encode", "fit", "load_checkpoint"]

Data = Mapping[str, Tensor | np.ndarray]
ValScore = Callable[[MultimodalEncoder, Objective], float]
"""A validation score of the model and objective (higher is better), see :func:`fit`."""

DIGEST_BYTES = 2**26
"""Bytes of one array read for the data digest of the checkpoint fingerprint (64 MiB)."""

_FORMAT = 3  # version of the checkpoint layout and fingerprint (3: a temperature group)

SEED_LIMIT = 2**44
"""Seeds are below this: each epoch's permutation is seeded by ``seed * 1_000_003 + epoch``,
which torch's generators need below 2**64."""

_INTEGERS = {  # field: (smallest value, None allowed)
    "epochs": (1, False),
    "batch_size": (1, False),
    "seed": (0, False),
    "patience": (1, True),
    "checkpoint_every": (0, False),
    "max_steps": (1, True),
    "log_every": (1, False),
    "max_device_bytes": (0, False),
    "loader_workers": (0, False),
}
_REALS = {  # field: (lower bound, bound included, None allowed)
    "lr": (0.0, False, False),
    "temperature_lr": (0.0, False, True),
    "weight_decay": (0.0, True, False),
    "grad_clip": (0.0, False, True),
    "min_delta": (0.0, True, False),
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, damaged, or of another run."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`fit` (every field can also be passed to it as a keyword).

    Attributes:
        epochs: Passes over the training data, an integer (a budget: a later call with more
            continues a checkpointed run).
        batch_size: Samples per step (the last incomplete batch of an epoch is dropped); under
            a process group of several processes, the global batch, a multiple of their number.
        lr: AdamW learning rate.
        temperature_lr: AdamW learning rate of the objective's learnt temperatures (the
            parameters of every :class:`aligninfo.losses.LearnableTemperature`, the log inverse
            temperature), a parameter group of their own, without weight decay. A temperature
            moves by about one learning rate per step in log space, so with the few hundred
            steps of a small budget it needs a larger rate than the encoders to leave its
            initial value. None: ``lr``.
        weight_decay: AdamW weight decay (not applied to the learnt temperatures).
        grad_clip: Clip the global gradient norm to this value (None: no clipping).
        seed: Seeds torch's generators (augmentations) and the epochs' permutations; an
            integer in ``[0, 2**44)``.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda[:N]"``, ``"mps"``.
        amp: bfloat16 autocast on CUDA (ignored elsewhere).
        patience: Stop after this many epochs without a validation improvement (None: never).
        min_delta: Improvement smaller than this does not count.
        restore_best: With validation data, end with the weights of the best validation epoch.
        checkpoint: Checkpoint file; when it exists, training resumes from it, provided it
            belongs to the same run (see the module docstring), else :func:`fit` refuses it.
        checkpoint_every: Also checkpoint every this many steps (0: at epoch ends only).
        max_steps: Stop after this many steps in total (a budget; a later call may continue).
        progress: Show a tqdm progress bar with the loss.
        log_every: Steps between progress-bar loss updates (each reads the loss back).
        max_device_bytes: Move the data to the GPU when they take at most this many bytes.
        loader_workers: Worker processes of the DataLoader that reads a streamed training set
            (a :class:`~torch.utils.data.Dataset` given to :func:`fit`; 0: read in the
            training process). Ignored for arrays; does not change the result.
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    temperature_lr: float | None = None
    weight_decay: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    checkpoint: str | Path | None = None
    checkpoint_every: int = 0
    max_steps: int | None = None
    progress: bool = True
    log_every: int = 20
    max_device_bytes: int = 4 * 2**30
    loader_workers: int = 0

    def __post_init__(self) -> None:
        for name, (smallest, optional) in _INTEGERS.items():
            value = getattr(self, name)
            if value is not None or not optional:
                object.__setattr__(self, name, _integer(name, value, smallest, optional))
        for name, (bound, closed, optional) in _REALS.items():
            value = getattr(self, name)
            if value is not None or not optional:
                object.__setattr__(self, name, _real(name, value, bound, closed, optional))


def _integer(name: str, value: Any, low: int, optional: bool) -> int:
    """``value`` as an int (NumPy integers too), refusing floats, bools and values below ``low``.

    ``seed`` must also be below :data:`SEED_LIMIT`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{name} must be {kind}{' or None' if optional else ''}, got {value!r}")
    if name == "seed" and int(value) >= SEED_LIMIT:
        raise ValueError(f"seed must be below 2**44 (epoch seeds derive from it), got {value!r}")
    return int(value)


def _real(name: str, value: Any, low: float, closed: bool, optional: bool) -> float:
    """``value`` as a finite float above ``low`` (or equal to it when ``closed``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value >= low if closed else value > low)):
        kind = "finite and >= 0" if closed else "positive and finite"
        raise ValueError(f"{name} must be {kind}{' or None' if optional else ''}, got {value!r}")
    return float(value)


@dataclass
class History:
    """What :func:`fit` returns: one entry per completed epoch, ready to plot.

    Attributes:
        epoch: Epoch numbers, from 1.
        train_loss: Mean training loss of the epoch.
        val_loss: Validation loss after the epoch (NaN without validation data).
        time: Seconds of training since the start, at the end of the epoch.
        steps: Optimiser steps taken by the end of the epoch.
        best_epoch: Epoch with the lowest validation loss, or the highest ``val_score`` when
            :func:`fit` is given one (None without either).
        stopped_early: Whether early stopping ended the run.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the fields."""
        return asdict(self)


def _as_tensors(data: Data, name: str) -> dict[str, Tensor]:
    if not data:
        raise ValueError(f"{name}: no arrays given")
    tensors = {}
    for key, value in data.items():
        t = torch.as_tensor(value)
        tensors[key] = t.float() if t.dtype == torch.float64 else t
    lengths = {len(t) for t in tensors.values()}
    if len(lengths) != 1:
        sizes = {k: len(t) for k, t in tensors.items()}
        raise ValueError(f"{name}: all arrays need the same number of samples, got {sizes}")
    return tensors


def _check_val(train: dict[str, Tensor], val: dict[str, Tensor]) -> dict[str, Tensor]:
    """Refuse validation data that would fail only after the first epoch."""
    if set(val) != set(train):
        raise ValueError(f"val must have the keys of train, {sorted(train)}; got {sorted(val)}")
    if _n_samples(val) == 0:
        raise ValueError("val has no samples; pass val=None to train without validation")
    for key, t in train.items():
        v = val[key]
        if v.shape[1:] != t.shape[1:] or v.is_floating_point() != t.is_floating_point():
            raise ValueError(
                f"val[{key!r}] has samples of shape {tuple(v.shape[1:])} and dtype "
                f"{str(v.dtype).removeprefix('torch.')}, train[{key!r}] "
                f"{tuple(t.shape[1:])} and {str(t.dtype).removeprefix('torch.')}"
            )
    return val


def _check_checkpoint_path(path: Path) -> None:
    """Refuse, before training, a checkpoint path that could not be written."""
    from aligninfo.data.registry import is_writable

    if path.is_dir():
        raise ValueError(f"checkpoint {path} is a folder; give a file path")
    folder = path.parent
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"checkpoint {path} cannot be written: {folder} is a file")
    if not is_writable(folder):
        raise ValueError(f"checkpoint {path} cannot be written: {folder} is read-only")


def _stage(data: dict[str, Tensor], device: torch.device, max_bytes: int) -> dict[str, Tensor]:
    """Put the data on the device if they fit, else in pinned host memory (CUDA only)."""
    if device.type == "cpu":
        return data
    nbytes = sum(t.numel() * t.element_size() for t in data.values())
    if nbytes <= max_bytes:
        return {k: t.to(device) for k, t in data.items()}
    if device.type == "cuda":
        return {k: t.pin_memory() for k, t in data.items()}
    return data


def _permute(data: dict[str, Tensor], perm: Tensor) -> dict[str, Tensor]:
    out = {}
    for k, t in data.items():
        shuffled = t[perm.to(t.device)]
        out[k] = shuffled.pin_memory() if t.is_pinned() else shuffled
    return out


def _n_samples(data: Mapping[str, Tensor]) -> int:
    return len(next(iter(data.values())))


def _to(batch: Mapping[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: t.to(device, non_blocking=True) for k, t in batch.items()}


def _template(dataset: Dataset[Any]) -> dict[str, Tensor]:
    """The first item of a streamed training set as a batch of one (shapes and dtypes)."""
    if not hasattr(dataset, "__len__") or len(dataset) == 0:
        raise ValueError("train: a streamed training set needs a length and at least one item")
    item = dataset[0]
    if not isinstance(item, Mapping) or not all(isinstance(v, Tensor) for v in item.values()):
        raise ValueError(
            f"train: a streamed training set's items must be dicts of tensors (one per key), "
            f"got {type(item).__name__}"
        )
    return _as_tensors({k: v[None] for k, v in item.items()}, "train")


def _array_batches(
    data: dict[str, Tensor], cfg: TrainConfig, epoch: int, steps: range, device: torch.device
) -> Iterator[tuple[int, dict[str, Tensor]]]:
    """This process's batches ``steps`` of an epoch over arrays: one permutation, slices."""
    n = _n_samples(data)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(_epoch_seed(cfg, epoch)))
    shuffled = _permute(data, distributed.shard(order, cfg.batch_size))
    size = distributed.local_batch_size(cfg.batch_size)  # this process's share of a batch
    for i in steps:
        yield i, _to({k: t[i * size : (i + 1) * size] for k, t in shuffled.items()}, device)


def _stream_batches(
    dataset: Dataset[Any], cfg: TrainConfig, epoch: int, steps: range, device: torch.device
) -> Iterator[tuple[int, dict[str, Tensor]]]:
    """This process's batches ``steps`` of an epoch over a Dataset, through a DataLoader.

    The sampler (:class:`aligninfo.distributed.BlockSampler`) takes the permutation of the
    array path, so both paths see the same global batches; the dataset's ``set_epoch``, when
    it has one, is called first (e.g. for crops drawn per epoch). The workers' seeds come
    from a generator of the epoch, not from torch's global one, which a resumed run restores.
    """
    sampler = distributed.BlockSampler(dataset, cfg.batch_size, seed=_epoch_seed(cfg, 0))  # type: ignore[arg-type]
    sampler.set_epoch(epoch)
    sampler.skip(steps.start)
    set_epoch = getattr(dataset, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(epoch)
    loader = DataLoader(
        dataset,
        batch_size=distributed.local_batch_size(cfg.batch_size),
        sampler=sampler,
        drop_last=True,
        num_workers=cfg.loader_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(_epoch_seed(cfg, epoch)),
    )
    batches = iter(loader)
    for i in steps:
        yield i, _to(next(batches), device)


def _epoch_seed(cfg: TrainConfig, epoch: int) -> int:
    """Seed of an epoch's permutation."""
    return cfg.seed * 1_000_003 + epoch


def _evaluate(
    model: nn.Module,
    objective: Objective,
    data: dict[str, Tensor],
    cfg: TrainConfig,
    device: torch.device,
) -> float:
    """Mean objective over full batches of ``batch_size`` (one batch if fewer samples)."""
    size = min(cfg.batch_size, _n_samples(data))
    batches = _n_samples(data) // size
    total = torch.zeros((), device=device)
    with eval_mode(model), eval_mode(objective), autocast(device, cfg.amp):
        for i in range(batches):
            batch = _to({k: t[i * size : (i + 1) * size] for k, t in data.items()}, device)
            total += objective(model, batch).float()
    return distributed.broadcast_float(float(total) / batches)  # one value on every process


def _score(val_score: ValScore, model: nn.Module, objective: Objective) -> float:
    """``val_score(model, objective)`` in eval mode without gradients, one value everywhere."""
    with eval_mode(model), eval_mode(objective):
        value = float(val_score(model, objective))  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise ValueError(f"val_score returned {value}; it must be a finite number")
    return distributed.broadcast_float(value)


def _snapshot(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _digest(t: Tensor) -> str:
    """Shape, dtype and BLAKE2b digest of the bytes of ``t`` (every ``s``-th row if large)."""
    row_bytes = t[0].numel() * t.element_size() if len(t) else 0
    stride = max(1, math.ceil(len(t) * row_bytes / DIGEST_BYTES))
    sample = t[::stride].detach().cpu().contiguous().reshape(-1).view(torch.uint8)
    digest = hashlib.blake2b(sample.numpy().data, digest_size=16).hexdigest()
    rows = "" if stride == 1 else f" rows[::{stride}]"
    return f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)}{rows} {digest}"


def _value(obj: Any) -> Any:
    """A plain, comparable description of a hyperparameter (lists, dicts, numbers, strings)."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple | list):
        return [_value(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): _value(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, Tensor | np.ndarray):
        t = torch.as_tensor(obj)
        return _digest(t.reshape(1, -1) if t.dim() == 0 else t)
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))  # no memory addresses


def _describe(module: nn.Module, prefix: str) -> dict[str, Any]:
    """Flat description of a module tree: classes, public attributes, parameter shapes."""
    kind = type(module)
    out: dict[str, Any] = {f"{prefix}.class": f"{kind.__module__}.{kind.__qualname__}"}
    for name, value in sorted(vars(module).items()):
        patched = callable(getattr(kind, name, None))  # e.g. a wrapped ``forward``
        if not (name.startswith("_") or name == "training" or patched):
            out[f"{prefix}.{name}"] = _value(value)
    tensors = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
    for name, tensor in tensors:
        if tensor is not None:
            dtype = str(tensor.dtype).removeprefix("torch.")
            out[f"{prefix}.{name}"] = f"{dtype}{list(tensor.shape)}"
    for name, child in module.named_children():
        out.update(_describe(child, f"{prefix}.{name}"))
    return out


def _fingerprint(
    model: nn.Module,
    objective: Objective,
    train: Mapping[str, Tensor] | Dataset[Any],
    val: Mapping[str, Tensor] | None,
    cfg: TrainConfig,
    device: torch.device,
) -> dict[str, Any]:
    """Everything that changes the result of :func:`fit`, as flat ``field: value`` pairs."""
    fields = (
        "batch_size",
        "lr",
        "temperature_lr",
        "weight_decay",
        "grad_clip",
        "seed",
        "patience",
        "min_delta",
    )
    out: dict[str, Any] = {"format": _FORMAT, **{name: getattr(cfg, name) for name in fields}}
    out["arithmetic"] = "bfloat16" if cfg.amp and device.type == "cuda" else "float32"
    out.update(_describe(objective, "objective"))
    out.update(_describe(model, "model"))
    if isinstance(train, Dataset):
        described = getattr(train, "fingerprint", None)
        kind = type(train)
        out["train"] = f"{kind.__module__}.{kind.__qualname__}[{len(train)}]" + (  # type: ignore[arg-type]
            f" {described()}" if callable(described) else ""
        )
    else:
        out.update({f"train.{k}": _digest(t) for k, t in sorted(train.items())})
    if val is None:
        out["val"] = None
    else:
        out.update({f"val.{k}": _digest(t) for k, t in sorted(val.items())})
    return out


def _differences(saved: Mapping[str, Any], current: Mapping[str, Any], shown: int = 8) -> str:
    """``field: value in the checkpoint, value now`` for each field that differs."""
    absent = "(absent)"
    lines = [
        f"{key}: {saved.get(key, absent)!r} in the checkpoint, {current.get(key, absent)!r} now"
        for key in sorted({*saved, *current})
        if saved.get(key, absent) != current.get(key, absent)
    ]
    more = f"; and {len(lines) - shown} more" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def _save(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


_KEYS = (
    "fingerprint",
    "model",
    "objective",
    "optimizer",
    "rng",
    "step",
    "epoch",
    "running",
    "history",
    "best_val",
    "bad_epochs",
    "best_model",
    "best_objective",
    "elapsed",
    "stopped",
)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit` (tensors and plain types only).

    Args:
        path: The checkpoint file.

    Returns:
        Its state dict: ``model``, ``objective``, ``optimizer``, ``rng``, ``step``, ``epoch``,
        ``history``, ``fingerprint``, ...

    Raises:
        CheckpointError: Naming the file, if it cannot be read (truncated, corrupt, not a
            checkpoint of :func:`fit`).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for damaged files
        raise CheckpointError(
            f"checkpoint {path} cannot be read (truncated or corrupt?): {err}; delete the file "
            "to train afresh"
        ) from err
    fingerprint = state.get("fingerprint") if isinstance(state, dict) else None
    if not isinstance(fingerprint, dict) or fingerprint.get("format") is None:
        raise CheckpointError(f"{path} is not a checkpoint written by aligninfo.train.fit")
    return state


def _resume(
    path: Path, fingerprint: dict[str, Any], total_steps: int, cfg: TrainConfig
) -> dict[str, Any]:
    """The checkpoint at ``path``, after checking that it belongs to this run and budget."""
    ckpt = load_checkpoint(path)
    saved = ckpt["fingerprint"]
    if saved.get("format") != _FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {saved.get('format')}, not {_FORMAT} (an older "
            "version of aligninfo); delete the file or choose another checkpoint path"
        )
    if saved != fingerprint:
        raise CheckpointError(
            f"checkpoint {path} belongs to a run with other settings, model, objective or data "
            f"({_differences(saved, fingerprint)}); delete the file or choose another "
            "checkpoint path"
        )
    missing = [k for k in _KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: no {', '.join(missing)}")
    if not all(
        isinstance(ckpt[k], int) and not isinstance(ckpt[k], bool) and ckpt[k] >= 0
        for k in ("step", "epoch")
    ):
        raise CheckpointError(f"checkpoint {path} is damaged: its step or epoch is not a count")
    if ckpt["step"] > total_steps:
        budget = f"epochs={cfg.epochs}" + (
            f", max_steps={cfg.max_steps}" if cfg.max_steps is not None else ""
        )
        raise CheckpointError(
            f"checkpoint {path} holds {ckpt['step']} steps ({ckpt['epoch']} epochs), more than "
            f"the {total_steps} that {budget} allow; ask for at least as many, or choose "
            "another checkpoint path"
        )
    return ckpt


def fit(
    model: MultimodalEncoder,
    objective: Objective,
    train: Data | Dataset[Any],
    val: Data | None = None,
    config: TrainConfig | None = None,
    val_score: ValScore | None = None,
    **overrides: Any,
) -> History:
    """Train ``model`` on ``objective``; resume from ``config.checkpoint`` when it exists.

    Seed torch before building the model for a reproducible initialisation; :func:`fit` seeds
    again from ``seed`` for the augmentations and permutations. The model stays on the device.

    A checkpoint is resumed only when its fingerprint (see the module docstring) equals this
    call's; a larger ``epochs`` or ``max_steps`` then continues its run, and the learning rates
    and weight decay used are the ones asked for.

    Args:
        model: Encoders (and decoders / fusion head) to train, modified in place.
        objective: A :mod:`aligninfo.losses` objective, ``objective(model, batch) -> loss``.
        train: ``(n, *in_shape)`` tensor or array per key (e.g. ``"x1"``, ``"x2"``), or a
            :class:`~torch.utils.data.Dataset` (with a length) whose items are dicts of
            ``(*in_shape)`` tensors by key, streamed through a DataLoader
            (``loader_workers``) in the same global batches as arrays would be.
        val: Validation data of the same layout (early stopping, best weights).
        config: Settings; defaults to :class:`TrainConfig`.
        val_score: Scores the model after each epoch, higher is better (for instance a
            validation accuracy), called as ``val_score(model, objective)`` in eval mode
            without gradients. When given, it decides the best epoch (kept with
            ``restore_best``) and early stopping (``patience``, ``min_delta``) in place of the
            validation loss, which is still recorded. Its qualified name enters the checkpoint
            fingerprint.
        **overrides: Fields of :class:`TrainConfig` to change.

    Returns:
        The per-epoch history.

    Raises:
        ValueError: For invalid settings or data (an empty validation set included).
        CheckpointError: A ``ValueError`` naming the file, when the checkpoint cannot be read,
            belongs to another run (it lists what differs), or already holds more steps than
            ``epochs`` and ``max_steps`` allow.
        FloatingPointError: If the training loss becomes NaN or infinite.
    """
    cfg = replace(config or TrainConfig(), **overrides)
    device = distributed.local_device(resolve_device(cfg.device))
    stream: Dataset[Any] | None = None
    train_t: dict[str, Tensor] | None = None
    if isinstance(train, Dataset):
        stream, template, n = train, _template(train), len(train)  # type: ignore[arg-type]
    else:
        train_t = template = _as_tensors(train, "train")
        n = _n_samples(train_t)
    val_t = _check_val(template, _as_tensors(val, "val")) if val is not None else None
    if n < cfg.batch_size:
        raise ValueError(f"batch_size={cfg.batch_size} exceeds the {n} training samples")
    distributed.check_batch_size(cfg.batch_size)
    parallel = distributed.world_size() > 1
    path = Path(cfg.checkpoint) if cfg.checkpoint is not None else None
    if path is not None:
        _check_checkpoint_path(path)
    fingerprint = (
        {}
        if path is None
        else _fingerprint(
            model, objective, stream if stream is not None else template, val_t, cfg, device
        )
    )
    if path is not None and val_score is not None:
        fingerprint["val_score"] = getattr(val_score, "__qualname__", type(val_score).__name__)
    steps_per_epoch = n // cfg.batch_size
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)

    seed_everything(cfg.seed)
    model.to(device).train()
    objective.to(device).train()
    params = list({id(p): p for m in (model, objective) for p in m.parameters()}.values())
    # The multi-tensor implementation (torch's default on CUDA only) also on CPU: one call per
    # group rather than per tensor, a quarter less time per step for the book's small models.
    optimizer = torch.optim.AdamW(_param_groups(params, objective, cfg), foreach=True)
    state: dict[str, Any] = {
        "step": 0,
        "epoch": 0,
        "running": torch.zeros(()),
        "history": History().as_dict(),
        "best_val": math.inf,
        "bad_epochs": 0,
        "best_model": None,
        "best_objective": None,
        "elapsed": 0.0,
        "stopped": False,  # by early stopping (a larger budget does not restart it)
    }
    if path is not None and path.exists():
        ckpt = _resume(path, fingerprint, total_steps, cfg)
        try:
            model.load_state_dict(ckpt["model"])
            objective.load_state_dict(ckpt["objective"])
            optimizer.load_state_dict(ckpt["optimizer"])
            if not parallel:  # data-parallel runs seed every step (distributed.seed_step)
                set_rng_state(ckpt["rng"])
        except Exception as err:  # a checkpoint edited or damaged inside: name the file
            first = str(err).strip().splitlines()
            raise CheckpointError(
                f"checkpoint {path} is damaged ({type(err).__name__}: "
                f"{first[0] if first else ''}); delete the file to train afresh"
            ) from err
        for group in optimizer.param_groups:  # the settings asked for, not the file's
            group.update(_group_settings(str(group.get("name", "weights")), cfg))
        state.update({k: ckpt[k] for k in state})
    history = History(**state["history"])
    state["running"] = state["running"].to(device)
    started, before = time.perf_counter(), state["elapsed"]

    def elapsed() -> float:
        return before + time.perf_counter() - started

    def checkpoint() -> None:
        if path is None:
            return
        running = distributed.mean_across(state["running"]).cpu()  # every process takes part
        if distributed.is_main():
            saved = {**state, "running": running, "elapsed": elapsed()}
            saved.update(
                history=history.as_dict(),
                fingerprint=fingerprint,
                rng={"cpu": torch.get_rng_state()} if parallel else rng_state(),
                model=model.state_dict(),
                objective=objective.state_dict(),
                optimizer=optimizer.state_dict(),
            )
            _save(path, saved)

    data = _stage(train_t, device, cfg.max_device_bytes) if train_t is not None else None
    val_data = _stage(val_t, device, cfg.max_device_bytes) if val_t is not None else None
    bar = tqdm(
        total=total_steps,
        initial=min(state["step"], total_steps),
        desc="train",
        disable=not (cfg.progress and distributed.is_main()),
        dynamic_ncols=True,
    )
    wrapped = distributed.wrap(model, objective, device)
    with finite_checks(device.type == "cpu"), bar, wrapped as compute_loss:
        while not state["stopped"] and state["step"] < total_steps:
            epoch = state["epoch"]
            steps = range(
                state["step"] - epoch * steps_per_epoch,
                min(steps_per_epoch, total_steps - epoch * steps_per_epoch),
            )
            batches = (
                _array_batches(data, cfg, epoch, steps, device)
                if data is not None
                else _stream_batches(stream, cfg, epoch, steps, device)  # type: ignore[arg-type]
            )
            for i, batch in batches:
                distributed.seed_step(cfg.seed, state["step"])
                with autocast(device, cfg.amp):
                    loss = compute_loss(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                optimizer.step()
                state["running"] += loss.detach().float()
                state["step"] += 1
                bar.update()
                if state["step"] % cfg.log_every == 0:
                    _log(bar, state["running"], i + 1, state["step"])
                if cfg.checkpoint_every and state["step"] % cfg.checkpoint_every == 0:
                    checkpoint()
            if state["step"] < (epoch + 1) * steps_per_epoch:
                break  # the step budget ran out mid-epoch
            state["running"] = distributed.mean_across(state["running"])
            _end_epoch(
                state, history, steps_per_epoch, cfg, model, objective, val_data, device, val_score
            )
            history.time.append(elapsed())
            shown = {"loss": history.train_loss[-1], "val": history.val_loss[-1]}
            bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items() if not math.isnan(v)})
            state["running"] = torch.zeros((), device=device)
            checkpoint()
    checkpoint()
    distributed.barrier()  # rank 0's checkpoint is complete before any process goes on
    if cfg.restore_best and state["best_model"] is not None:  # set only with val or val_score
        model.load_state_dict(state["best_model"])
        objective.load_state_dict(state["best_objective"])
    return history


def _param_groups(
    params: list[nn.Parameter], objective: Objective, cfg: TrainConfig
) -> list[dict[str, Any]]:
    """AdamW parameter groups: the weights, then the learnt temperatures (when any).

    Each group carries a ``"name"`` (kept in the optimizer's state, so a resumed run finds it).
    """
    learnt = {
        id(p)
        for m in objective.modules()
        if isinstance(m, LearnableTemperature)
        for p in m.parameters()
    }
    groups = {
        "weights": [p for p in params if id(p) not in learnt],
        "temperature": [p for p in params if id(p) in learnt],
    }
    return [
        {"name": name, "params": group, **_group_settings(name, cfg)}
        for name, group in groups.items()
        if group
    ]


def _group_settings(name: str, cfg: TrainConfig) -> dict[str, float]:
    """Learning rate and weight decay of a parameter group of :func:`_param_groups`."""
    if name == "temperature":
        lr = cfg.lr if cfg.temperature_lr is None else cfg.temperature_lr
        return {"lr": lr, "weight_decay": 0.0}
    return {"lr": cfg.lr, "weight_decay": cfg.weight_decay}


def _log(bar: tqdm, running: Tensor, batches: int, step: int) -> None:
    value = float(running) / batches
    if not math.isfinite(value):
        raise FloatingPointError(f"training loss is {value} at step {step}")
    bar.set_postfix(loss=f"{value:.4g}")


def _end_epoch(
    state: dict[str, Any],
    history: History,
    steps_per_epoch: int,
    cfg: TrainConfig,
    model: nn.Module,
    objective: Objective,
    val_data: dict[str, Tensor] | None,
    device: torch.device,
    val_score: ValScore | None = None,
) -> None:
    """Record the finished epoch, evaluate, update early stopping (``state``, ``history``).

    The best epoch has the lowest validation loss, or the highest ``val_score`` when given (its
    negative is what ``state["best_val"]`` holds).
    """
    train_loss = float(state["running"]) / steps_per_epoch
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"training loss is {train_loss} in epoch {state['epoch'] + 1}")
    state["epoch"] += 1
    val_loss = math.nan
    if val_data is not None:
        val_loss = _evaluate(model, objective, val_data, cfg, device)
    if val_data is not None or val_score is not None:
        criterion = val_loss if val_score is None else -_score(val_score, model, objective)
        if criterion < state["best_val"] - cfg.min_delta:
            state.update(
                best_val=criterion,
                bad_epochs=0,
                best_model=_snapshot(model),
                best_objective=_snapshot(objective),
            )
            history.best_epoch = state["epoch"]
        else:
            state["bad_epochs"] += 1
        if cfg.patience is not None and state["bad_epochs"] >= cfg.patience:
            state["stopped"] = history.stopped_early = True
    history.epoch.append(state["epoch"])
    history.train_loss.append(train_loss)
    history.val_loss.append(val_loss)
    history.steps.append(state["step"])


def encode(
    model: MultimodalEncoder, x: Tensor | np.ndarray, key: str, batch_size: int = 4096
) -> np.ndarray:
    """Embed one modality with the frozen model (eval mode, no gradients), in batches.

    Args:
        model: A trained model (on any device).
        x: ``(n, *in_shape)`` inputs.
        key: Modality key.
        batch_size: Samples per forward pass.

    Returns:
        ``(n, dim)`` float32 array.
    """
    device = next(model.parameters()).device
    x_t = torch.as_tensor(x)
    x_t = x_t.float() if x_t.dtype == torch.float64 else x_t
    with eval_mode(model):
        parts = [
            model.encode(key, x_t[i : i + batch_size].to(device, non_blocking=True)).float().cpu()
            for i in range(0, len(x_t), batch_size)
        ]
    return torch.cat(parts).numpy()
