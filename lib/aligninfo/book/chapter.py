"""What every chapter of the book does first and last: resolve its parameters, save its results.

A chapter's ``parameters`` cell holds plain literals (papermill injects overrides after it);
its next cell calls :func:`configure`, which picks the sizes of the chosen ``scale``, applies the
explicit overrides and stops at once, naming the parameter, when a value is invalid::

    cfg = configure(scale, seed, presets={"n_samples": (2_000, 50_000, 500_000)},
                    n_samples=n_samples)

The environment variable ``ALIGNINFO_SCALE``, when set, replaces the ``scale`` parameter: the test
suite uses it to execute the stored notebooks quickly (nbval). A chapter run by plain papermill
(``papermill chapter.ipynb out.ipynb -p NAME VALUE``, which only warns about a name the notebook
does not have) is stopped by :func:`configure` when the injected cell sets such a name, or sets a
``scale`` that ``ALIGNINFO_SCALE`` would replace. :func:`check_values` runs the checks that need
no kernel (scale, seed, device, folders) before one starts.

Results are keyed by parameters: :func:`save_results` writes ``<results_dir>/<chapter>-<key>.json``,
where ``key`` hashes every parameter of the chapter as it received them (its ``parameters`` cell
after overrides; the folders ``results_dir`` and ``data_dir`` and the number of parallel
``workers`` left out), so runs with other
parameters never overwrite each other, and a consumer that knows only the overrides it would pass
(chapter 10, a sweep) finds the file with :func:`load_results` without running the chapter. The
record also holds the resolved sizes, the library version, a digest of the chapter's code, one
of the library's source as the process loaded it (:func:`loaded_digest`: a fix in any module
changes it; a source edited during the run gives a digest that never matches) and, for a chapter
that reads data (it has ``data_dir``), what identifies the data files it read
(:func:`data_fingerprint`; the files read under ``pretrained`` likewise), and the records it
looked up with :func:`find_results` (chapters 10-12 read others'; :func:`record_identity`);
:func:`find_results` uses a record only when all of them match, and otherwise says why.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import inspect
import json
import math
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from aligninfo import __version__
from aligninfo.jsonio import to_json, write_json

SCALES = ("smoke", "book", "paper")
SCALE_ENV = "ALIGNINFO_SCALE"
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
FOLDERS = ("results_dir", "data_dir")
"""Parameters that say where files are, not what is computed."""
PATHS = (*FOLDERS, "pretrained")
"""Parameters naming files or folders, made absolute from the caller's working directory
(a chapter's kernel runs in the book's folder)."""
UNKEYED = (*FOLDERS, "workers")
"""Parameters left out of the results key: folders, and the number of parallel processes
(parallel and serial runs give identical results)."""
_LITERALS = (type(None), bool, int, float, str)
SEED_LIMIT = 2**32
"""Seeds are integers in ``[0, SEED_LIMIT)`` (chapters derive further seeds from them)."""
_INJECTED = "# Parameters\n"
"""First line of the cell papermill injects after a notebook's ``parameters`` cell."""
LIBRARY = Path(__file__).resolve().parents[1]
"""The library's source folder (``lib/aligninfo``), whose digest keys every saved result."""
STALE = "stale:"
"""Prefix of a library digest that never matches: results of code edited while it ran."""
NO_RESULTS = "no results of"
"""How :func:`find_results` begins when no file holds the parameters asked for."""


