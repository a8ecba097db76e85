"""Sweeps: run a chapter over a grid of parameters, one parameterised run and results file a point.

A grid maps parameter names to lists of values; its points are their cartesian product (the first
name varies slowest). :func:`run_grid` runs the points in a pool of worker processes, each with
one kernel that executes its points one after another (:class:`aligninfo.book.run.ChapterKernel`:
the parameters injected as papermill does, the namespace emptied between points, the imports
paid once per worker rather than once per point), with one BLAS / torch thread, and with the
chapter's own ``workers`` parameter (when it has one) set to 1, so that the pool is the only
parallelism. A parameter left out of the results key (``data_dir``, ``workers``) takes one value,
the same at every point. A point whose results the chapter already saved with the same parameters
(same library version and code, same data: :func:`aligninfo.book.chapter.find_results`) is not
run again; one run again says why the saved results were not reused. The
points run longest first (:func:`estimated_cost`), so that the workers finish together rather
than one waiting for a long point handed out last. A point that fails is reported with its
parameters and the error; the others go on. ``python -m aligninfo sweep`` is a thin command
line over it::

    python -m aligninfo sweep 07_synthetic -p scale smoke -p embedding_dim 8 32 128 --workers 2
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from aligninfo.book import run
from aligninfo.book.chapter import NO_RESULTS, SCALES, UNKEYED, check_values, find_results
from aligninfo.lifetime import die_with_parent

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_FILESYSTEM_THREADS",
)
"""Environment variables that limit each point's kernel to one thread."""
NESTED = "workers"
"""A chapter parameter that sets its own parallel processes: a sweep point runs with 1."""
SIZES = ("epochs", "width", "n_seeds", "n_train")
"""Parameters that a point's run time grows in proportion to (with the number of ``methods``)."""


@dataclasses.dataclass
class Point:
    """One point of a sweep and what became of it.

    Attributes:
        values: The grid's values at this point (name to value, in the grid's order).
        parameters: Everything the chapter is run with (fixed values, these values, ``workers``
            set to 1 when the chapter has it), folders aside.
        status: ``"reused"`` (results already there), ``"computed"`` or ``"failed"``.
        record: The results record the chapter saved
            (:func:`aligninfo.book.chapter.save_results`);
            None when the point failed.
        error: Why the point failed; empty otherwise.
        seconds: Wall time of the run (0 when reused).
        stale: Why results saved earlier for these parameters were not reused (an unreadable
            file, another library, other data); empty when there were none.
    """

    values: dict[str, Any]
    parameters: dict[str, Any]
    status: str = "pending"
    record: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0
    stale: str = ""

    @property
    def results(self) -> dict[str, Any]:
        """The chapter's saved results at this point.

        Raises:
            RuntimeError: If the point failed.
        """
        if self.record is None:
            raise RuntimeError(f"point {describe(self.values)} has no results: {self.error}")
        return self.record["results"]


