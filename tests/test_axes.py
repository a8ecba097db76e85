"""aligninfo.axes on constructed axes: Holm across an axis's points, reversals, partial
decisions, like-with-like averages and probe counts."""

from __future__ import annotations

from aligninfo.axes import (
    OBJECTIVE_GROUPS,
    UNDECIDED,
    along,
    partly_decided,
    probe_disagreements,
    reverses,
    run_everywhere,
)

ALPHA = 0.05


def test_holm_across_the_axis_removes_a_verdict_each_point_decided() -> None:
    # Each point alone rejects (p <= 0.05); across two points Holm needs 0.03 x 2 <= 0.05.
    cells = [("8", "costs", 0.03), ("32", "costs", 0.04)]
    assert along(cells, ALPHA) == [("8", UNDECIDED), ("32", UNDECIDED)]
    # With a smaller first p-value the step-down keeps both.
    kept = [("8", "costs", 0.001), ("32", "costs", 0.04)]
    assert along(kept, ALPHA) == [("8", "costs"), ("32", "costs")]
    assert along([], ALPHA) == []


def test_a_reversal_survives_holm_across_the_axis_and_a_weak_one_does_not() -> None:
    axis = {
        # 0.002 and 0.01 (x 2 then x 1): both rejected, a cost and a gain.
        "info_nce": [("8", "costs", 0.001), ("32", "gains", 0.01)],
        # the gain's 0.04 x 2 = 0.08 is not rejected across three points: no reversal.
        "vicreg": [("8", "costs", 0.001), ("32", "gains", 0.04), ("128", UNDECIDED, 0.5)],
        "barlow_twins": [("8", UNDECIDED, 0.3), ("32", "costs", 0.01)],
    }
    assert reverses(axis, ALPHA) == ["info_nce"]


def test_partly_decided_reads_the_verdicts_after_holm_across_the_axis() -> None:
    axis = {
        # 0.001 x 3 rejected; 0.03 x 2 = 0.06 is not: decided at 8 only.
        "info_nce": [("8", "costs", 0.001), ("32", "costs", 0.03), ("128", UNDECIDED, 0.6)],
        # 0.03 x 2 = 0.06: nothing decided once the axis is one family.
        "vicreg": [("8", "costs", 0.03), ("32", UNDECIDED, 0.5)],
        # decided both ways: a reversal, not a partial decision.
        "barlow_twins": [("8", "costs", 0.001), ("32", "gains", 0.01)],
    }
    assert partly_decided(axis, ALPHA) == {"info_nce": (["8"], ["32", "128"])}


def test_an_average_along_an_axis_keeps_the_objectives_run_at_every_point() -> None:
    ran = [{"info_nce"}, {"info_nce", "barlow_twins", "vicreg"}, {"info_nce", "vicreg"}]
    assert run_everywhere(ran, OBJECTIVE_GROUPS["pure alignment"]) == ["info_nce"]
    assert run_everywhere([], ["info_nce"]) == []


def test_probe_disagreements_count_each_comparison_of_each_point_given() -> None:
    centre = {
        ("info_nce", "raw", "linear"): "costs",
        ("info_nce", "raw", "knn"): UNDECIDED,
        ("cca", "raw", "linear"): UNDECIDED,
        ("cca", "raw", "knn"): UNDECIDED,
        ("decur", "simclr", "knn"): "gains",  # judged by one probe only
    }
    other = {("info_nce", "raw", "linear"): "gains", ("info_nce", "raw", "knn"): "gains"}
    assert probe_disagreements([centre, other], ("linear", "knn")) == (1, 3)
