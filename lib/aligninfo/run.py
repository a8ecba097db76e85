"""Run the book's chapters with parameters (papermill), and keep their notebook pairs in sync.

``book/NN_name.md`` (MyST Markdown notebooks) are the sources; ``notebooks/NN_name.ipynb`` are
their jupytext pairs, stored without outputs except those of cells marked ``# NBVAL_CHECK_OUTPUT``,
which nbval compares (they are produced by :func:`sync` at ``scale="smoke"``).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from aligninfo.chapter import SCALE_ENV

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def chapters() -> list[Path]:
    """The executable chapters: the MyST notebooks in ``book/``, in reading order."""
    return sorted(p for p in BOOK.glob("*.md") if _is_notebook(p))


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
        return path
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
    """Read a chapter (``.md`` or ``.ipynb``) as a notebook."""
    return jupytext.read(path)


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
        parameters: Values injected after the chapter's ``parameters`` cell.
        progress: Show papermill's progress bar.

    Returns:
        The executed notebook.
    """
    import papermill

    path = resolve(chapter)
    notebook = read_notebook(path)
    return papermill.execute_notebook(
        notebook,
        None if output is None else str(output),
        parameters=dict(parameters or {}),
        kernel_name="python3",
        progress_bar=progress,
        cwd=str(path.parent),
    )


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
        NotebookClient(notebook, kernel_name="python3", resources={
            "metadata": {"path": str(chapter.parent)}}).execute()
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
