"""Corrected resampled t intervals of cross-validated scores (``aligninfo.cvstats``): one
replicate per fold (seeds averaged within it), coverage measured on a case with a known answer,
and Holm families that do not grow with the comparisons a run makes."""

import numpy as np
import pytest
from scipy.stats import t as student_t

from aligninfo.cvstats import CrossValidated, corrected_replicates, cv_coverage, synthetic_cv
from aligninfo.stats import student_interval


def test_synthetic_cv_has_the_expected_accuracy_it_states():
    rng = np.random.default_rng(11)
    runs = [synthetic_cv(rng, 3, 4, seed_noise=0.2) for _ in range(400)]
    truth = runs[0][1]
    assert all(t == truth for _, t in runs)
    mean = np.mean([acc.mean() for acc, _ in runs])
    assert mean == pytest.approx(truth, abs=0.003)  # 400 x 12 folds of 100 samples: se ~0.001


@pytest.mark.parametrize(
    ("n_folds", "n_seeds", "boot_max"),
    [
        (3, 5, 0.84),  # chapter 9 at book scale
        (5, 10, 0.91),  # chapter 9 at paper scale
    ],
)
def test_cv_bootstrap_under_covers_and_the_corrected_t_comes_near_nominal(
    n_folds, n_seeds, boot_max
):
    """Folds share their training data: resampling them as independent is too narrow."""
    coverage = cv_coverage(n_folds, n_seeds, n_rep=400, n_boot=300, seed=n_folds)
    assert coverage["bootstrap"] < boot_max
    assert 0.93 <= coverage["corrected_t"] <= 0.995
    assert coverage["corrected_t"] > coverage["bootstrap"] + 0.05


@pytest.mark.parametrize("seed_noise", [0.0, 0.02, 0.3])
def test_corrected_t_covers_whatever_the_seeds_add(seed_noise):
    """Seeds that add nothing (raw inputs) or little used to count as replicates: 15 copies of
    3 fold values covered about 0.86 at 3 folds x 5 seeds. One replicate per fold covers near
    or above nominal at every seed noise."""
    coverage = cv_coverage(3, 5, n_rep=300, seed=4, bootstrap=False, seed_noise=seed_noise)
    assert set(coverage) == {"corrected_t", "n_rep"}
    assert coverage["corrected_t"] >= 0.93


def test_a_method_that_ignores_the_seed_gets_the_interval_of_its_folds():
    """Raw inputs repeat one run over the seed rows: the interval is that of its fold values,
    not of the repeated rows (which counted them 5 times: a narrower, wrong interval)."""
    folds = np.array([0.71, 0.78, 0.66])
    repeated = CrossValidated(np.tile(folds, (1, 5, 1)), n_folds=3)
    once = CrossValidated(folds[None, None], n_folds=3)
    half = student_t.ppf(0.975, 2) * folds.std(ddof=1) * np.sqrt(1 / 3 + 1 / 2)
    for cv in (repeated, once):
        ci = cv.interval(0)
        assert (ci.low, ci.high) == pytest.approx((folds.mean() - half, folds.mean() + half))
    rows = np.tile(folds, 5)  # the replicates the seeds x folds rule used
    narrow = student_t.ppf(0.975, 14) * rows.std(ddof=1) * np.sqrt(1 / 15 + 1 / 2)
    assert narrow < 0.8 * half


def test_corrected_t_is_nadeau_and_bengios_interval_and_paired_test():
    rng = np.random.default_rng(12)
    scores = rng.normal(0.8, 0.02, (2, 5, 3))
    scores[1] = scores[0] + 0.01 + rng.normal(0, 0.002, (5, 3))  # method 0 plus a gain
    cv = CrossValidated(scores, n_folds=3)
    values = scores[0].mean(axis=0)  # (folds,): the seeds averaged within each fold
    assert cv.fold_means(0) == pytest.approx(values)
    half = student_t.ppf(0.975, 2) * values.std(ddof=1) * np.sqrt(1 / 3 + 1 / 2)
    ci = cv.interval(0)
    assert ci.estimate == pytest.approx(scores[0].mean())
    assert (ci.low, ci.high) == pytest.approx((values.mean() - half, values.mean() + half))
    naive = student_interval(values)
    assert ci.high - ci.low > 1.5 * (naive.high - naive.low)  # sqrt(1 + 3 / 2) ~ 1.6
    assert cv.difference(1, 0).low > 0
    judged = cv.verdicts({"gain": (1, 0), "none": (0, 0)})
    assert judged["gain"].verdict == "gains" and judged["none"].verdict == "no detectable cost"
    assert corrected_replicates(values, 0.5).mean() == pytest.approx(values.mean())
    with pytest.raises(ValueError, match="n_folds"):
        CrossValidated(scores, n_folds=1)
    with pytest.raises(ValueError, match="folds >= 2"):
        CrossValidated(scores[:, :, :1], n_folds=3)


def test_verdicts_within_families_do_not_move_with_the_other_comparisons():
    """One family per method (its probes): adding methods leaves a verdict as it was, where
    one family of everything makes it stricter."""
    rng = np.random.default_rng(3)
    n_methods = 8
    scores = rng.normal(0.8, 0.03, (n_methods + 1, 3, 5))  # method 0: the reference
    scores[1] = scores[0] + 0.012 + rng.normal(0, 0.004, (3, 5))  # a modest gain
    pairs = {(m, probe): (m, 0) for m in range(1, n_methods + 1) for probe in ("a", "b")}
    cv = CrossValidated(scores, n_folds=5)

    def per_method(key):
        return key[0]

    few = {k: v for k, v in pairs.items() if k[0] <= 2}
    judged_few = cv.verdicts(few, family=per_method)
    judged_all = cv.verdicts(pairs, family=per_method)
    assert list(judged_all) == list(pairs)
    for key in few:
        assert judged_few[key] == judged_all[key]
    assert judged_all[(1, "a")].verdict == "gains"
    one_family = cv.verdicts(pairs)
    assert one_family[(1, "a")].p_adjusted > judged_all[(1, "a")].p_adjusted
