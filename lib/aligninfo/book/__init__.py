"""The tooling of the executable book, apart from the library it runs.

- :mod:`~aligninfo.book.chapter`: what a chapter's cells call (``configure``, ``glue``, results
  keyed by their parameters).
- :mod:`~aligninfo.book.run`: the repository's chapters (papermill runs, notebook pairing,
  stale-cache invalidation).
- :mod:`~aligninfo.book.sweep`: grids of chapter runs in parallel processes.
- :mod:`~aligninfo.book.printing`: printed numbers that do not depend on the machine.
- :mod:`~aligninfo.book.cli`: ``python -m aligninfo``.
"""
