"""Helpers shared by the tests: the fake data files, and small MyST chapters to run.

Fake data: ``tests/data`` holds small files in the real data's layout, written by
``tests/data/make_fake.py`` with their hashes in ``tests/data/SHA256SUMS``. :func:`fake_registry`
points :data:`aligninfo.data.registry.REGISTRY` at those hashes, so the loaders read the fake
files exactly as they read the real ones (conftest's ``source`` and ``copy_dir`` fixtures use it).

Chapters: :func:`myst_chapter` writes the text of a small MyST notebook, the kind the book's
chapters are, for tests of the runner, sweeps and chapter configuration; :func:`one_chapter_book`
makes a temporary book of one such chapter.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from aligninfo.book import run
from aligninfo.data.registry import REGISTRY, FileEntry

UNEVEN = dict(
    d_shared=2,
    d_unique=(4, 1),
    dims=(7, 10),
    noise=(0.5, 0.2),
    unique_share=(0.4, 0.9),
    target_noise=(0.3, 0.1),
    seed=1,
)
"""Settings of a random Gaussian (or synthetic) model with uneven sizes, noise and shares."""

FAKE_DATA = Path(__file__).resolve().parent / "data"
"""Folder holding the fake ``lfmc/`` and ``houston2013/`` (a data directory, like the real one)."""


def fake_hashes() -> dict[tuple[str, str], str]:
    """SHA-256 of every fake file, by (data set, file name), from ``tests/data/SHA256SUMS``."""
    hashes = {}
    for line in (FAKE_DATA / "SHA256SUMS").read_text().splitlines():
        digest, relative = line.split("  ")
        dataset, name = relative.split("/")
        hashes[dataset, name] = digest
    return hashes


FAKE_URL = "https://fake.invalid/"
"""Address of the fake files in the patched registry: a domain that never resolves (RFC 2606), so
a damaged fake file is never replaced by a download."""


@contextmanager
def fake_registry() -> Iterator[Path]:
    """Register the fake files' hashes, at addresses never reached, until the block ends.

    Yields:
        :data:`FAKE_DATA`, the data directory holding the fake files.
    """
    with pytest.MonkeyPatch.context() as patch:
        for (dataset, name), digest in fake_hashes().items():
            url = f"{FAKE_URL}{dataset}/{name}"
            patch.setitem(REGISTRY[dataset], name, FileEntry(url, digest))
        yield FAKE_DATA


def myst_chapter(parameters: str, *cells: str, title: str = "") -> str:
    """The text of a MyST Markdown notebook: a parameters cell, then code cells.

    Args:
        parameters: Source of the cell tagged ``parameters`` (indentation is removed).
        cells: Sources of the following code cells, in order.
        title: A Markdown title placed before the cells (none if empty).

    Returns:
        A notebook that jupytext reads as MyST (``fmt="md:myst"``) and that ``aligninfo run``,
        sweeps and papermill execute.
    """
    header = (
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"
    )
    parts = [header + (f"\n# {title}\n" if title else "")]
    sources = [":tags: [parameters]\n\n" + textwrap.dedent(parameters).strip(), *cells]
    for source in sources:
        parts.append(f"```{{code-cell}} ipython3\n{textwrap.dedent(source).strip()}\n```\n")
    return "\n".join(parts)


def one_chapter_book(monkeypatch: pytest.MonkeyPatch, folder: Path, name: str, text: str) -> Path:
    """Write a book of one chapter under ``folder/book`` and make it the runner's book.

    Args:
        monkeypatch: The test's monkeypatch (the runner's book folder is restored afterwards).
        folder: A temporary folder.
        name: The chapter's name, e.g. ``"99_demo"``.
        text: Its MyST text (see :func:`myst_chapter`).

    Returns:
        The chapter's path, ``folder/book/<name>.md``.
    """
    book = folder / "book"
    book.mkdir()
    chapter = book / f"{name}.md"
    chapter.write_text(text)
    monkeypatch.setattr(run, "BOOK", book)
    return chapter


def smoke_record(chapter: str, folder: Path, **parameters: object) -> dict[str, Any]:
    """A chapter's results at smoke scale from ``folder``, running the chapter first if absent.

    Tests that read a chapter's results share the ``smoke_results`` folder (and the xdist
    group ``"readers"``), so the chapter runs once per test worker whichever test asks first.
    """
    from aligninfo.book.chapter import load_results

    wanted = {"scale": "smoke", **parameters}
    record = load_results(chapter, wanted, folder)
    if record is None:
        run.run_chapter(chapter, None, {**wanted, "results_dir": str(folder)}, progress=False)
        record = load_results(chapter, wanted, folder)
    assert record is not None, f"{chapter} wrote no results for {wanted}"
    return record


def running(pid: int) -> bool:
    """Whether a process exists and is not a zombie (Linux: reads ``/proc``)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
