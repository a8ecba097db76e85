"""The package's layout: the library does not depend on the book's tooling; the README lists it."""

from __future__ import annotations

import ast
from pathlib import Path

import aligninfo

PACKAGE = Path(aligninfo.__file__).parent
README = PACKAGE.parents[1] / "README.md"


def _imported(path: Path) -> set[str]:
    """Modules imported by a file (``from aligninfo.x import y`` gives ``aligninfo.x.y``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


TOOLS = ("__main__.py", "bench.py")
"""Top-level tools of the package, not library: the command line, and the benchmark (which also
times the book's sweeps)."""


def library_files() -> list[Path]:
    """Every library module: the package but its ``book`` subpackage and :data:`TOOLS`."""
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "book" not in path.relative_to(PACKAGE).parts[:-1] and path.name not in TOOLS
    ]


def test_the_library_never_imports_the_book_tooling() -> None:
    files = library_files()
    assert len(files) > 20 and PACKAGE / "losses.py" in files
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(n for n in _imported(path) if "aligninfo.book" in n)
        for path in files
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_the_readme_layout_names_every_module() -> None:
    layout = README.read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    missing = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py") and path.name not in layout
    ]
    assert not missing, f"README's Layout does not name {missing}"
