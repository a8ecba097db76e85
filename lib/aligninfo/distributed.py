"""Training on several processes with PyTorch's own distributed engine (``torchrun`` + DDP).

::

    torchrun --nproc_per_node 4 -m aligninfo pretrain lfmc --objective info_nce -k 64 --out enc

Each process runs the same program. :func:`init_from_env` reads torchrun's environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the
process group: backend ``nccl`` with one GPU per process (``cuda:LOCAL_RANK``) when CUDA is
asked for or ``"auto"`` finds it, ``gloo`` on CPU. From then on :func:`aligninfo.train.fit`
trains under :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap`), with these
rules, which make a run on ``W`` processes follow the run on one process with the same seed:
the same global batches and, for objectives without random augmentations (and models without
dropout or, on CPU, BatchNorm), the same losses, with gradients equal up to floating-point
rounding.

- ``batch_size`` is the *global* batch, a multiple of ``W``. Each epoch's permutation depends
  on the seed and the epoch only; each global batch is cut into ``W`` consecutive blocks, block
  ``r`` going to rank ``r`` (:func:`shard`, the :class:`~torch.utils.data.DistributedSampler`
  idea with contiguous blocks, so that concatenating the ranks' batches in rank order gives the
  single-process batch).
- The objectives compute their loss on the global batch: every objective of
  :mod:`aligninfo.losses` that uses batch statistics or negatives passes its embeddings through
  :func:`gather` (an all-gather that carries gradients, :class:`AllGather`), so InfoNCE's
  negatives, NT-Xent's, and Barlow Twins', VICReg's or CCA's batch statistics span all
  processes. Every rank then holds the same loss; the gather's backward sums the gradients of
  the ranks (all-reduce) and keeps its own rows, and DDP averages the parameters' gradients, so
  the result is the gradient of the loss on the concatenated batch. (Each rank computes that
  loss in full: for InfoNCE a ``B x B`` similarity matrix for a global batch ``B``, cheap next
  to the encoders.) Per-sample terms (reconstruction, the supervised heads) stay local, and
  DDP's average makes them the mean over the global batch.
- BatchNorm layers use the global batch on CUDA (converted to
  :class:`~torch.nn.SyncBatchNorm` for the run, then restored); SyncBatchNorm runs on GPUs
  only, so on CPU each process normalises with its own block's statistics.
- Only rank 0 writes checkpoints (:func:`is_main`). A checkpoint holds the global step and
  epoch, which with the seed fix the data order for any number of processes. The random draws
  of augmentations and dropout come, at each step, from torch's generator seeded by
  ``(seed, step, rank)`` (:func:`seed_step`) rather than from a saved generator state, so a run
  resumed on the same number of processes repeats them exactly, and one resumed on another
  number continues with other draws. What is identical after a change of the number of
  processes: the model, the objective and the optimizer state, the step, epoch, history and
  early-stopping state, and from then on the global batches and the loss they define. What is
  not: the augmentation and dropout draws, CPU BatchNorm statistics (per process), and the
  floating-point rounding of the gradient (a sum over other blocks), so the parameters agree
  with an uninterrupted run up to rounding, not bit for bit. (A single-process run draws its
  augmentations from one generator seeded once; moving between one process and several changes
  the draws in the same way.)
- Every process must take the same steps: a process that fails leaves the others waiting at
  their next collective operation until the group's timeout (:func:`init_from_env`).

Without a process group (or with one of a single process) nothing here changes anything:
:func:`gather` returns its inputs, :func:`shard` the permutation, :func:`wrap` calls the
objective directly, and a run is bitwise what it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sized
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DistributedSampler

from aligninfo.runtime import resolve_device

__all__ = [
    "AllGather",
    "BlockSampler",
    "active",
    "all_gather_with_grad",
    "barrier",
    "broadcast_float",
    "check_batch_size",
    "gather",
    "init_from_env",
    "is_main",
    "launched",
    "local_device",
    "mean_across",
    "rank",
    "seed_step",
    "shard",
    "shutdown",
    "sum_float",
    "world_size",
    "wrap",
]

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
"""The environment variables torchrun sets for every process."""


# --------------------------------------------------------------------------- process group


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher setting :data:`ENV`)."""
    return all(name in os.environ for name in ENV)


