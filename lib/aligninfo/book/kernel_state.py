"""The process state a reused chapter kernel puts back before each run.

:class:`aligninfo.book.run.ChapterKernel` runs chapter after chapter in one kernel. Emptying the
namespace is not enough for a run to start as in a fresh kernel: a run may change process state
(environment variables, ``sys.path``, warnings filters, NumPy's, torch's and matplotlib's
settings, the global random generators, the locale, the umask, logging, signal handlers...).
The kernel's first cell calls :func:`reset` before anything else: its first call remembers the
state of :func:`_table` (the kernel's own, before any chapter ran), every later call restores it.
It also drops the modules imported since then from outside the installed environment and the
library (a module next to the chapter: the next run imports the file as it is then), and puts
back the library's settings (:func:`_library_settings`). Anything else a run changes stays for
the next: the state of other modules, their caches, attributes a run sets on them.
"""

from __future__ import annotations

import ast
import contextlib
import decimal
import functools
import locale
import logging
import os
import random
import re
import signal
import site
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

_SAVED: dict[str, Any] = {}
"""The state remembered by the first :func:`reset` of this process."""
_RC_KEPT = ("backend", "interactive")
"""``rcParams`` that belong to the kernel's backend (set once, when pyplot first draws)."""
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Signals whose handlers are put back."""
_SETTING = re.compile(r"_?[A-Z][A-Z0-9_]*")
"""Names of the library's module-level settings (``losses._CHECK_FINITE``) and constants."""

State = tuple[str, Callable[[], Any], Callable[[Any], object]]
"""A piece of process state: its name, how to read it, how to put it back."""


def reset() -> None:
    """Remember this process's state on the first call; restore it on every later one."""
    if _SAVED:
        restore(_SAVED)
    else:
        _SAVED.update(capture())


def capture() -> dict[str, Any]:
    """The state a run may change (NumPy, torch and matplotlib are imported here).

    Returns:
        A snapshot for :func:`restore`, by name.
    """
    return {name: read() for name, read, _ in _table()}


def restore(saved: dict[str, Any]) -> None:
    """Put back the state :func:`capture` returned, and the library's settings.

    Args:
        saved: A snapshot of :func:`capture`, taken in this process.
    """
    for name, _, write in _table():
        write(saved[name])
    _library_settings()


def _table() -> list[State]:
    """Each piece of state a run may change: its name, how to read it, how to put it back."""
    import numpy as np
    import threadpoolctl
    import torch

    return [
        ("environ", lambda: dict(os.environ), _set_environ),
        ("path", lambda: list(sys.path), lambda v: sys.path.__setitem__(slice(None), v)),
        ("warnings", lambda: list(warnings.filters), _set_warnings),
        ("modules", lambda: set(sys.modules), _drop_modules),
        ("recursion", sys.getrecursionlimit, sys.setrecursionlimit),
        ("umask", _umask, os.umask),
        ("locale", lambda: locale.setlocale(locale.LC_ALL), _set_locale),
        ("decimal", lambda: decimal.getcontext().copy(), lambda v: decimal.setcontext(v.copy())),
        ("logging", _logging, _set_logging),
        ("signals", lambda: [signal.getsignal(s) for s in _SIGNALS], _set_signals),
        ("seterr", np.geterr, lambda v: np.seterr(**v)),
        ("printoptions", np.get_printoptions, lambda v: np.set_printoptions(**v)),
        ("blas", threadpoolctl.threadpool_info, threadpoolctl.threadpool_limits),
        ("rc", _rc, _set_rc),
        ("dtype", torch.get_default_dtype, torch.set_default_dtype),
        ("device", torch.get_default_device, _set_device),
        ("grad", torch.is_grad_enabled, torch.set_grad_enabled),
        ("anomaly", _anomaly, lambda v: torch.autograd.set_detect_anomaly(*v)),
        ("flush_denormal", _flushes_denormals, torch.set_flush_denormal),
        ("torch_print", torch._tensor_str.get_printoptions, lambda v: torch.set_printoptions(**v)),
        ("deterministic", _deterministic, _set_deterministic),
        ("cudnn", _cudnn, _set_cudnn),
        ("threads", torch.get_num_threads, torch.set_num_threads),
        ("matmul", torch.get_float32_matmul_precision, torch.set_float32_matmul_precision),
        ("random", random.getstate, random.setstate),
        ("numpy", np.random.get_state, np.random.set_state),  # noqa: NPY002 (the global one)
        ("torch", torch.get_rng_state, torch.set_rng_state),
    ]


