"""Corrected resampled t intervals of cross-validated scores (``aligninfo.cvstats``): one
replicate per fold (seeds averaged within it) plus the spread of the seed means, coverage
measured on a case with a known answer (seed effects half or fully shared by the folds), and
Holm families that do not grow with the comparisons a run makes."""

import numpy as np
import pytest
from scipy.stats import t as student_t

from aligninfo.cvstats import CrossValidated, cv_coverage, synthetic_cv
from aligninfo.stats import student_interval


@pytest.mark.parametrize("shared", [0.5, 1.0])
def test_synthetic_cv_has_the_expected_accuracy_it_states(shared):
    rng = np.random.default_rng(11)
    runs = [synthetic_cv(rng, 3, 4, seed_noise=0.2, shared=shared) for _ in range(400)]
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


def test_a_fully_shared_seed_effect_moves_every_fold_alike():
    """``shared=1``: a seed's threshold noise is the same on all its folds (chapter 9: one
    encoder per seed), so with a large noise the seeds differ far more than the folds."""
    rng = np.random.default_rng(5)
    acc = np.array([synthetic_cv(rng, 3, 5, seed_noise=1.0, shared=1.0)[0] for _ in range(200)])
    half = np.array([synthetic_cv(rng, 3, 5, seed_noise=1.0)[0] for _ in range(200)])

    def ratio(a):  # root mean variance of the seed means over that of the fold means
        return np.sqrt(a.mean(2).var(axis=1, ddof=1).mean() / a.mean(1).var(axis=1, ddof=1).mean())

    assert ratio(acc) > 2 * ratio(half)
    with pytest.raises(ValueError, match="shared"):
        synthetic_cv(rng, 3, 5, shared=1.5)


def test_corrected_t_covers_a_seed_effect_shared_by_the_folds():
    """Chapter 9's structure: one encoder per seed, read by every fold. Seed noise 0.75 makes
    the seed means spread about twice as much as the fold means, 3 folds x 5 seeds; the fold
    means alone (the corrected t over the folds) covered about 0.93 there, and less as the
    seed noise grows; with the seed means' variance added it covers at least nominally."""
    rng = np.random.default_rng(8)
    acc = np.array([synthetic_cv(rng, 3, 5, seed_noise=0.75, shared=1.0)[0] for _ in range(300)])
    spread = acc.mean(2).std(axis=1, ddof=1).mean() / acc.mean(1).std(axis=1, ddof=1).mean()
    assert 1.6 < spread < 2.6  # the case the test is about
    case = {"seed_noise": 0.75, "shared": 1.0}
    coverage = cv_coverage(3, 5, n_rep=400, seed=6, bootstrap=False, **case)
    assert coverage["corrected_t"] >= 0.95


def test_the_seed_means_add_their_variance_and_one_seed_gives_a_conditional_interval():
    """Seed offsets common to every fold widen the interval by ``s²(seed means) / S``; with one
    seed there is no seed term to estimate (an interval conditional on that run)."""
    folds = np.array([0.71, 0.78, 0.66])
    offsets = np.array([-0.04, 0.0, 0.02, 0.05, -0.03])
    scores = (folds[None] + offsets[:, None])[None]  # (1 method, 5 seeds, 3 folds)
    cv = CrossValidated(scores, n_folds=3)
    assert cv.over_seeds
    se = np.sqrt((1 / 3 + 1 / 2) * folds.var(ddof=1) + offsets.var(ddof=1) / 5)
    half = student_t.ppf(0.975, 2) * se
    mean = scores.mean()
    assert cv.moments(0) == pytest.approx((mean, se, 2))
    assert (cv.interval(0).low, cv.interval(0).high) == pytest.approx((mean - half, mean + half))
    one = CrossValidated(scores[:, :1], n_folds=3)
    assert not one.over_seeds
    alone = student_t.ppf(0.975, 2) * folds.std(ddof=1) * np.sqrt(1 / 3 + 1 / 2)
    ci = one.interval(0)
    assert ci.high - ci.low == pytest.approx(2 * alone)


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
    seeds = scores[0].mean(axis=1)  # (seeds,): the folds averaged for each seed
    assert cv.fold_means(0) == pytest.approx(values)
    assert cv.seed_means(0) == pytest.approx(seeds)
    var = (1 / 3 + 1 / 2) * values.var(ddof=1) + seeds.var(ddof=1) / 5
    half = student_t.ppf(0.975, 2) * np.sqrt(var)
    ci = cv.interval(0)
    assert ci.estimate == pytest.approx(scores[0].mean())
    assert (ci.low, ci.high) == pytest.approx((values.mean() - half, values.mean() + half))
    naive = student_interval(values)
    assert ci.high - ci.low > 1.5 * (naive.high - naive.low)  # sqrt(1 + 3 / 2) ~ 1.6
    assert cv.difference(1, 0).low > 0
    judged = cv.verdicts({"gain": (1, 0), "none": (0, 0)})
    assert judged["gain"].verdict == "gains" and judged["none"].verdict == "no detectable cost"
    paired = scores[1] - scores[0]
    se = np.sqrt((1 / 3 + 1 / 2) * paired.mean(0).var(ddof=1) + paired.mean(1).var(ddof=1) / 5)
    p = 2 * student_t.sf(paired.mean() / se, 2)
    assert judged["gain"].p_value == pytest.approx(p)
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


