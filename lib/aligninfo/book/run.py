"""Run the book's chapters with parameters (papermill), and keep their notebook pairs in sync.

``book/NN_name.md`` (MyST Markdown notebooks) are the sources; ``notebooks/NN_name.ipynb`` are
their jupytext pairs, stored without outputs except those of cells marked ``# NBVAL_CHECK_OUTPUT``,
which nbval compares (they are produced by :func:`sync` at ``scale="smoke"``).

:func:`run_chapter` refuses, before any kernel starts, parameters the chapter does not have, a
``scale`` that ``ALIGNINFO_SCALE`` would replace, the values the chapter would refuse without
computing anything (:func:`aligninfo.book.chapter.check_values`), a data folder that is not one, a
file that is no chapter and an output that cannot be written; it resolves relative folders
(``results_dir``, ``data_dir``, ``$ALIGNINFO_DATA``) against the caller's working directory,
since the kernel runs in the chapter's folder. :class:`ChapterKernel` runs chapters one after
another in one kernel (the points of a sweep), with the same checks and parameters.
"""

from __future__ import annotations

import ast
import datetime
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from aligninfo.book import chapter as _chapter
from aligninfo.book.chapter import PATHS, SCALE_ENV, check_values, env_scale
from aligninfo.data.registry import ENV_VAR as DATA_ENV

ROOT = Path(__file__).resolve().parents[3]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
UPSTREAM = {
    "10_protocol": ("07_synthetic", "08_lfmc"),
    "11_when_to_align": ("07_synthetic", "08_lfmc", "09_houston", "10_protocol"),
    "12_should_i_align": ("08_lfmc", "09_houston"),
}
"""Chapters that read the results of others: their execution is stale when those change."""
_PARAMETER_TAGS = ("parameters", "injected-parameters")


def chapters() -> list[Path]:
    """The executable chapters: the MyST notebooks in ``book/``, in reading order.

    Files whose name starts with ``_`` (``book/_template.md``) are not chapters.
    """
    return sorted(p for p in BOOK.glob("[!_]*.md") if _is_notebook(p))


def _is_notebook(path: Path) -> bool:
    """Whether a Markdown file is a MyST notebook (it declares a kernel)."""
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "kernelspec:" in head


def resolve(chapter: str | Path) -> Path:
    """Find a chapter by path, file name or stem (``03_linear_alignment``).

    Raises:
        FileNotFoundError: Listing the chapters that exist.
    """
    path = Path(chapter)
    if path.is_file():
        if path.suffix == ".ipynb" or (path.suffix == ".md" and _is_notebook(path)):
            return path
        raise FileNotFoundError(
            f"{str(chapter)!r} is not a chapter: give a MyST Markdown "
            "notebook (book/*.md), a .ipynb or a chapter's name"
        )
    for candidate in chapters():
        if path.name in (candidate.name, candidate.stem, candidate.stem + ".ipynb"):
            return candidate
    names = ", ".join(p.stem for p in chapters())
    raise FileNotFoundError(f"no chapter {str(chapter)!r}; the chapters are: {names}")


def parse_value(text: str) -> Any:
    """Read a command-line parameter value: a Python literal if it is one, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a chapter (``.md`` or ``.ipynb``) as a notebook.

    Raises:
        ValueError: Naming the file, when it cannot be read as a notebook.
    """
    try:
        return jupytext.read(path)
    except Exception as err:  # JSON, schema and format errors all mean a file that is no notebook
        first = str(err).strip().splitlines()
        raise ValueError(
            f"cannot read {path} as a notebook: {type(err).__name__}: {first[0] if first else ''}"
        ) from err