def _set_environ(saved: dict[str, str]) -> None:
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


def _set_warnings(saved: list[Any]) -> None:
    warnings.resetwarnings()  # also invalidates the filters' caches
    filters: list[Any] = warnings.filters  # type: ignore[assignment]  # a list at run time
    filters.extend(saved)


def _drop_modules(before: set[str]) -> None:
    """Forget the modules imported since ``before`` from files outside Python and the library.

    Modules without a file, or with a relative one (``torch.ops``), stay.
    """
    installed = [Path(p) for p in (sys.prefix, sys.base_prefix, site.getusersitepackages())]
    installed += [Path(sys.exec_prefix), Path(sys.base_exec_prefix), Path(__file__).parents[1]]
    for name in set(sys.modules) - before - {"__main__", "__mp_main__"}:
        file = Path(getattr(sys.modules[name], "__file__", None) or ".")
        if file.is_absolute() and not any(file.is_relative_to(p) for p in installed):
            del sys.modules[name]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _set_locale(saved: str) -> None:
    locale.setlocale(locale.LC_ALL, saved)  # every category, as setlocale(LC_ALL) wrote them


def _logging() -> tuple[int, list[logging.Handler], int]:
    """The root logger's level and handlers, and the level :func:`logging.disable` set."""
    root = logging.getLogger()
    return root.level, list(root.handlers), root.manager.disable


def _set_logging(saved: tuple[int, list[logging.Handler], int]) -> None:
    root = logging.getLogger()
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    logging.disable(saved[2])


def _set_signals(saved: Iterable[Any]) -> None:
    for number, handler in zip(_SIGNALS, saved, strict=True):
        if handler is not None:  # None: not set from Python, cannot be set back from it
            signal.signal(number, handler)


def _rc() -> dict[str, Any]:
    import matplotlib

    return {k: v for k, v in matplotlib.rcParams.copy().items() if k not in _RC_KEPT}


def _set_rc(saved: dict[str, Any]) -> None:
    import matplotlib

    params = cast("dict[str, Any]", matplotlib.rcParams)
    dict.update(params, saved)  # validated once already (as rc_context does)


def _set_device(device: Any) -> None:
    import torch

    torch.set_default_device(None if device == torch.device("cpu") else device)


def _anomaly() -> tuple[bool, bool]:
    import torch

    return torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()


def _flushes_denormals() -> bool:
    import torch

    return float(torch.tensor([1e-40], dtype=torch.float32)[0]) == 0


def _deterministic() -> tuple[bool, bool]:
    import torch

    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )


def _set_deterministic(saved: tuple[bool, bool]) -> None:
    import torch

    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])


def _cudnn() -> tuple[bool, bool]:
    import torch

    return torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark


def _set_cudnn(saved: tuple[bool, bool]) -> None:
    import torch

    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def _library_settings() -> None:
    """Put back the library's upper-case module-level names that its source binds to a literal.

    A run may change them (``losses._CHECK_FINITE``, ``printing.DECIMALS``). Their values are
    read from the source, so that a module first imported during a run is covered too.
    """
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.partition(".")[0] == "aligninfo" and file:
            for key, value in _literals(file).items():
                setattr(module, key, value)


@functools.cache
def _literals(file: str) -> dict[str, Any]:
    """The upper-case names a module binds once, at its top level, to an immutable literal."""
    bound: dict[str, list[ast.expr | None]] = {}
    value: ast.expr | None
    for node in ast.parse(Path(file).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and _SETTING.fullmatch(target.id):
            bound.setdefault(target.id, []).append(value)
    literals: dict[str, Any] = {}
    for name, values in bound.items():
        if len(values) == 1 and values[0] is not None:
            with contextlib.suppress(ValueError):  # not a literal
                literals[name] = ast.literal_eval(values[0])
    return {name: value for name, value in literals.items() if _immutable(value)}


def _immutable(value: object) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_immutable(v) for v in value)
    return value is None or isinstance(value, bool | int | float | complex | str | bytes)
