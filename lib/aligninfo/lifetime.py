"""Worker processes that end with the process that started them.

A pool's workers wait for work from their parent. When the parent is killed (a chapter's kernel
stopped by force, a sweep interrupted), nothing tells them: they would wait forever, orphaned.
:func:`die_with_parent`, called in a worker's initializer, starts a thread that ends the
worker as soon as its parent is gone (the worker is then the child of another process).
"""

from __future__ import annotations

import os
import threading
import time

POLL_SECONDS = 0.5
"""How often a worker checks that its parent is still there."""
ORPHAN_STATUS = 70
"""Exit status of a worker that ended because its parent had gone."""


def die_with_parent(parent: int, poll: float = POLL_SECONDS) -> None:
    """End this process (status :data:`ORPHAN_STATUS`) once ``parent`` is no longer its parent.

    Args:
        parent: Process id of the parent, as the parent saw it (``os.getpid()`` there), so that
            a parent already gone when this runs is noticed.
        poll: Seconds between checks.
    """
    watch = threading.Thread(
        target=_watch, args=(parent, poll), name="aligninfo-parent-watch", daemon=True
    )
    watch.start()


def _watch(parent: int, poll: float) -> None:
    """Wait while ``parent`` is this process's parent; then exit at once."""
    while os.getppid() == parent:
        time.sleep(poll)
    os._exit(ORPHAN_STATUS)  # no clean-up: the work it was given has no one to go to