def configure(
    scale: str,
    seed: int,
    presets: Mapping[str, Sequence[Any]] | None = None,
    *,
    device: str = "auto",
    results_dir: str | None = "results",
    minimum: Mapping[str, int | float] | None = None,
    **overrides: Any,
) -> SimpleNamespace:
    """Resolve a chapter's parameters, and check them before any work is done.

    Args:
        scale: ``"smoke"`` (seconds, for tests), ``"book"`` (the rendered book) or ``"paper"``.
        seed: Base random seed, a non-negative integer.
        presets: For each size parameter, its values at (smoke, book, paper).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``;
            an explicit device must exist on this machine.
        results_dir: Folder for the chapter's JSON results, created when missing; it must be
            writable. None writes nothing.
        minimum: Smallest allowed value of some size parameters. An integer size parameter
            without one may not go below its smallest preset (usually the smoke scale's): the
            chapter's checks are calibrated for at least that.
        **overrides: Explicit values of size parameters; None keeps the scale's value.

    Returns:
        A namespace with ``scale``, ``seed``, ``device``, ``results_dir``, every size parameter
        and ``started`` (a clock reading used for timings). It also keeps, for
        :func:`save_results`, the caller's global names that hold plain literals: in a chapter,
        called right after its ``parameters`` cell, these hold every parameter as given.

    Raises:
        ValueError: Naming the first invalid parameter.
    """
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    given = _literal_globals(caller.f_globals) if caller is not None else {}
    if caller is not None:
        _check_injected(caller.f_globals.get("In"))
    scale = env_scale() or scale
    check_values({"scale": scale, "seed": seed, "device": device})
    loaded_digest()  # the code this run executes (see save_results)
    start_read_log()  # the data it reads (see save_results)
    presets = dict(presets or {})
    floors = dict(minimum or {})
    unknown = (set(overrides) | set(floors)) - set(presets)
    if unknown:
        raise ValueError(f"parameter(s) {sorted(unknown)} have no preset in this chapter")
    values: dict[str, Any] = {}
    for name, by_scale in presets.items():
        if len(by_scale) != len(SCALES):
            raise ValueError(f"preset {name!r} needs one value per scale {SCALES}")
        default = by_scale[SCALES.index(scale)]
        value = overrides.get(name)
        empty = any(isinstance(v, list | tuple) and not v for v in by_scale)
        values[name] = default if value is None else _checked(name, value, default, empty)
        _check_minimum(name, values[name], floors.get(name, _smallest(by_scale)))
    if results_dir is not None:
        _check_writable(results_dir)
    cfg = SimpleNamespace(
        scale=scale,
        seed=seed,
        device=device,
        results_dir=results_dir,
        started=time.perf_counter(),
        **values,
    )
    # The parameters as given (sizes None when the scale sets them), for the results key.
    cfg._given = {
        "scale": scale,
        "seed": seed,
        "device": device,
        "results_dir": results_dir,
        **{k: overrides.get(k) for k in presets},
    }
    cfg._namespace = given
    return cfg


def _checked(name: str, value: Any, default: Any, empty: bool = False) -> Any:
    """Check an explicit override against the type and sign of its preset.

    A list preset takes a non-empty list, or an empty one where ``empty`` (a preset is empty).
    """
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"parameter {name!r} must be True or False; got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"parameter {name!r} must be a positive integer; got {value!r}")
        return value
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise ValueError(f"parameter {name!r} must be a positive number; got {value!r}")
        return float(value)
    if isinstance(default, list | tuple):
        if not isinstance(value, list | tuple) or not (value or empty):
            raise ValueError(f"parameter {name!r} must be a non-empty list; got {value!r}")
        return type(default)(value)
    if not isinstance(value, type(default)):
        raise ValueError(f"parameter {name!r} must be a {type(default).__name__}; got {value!r}")
    return value


