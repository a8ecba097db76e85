"""Runtime helpers: seeding, device resolution, mixed precision and RNG state.

Every random draw in the training loop, the encoders' initialisation and the augmentations goes
through torch's generators, so :func:`seed_everything` plus :func:`rng_state` /
:func:`set_rng_state` are all a checkpoint needs to resume a run bit for bit.
"""

from __future__ import annotations

import contextlib
import random
import resource
import sys
from collections.abc import Iterator

import numpy as np
import torch

__all__ = [
    "autocast",
    "eval_mode",
    "peak_memory_bytes",
    "reset_peak_memory",
    "resolve_device",
    "rng_state",
    "seed_everything",
    "set_rng_state",
    "synchronize",
]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every CUDA device) generators.

    Args:
        seed: Non-negative integer seed.
        deterministic: Also ask torch for deterministic kernels (cuDNN included). CPU runs are
            deterministic without it; on CUDA it trades speed for bitwise reproducibility.

    Raises:
        ValueError: If ``seed`` is negative.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator)
    torch.manual_seed(seed)  # seeds every CUDA device as well
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into CUDA when present (else CPU) and check an explicit request.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device``.

    Returns:
        The device to run on.

    Raises:
        ValueError: If the device string is malformed, or names a CUDA or MPS device that this
            machine does not have.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} requested but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} requested but MPS is not available here")
    return resolved


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed precision context: bfloat16 autocast on CUDA, a no-op elsewhere.

    bfloat16 has float32's range, so no gradient scaler is needed. The losses cast their inputs
    to float32, so similarities and log-sum-exps are computed at full precision.

    Args:
        device: Device the forward pass runs on.
        enabled: Set False to force float32 everywhere.

    Returns:
        A context manager.
    """
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def rng_state() -> dict[str, torch.Tensor | list[torch.Tensor]]:
    """Snapshot torch's CPU and CUDA generator states (for checkpoints).

    Returns:
        A dict of byte tensors, loadable with ``torch.load(weights_only=True)``.
    """
    state: dict[str, torch.Tensor | list[torch.Tensor]] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, torch.Tensor | list[torch.Tensor]]) -> None:
    """Restore generator states saved by :func:`rng_state`.

    Args:
        state: Output of :func:`rng_state`.
    """
    cpu = state["cpu"]
    assert isinstance(cpu, torch.Tensor)
    torch.set_rng_state(cpu)
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        assert isinstance(cuda, list)
        torch.cuda.set_rng_state_all(cuda)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on ``device`` (for honest timings); no-op on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Reset the CUDA peak-memory counter of ``device``; no-op on CPU."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory: CUDA memory allocated by torch, or the process's peak resident set on CPU.

    Args:
        device: Device whose peak to report.

    Returns:
        Bytes. On CPU this is the whole process's high-water mark since it started.
    """
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Temporarily put ``module`` in eval mode under ``torch.no_grad``, restoring its mode after.

    Args:
        module: Any module.

    Yields:
        Nothing; the body runs with the module in eval mode.
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