def init_from_env(device: str = "auto", timeout_s: float = 1800.0) -> torch.device:
    """Join the process group described by torchrun's environment.

    Backend ``nccl`` when the device is CUDA (``"auto"`` with a GPU present, or ``"cuda"``):
    each process then uses the GPU ``cuda:LOCAL_RANK`` of its node and makes it the current
    device. Backend ``gloo`` on CPU.

    Args:
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (an index is replaced by ``LOCAL_RANK``).
        timeout_s: How long a collective waits for the other processes.

    Returns:
        The device this process trains on.

    Raises:
        RuntimeError: If the environment variables are missing, or a group is already set up.
        ValueError: If ``device`` names a device this machine lacks, or the node has fewer
            GPUs than ``LOCAL_RANK`` needs.
    """
    if not launched():
        missing = [name for name in ENV if name not in os.environ]
        raise RuntimeError(f"not started by torchrun: {', '.join(missing)} not set")
    if active():
        raise RuntimeError("a process group is already initialised")
    resolved = resolve_device(device)
    local = int(os.environ["LOCAL_RANK"])
    if resolved.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local} needs GPU {local}, but this node has "
                f"{torch.cuda.device_count()}: start at most that many processes per node"
            )
        resolved = torch.device("cuda", local)
        torch.cuda.set_device(resolved)
        backend = "nccl"
    elif resolved.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"distributed training runs on CPU or CUDA, not {resolved.type}")
    dist.init_process_group(
        backend,
        timeout=timedelta(seconds=timeout_s),
        device_id=resolved if backend == "nccl" else None,  # binds NCCL to this GPU at once
    )
    return resolved


def shutdown(wait: bool = True) -> None:
    """Leave the process group, if one is initialised.

    Args:
        wait: Wait for every process first (False after an error, which the others may not
            have met).
    """
    if active():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def active() -> bool:
    """Whether a process group is initialised (with any number of processes)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the group (1 without one)."""
    return dist.get_world_size() if active() else 1


def rank() -> int:
    """Rank of this process (0 without a group)."""
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return rank() == 0


def _parallel() -> bool:
    """Whether training is data-parallel: a group of more than one process."""
    return world_size() > 1


def barrier() -> None:
    """Wait for every process (no-op without a group of several)."""
    if _parallel():
        dist.barrier()


