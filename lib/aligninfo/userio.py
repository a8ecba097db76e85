"""What the commands share in speaking to a user: one-line errors and the output folder."""

from __future__ import annotations

from pathlib import Path

__all__ = ["first_line", "out_folder"]


def first_line(err: BaseException | str) -> str:
    """The first line of an error's message (the error's type when the message is empty)."""
    text = str(err).strip()
    if text:
        return text.splitlines()[0].strip()
    return type(err).__name__ if isinstance(err, BaseException) else ""


def out_folder(out: str | Path, error: type[Exception], label: str = "--out") -> Path:
    """Create an output folder before any work is done, or refuse it in one line.

    Args:
        out: The folder (created with its parents; every process may call it).
        error: The exception raised when ``out`` is a file or cannot be created.
        label: What the message calls the folder (an option or a parameter).

    Returns:
        The folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise error(f"{label}: {str(out)!r} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise error(f"{label}: cannot create {str(out)!r} ({err.strerror or err})") from None
    return out
