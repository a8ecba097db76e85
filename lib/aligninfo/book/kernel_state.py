"""The process state a reused chapter kernel puts back before each run.

:class:`aligninfo.book.run.ChapterKernel` runs chapter after chapter in one kernel. Emptying the
namespace is not enough for a run to start as in a fresh kernel: the environment variables,
``sys.path``, the warnings filters, NumPy's floating-point error handling (``np.seterr``) and
print options, matplotlib's ``rcParams``, torch's default dtype, deterministic flags (cuDNN's
included) and number of threads, and the global random generators (``random``, NumPy's,
torch's) are process state that a run may change. The kernel's first cell calls :func:`reset`
before anything else: its first call remembers that state (the kernel's own, before any chapter
ran), every later call restores it. Only the state listed here is put back: attributes a run
sets on a module, or a module's caches, stay for the next run.
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from typing import Any

_SAVED: dict[str, Any] = {}
"""The state remembered by the first :func:`reset` of this process."""
_RC_KEPT = ("backend", "interactive")
"""``rcParams`` that belong to the kernel's backend (set once, when pyplot first draws)."""


def reset() -> None:
    """Remember this process's state on the first call; restore it on every later one."""
    if _SAVED:
        restore(_SAVED)
    else:
        _SAVED.update(capture())


def capture() -> dict[str, Any]:
    """The state a run may change: environment, paths, warnings, NumPy, rcParams, torch, RNGs.

    Returns:
        A snapshot for :func:`restore` (NumPy, torch and matplotlib are imported here).
    """
    import matplotlib
    import numpy as np
    import torch

    rc = {k: v for k, v in matplotlib.rcParams.copy().items() if k not in _RC_KEPT}
    return {
        "environ": dict(os.environ),
        "path": list(sys.path),
        "warnings": list(warnings.filters),
        "seterr": np.geterr(),
        "printoptions": np.get_printoptions(),
        "rc": rc,
        "dtype": torch.get_default_dtype(),
        "deterministic": (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        "cudnn": (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark),
        "threads": torch.get_num_threads(),
        "matmul": torch.get_float32_matmul_precision(),
        "random": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (the global one)
        "torch": torch.get_rng_state(),
    }


def restore(saved: dict[str, Any]) -> None:
    """Put back the state :func:`capture` returned.

    Args:
        saved: A snapshot of :func:`capture`, taken in this process.
    """
    import matplotlib
    import numpy as np
    import torch

    for name in set(os.environ) - set(saved["environ"]):
        del os.environ[name]
    os.environ.update(saved["environ"])
    sys.path[:] = saved["path"]
    np.seterr(**saved["seterr"])
    np.set_printoptions(**saved["printoptions"])
    warnings.resetwarnings()  # also invalidates the filters' caches
    filters: list[Any] = warnings.filters  # type: ignore[assignment]  # a list at run time
    filters.extend(saved["warnings"])
    dict.update(matplotlib.rcParams, saved["rc"])  # validated once already (as rc_context does)
    torch.set_default_dtype(saved["dtype"])
    enabled, warn_only = saved["deterministic"]
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved["cudnn"]
    torch.set_num_threads(saved["threads"])
    torch.set_float32_matmul_precision(saved["matmul"])
    random.setstate(saved["random"])
    np.random.set_state(saved["numpy"])  # noqa: NPY002 (the global generator)
    torch.set_rng_state(saved["torch"])