def local_device(device: torch.device) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` for CUDA under a group, else ``device``.

    Args:
        device: The device asked for (already resolved).

    Returns:
        The device to train on.
    """
    if _parallel() and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
    return device


# --------------------------------------------------------------------------- gathering


class AllGather(torch.autograd.Function):
    """All-gather along the first axis that carries gradients back to each process's rows.

    (``torch.distributed.nn.functional.all_gather`` does the same with gloo too, but torch
    2.13 deprecates it; this one needs only ``all_gather`` and ``all_reduce``, which gloo and
    NCCL both provide.)

    Forward: every process's ``(b, ...)`` tensor, concatenated in rank order, ``(W * b, ...)``.
    Backward: the incoming gradients of all processes are summed (an all-reduce) and each
    process keeps its own rows, since every process's loss may depend on every row.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:  # noqa: D102 (see the class docstring)
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = (dist.get_rank() * x.shape[0], x.shape[0])
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # noqa: D102
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        start, rows = ctx.rows
        return total[start : start + rows]


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` of every process in rank order, keeping gradients (:class:`AllGather`).

    Every process must call it at the same point with a tensor of the same shape.

    Args:
        x: ``(b, ...)`` this process's rows.

    Returns:
        ``(world_size * b, ...)``; ``x`` itself without a group of several processes.
    """
    if not _parallel():
        return x
    return AllGather.apply(x)


def gather(training: bool, *tensors: Tensor) -> tuple[Tensor, ...]:
    """The global batch of each tensor, for an objective in training mode under a group.

    The objectives of :mod:`aligninfo.losses` call it on the embeddings their loss compares,
    so that negatives and batch statistics span every process. It gathers only when a process
    group of several processes is initialised *and* ``training`` is true (the objective's
    ``self.training``): evaluation, which runs on each process's full validation data in eval
    mode, and every single-process run are unchanged.

    Args:
        training: Whether the calling objective is in training mode.
        *tensors: ``(b, ...)`` tensors of this process's batch.

    Returns:
        The gathered ``(world_size * b, ...)`` tensors, or the inputs unchanged.
    """
    if not (training and _parallel()):
        return tensors
    return tuple(all_gather_with_grad(t) for t in tensors)


# --------------------------------------------------------------------------- data and state


def check_batch_size(batch_size: int) -> None:
    """Refuse a global batch that does not split evenly over the processes.

    Args:
        batch_size: The global batch size.

    Raises:
        ValueError: If ``batch_size`` is not a multiple of the number of processes.
    """
    w = world_size()
    if batch_size % w:
        raise ValueError(
            f"batch_size={batch_size} (the global batch) must be a multiple of the {w} processes"
        )


def shard(permutation: Tensor, batch_size: int) -> Tensor:
    """This process's share of an epoch's order of samples.

    The permutation is cut into global batches of ``batch_size`` (the incomplete last one
    dropped, as the training loop does) and each global batch into one block per process:
    rank ``r`` gets block ``r`` of every batch, in order, so its ``i``-th local batch of
    ``batch_size // world_size`` rows is block ``r`` of global batch ``i``.

    Args:
        permutation: ``(n,)`` indices of the epoch's order.
        batch_size: The global batch size (a multiple of the number of processes).

    Returns:
        ``(n // batch_size * batch_size // world_size,)`` indices; ``permutation`` itself
        without a group of several processes.
    """
    if not _parallel():
        return permutation
    check_batch_size(batch_size)
    w, steps = world_size(), len(permutation) // batch_size
    blocks = permutation[: steps * batch_size].reshape(steps, w, batch_size // w)
    return blocks[:, rank()].reshape(-1)


class BlockSampler(DistributedSampler[int]):
    """The :class:`~torch.utils.data.DistributedSampler` of :func:`shard`: blocks of batches.

    Yields this process's indices of an epoch for a :class:`~torch.utils.data.DataLoader` of
    ``batch_size // world_size`` rows and ``drop_last``: the epoch's permutation is
    ``torch.randperm(n)`` from a generator seeded by ``seed + epoch`` (:meth:`set_epoch`, as
    for torch's sampler), cut as :func:`shard` cuts it. The incomplete last global batch is
    dropped, so every process sees the same number of full batches, and a streamed run takes
    the same global batches as :func:`aligninfo.train.fit` on arrays (rank ``r``'s block ``r``
    of each, which concatenated in rank order give the single-process batch).

    Args:
        dataset: The dataset (only its length is used).
        batch_size: The global batch size (a multiple of the number of processes).
        seed: Seed of the permutations (the epoch is added).
    """

    def __init__(self, dataset: Sized, batch_size: int, seed: int = 0) -> None:
        super().__init__(
            dataset,  # type: ignore[arg-type]
            num_replicas=world_size(),
            rank=rank(),
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        check_batch_size(batch_size)
        self.batch_size = batch_size
        self.start = 0

    def skip(self, batches: int) -> None:
        """Start the next epochs' iteration after this many local batches (a resumed epoch)."""
        self.start = batches * local_batch_size(self.batch_size)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        whole = order[: n // self.batch_size * self.batch_size]  # full global batches only
        return iter(shard(whole, self.batch_size)[self.start :].tolist())

    def __len__(self) -> int:
        n = len(self.dataset)  # type: ignore[arg-type]
        return n // self.batch_size * local_batch_size(self.batch_size) - self.start


def local_batch_size(batch_size: int) -> int:
    """Rows of each process's batch: ``batch_size // world_size`` (``batch_size`` alone)."""
    return batch_size // world_size()


def seed_step(seed: int, step: int) -> None:
    """Seed torch's generators for one step of a data-parallel run (no-op otherwise).

    The seed depends on ``(seed, step, rank)``, not on a generator state carried from step to
    step, so the checkpoint needs no per-process state and each process draws different
    augmentations.

    Args:
        seed: The run's seed.
        step: The global step about to be taken.
    """
    if _parallel():
        torch.manual_seed(((seed * 1_000_003 + step) * 4099 + rank()) % 2**64)


def mean_across(value: Tensor) -> Tensor:
    """The mean of a tensor over the processes (``value`` itself without a group of several).

    Args:
        value: A tensor of the same shape on every process.

    Returns:
        A new tensor holding the mean, on every process.
    """
    if not _parallel():
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / world_size()


def broadcast_float(value: float) -> float:
    """Rank 0's ``value`` on every process (``value`` itself without a group of several).

    Args:
        value: A number computed on every process.

    Returns:
        Rank 0's number.
    """
    if not _parallel():
        return value
    t = _scalar(value)
    dist.broadcast(t, src=0)
    return float(t.item())


def sum_float(value: float) -> float:
    """The sum of a number over the processes (``value`` itself without a group of several).

    Args:
        value: This process's number (e.g. its CPU seconds).

    Returns:
        The sum, on every process.
    """
    if not _parallel():
        return value
    t = _scalar(value)
    dist.all_reduce(t)
    return float(t.item())


def _scalar(value: float) -> Tensor:
    """A float64 tensor of one value on the device the backend communicates from."""
    nccl = dist.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    return torch.tensor([value], dtype=torch.float64, device=device)


# --------------------------------------------------------------------------- the model


class _Step(nn.Module):
    """The model and the objective as one module, so that DDP sees every parameter."""

    def __init__(self, model: nn.Module, objective: nn.Module) -> None:
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        """The objective's loss on ``batch``, a scalar."""
        return self.objective(self.model, batch)


@contextlib.contextmanager
def wrap(
    model: nn.Module, objective: nn.Module, device: torch.device
) -> Iterator[Callable[[Mapping[str, Tensor]], Tensor]]:
    """A function ``loss(batch)`` that trains ``model`` with ``objective``, data-parallel.

    With a group of several processes, the model and the objective (its learnt temperatures
    too) are wrapped together in one :class:`~torch.nn.parallel.DistributedDataParallel`,
    which broadcasts rank 0's parameters and buffers at the start and averages gradients in
    the backward pass. It is built with ``static_graph``: a model may hold heads the
    objective does not use (DDP finds them in the first step), and every step uses the same
    parameters. On CUDA, BatchNorm layers become :class:`~torch.nn.SyncBatchNorm` inside the
    block and are put back at its end (they share their parameters and statistics). Without
    such a group, ``loss(batch)`` is ``objective(model, batch)``.

    Args:
        model: The model, already on ``device``.
        objective: The objective, already on ``device``.
        device: This process's device.

    Yields:
        ``loss(batch) -> scalar tensor``.
    """
    if not _parallel():
        yield lambda batch: objective(model, batch)
        return
    restore = _sync_batchnorm(model) if device.type == "cuda" else []
    try:
        step = nn.parallel.DistributedDataParallel(
            _Step(model, objective),
            device_ids=[device.index] if device.type == "cuda" else None,
            static_graph=True,
        )
        yield step
    finally:
        for parent, name, module in restore:
            setattr(parent, name, module)


def _sync_batchnorm(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """Replace each BatchNorm child by a SyncBatchNorm sharing its tensors; return the originals.

    Returns:
        ``(parent, name, original)`` for each replaced module, to put back after training.
    """
    replaced: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(
                child, nn.SyncBatchNorm
            ):
                setattr(parent, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
                replaced.append((parent, name, child))
    return replaced
