"""Decisions from a few independent replicates (seeds): Student intervals and t-test verdicts.

Why they exist: with five seeds the percentile bootstrap over seeds is too narrow, and its
verdicts do not hold their family-wise level (measured below against the Student versions).
"""

import numpy as np
import pytest
from scipy.stats import ttest_1samp

from aligninfo.stats import (
    VERDICTS,
    hierarchical_bootstrap_mean,
    seed_verdicts,
    student_interval,
    verdicts,
)

N_SEEDS = 5


def test_student_interval_is_scipys_one_sample_interval() -> None:
    values = np.array([0.31, 0.12, 0.44, 0.25, 0.38])
    for level in (0.9, 0.95, 0.999):
        ours = student_interval(values, level)
        theirs = ttest_1samp(values, 0.0).confidence_interval(level)
        assert ours.estimate == pytest.approx(values.mean())
        assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high))
        assert ours.level == level


def test_student_interval_covers_with_five_seeds_where_the_bootstrap_does_not() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(0.5, 0.1, (2000, N_SEEDS))  # 2000 experiments of five seeds
    student = np.mean([covers_half(student_interval(s)) for s in scores])
    boot = hierarchical_bootstrap_mean(scores[:, :, None], n_boot=2000, seed=1)
    low, high = np.quantile(boot.draws, [0.025, 0.975], axis=0)
    percentile = np.mean((low <= 0.5) & (0.5 <= high))
    assert 0.93 < student < 0.97, student
    assert percentile < 0.88, percentile


def covers_half(interval) -> bool:
    return interval.low <= 0.5 <= interval.high


def test_seed_verdicts_p_values_are_the_paired_t_tests_and_holm_sets_the_level() -> None:
    diffs = {
        "big": np.array([-0.30, -0.28, -0.33, -0.29, -0.31]),
        "small": np.array([-0.05, 0.02, -0.04, 0.01, -0.03]),
        "gain": np.array([0.20, 0.22, 0.19, 0.21, 0.18]),
    }
    judged = seed_verdicts(diffs, alpha=0.05)
    for name, d in diffs.items():
        assert judged[name].p_value == pytest.approx(ttest_1samp(d, 0.0).pvalue)
    assert judged["big"].verdict == "costs" and judged["gain"].verdict == "gains"
    assert judged["small"].verdict == "no detectable cost"
    # Holm's levels: 1 - alpha / 3 for the smallest p-value, then 1 - alpha / 2, then 1 - alpha
    levels = sorted(v.interval.level for v in judged.values())
    assert levels == pytest.approx([0.95, 1 - 0.05 / 2, 1 - 0.05 / 3])
    assert all(v.p_value <= v.p_adjusted <= 1 for v in judged.values())


def test_every_seed_agreeing_is_not_enough_when_the_spread_is_large() -> None:
    # Five costs of one sign but a wide spread: the bootstrap calls it a cost at any Holm level
    # (no resample crosses zero), the t test over a family of 96 does not.
    spread = np.array([-0.10, -0.17, -0.37, -0.29, -0.17])
    family = {"spread": spread} | {
        f"null{i}": np.array([0.01, -0.01, 0.02, -0.02, 0.0]) for i in range(95)
    }
    assert seed_verdicts(family)["spread"].verdict == "no detectable cost"
    boot = hierarchical_bootstrap_mean(np.array(list(family.values()))[:, :, None], n_boot=4000)
    names = list(family)
    boot_judged = verdicts(
        {k: boot.draws[:, i] for i, k in enumerate(names)},
        {k: boot.estimate[i] for i, k in enumerate(names)},
    )
    assert boot_judged["spread"].verdict == "costs"


def test_seed_verdicts_hold_the_family_wise_level_and_the_bootstrap_does_not() -> None:
    rng = np.random.default_rng(3)
    n_families, size = 150, 24
    t_errors = boot_errors = 0
    for r in range(n_families):
        d = rng.standard_normal((size, N_SEEDS))  # no difference anywhere
        names = [str(i) for i in range(size)]
        t_errors += any(
            v.verdict != VERDICTS[1]
            for v in seed_verdicts(dict(zip(names, d, strict=True))).values()
        )
        boot = hierarchical_bootstrap_mean(d[:, :, None], n_boot=2000, seed=r)
        judged = verdicts(
            {k: boot.draws[:, i] for i, k in enumerate(names)},
            {k: boot.estimate[i] for i, k in enumerate(names)},
        )
        boot_errors += any(v.verdict != VERDICTS[1] for v in judged.values())
    assert t_errors / n_families < 0.1, t_errors  # nominal 0.05
    assert boot_errors / n_families > 0.5, boot_errors  # 1 - (15/16)^24 ≈ 0.79


def test_seed_verdicts_edge_cases() -> None:
    judged = seed_verdicts({"zero": np.zeros(3), "constant": np.full(3, -0.2)})
    assert judged["zero"].verdict == "no detectable cost" and judged["zero"].p_value == 1
    # -0.2 on every seed: a spread of rounding alone (about 1e-17) is a tie, as in cvstats
    assert judged["constant"].verdict == "no detectable cost" and judged["constant"].p_value == 1
    jittered = seed_verdicts({"d": 0.01 + np.array([0.0, 1e-15, -1e-15])})["d"]
    assert jittered.p_value == 1 and jittered.verdict == "no detectable cost"
    assert seed_verdicts({"d": np.array([-0.2, -0.21, -0.19])})["d"].p_value < 0.01
    assert seed_verdicts({}) == {}
    with pytest.raises(ValueError, match="two finite"):
        seed_verdicts({"one": np.array([0.1])})
    with pytest.raises(ValueError, match="two finite"):
        student_interval([0.1, np.nan])


def test_replicates_that_all_agree_are_not_a_decided_difference() -> None:
    # Two folds whose paired differences tie exactly (accuracies are counts): the t statistic
    # is infinite, but a zero spread over two replicates is no evidence; it must stay undecided.
    judged = seed_verdicts({"tie": np.array([0.014, 0.014]), "null": np.array([0.01, -0.01])})
    assert judged["tie"].p_value == 1.0
    assert judged["tie"].verdict == "no detectable cost"
