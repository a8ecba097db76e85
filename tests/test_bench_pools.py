"""The benchmark's comparison of a pool per data draw with one pool for every draw."""

from __future__ import annotations

from aligninfo.bench import bench_pools


def test_one_pool_and_a_pool_per_draw_are_timed_and_give_the_same_rows() -> None:
    per_draw, pooled, same = bench_pools(workers=2, samples=200, epochs=1, draws=2)
    assert same
    # the jobs run in forked workers: their CPU time is counted in both runs
    assert per_draw.cpu > 0 and pooled.cpu > 0 and per_draw.wall > 0 and pooled.wall > 0