@pytest.mark.parametrize(("n_seeds", "shared_low"), [(2, 0.85), (5, 0.93)])
def test_a_model_trained_per_fold_gets_no_seed_term_and_both_designs_cover_nominally(
    n_seeds, shared_low
):
    """A supervised reference trained afresh in each fold shares no seed effect between its
    folds (``synthetic_cv(shared=0)``): the spread of its fold means already holds its training
    noise, and adding ``s²(seed means) / S`` counts it twice (too wide). Each design covers
    near its nominal 95 % with its own interval: per fold without the seed term, shared with
    it; the wrong one is too wide (per fold) or too narrow (shared)."""
    noisy = {"seed_noise": 1.5, "n_rep": 400, "seed": 9, "bootstrap": False}
    per_fold = cv_coverage(3, n_seeds, shared=0.0, assume_shared=False, **noisy)["corrected_t"]
    doubled = cv_coverage(3, n_seeds, shared=0.0, assume_shared=True, **noisy)["corrected_t"]
    shared = cv_coverage(3, n_seeds, shared=1.0, assume_shared=True, **noisy)["corrected_t"]
    missed = cv_coverage(3, n_seeds, shared=1.0, assume_shared=False, **noisy)["corrected_t"]
    assert 0.93 <= per_fold <= 0.99  # two seeds and a shared effect: one df (moments' weak case)
    assert shared_low <= shared <= 0.995
    assert doubled > per_fold and missed < 0.8


def test_the_seed_term_follows_each_methods_design():
    """``shared`` per method: a method trained per fold has the fold means' variance alone, a
    difference keeps the seed term when either of its methods shares its seed effect."""
    rng = np.random.default_rng(2)
    scores = rng.normal(0.8, 0.03, (3, 5, 3))
    cv = CrossValidated(scores, n_folds=3, shared=[True, False, False])
    nb = 1 / 3 + 1 / 2

    def se(values, seed_term):
        var = nb * values.mean(0).var(ddof=1)
        return np.sqrt(var + seed_term * values.mean(1).var(ddof=1) / 5)

    assert cv.moments(1)[1] == pytest.approx(se(scores[1], False))
    assert cv.moments(0)[1] == pytest.approx(se(scores[0], True))
    assert cv.moments(1, 2)[1] == pytest.approx(se(scores[1] - scores[2], False))
    assert cv.moments(1, 0)[1] == pytest.approx(se(scores[1] - scores[0], True))
    assert CrossValidated(scores, 3, shared=False).shared == (False,) * 3
    with pytest.raises(ValueError, match="shared"):
        CrossValidated(scores, 3, shared=[True, False])


@pytest.mark.parametrize("jitter", [0.0, 1e-12])
def test_a_difference_that_does_not_spread_is_a_tie_not_a_decided_difference(jitter):
    """+0.01 on every fold and seed (or that plus rounding-sized jitter): no spread, no t
    statistic, p = 1 and no verdict, as ``stats.seed_verdicts`` judges a tie."""
    rng = np.random.default_rng(7)
    scores = np.full((2, 5, 3), 0.5)
    scores[1] = 0.51 + jitter * rng.standard_normal((5, 3))
    judged = CrossValidated(scores, n_folds=3).verdicts({"gain": (1, 0)})["gain"]
    assert judged.p_value == 1.0 and judged.verdict == "no detectable cost"
    shifted = CrossValidated(rng.normal(0.8, 0.02, (1, 5, 3)), n_folds=3).scores
    shifted = np.concatenate([shifted, shifted + 0.01])  # exact shift but float rounding
    assert CrossValidated(shifted, n_folds=3).verdicts({"g": (1, 0)})["g"].p_value == 1.0


def test_wrong_shapes_and_bounds_are_refused_with_what_was_wrong():
    """A transposed ``(methods, folds, seeds)`` array, a fold count that is not the number of
    columns, and inverted or non-finite bounds (an interval from high to low) are errors."""
    scores = np.random.default_rng(1).uniform(0.6, 0.9, (2, 5, 3))  # (methods, seeds, folds)
    with pytest.raises(ValueError, match="transposed"):
        CrossValidated(scores.transpose(0, 2, 1), n_folds=3)
    with pytest.raises(ValueError, match="3 columns for n_folds=10"):
        CrossValidated(scores, n_folds=10)
    for bounds in [(1.0, 0.0), (0.5, 0.5), (0.0, np.nan)]:
        with pytest.raises(ValueError, match="low < high"):
            CrossValidated(scores, n_folds=3, bounds=bounds)
    with pytest.raises(ValueError, match="outside bounds"):
        CrossValidated(scores, n_folds=3, bounds=(0.0, 0.8))
    assert CrossValidated(scores, n_folds=3, bounds=(0.0, 1.0)).interval(0).low >= 0


def test_fewer_seeds_than_folds_take_the_seed_terms_degrees_of_freedom():
    """With the seed term, ``min(J - 1, S - 1)`` degrees of freedom: 5 folds x 2 seeds and a
    seed effect shared by the folds covered about 0.74 with ``J - 1`` (the seed term rests on
    one degree of freedom); with ``S - 1`` it covers at least nominally. Where the seeds are
    as many as the folds, or without the seed term, ``J - 1`` is unchanged."""
    scores = np.random.default_rng(4).uniform(0.6, 0.9, (2, 2, 5))
    assert CrossValidated(scores, 5).moments(0)[2] == 1
    assert CrossValidated(scores, 5, shared=False).moments(0)[2] == 4
    assert CrossValidated(np.tile(scores, (1, 3, 1)), 5).moments(1, 0)[2] == 4
    case = {"seed_noise": 1.5, "shared": 1.0, "n_rep": 400, "seed": 3, "bootstrap": False}
    assert cv_coverage(5, 2, **case)["corrected_t"] >= 0.95