def _literal_globals(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Copy the public names of a namespace that hold plain literals (a parameters cell's)."""
    return {
        k: copy.deepcopy(v)
        for k, v in namespace.items()
        if not k.startswith("_") and k not in ("In", "Out") and _is_literal(v)
    }


def _is_literal(value: Any, depth: int = 0) -> bool:
    """Whether a value is what a parameters cell may hold: literals, lists, tuples, dicts."""
    if isinstance(value, _LITERALS):
        return True
    if depth > 3:
        return False
    if isinstance(value, list | tuple):
        return all(_is_literal(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_literal(v, depth + 1) for k, v in value.items())
    return False


def _check_device(device: Any) -> None:
    """Stop unless ``device`` is well formed and, when explicit, present on this machine."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ValueError(f"parameter 'device' must be auto, cpu, cuda[:N] or mps; got {device!r}")
    if device in ("auto", "cpu"):
        return
    from aligninfo.runtime import resolve_device

    try:
        resolve_device(device)
    except ValueError as err:
        raise ValueError(f"parameter 'device': {err} (use 'auto' or 'cpu')") from None


def _smallest(by_scale: Sequence[Any]) -> int | float | None:
    """The default floor of a size parameter: its smallest preset when it is an integer."""
    numbers = [v for v in by_scale if isinstance(v, int) and not isinstance(v, bool)]
    return min(numbers) if len(numbers) == len(by_scale) else None


def _check_minimum(name: str, value: Any, floor: int | float | None) -> None:
    """Stop when a numeric size parameter is below its floor."""
    if floor is not None and isinstance(value, int | float) and value < floor:
        raise ValueError(f"parameter {name!r} must be >= {floor}; got {value!r}")


def env_scale() -> str | None:
    """The scale ``ALIGNINFO_SCALE`` sets for every chapter; None when it is unset or empty.

    Raises:
        ValueError: If it is set to something other than one of :data:`SCALES`.
    """
    env = os.environ.get(SCALE_ENV)
    if env and env not in SCALES:
        raise ValueError(f"{SCALE_ENV}={env!r} must be one of {SCALES}, or unset")
    return env or None


def check_values(values: Mapping[str, Any]) -> None:
    """Check the parameters every chapter shares, those of ``values`` only, without side effects.

    ``scale`` must be one of :data:`SCALES`, ``seed`` an integer in ``[0, SEED_LIMIT)``,
    ``device`` a well-formed device this machine has (when explicit), ``workers`` a positive
    integer, ``results_dir`` None or
    a folder that exists or can be created and is writable, ``data_dir`` None or an existing
    folder. Nothing is created: :func:`configure` creates ``results_dir``.

    Args:
        values: Parameter name to value (other names are ignored).

    Raises:
        ValueError: Naming the first invalid parameter.
    """
    if "scale" in values and values["scale"] not in SCALES:
        raise ValueError(f"parameter 'scale' must be one of {SCALES}; got {values['scale']!r}")
    if "seed" in values:
        seed = values["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
            raise ValueError(
                f"parameter 'seed' must be a non-negative integer below 2**32; got {seed!r}"
            )
    if "device" in values:
        _check_device(values["device"])
    if "workers" in values:
        workers = values["workers"]
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"parameter 'workers' must be a positive integer; got {workers!r}")
    if values.get("results_dir") is not None:
        _check_folder_name("results_dir", values["results_dir"])
        _check_creatable(Path(values["results_dir"]))
    if values.get("data_dir") is not None:
        _check_folder_name("data_dir", values["data_dir"])
        if not Path(values["data_dir"]).is_dir():
            what = "is not a folder" if Path(values["data_dir"]).exists() else "does not exist"
            raise ValueError(f"parameter 'data_dir': {str(values['data_dir'])!r} {what}")


def _check_folder_name(name: str, value: Any) -> None:
    """Stop unless a folder parameter is a non-empty path ("" is the kernel's own folder)."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ValueError(f"parameter {name!r} must name a folder or be None; got {value!r}")


def _check_creatable(folder: Path) -> None:
    """Stop unless ``folder`` is a writable folder, or could be created as one."""
    from aligninfo.data.registry import is_writable

    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        raise ValueError(f"parameter 'results_dir': {str(folder)!r} is a file, not a folder")
    if not existing.is_dir():
        raise ValueError(
            f"parameter 'results_dir': cannot create {str(folder)!r} ({str(existing)!r} is a file)"
        )
    if not is_writable(existing):
        what = "is not writable" if existing == folder else f"cannot be created in {existing}"
        raise ValueError(f"parameter 'results_dir': {str(folder)!r} {what}")


def _check_injected(history: Any) -> None:
    """Stop on a parameter papermill injected that the notebook lacks, or a replaced scale.

    Plain papermill only warns about an unknown name and runs the defaults; a ``scale`` that
    ``ALIGNINFO_SCALE`` replaces would be ignored.

    Args:
        history: IPython's list of executed cell sources (``In``); anything else is ignored.
    """
    if not isinstance(history, list):
        return
    for index in range(1, len(history)):
        source = history[index]
        if isinstance(source, str) and source.startswith(_INJECTED):
            declared, injected = _assigned(history[index - 1]), _assigned(source)
            unknown = [n for n in injected if n not in declared]
            if declared and unknown:
                raise ValueError(
                    f"no parameter {', '.join(map(repr, unknown))} in this "
                    f"chapter; its parameters are: {', '.join(declared)}"
                )
            env = os.environ.get(SCALE_ENV)
            if env and "scale" in injected and injected["scale"] != env:
                raise ValueError(
                    f"parameter 'scale' is {injected['scale']!r} but "
                    f"{SCALE_ENV}={env!r} replaces it: unset {SCALE_ENV} or drop "
                    "the scale parameter"
                )


def _assigned(source: Any) -> dict[str, Any]:
    """The names a cell assigns at top level, with their values when literal (else None)."""
    try:
        tree = ast.parse(source) if isinstance(source, str) else None
    except SyntaxError:
        tree = None
    found: dict[str, Any] = {}
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        found[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, RecursionError):
                        found[target.id] = None
    return found


def _check_writable(results_dir: Any) -> None:
    """Create the results folder when missing, and stop unless files can be written there."""
    from aligninfo.data.registry import is_writable
    from aligninfo.userio import out_folder

    _check_folder_name("results_dir", results_dir)
    folder = out_folder(results_dir, ValueError, "parameter 'results_dir'")
    if not is_writable(folder):
        raise ValueError(f"parameter 'results_dir': {str(folder)!r} is not writable")


def glue(name: str, value: Any) -> None:
    """Store a computed value for the chapter's text, where ``{glue:text}`name:.3f``` shows it.

    NumPy scalars become plain Python numbers, so that format specifications apply.
    """
    from myst_nb import glue as myst_glue

    myst_glue(name, value.item() if isinstance(value, np.generic) else value, display=False)


def save_results(
    cfg: SimpleNamespace,
    name: str,
    results: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
) -> Path | None:
    """Write a chapter's key results as JSON, keyed by its parameters, atomically.

    The file is ``<results_dir>/<name>-<key>.json`` (see :func:`results_key`), readable by all
    (mode 0644); it replaces only a result of the same parameters.

    Args:
        cfg: The namespace returned by :func:`configure`.
        name: The chapter's name (``07_synthetic``), or any file stem outside the book.
        results: JSON-serialisable values; NumPy scalars and arrays are converted.
        parameters: Values of parameters that ``cfg`` does not hold; by default those of the
            chapter's ``parameters`` cell as the notebook held them when it called
            :func:`configure`.

    Returns:
        The path written, or None when ``cfg.results_dir`` is None.

    Raises:
        ValueError: If a parameter of the chapter has no literal value.
    """
    if cfg.results_dir is None:
        return None
    requested = _requested(cfg, name, parameters or {})
    resolved = {k: v for k, v in vars(cfg).items() if not k.startswith("_") and k != "started"}
    given = getattr(cfg, "_namespace", {}) | dict(parameters or {})
    data_dir = given.get("data_dir")
    reads_data = "data_dir" in (_declared(name) or {})
    inputs = {n: given[n] for n in _INPUTS if given.get(n) is not None}
    key = results_key(name, requested)
    record = {
        "chapter": name,
        "key": key,
        "aligninfo_version": __version__,
        "source_digest": _source_digest(name),
        "library_digest": _saved_digest(),
        "requested": requested,
        "data": _fingerprint_read(data_dir) if reads_data else None,
        "inputs": {n: _fingerprint_read(folder) for n, folder in inputs.items()},
        "upstream": _upstream_read(Path(cfg.results_dir)),
        "parameters": requested | ({"data_dir": data_dir} if data_dir else {}) | resolved,
        "seconds": round(time.perf_counter() - cfg.started, 3),
        "results": dict(results),
    }
    global _read_log, _upstream_log
    _read_log = _upstream_log = None  # many paths, maybe: not kept past the run's record
    return write_json(Path(cfg.results_dir) / f"{name}-{key}.json", record)


def _fingerprint_read(folder: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """:func:`data_fingerprint` of what this run read under a folder (``None``: the data folder).

    None when no run is logging (after :func:`save_results`, before :func:`configure`): a
    record without it is never reused.
    """
    return None if _read_log is None else data_fingerprint(folder, data_read(folder))


def _upstream_read(results_dir: Path) -> list[dict[str, Any]] | None:
    """The results this run looked up (:func:`find_results`), folders relative to its own.

    None when no run is logging: a record of a chapter that reads others' is then not reused.
    """
    if _upstream_log is None:
        return None
    here = results_dir.absolute()
    return [
        e | {"results_dir": os.path.relpath(e["results_dir"], here)} for e in _upstream_log.values()
    ]


def record_identity(record: Mapping[str, Any]) -> str:
    """What identifies a record to a chapter that read it: its key, code, data, upstream, results.

    Returns:
        16 hexadecimal digits; a record computed again from other code, data or upstream
        results has others, and so has one computed again with other numbers (on another
        device, say).
    """
    keys = ("key", "source_digest", "data", "inputs", "upstream", "results")
    parts = [record.get(k) for k in keys]
    return hashlib.sha256(_canonical(parts).encode()).hexdigest()[:16]


def _requested(cfg: SimpleNamespace, name: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that identify a run: every declared parameter as given, folders aside.

    In a chapter of the book these are the names of its ``parameters`` cell, valued as the
    notebook held them when it called :func:`configure`; elsewhere, those :func:`configure` was
    given and ``parameters``.
    """
    explicit = getattr(cfg, "_given", {}) | dict(parameters)
    declared = _declared(name)
    if declared is None:
        given = explicit
    else:
        merged = getattr(cfg, "_namespace", {}) | explicit
        given = {k: merged[k] for k in declared if k in merged}
        missing = [n for n in declared if n not in given]
        if missing:
            raise ValueError(f"parameter(s) {missing} of {name} hold no literal value to record")
    return {k: v for k, v in given.items() if k not in UNKEYED}


def _declared(name: str) -> dict[str, Any] | None:
    """The parameters (and defaults) of a chapter of the book; None when ``name`` is not one."""
    from aligninfo.book import run

    try:
        return run.chapter_parameters(name)
    except FileNotFoundError:
        return None


def _source_digest(name: str) -> str | None:
    """Digest of a chapter's code (None outside the book)."""
    from aligninfo.book import run

    try:
        return run.code_digest(name)
    except FileNotFoundError:
        return None


def tree_digest(root: Path) -> str:
    """SHA-256 of the Python source under a folder: its ``*.py`` files' paths and bytes, sorted.

    Args:
        root: The folder (searched recursively).

    Returns:
        Hexadecimal digest; it changes when a file is added, removed, renamed or edited.
    """
    digest = hashlib.sha256()
    for path in _sources(root):
        data = path.read_bytes()
        name = path.relative_to(root).as_posix().encode()
        digest.update(b"%d:%s%d:" % (len(name), name, len(data)) + data)
    return digest.hexdigest()


def library_digest() -> str:
    """Digest of the library's source (:data:`LIBRARY`), as the files are now.

    A saved result is reused only under the same digest, so that a fix in any module (the
    statistics, a probe) is never hidden behind results computed before it. The files are read
    again only when one's size or modification time has changed (a cache per process).
    """
    stamps = tuple((str(f), *_stamp(f.stat())) for f in _sources(LIBRARY))
    return _digest_at(LIBRARY, stamps)


def _sources(root: Path) -> list[Path]:
    """The ``*.py`` files under a folder, sorted, hidden names and non-regular files left out.

    An editor's lock file (``.#stats.py``) is often a dangling link.
    """
    return sorted(
        p
        for p in root.rglob("*.py")
        if not any(part.startswith(".") for part in p.relative_to(root).parts) and p.is_file()
    )


@functools.cache
def loaded_digest() -> str:
    """The library's digest when this process first asked for it: that of the code it loaded.

    :func:`configure` asks at a chapter's start, so a kernel that keeps its modules between
    runs (:class:`aligninfo.book.run.ChapterKernel`) keeps the digest of the code it runs.
    """
    return library_digest()


def _saved_digest() -> str:
    """The library digest to record: the loaded code's, or one that never matches.

    When the source changed on disk since this process loaded it, the results were computed by
    code that no longer exists: they are stamped so that :func:`find_results` never reuses them.
    """
    loaded, now = loaded_digest(), library_digest()
    if loaded == now:
        return loaded
    warnings.warn(
        "the library's source changed after this process loaded it: these results are saved "
        "but will not be reused",
        stacklevel=3,
    )
    return STALE + loaded


@functools.lru_cache(maxsize=8)
def _digest_at(root: Path, stamps: tuple[tuple[str, int, int], ...]) -> str:
    """:func:`tree_digest` of ``root`` while its files have these sizes and times."""
    return tree_digest(root)


_READ_EVENTS = {"open": "files", "os.scandir": "folders", "os.listdir": "folders"}
"""Audit events that say a process read a file or listed a folder, and what they add to."""
_read_log: dict[str, set[str]] | None = None
"""Absolute paths of the files read and folders listed since :func:`start_read_log`."""
_upstream_log: dict[str, dict[str, Any]] | None = None
"""The records :func:`find_results` looked up since :func:`start_read_log`, by request."""
_hooked = False
"""Whether this process's audit hook is installed."""
_INPUTS = tuple(n for n in PATHS if n not in FOLDERS)
"""Parameters naming files or folders a chapter reads (``pretrained``): fingerprinted as data."""


def _log_read(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: note a file opened for reading or a folder listed (see :func:`data_read`)."""
    kind = _READ_EVENTS.get(event)
    if kind is None or _read_log is None:
        return
    try:
        path = "." if not args or args[0] is None else args[0]
        writes = event == "open" and args[2] & os.O_ACCMODE != os.O_RDONLY
        if not writes and not isinstance(path, int):
            _read_log[kind].add(os.path.abspath(os.fsdecode(path)))
    except Exception:  # noqa: BLE001 - a hook that raised would stop the read itself
        pass


def start_read_log() -> None:
    """Note, from now on in this process, the files opened for reading and folders listed.

    :func:`configure` calls it, so that :func:`save_results` fingerprints the data a chapter
    read since it started (a kernel reused for another run starts a new log). It hears what
    Python code opens or lists (:func:`sys.addaudithook`), not files a C library opens by name
    (GDAL's GeoTIFFs): those are covered when their folder was listed. It also starts the log
    of the results records the run looks up (:func:`find_results`), which :func:`save_results`
    keeps in the record (``upstream``).
    """
    global _read_log, _upstream_log, _hooked
    if not _hooked:
        import sys

        sys.addaudithook(_log_read)  # once per process: hooks cannot be removed
        _hooked = True
    _read_log = {"files": set(), "folders": set()}
    _upstream_log = {}


def _data_root(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """The data folder as the loaders resolve it (``data_dir``, ``$ALIGNINFO_DATA``, pooch's)."""
    from aligninfo.data.registry import DataFileError, default_data_dir

    try:
        return default_data_dir() if data_dir is None else Path(data_dir).absolute()
    except DataFileError:
        return None


def data_read(data_dir: str | os.PathLike[str] | None) -> dict[str, list[str]]:
    """What this process read in the data folder since :func:`start_read_log`, compactly.

    Args:
        data_dir: The chapter's ``data_dir`` parameter (see :func:`data_fingerprint`).

    Returns:
        Paths relative to the data folder, sorted: ``folders`` listed (each stands for the files
        directly in it and its subfolders' names), ``trees`` (a listed folder more than half of
        whose subfolders were listed too stands for everything below it: a scanned download),
        and ``files`` opened outside those. Empty lists when nothing was logged.
    """
    root = _data_root(data_dir)
    if root is None or _read_log is None:
        return {"files": [], "folders": [], "trees": []}
    found = {
        k: {r for p in v if (r := _relative(p, root)) is not None} for k, v in _read_log.items()
    }
    listed = found["folders"]
    trees = {f for f in listed if _mostly_listed(root, f, listed)}
    trees = {t for t in trees if not _below(t, trees)}
    folders = {f for f in listed - trees if not _below(f, trees)}
    files = {f for f in found["files"] if not _below(f, folders | trees)}
    return {"files": sorted(files), "folders": sorted(folders), "trees": sorted(trees)}


def _relative(path: str, root: Path) -> str | None:
    """``path`` relative to ``root`` in POSIX form ("" for the root), or None when outside it."""
    rel = os.path.relpath(path, root)
    return None if rel == ".." or rel.startswith("../") else ("" if rel == "." else rel)


def _below(path: str, folders: set[str]) -> bool:
    """Whether ``path`` lies inside one of ``folders`` (relative paths; "" is the root)."""
    parts = path.split("/") if path else []
    return any("/".join(parts[:i]) in folders for i in range(len(parts)))


def _mostly_listed(root: Path, folder: str, listed: set[str]) -> bool:
    """Whether more than half of a folder's subfolders were listed too."""
    try:
        with os.scandir(root / folder) as found:  # names only: no file is stat'ed here
            subfolders = [e.name for e in found if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return False
    hits = sum(f"{folder}/{name}".lstrip("/") in listed for name in subfolders)
    return hits > len(subfolders) / 2


def _entries(root: Path, folder: str) -> list[tuple[str, bool, int, int]]:
    """The visible entries of a folder: (name, is a folder, size, mtime_ns); [] when absent."""
    try:
        with os.scandir(root / folder) as found:
            entries = [e for e in found if not e.name.startswith(".")]
            return sorted(
                (e.name, e.is_dir(), *((0, 0) if e.is_dir() else _stamp(e.stat()))) for e in entries
            )
    except OSError:
        return []


def _stamp(stat: os.stat_result) -> tuple[int, int]:
    """A file's size and modification time (ns)."""
    return stat.st_size, stat.st_mtime_ns


def data_fingerprint(
    data_dir: str | os.PathLike[str] | None, read: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """What identifies the data a chapter read, cheaply: sizes and times, no file's bytes.

    The data folder is ``data_dir``, else ``$ALIGNINFO_DATA``, else pooch's cache (as the
    loaders resolve it). Only what the chapter read there counts (:func:`data_read`): each file
    it opened (size, modification time), each folder it listed (its entries' names, and the
    size and time of the files directly in it, which covers files a C library opened by name),
    and each tree it scanned (the same for every folder below). So touching Houston's files
    leaves chapter 8's records valid, and a changed file inside a download a chapter read
    invalidates them; the cost is one ``stat`` per file the chapter read or listed.

    Args:
        data_dir: The chapter's ``data_dir`` parameter; relative to the working directory.
        read: ``files``, ``folders`` and ``trees`` relative to the data folder.

    Returns:
        ``{"read": read, "digest": SHA-256 of the rows}``; a missing file or folder is a row too.
    """
    root = _data_root(data_dir)
    digest = hashlib.sha256()
    for row in _fingerprint_rows(root, read) if root is not None else iter([["no data folder"]]):
        digest.update(_canonical(row).encode() + b"\n")
    return {
        "read": {k: sorted(read.get(k, [])) for k in ("files", "folders", "trees")},
        "digest": digest.hexdigest(),
    }


def _fingerprint_rows(root: Path, read: Mapping[str, Sequence[str]]) -> Iterator[list[Any]]:
    """Rows ``[path, size, mtime_ns]`` (``[path/, names]`` for a folder) of what was read."""
    for name in sorted(read.get("files", [])):
        try:
            yield [name, *_stamp((root / name).stat())]
        except OSError:
            yield [name, None]
    for folder in sorted(read.get("folders", [])):
        yield [f"{folder}/", _entries(root, folder)]
    for tree in sorted(read.get("trees", [])):
        pending = [tree]
        while pending:
            folder = pending.pop()
            entries = _entries(root, folder)
            yield [f"{folder}/", entries]
            pending.extend(f"{folder}/{n}".lstrip("/") for n, is_dir, *_ in entries if is_dir)


def _canonical(value: Any) -> str:
    """A value as canonical JSON: sorted keys, tuples as lists, NumPy as Python."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=to_json)


def results_key(name: str, parameters: Mapping[str, Any]) -> str:
    """The key of one parameter point of a chapter: a hash of its name and parameters.

    Args:
        name: The chapter's name.
        parameters: Its parameters, those of :data:`UNKEYED` excluded.

    Returns:
        16 hexadecimal digits.
    """
    text = _canonical({"chapter": name, "parameters": dict(parameters)})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def find_results(
    chapter: str,
    parameters: Mapping[str, Any] | None = None,
    results_dir: str | os.PathLike[str] = "results",
    *,
    note: bool = True,
) -> tuple[dict[str, Any] | None, str]:
    """Find the results a chapter saved when run with some parameters, and say why not.

    Args:
        chapter: The chapter's name (``07_synthetic``).
        parameters: The overrides the chapter would be run with (as for ``run_chapter``); the
            others take their defaults. ``ALIGNINFO_SCALE``, when set, is the scale, and a
            different ``scale`` given here is refused (as the runner refuses it).
        results_dir: The folder the chapter wrote to.
        note: During a chapter's run (after :func:`configure`), note the lookup, found or not,
            for :func:`save_results` (False: a look that the results do not depend on).

    Returns:
        The record (with ``results``, ``parameters``, ...) and an empty string; or None and why
        no record qualifies (none for these parameters, an unreadable file, another library
        version or library source, older chapter code, a change in the data files the chapter
        read: see :func:`data_fingerprint`; files read under ``pretrained``; a record it read
        through this function that is no longer the one found: see :func:`record_identity`).

    Raises:
        ValueError: If ``parameters`` names a parameter that the chapter does not have, or a
            ``scale`` other than the one ``ALIGNINFO_SCALE`` sets.
    """
    try:
        record, why = _find(chapter, parameters, results_dir, {})
    except _Loop as loop:
        record, why = None, f"a record lists itself among the results it read ({loop})"
    if note and _upstream_log is not None:
        from aligninfo.book import run

        name, wanted = run.resolve(chapter).stem, dict(parameters or {})
        entry = {
            "chapter": name,
            "parameters": wanted,
            "results_dir": str(Path(results_dir).absolute()),
            "identity": None if record is None else record_identity(record),
        }
        _upstream_log[_canonical([name, wanted, entry["results_dir"]])] = entry
    return record, why


class _Loop(Exception):
    """Records that list one another among the results they read; the message is the chain."""


_Found = tuple[dict[str, Any] | None, str]
_Memo = dict[tuple[str, str, str], _Found | None]
"""Lookups of one :func:`find_results` call by (chapter, parameters, folder); None: under way."""


def _find(
    chapter: str,
    parameters: Mapping[str, Any] | None,
    results_dir: str | os.PathLike[str],
    memo: _Memo,
) -> _Found:
    """:func:`find_results` without noting the lookup, each lookup done once per ``memo``.

    Raises:
        _Loop: When the lookup is already under way (a record read, through others, itself).
    """
    from aligninfo.book import run

    name = run.resolve(chapter).stem
    lookup = (name, _canonical(parameters or {}), str(Path(results_dir).resolve()))
    if lookup in memo:
        done = memo[lookup]
        if done is None:
            under_way = [k for k, v in memo.items() if v is None]  # in the order begun
            chain = under_way[under_way.index(lookup) :]
            raise _Loop(" -> ".join([k[0] for k in chain] + [name]))
        return done
    memo[lookup] = None
    try:
        found = _find_once(name, parameters, results_dir, memo)
    finally:
        del memo[lookup]
    memo[lookup] = found
    return found


def _find_once(
    chapter: str,
    parameters: Mapping[str, Any] | None,
    results_dir: str | os.PathLike[str],
    memo: _Memo,
) -> _Found:
    """One lookup of :func:`_find`."""
    from aligninfo.book import run

    declared = run.chapter_parameters(chapter)
    name = run.resolve(chapter).stem
    unknown = sorted(set(parameters or {}) - set(declared))
    if unknown:
        raise ValueError(f"{name} has no parameter {', '.join(unknown)}")
    given, env = (parameters or {}).get("scale"), env_scale()
    if env and given is not None and given != env:
        raise ValueError(f"scale {given!r} conflicts with {SCALE_ENV}={env!r}")
    wanted = declared | dict(parameters or {}) | _scale_from_env()
    requested = {k: v for k, v in wanted.items() if k not in UNKEYED}
    path = Path(results_dir) / f"{name}-{results_key(name, requested)}.json"
    if not path.is_file():
        others = len(list(Path(results_dir).glob(f"{name}-*.json")))
        return None, (
            f"{NO_RESULTS} {name} for these parameters in {results_dir} "
            f"({others} for other parameters)"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"{path} cannot be read ({type(err).__name__}: {err})"
    if not isinstance(record, dict):
        return None, f"{path} is not a results record"
    if _canonical(record.get("requested")) != _canonical(requested):
        return None, f"{path} holds results of other parameters"
    if record.get("aligninfo_version") != __version__:
        return None, (
            f"{path} was computed by aligninfo {record.get('aligninfo_version')}, "
            f"this is {__version__}"
        )
    if record.get("library_digest") != library_digest():
        return None, f"{path} was computed by another version of the library's source"
    if record.get("source_digest") != run.code_digest(name):
        return None, f"{path} was computed by an older version of {name}'s code"
    inputs = record.get("inputs")
    inputs = inputs if isinstance(inputs, dict) else {}
    read = {n: inputs.get(n) for n in _INPUTS if n in declared and wanted.get(n) is not None}
    if "data_dir" in declared:
        read["data_dir"] = record.get("data")
    for folder, saved in read.items():
        why = _read_changed(saved, wanted.get(folder))
        if why:
            what = "data" if folder == "data_dir" else f"files in {folder!r}"
            return None, f"{path} was computed on other {what} ({why})"
    upstream = record.get("upstream")
    checked = upstream or name in run.UPSTREAM
    changed = _upstream_changed(upstream, path.parent, memo) if checked else ""
    if changed:
        return None, f"{path} {changed}"
    return record, ""


def _read_changed(saved: Any, folder: str | os.PathLike[str] | None) -> str:
    """Why a saved :func:`data_fingerprint` no longer holds for a folder; "" when it does."""
    read = saved.get("read") if isinstance(saved, dict) else None
    if not isinstance(read, dict):
        return "the record does not say which files it read"
    return "" if data_fingerprint(folder, read) == saved else "files it read differ"


def _upstream_changed(entries: Any, folder: Path, memo: _Memo) -> str:
    """Why the records looked up as ``entries`` say are not those a record read; "" if they are.

    Returns:
        The first chapter whose record is another one now (or was not found then, or is not
        now), or that ``entries`` is no list of lookups; "" when none changed.
    """
    if not isinstance(entries, list):
        return "does not list the results it read (an older record, or a second one of its run)"
    for entry in entries:
        try:
            at = folder / entry["results_dir"]
            found, _ = _find(entry["chapter"], entry["parameters"], at, memo)
            identity = entry["identity"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return f"lists results it read that cannot be looked up ({entry!r:.80})"
        if (None if found is None else record_identity(found)) != identity:
            return f"read results of {entry['chapter']} that changed since"
    return ""


def load_results(
    chapter: str,
    parameters: Mapping[str, Any] | None = None,
    results_dir: str | os.PathLike[str] = "results",
) -> dict[str, Any] | None:
    """The record :func:`find_results` finds, or None when there is none that matches."""
    return find_results(chapter, parameters, results_dir)[0]


def _scale_from_env() -> dict[str, str]:
    """``{"scale": ...}`` when ``ALIGNINFO_SCALE`` replaces the scale, else nothing."""
    env = os.environ.get(SCALE_ENV)
    return {"scale": env} if env else {}