def chapter_parameters(chapter: str | Path) -> dict[str, Any]:
    """The parameters of a chapter and their defaults, read by ``papermill.inspect_notebook``.

    Args:
        chapter: Path or name of the chapter.

    Returns:
        Name to default value (a Python literal), in the order of the ``parameters`` cell.

    Raises:
        FileNotFoundError: If there is no such chapter.
    """
    path = resolve(chapter).resolve()
    return dict(_parameters_of(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _parameters_of(path: Path, mtime_ns: int) -> tuple[tuple[str, Any], ...]:
    """Read (and cache, per file version) the parameters cell of a notebook."""
    from papermill import inspect_notebook

    notebook = read_notebook(path)  # a file that is no notebook: one clear error
    with tempfile.TemporaryDirectory() as folder:
        converted = Path(folder) / (path.stem + ".ipynb")
        nbformat.write(notebook, converted)
        found = inspect_notebook(str(converted))
    return tuple((name, parse_value(p["default"])) for name, p in found.items())


def code_digest(chapter: str | Path) -> str:
    """SHA-256 of a chapter's code cells, its parameters cell aside (the results key has those).

    Args:
        chapter: Path or name of the chapter.

    Returns:
        Hexadecimal digest; it changes whenever code that computes the chapter's results does.
    """
    path = resolve(chapter).resolve()
    return _code_digest_of(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _code_digest_of(path: Path, mtime_ns: int) -> str:
    """:func:`code_digest` of a file version (cached: chapter 11 checks many records of 7-10)."""
    digest = hashlib.sha256()
    for cell in read_notebook(path).cells:
        tags = cell.get("metadata", {}).get("tags", ())
        if cell.cell_type == "code" and not set(tags) & set(_PARAMETER_TAGS):
            digest.update(cell.source.strip().encode() + b"\0")
    return digest.hexdigest()


def check_parameters(chapter: str | Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check parameters for a chapter before it runs, and put them in the form its kernel needs.

    Tuples become lists (papermill would pass a tuple as its text); relative ``results_dir``
    and ``data_dir`` become absolute, from the caller's working directory. The values that
    :func:`aligninfo.book.chapter.configure` would refuse without computing anything (``scale``,
    ``seed``, ``device``, the folders; see :func:`aligninfo.book.chapter.check_values`) are refused
    here, and so is a ``$ALIGNINFO_DATA`` that is not a folder when the chapter reads data
    (it has ``data_dir``) and none is given.

    Args:
        chapter: Path or name of the chapter.
        parameters: Name to value.

    Returns:
        The parameters to inject.

    Raises:
        ValueError: On a name the chapter does not have (listing those it has), a ``scale``
            other than the one ``ALIGNINFO_SCALE`` sets, or an invalid value, naming it.
    """
    path = resolve(chapter)
    declared = chapter_parameters(path)
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise ValueError(
            f"{path.stem} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(declared)}"
        )
    env = env_scale()
    if env and "scale" in parameters and parameters["scale"] != env:
        raise ValueError(
            f"parameter 'scale' is {parameters['scale']!r} but {SCALE_ENV}={env!r} "
            f"would replace it: unset {SCALE_ENV} or drop the scale parameter"
        )
    plain = {name: _plain(name, value) for name, value in parameters.items()}
    check_values(plain)
    for name, value in plain.items():
        _check_list(name, value, declared[name])
    if "data_dir" in declared and plain.get("data_dir", declared["data_dir"]) is None:
        _check_data_env()
    return plain


def _check_list(name: str, value: Any, default: Any) -> None:
    """Stop unless a parameter whose default is a list or tuple gets one like it.

    Like it: a non-empty list or tuple; as many items as a tuple default (one per modality,
    say); strings where the default holds strings, numbers where it holds numbers (integers
    where it holds integers). A chapter checks the items' values itself.
    """
    if not isinstance(default, list | tuple):
        return
    if not isinstance(value, list | tuple) or not value:
        example = '"[' + ", ".join(map(repr, default[:2])) + ']"'
        raise ValueError(
            f"parameter {name!r} takes a non-empty list, as its default does; got {value!r} "
            f"(give a list as one quoted value, e.g. -p {name} {example})"
        )
    if isinstance(default, tuple) and len(value) != len(default):
        raise ValueError(
            f"parameter {name!r} takes {len(default)} values like its default {default!r}; "
            f"got {value!r}"
        )
    kind = _item_kind(default)
    wrong = [v for v in value if kind is not None and _item_kind([v]) not in _KINDS[kind]]
    if wrong:
        raise ValueError(f"parameter {name!r} holds {kind}s like its default; got {wrong[0]!r}")


_KINDS = {"string": ("string",), "number": ("number", "integer"), "integer": ("integer",)}
"""Item kinds a list parameter accepts, by the kind of its default's items."""


def _item_kind(items: Sequence[Any]) -> str | None:
    """``"string"``, ``"integer"`` or ``"number"`` when all items are of it; else None."""
    if items and all(isinstance(v, str) for v in items):
        return "string"
    numbers = [v for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    if not items or len(numbers) < len(items):
        return None
    return "integer" if all(isinstance(v, int) for v in numbers) else "number"


def _check_data_env() -> None:
    """Stop unless ``$ALIGNINFO_DATA``, when set, names an existing folder."""
    from aligninfo.data.registry import DataFileError, default_data_dir

    try:
        default_data_dir()
    except DataFileError as err:
        raise ValueError(str(err)) from None


def _plain(name: str, value: Any) -> Any:
    """Tuples as lists (recursively); relative paths (:data:`PATHS`) as absolute ones."""
    if isinstance(value, list | tuple):
        return [_plain("", v) for v in value]
    if isinstance(value, dict):
        return {k: _plain("", v) for k, v in value.items()}
    if name in PATHS and isinstance(value, str) and value:
        return str(Path(value).absolute())
    return value


def absolute_data_env() -> None:
    """Make a relative ``$ALIGNINFO_DATA`` absolute, from this process's working directory.

    A kernel runs in its chapter's folder: it must not read the variable relative to that.
    """
    value = os.environ.get(DATA_ENV, "")
    if value and not Path(value).is_absolute():
        os.environ[DATA_ENV] = str(Path(value).absolute())


def run_chapter(
    chapter: str | Path,
    output: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> nbformat.NotebookNode:
    """Execute a chapter with papermill, in the chapter's folder.

    Args:
        chapter: Path or name of the chapter (``.md`` or ``.ipynb``).
        output: Where to write the executed notebook (``.ipynb``); None writes nothing.
        parameters: Values injected after the chapter's ``parameters`` cell, checked first by
            :func:`check_parameters`.
        progress: Show papermill's progress bar.

    Returns:
        The executed notebook.

    Raises:
        ValueError: From :func:`check_parameters`, or when ``output`` cannot be written,
            before any kernel starts.
    """
    import papermill

    path = resolve(chapter)
    injected = check_parameters(path, dict(parameters or {}))
    if output is not None:
        _check_output(Path(output))
    absolute_data_env()
    for attempt in range(KERNEL_STARTS):
        try:
            return papermill.execute_notebook(
                read_notebook(path),
                None if output is None else str(output),
                parameters=injected,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(path.parent),
            )
        except RuntimeError as err:  # nothing ran: the kernel could not start
            if KERNEL_DIED not in str(err) or attempt == KERNEL_STARTS - 1:
                raise
    raise AssertionError("unreachable")


KERNEL_STARTS = 3
"""Attempts to start a chapter's kernel: kernels started at the same moment by parallel processes
(a sweep) can race for the same free TCP port, and the loser dies before it runs any cell."""
KERNEL_DIED = "Kernel died before replying to kernel_info"


class ChapterKernel:
    """One kernel that runs chapters one after another (the points of a sweep), started once.

    A chapter run by :func:`run_chapter` starts a kernel of its own, which imports the
    library, torch, scikit-learn and matplotlib again (seconds of CPU time per run). Here the
    kernel stays: before each run its namespace is emptied (IPython's ``%reset -f``), its
    working folder set to the chapter's and the process state listed in
    :mod:`aligninfo.book.kernel_state` put back as it was before the first run (environment
    variables, ``sys.path``, warnings filters, NumPy's, torch's and matplotlib's settings, the
    global random generators, locale, umask, logging, signal handlers, the library's settings),
    while the modules imported stay loaded (but for modules next to the chapter). Anything else
    a run changes stays for the next: module caches, and attributes a run sets on other
    modules (no chapter does). The
    kernel is started again when the ``ALIGNINFO_*`` variables of this process (which it
    inherits) or the library's source (:func:`aligninfo.book.chapter.library_digest`) have
    changed since it started, so that a run never executes modules older than the files.
    A kernel that died is
    replaced at the next run, and the processes it started (its process group: a pool's
    workers) are stopped with it (jupyter_client signals the group). Close it (or use it as a
    context manager) to stop the kernel::

        with ChapterKernel() as kernel:
            for point in points:
                kernel.run("07_synthetic", point)
    """

    def __init__(self) -> None:
        self._manager: Any = None
        self._env: dict[str, str] = {}  # the ALIGNINFO_* variables it started with
        self._digest = ""  # the library's digest when it started

    def __enter__(self) -> ChapterKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self, chapter: str | Path, parameters: Mapping[str, Any] | None = None
    ) -> nbformat.NotebookNode:
        """Execute a chapter with parameters in this kernel, as :func:`run_chapter` does.

        Args:
            chapter: Path or name of the chapter.
            parameters: Values injected after its ``parameters`` cell (checked first, as by
                :func:`run_chapter`).

        Returns:
            The executed notebook.

        Raises:
            ValueError: From :func:`check_parameters`, before anything runs.
            ChapterError: When a cell fails (which one, and why); the kernel stays usable.
        """
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
        from papermill.translators import translate_parameters

        path = resolve(chapter)
        injected = check_parameters(path, dict(parameters or {}))
        absolute_data_env()
        notebook = read_notebook(path)
        folder = str(path.parent.absolute())
        notebook.cells.insert(0, nbformat.v4.new_code_cell(_RESET.format(folder=folder)))
        if injected:  # papermill's cell, after the parameters cell
            source = translate_parameters("python3", "python", injected, "Parameters")
            cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
            tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in _tags(c)]
            notebook.cells.insert(tagged[0] + 1 if tagged else 1, cell)
        if self._manager is not None and self._outdated():
            self.close()  # start one that sees these variables and loads this source
        for attempt in range(KERNEL_STARTS):
            fresh = not self._alive()
            if fresh:
                self._start()
            client = NotebookClient(
                notebook,
                km=self._manager,
                kernel_name="python3",
                resources={"metadata": {"path": folder}},
            )
            try:
                client.execute()
                break
            except CellExecutionError as err:
                raise ChapterError(_failed_cell(notebook), err.ename, err.evalue) from err
            except RuntimeError as err:  # the kernel could not start: start another
                if KERNEL_DIED not in str(err) or not fresh or attempt == KERNEL_STARTS - 1:
                    raise
                self._manager = None
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
        notebook.cells.pop(0)
        return notebook

    def _start(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self.close()
        self._manager = AsyncKernelManager(kernel_name="python3")
        self._env = _aligninfo_env()
        self._digest = _chapter.library_digest()

    def _outdated(self) -> bool:
        """Whether the ``ALIGNINFO_*`` variables or the library source changed since its start."""
        return self._env != _aligninfo_env() or self._digest != _chapter.library_digest()

    def _alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return self._manager is not None and bool(run_sync(self._manager.is_alive)())

    def close(self) -> None:
        """Stop the kernel (a later :meth:`run` starts another)."""
        from jupyter_core.utils import run_sync

        manager, self._manager = self._manager, None
        if manager is not None and manager.has_kernel:
            try:
                run_sync(manager.shutdown_kernel)(now=True)
            except RuntimeError:  # a kernel that died: nothing is left to stop
                run_sync(manager.cleanup_resources)()


class ChapterError(RuntimeError):
    """A chapter stopped at a cell (:meth:`ChapterKernel.run`).

    Attributes:
        cell: Number of the cell among the code cells, the injected parameters included
            (papermill's execution count).
        ename: Name of the exception raised there.
        evalue: Its message.
    """

    def __init__(self, cell: int, ename: str, evalue: str) -> None:
        super().__init__(f"stopped at cell {cell}: {ename}: {evalue}")
        self.cell, self.ename, self.evalue = cell, ename, evalue


def _tags(cell: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(cell.get("metadata", {}).get("tags", ()))


def _failed_cell(notebook: nbformat.NotebookNode) -> int:
    """Number, among the code cells after the reset cell, of the cell with an error output."""
    code = [c for c in notebook.cells[1:] if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", ())):
            return number
    return 0


_RESET = (
    "get_ipython().run_line_magic('reset', '-f')\n"
    "__import__('aligninfo.book.kernel_state', fromlist=['reset']).reset()\n"
    "__import__('os').chdir({folder!r})"
)
"""The first cell of a run in a :class:`ChapterKernel`: an empty namespace, the process state
as before the first run (:func:`aligninfo.book.kernel_state.reset`), the chapter's folder."""


def _aligninfo_env() -> dict[str, str]:
    """This process's ``ALIGNINFO_*`` environment variables (a kernel inherits them)."""
    return {k: v for k, v in os.environ.items() if k.startswith("ALIGNINFO_")}


def _check_output(output: Path) -> None:
    """Stop, before the chapter runs, when its executed notebook could not be written."""
    if output.is_dir():
        raise ValueError(f"output {str(output)!r} is a folder: give a notebook file (.ipynb)")
    if not output.parent.is_dir():
        raise ValueError(f"output folder {str(output.parent)!r} does not exist")


def invalidate_stale(build: str | Path, results_dir: str | Path | None = None) -> list[str]:
    """Make Jupyter Book re-execute chapters whose upstream chapters or results changed since.

    Jupyter Book knows a chapter only by its own file: Sphinx re-reads it when its source
    changed, and the execution cache (jupyter-cache) re-executes it when its code changed. So
    chapters 10 and 11 would stay as they were after the chapters they read (:data:`UPSTREAM`),
    or their results, changed. For such a
    stale chapter this drops its cached executions and its doctree; the next build reads and
    executes it again.

    Args:
        build: Jupyter Book's build folder (``_build``); nothing happens where it is empty.
        results_dir: Where the book's chapters write results (default ``book/results``).

    Returns:
        The chapters made stale.
    """
    build = Path(build)
    results = Path(results_dir) if results_dir is not None else BOOK / "results"
    stale = []
    for chapter, upstream in UPSTREAM.items():
        changed = _last_change(upstream, results)
        doctree = build / ".doctrees" / BOOK.name / f"{chapter}.doctree"
        records = _cache_records(build / ".jupyter_cache", chapter)
        older = [pk for pk, created in records.items() if created < changed]
        if older or (doctree.is_file() and doctree.stat().st_mtime < changed):
            _drop_cache_records(build / ".jupyter_cache", list(records))
            doctree.unlink(missing_ok=True)
            stale.append(chapter)
    return stale


def _cache_records(cache: Path, chapter: str) -> dict[int, float]:
    """The cached executions of a chapter: record key to creation time (seconds since 1970)."""
    if not (cache / "global.db").is_file():
        return {}
    from jupyter_cache import get_cache

    found = {}
    for record in get_cache(str(cache)).list_cache_records():
        if Path(record.uri).stem == chapter:
            created = record.created
            if created.tzinfo is None:  # SQLite stores UTC without its zone
                created = created.replace(tzinfo=datetime.UTC)
            found[record.pk] = created.timestamp()
    return found


def _drop_cache_records(cache: Path, keys: list[int]) -> None:
    """Remove records from a jupyter-cache."""
    if keys:
        from jupyter_cache import get_cache

        store = get_cache(str(cache))
        for key in keys:
            store.remove_cache(key)


def _last_change(chapters_: tuple[str, ...], results: Path) -> float:
    """Latest modification time of some chapters' sources and of their results files."""
    files = [resolve(c) for c in chapters_]
    files += [p for c in chapters_ for p in results.glob(f"{c}-*.json")]
    return max(p.stat().st_mtime for p in files)


def pair_of(chapter: Path) -> Path:
    """The ``notebooks/*.ipynb`` pair of a ``book/*.md`` chapter."""
    return NOTEBOOKS / (chapter.stem + ".ipynb")


def _cell_key(cell: Mapping[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """What must agree between a chapter and its pair: type, source and tags of a cell."""
    tags = tuple(cell.get("metadata", {}).get("tags", ()))
    return cell["cell_type"], cell["source"].strip(), tags


def out_of_sync(chapter: Path) -> str | None:
    """Describe how a chapter and its notebook pair differ; None when they agree."""
    pair = pair_of(chapter)
    if not pair.is_file():
        return f"{pair.name} is missing"
    source = [_cell_key(c) for c in read_notebook(chapter).cells]
    paired = [_cell_key(c) for c in nbformat.read(pair, as_version=4).cells]
    if len(source) != len(paired):
        return f"{pair.name} has {len(paired)} cells, {chapter.name} has {len(source)}"
    for index, (a, b) in enumerate(zip(source, paired, strict=True)):
        if a != b:
            return f"cell {index} of {pair.name} differs from {chapter.name}"
    return None


def sync(selected: Iterable[Path] | None = None, execute: bool = True) -> list[Path]:
    """Write the notebook pairs of chapters, with outputs only in the checked cells.

    Args:
        selected: Chapters to write (default: all).
        execute: Execute each chapter at ``scale="smoke"`` to record the outputs of the cells
            marked ``# NBVAL_CHECK_OUTPUT``; without it, outputs of unchanged checked cells are
            carried over from the existing pair.

    Returns:
        The notebooks written.
    """
    written = []
    for chapter in selected or chapters():
        notebook = read_notebook(chapter)
        if execute:
            notebook = _execute_smoke(chapter, notebook)
        else:
            _carry_outputs(notebook, pair_of(chapter))
        checked = 0
        for cell in notebook.cells:
            if cell.cell_type == "code":
                keep = CHECK_MARK in cell.source
                checked += keep
                # nbval compares only cells that were run: number the checked ones 1, 2, ...
                cell.execution_count = checked if keep else None
                cell.outputs = [_strip(o, checked) for o in cell.outputs] if keep else []
                cell.metadata.pop("execution", None)
        notebook.metadata.pop("papermill", None)
        NOTEBOOKS.mkdir(exist_ok=True)
        nbformat.write(notebook, pair_of(chapter))
        written.append(pair_of(chapter))
    return written


def _execute_smoke(chapter: Path, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Execute a notebook at smoke scale in its chapter's folder."""
    from nbclient import NotebookClient

    previous = os.environ.get(SCALE_ENV)
    os.environ[SCALE_ENV] = "smoke"
    try:
        NotebookClient(
            notebook, kernel_name="python3", resources={"metadata": {"path": str(chapter.parent)}}
        ).execute()
    finally:
        if previous is None:
            os.environ.pop(SCALE_ENV)
        else:
            os.environ[SCALE_ENV] = previous
    return notebook


def _carry_outputs(notebook: nbformat.NotebookNode, pair: Path) -> None:
    """Copy outputs of checked cells whose source is unchanged from the existing pair."""
    if not pair.is_file():
        return
    previous = {c.source: c.get("outputs", []) for c in nbformat.read(pair, as_version=4).cells}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source in previous:
            cell.outputs = previous[cell.source]


def _strip(output: nbformat.NotebookNode, count: int) -> nbformat.NotebookNode:
    """Drop volatile fields of an output (metadata) and renumber it."""
    if "execution_count" in output:
        output["execution_count"] = count
    if "metadata" in output:
        output["metadata"] = {}
    return output
