"""The benchmark's parallel-sweep and comparison helpers (not its figures: those depend on the
machine)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fixtures import myst_chapter, one_chapter_book

from aligninfo.bench import Timing, _measured, bench_sweep, same_results
from aligninfo.book.chapter import SCALE_ENV

SLOW = myst_chapter(
    """
    scale = "smoke"  # the scale
    seed = 0  # the seed
    n = 3  # a size
    workers = 2  # parallel processes of the chapter itself
    results_dir = "results"
    """,
    """
    import time
    from pathlib import Path

    import numpy as np

    from aligninfo.book import run
    from aligninfo.book.chapter import configure, save_results

    run.BOOK = Path.cwd()
    cfg = configure(scale, seed, {}, results_dir=results_dir)
    start = time.process_time()
    while time.process_time() - start < 0.5:  # half a second of CPU, then a seeded result
        pass
    draws = np.random.default_rng([seed, n]).normal(size=n)
    _ = save_results(cfg, "98_slow", {"mean": float(draws.mean()), "seconds": time.time()})
    """,
)


def test_a_parallel_sweep_is_timed_in_wall_and_cpu_and_checked_against_the_serial_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SCALE_ENV, raising=False)
    chapter = one_chapter_book(monkeypatch, tmp_path, "98_slow", SLOW)
    serial, parallel, same = bench_sweep(2, str(chapter), [{"n": 3}, {"n": 4}], {})
    assert same  # the results agree, the 'seconds' entries aside
    # each point burns half a second of CPU in a kernel (a grandchild): counted in both runs
    assert serial.cpu >= 1.0 and parallel.cpu >= 1.0
    assert serial.wall > 0 and parallel.wall > 0


def test_results_compare_equal_except_for_seconds() -> None:
    a = {"x": [1.0, {"seconds": 3.0, "y": math.nan}], "seconds": 1.0}
    assert same_results(a, {"x": [1.0, {"seconds": 9.0, "y": math.nan}], "seconds": 2.0})
    assert not same_results(a, {"x": [1.0, {"seconds": 3.0, "y": 0.0}], "seconds": 1.0})
    assert not same_results(a, {"x": [1.0], "seconds": 1.0})
    assert not same_results({"a": 1}, {"a": 1, "b": 2})


def test_cpu_time_counts_this_process() -> None:
    def burn() -> int:
        total = 0
        for i in range(2_000_000):
            total += i
        return total

    out, timing = _measured(burn)
    assert out == sum(range(2_000_000))
    assert isinstance(timing, Timing) and timing.cpu > 0 and timing.wall > 0