def expand(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The points of a grid: the cartesian product of its value lists, first name slowest.

    Args:
        grid: Parameter name to the list of its values.

    Returns:
        One dict per point (``{}`` alone for an empty grid).
    """
    names = list(grid)
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(list(grid[n]) for n in names))
    ]


def check_grid(
    chapter: str | Path, grid: Mapping[str, Sequence[Any]], fixed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Check a grid against a chapter's parameters before anything runs.

    Args:
        chapter: Path or name of the chapter.
        grid: Parameter name to the list of its values.
        fixed: Parameters that keep one value at every point.

    Returns:
        The chapter's parameters and their defaults.

    Raises:
        ValueError: On names the chapter does not have (listing those it has), an empty or
            repeated list of values, a name both in the grid and fixed, several values of a
            parameter left out of the results key (a folder, ``workers``: the points would share
            one results file), or an unknown scale.
        FileNotFoundError: If there is no such chapter.
    """
    declared = run.chapter_parameters(chapter)
    name = run.resolve(chapter).stem
    fixed = dict(fixed or {})
    unknown = [n for n in (*grid, *fixed) if n not in declared]
    if unknown:
        raise ValueError(
            f"{name} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(declared)}"
        )
    for n, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ValueError(f"grid parameter {n!r} needs a list of values; got {values!r}")
        if not values:
            raise ValueError(f"grid parameter {n!r} has no values")
        texts = [_text(v) for v in values]
        if len(set(texts)) < len(texts):
            raise ValueError(f"grid parameter {n!r} repeats a value: {list(values)!r}")
        if n in UNKEYED and len(values) > 1:
            raise ValueError(
                f"{n!r} says where files are or how a point runs, not what is computed: "
                "it cannot vary (give one value)"
            )
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ValueError(f"parameter(s) {both} are both in the grid and fixed")
    if "results_dir" in fixed:
        raise ValueError("give the results folder as results_dir, not as a fixed parameter")
    scales = list(grid.get("scale", [])) + ([fixed["scale"]] if "scale" in fixed else [])
    wrong = [s for s in scales if s not in SCALES]
    if wrong:
        raise ValueError(f"parameter 'scale' must be one of {SCALES}; got {wrong[0]!r}")
    return declared


def run_grid(
    chapter: str | Path,
    grid: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
    workers: int = 2,
    results_dir: str | os.PathLike[str] = "results",
    progress: Callable[[str], None] | None = None,
) -> list[Point]:
    """Run a chapter at every point of a grid, reusing the points already computed.

    Args:
        chapter: Path or name of the chapter.
        grid: Parameter name to the list of its values (see :func:`expand`); a parameter left
            out of the results key (``data_dir``, ``workers``) with one value is a fixed one.
        fixed: Parameters with one value at every point (``scale``, ``methods``, ...).
        workers: Points run at the same time (worker processes, each with a kernel of one
            thread that runs its points one after another).
        results_dir: Where the chapter writes its results files (one per point) and where
            computed points are looked up; relative to the current folder.
        progress: Called with one line per finished point (None: silent).

    Returns:
        The points, in the order of :func:`expand`, each with its status and results record.

    Raises:
        ValueError: From :func:`check_grid`, or when ``workers`` is not a positive integer;
            raised before any point runs.
    """
    check_grid(chapter, grid, fixed)
    single = {n: list(v)[0] for n, v in grid.items() if n in UNKEYED and len(v) == 1}
    varied = {n: v for n, v in grid.items() if n not in single}
    fixed = dict(fixed or {}) | single
    return run_points(chapter, expand(varied), fixed, workers, results_dir, progress)


def run_points(
    chapter: str | Path,
    points: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any] | None = None,
    workers: int = 2,
    results_dir: str | os.PathLike[str] = "results",
    progress: Callable[[str], None] | None = None,
) -> list[Point]:
    """Run a chapter at a list of points (any design, not only a grid), as :func:`run_grid`.

    A point listed twice is run once; both entries get its record.

    Args:
        chapter: Path or name of the chapter.
        points: The parameters that vary, one dict per point.
        fixed: Parameters with one value at every point.
        workers: Points run at the same time (worker processes, each with a kernel of one
            thread that runs its points one after another).
        results_dir: Where the results files go and are looked up.
        progress: Called with one line per finished point (None: silent).

    Returns:
        The points, in the order given.

    Raises:
        ValueError: On a bad name or value (see :func:`check_grid` and
            :func:`aligninfo.book.run.check_parameters`), a ``results_dir`` that cannot be written,
            or when ``workers`` is not a positive integer; raised before any point runs.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    names = {n: [p[n] for p in points if n in p] for p in points for n in p}
    declared = check_grid(chapter, {n: _distinct(v) for n, v in names.items()}, fixed)
    path = run.resolve(chapter).absolute()
    folder = Path(results_dir).absolute()
    check_values({"results_dir": folder})  # a file, or a folder that cannot be written
    nested = {NESTED: 1} if NESTED in declared and NESTED not in {*names, *(fixed or {})} else {}
    done = [Point(dict(values), dict(fixed or {}) | dict(values) | nested) for values in points]
    for point in done:  # refused here, before any kernel starts, rather than at every point
        run.check_parameters(path, point.parameters)
    report = progress or (lambda line: None)
    pending: dict[str, list[Point]] = {}
    for point in done:
        point.record, why = find_results(str(path), point.parameters, folder)
        point.stale = "" if why.startswith(NO_RESULTS) else why
        if point.record is not None:
            point.status = "reused"
            report(_line(point, done))
        else:
            pending.setdefault(_text(point.parameters), []).append(point)
    if pending:
        folder.mkdir(parents=True, exist_ok=True)
        groups = longest_first(list(pending.values()), _centre(path, fixed, folder))
        _run_pending(path, groups, done, folder, workers, report)
    return done


def estimated_cost(parameters: Mapping[str, Any], reference: Mapping[str, Any]) -> float:
    """A point's run time up to a factor: the product of its :data:`SIZES` and its methods.

    Args:
        parameters: The point's parameters.
        reference: Values of the parameters the point leaves to the chapter (its scale's
            sizes, as a saved record resolves them).

    Returns:
        ``epochs x width x n_seeds x n_train x len(methods)``, each taken from ``parameters``,
        else ``reference``; a factor that is in neither (or not a positive number) counts 1.
    """
    cost = 1.0
    for name in (*SIZES, "methods"):
        value = parameters.get(name)
        value = reference.get(name) if value is None else value
        if name == "methods" and isinstance(value, list | tuple):
            value = len(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            cost *= value
    return cost


def longest_first(groups: list[list[Point]], reference: Mapping[str, Any]) -> list[list[Point]]:
    """Groups of identical points, the longest (:func:`estimated_cost`) first; ties in order.

    A pool hands points out in the order they are submitted: a long point given out last
    keeps one worker busy while the others wait.
    """
    return sorted(groups, key=lambda g: -estimated_cost(g[0].parameters, reference))


def _centre(path: Path, fixed: Mapping[str, Any] | None, folder: Path) -> dict[str, Any]:
    """The sizes the chapter resolves with the fixed parameters alone, when a record has them."""
    record, _ = find_results(str(path), fixed, folder, note=False)  # an estimate's sizes
    return dict(record["parameters"]) if record is not None else {}


def _text(value: Any) -> str:
    """A value as canonical text (tuples as lists), to compare points."""
    return json.dumps(value, sort_keys=True, default=repr)


def _distinct(values: Sequence[Any]) -> list[Any]:
    """The values of a list without repeats, in order."""
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(_text(v), v)
    return list(seen.values())


def _run_pending(
    path: Path,
    pending: list[list[Point]],
    points: list[Point],
    folder: Path,
    workers: int,
    report: Callable[[str], None],
) -> None:
    """Run the points not yet computed in a process pool; fill in their status and records.

    ``pending`` holds groups of identical points: each group runs once.
    """
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds threads
    with ProcessPoolExecutor(
        min(workers, len(pending)),
        mp_context=context,
        initializer=_one_thread,
        initargs=(os.getpid(),),
    ) as pool:
        with _sigint_ignored():  # the workers, spawned now, inherit it
            futures: dict[Future[tuple[float, str]], list[Point]] = {
                pool.submit(
                    _execute, str(path), group[0].parameters | {"results_dir": str(folder)}
                ): group
                for group in pending
            }
        try:
            _collect(path, futures, points, folder, report)
        except KeyboardInterrupt:  # the sweep's to handle: its workers ignore it
            _stop(pool)
            raise


def _collect(
    path: Path,
    futures: dict[Future[tuple[float, str]], list[Point]],
    points: list[Point],
    folder: Path,
    report: Callable[[str], None],
) -> None:
    """Fill in each group of points as its run ends, in the order the runs end."""
    for future in as_completed(futures):
        group = futures[future]
        try:
            seconds, error = future.result()
        except Exception as err:  # a worker that died: the point fails, the others go on
            seconds, error = 0.0, f"{type(err).__name__}: {err}"
        record = None
        if not error:
            record, why = find_results(str(path), group[0].parameters, folder)
            if record is None:
                error = f"it ran, but its results are not usable: {why}"
        for point in group:
            point.seconds, point.error, point.record = seconds, error, record
            point.status = "failed" if error else "computed"
            report(_line(point, points))


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this process (its main thread only) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End a pool at once: its workers (and with them their kernels) and the points not begun.

    A chapter may be deep in a computation that ignores SIGINT; waiting for its point to end
    would keep an interrupted sweep running.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    for worker in workers:  # SIGKILL: nbclient catches SIGTERM (to shut its kernel down)
        worker.kill()  # its kernel watches its parent and ends with it
    pool.shutdown(wait=False, cancel_futures=True)


_KERNEL: list[run.ChapterKernel] = []
"""The kernel of a worker process, which runs one point after another
(:class:`aligninfo.book.run.ChapterKernel`)."""


def _one_thread(parent: int) -> None:
    """Worker set-up: one thread per library for its kernel, which stops with the worker.

    The worker ends with the sweep's process (``parent``), even when that is killed; its
    kernel then ends too (ipykernel watches its own parent). It leaves the terminal's process
    group, so that Ctrl-C reaches the sweep alone: nbclient would otherwise answer SIGINT by
    shutting the kernel down, and the point would be reported as a kernel that died.
    """
    die_with_parent(parent)
    if hasattr(os, "setsid"):  # out of the terminal's group: Ctrl-C is the sweep's alone
        os.setsid()
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    _KERNEL.append(run.ChapterKernel())
    multiprocessing.util.Finalize(None, _KERNEL[0].close, exitpriority=10)


def _execute(chapter: str, parameters: dict[str, Any]) -> tuple[float, str]:
    """Run one point in the worker's kernel; return its wall time and an error ("" if none)."""
    started = time.perf_counter()
    try:
        _KERNEL[0].run(chapter, parameters)
    except run.ChapterError as err:
        first = err.evalue.strip().splitlines()
        return time.perf_counter() - started, (
            f"stopped at cell {err.cell}: {err.ename}: {first[0] if first else ''}"
        )
    except Exception as err:  # reported with the point, never lost with the pool
        return time.perf_counter() - started, f"{type(err).__name__}: {err}"
    return time.perf_counter() - started, ""


def describe(values: Mapping[str, Any]) -> str:
    """A point's values as ``name=value`` pairs."""
    return " ".join(f"{k}={v!r}" for k, v in values.items()) or "(no grid)"


def _line(point: Point, points: list[Point]) -> str:
    """The progress line of a finished point."""
    done = sum(p.status != "pending" for p in points)
    head = f"[{done}/{len(points)}] {describe(point.values)}: "
    if point.status == "failed":
        return head + f"FAILED ({point.error})"
    if point.status == "reused":
        return head + "reused"
    stale = f" (earlier results not reused: {point.stale})" if point.stale else ""
    return head + f"computed in {point.seconds:.1f} s" + stale


def summary(points: Sequence[Point]) -> str:
    """A plain-text table of a sweep: one row per point, its values, status, time and file."""
    names = list(points[0].values) if points else []
    header = [*names, "status", "seconds", "results file"]
    rows = [
        [
            *(repr(p.values[n]) for n in names),
            p.status,
            f"{p.seconds:.1f}" if p.status == "computed" else "",
            f"{p.record['chapter']}-{p.record['key']}.json" if p.record else p.error,
        ]
        for p in points
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])
