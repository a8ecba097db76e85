"""Bootstrap coverage on cases with a known answer, Holm by hand, verdicts on constructed input."""

import numpy as np
import pytest

from aligninfo import groups
from aligninfo.stats import (
    Interval,
    bootstrap,
    bootstrap_p_value,
    bootstrap_r2,
    hierarchical_bootstrap_mean,
    hierarchical_bootstrap_r2,
    holm,
    holm_draws,
    percentile_interval,
    require_holm_draws,
    verdict,
    verdicts,
    weighted_r2,
)

# ----------------------------------------------------------------- coverage


def covers(interval: Interval, truth: float) -> bool:
    return interval.low <= truth <= interval.high


@pytest.mark.parametrize(
    ("method", "draw", "truth"),
    [
        ("percentile", lambda rng: rng.normal(2.0, 1.0, 40), 2.0),
        ("bca", lambda rng: rng.exponential(1.0, 60), 1.0),  # skewed: what BCa corrects for
    ],
)
def test_bootstrap_of_a_mean_covers_near_its_nominal_level(method, draw, truth):
    rng = np.random.default_rng(0)
    hits = [
        covers(bootstrap(draw(rng), np.mean, n_boot=300, level=0.9, method=method, seed=r), truth)
        for r in range(200)
    ]
    assert 0.84 <= np.mean(hits) <= 0.96


def two_level_scores(rng, sites=20, seeds=10):
    """Per-(seed, site) scores around a true mean 0: site, seed and cell effects."""
    return (
        rng.normal(0, 1.0, sites)[None, :]
        + rng.normal(0, 0.6, seeds)[:, None]
        + rng.normal(0, 0.5, (seeds, sites))
    )


def test_hierarchical_bootstrap_covers_and_the_site_bootstrap_does_not():
    rng = np.random.default_rng(1)
    both, sites_only = [], []
    for r in range(300):
        scores = two_level_scores(rng)
        both.append(covers(hierarchical_bootstrap_mean(scores, 200, r).interval(0, 0.9), 0.0))
        fixed = hierarchical_bootstrap_mean(scores, 200, r, resample_seeds=False)
        sites_only.append(covers(fixed.interval(0, 0.9), 0.0))
    assert 0.82 <= np.mean(both) <= 0.97
    assert np.mean(sites_only) < np.mean(both) - 0.05, "seed variation ignored: too narrow"


def polygon_hits(rng, n_groups=30, per=40, seeds=2, accuracy=0.8, spread=0.15):
    """0/1 hits of ``seeds`` runs on test pixels of polygons whose accuracy varies by polygon.

    Every polygon has its own accuracy, drawn from a beta law of mean ``accuracy`` (the
    quantity to cover) and standard deviation ``spread``; its pixels are hits with that
    probability, for every seed.
    """
    total = accuracy * (1 - accuracy) / spread**2 - 1
    p = rng.beta(accuracy * total, (1 - accuracy) * total, n_groups)
    hits = rng.random((seeds, n_groups * per)) < np.repeat(p, per)[None, :]
    return hits.astype(float), np.repeat(np.arange(n_groups), per)


def test_polygon_bootstrap_covers_where_the_pixel_bootstrap_is_too_narrow():
    rng = np.random.default_rng(5)
    by_polygon, by_pixel = [], []
    for r in range(200):
        hits, polygons = polygon_hits(rng)
        grouped = hierarchical_bootstrap_mean(hits, 300, r, groups=polygons)
        by_polygon.append(covers(grouped.interval(0, 0.9), 0.8))
        by_pixel.append(covers(hierarchical_bootstrap_mean(hits, 300, r).interval(0, 0.9), 0.8))
    assert 0.82 <= np.mean(by_polygon) <= 0.97
    assert np.mean(by_pixel) < 0.6, "pixels of one polygon are not independent"


def test_grouped_mean_bootstrap_weighs_units_and_reduces_to_the_unit_bootstrap():
    rng = np.random.default_rng(6)
    scores = rng.random((2, 3, 50))
    singletons = hierarchical_bootstrap_mean(scores, 100, 7, groups=np.arange(50))
    plain = hierarchical_bootstrap_mean(scores, 100, 7)
    np.testing.assert_allclose(singletons.draws, plain.draws)
    np.testing.assert_allclose(singletons.estimate, plain.estimate)
    groups = np.repeat([0, 1], [5, 45])  # unequal sizes: a draw is a mean over its pixels
    boot = hierarchical_bootstrap_mean(scores, 200, 0, resample_seeds=False, groups=groups)
    means = [scores[:, :, groups == g].mean(axis=(1, 2)) for g in (0, 1)]
    mixed = (5 * means[0] + 45 * means[1]) / 50  # one of each group drawn
    expected = [means[0], means[1], mixed]
    for row in boot.draws:
        assert any(np.allclose(row, e) for e in expected)
    with pytest.raises(ValueError, match="groups"):
        hierarchical_bootstrap_mean(scores, 10, groups=np.arange(49))


def test_hierarchical_r2_with_one_seed_is_the_site_bootstrap():
    rng = np.random.default_rng(2)
    y, sites = rng.standard_normal(120), np.repeat(np.arange(12), 10)
    preds = y[None] + rng.standard_normal((3, 120))
    boot = hierarchical_bootstrap_r2(y, preds[:, None, :], sites, n_boot=50, seed=4)
    np.testing.assert_allclose(boot.draws, bootstrap_r2(y, preds, sites, n_boot=50, seed=4))
    np.testing.assert_allclose(boot.estimate, weighted_r2(y, preds, np.ones(120))[0])
    assert groups.bootstrap_r2 is bootstrap_r2, "one implementation, re-exported"


def test_hierarchical_r2_averages_resampled_seeds_and_pairs_methods():
    rng = np.random.default_rng(3)
    y, sites = rng.standard_normal(80), np.repeat(np.arange(8), 10)
    preds = y[None, None] + rng.standard_normal((2, 4, 80)) * np.array([0.5, 1.0])[:, None, None]
    boot = hierarchical_bootstrap_r2(y, preds, sites, n_boot=300, seed=0)
    per_seed = weighted_r2(y, preds.reshape(8, 80), np.ones(80)).reshape(2, 4)
    np.testing.assert_allclose(boot.estimate, per_seed.mean(axis=1))
    diff = boot.difference(0, 1)
    assert diff.estimate == pytest.approx(boot.estimate[0] - boot.estimate[1])
    assert diff.low > 0, "the less noisy predictor is better on every paired resample"
    fixed = hierarchical_bootstrap_r2(y, preds, sites, 300, 0, resample_seeds=False)
    assert np.std(fixed.draws[:, 0]) < np.std(boot.draws[:, 0])


# ----------------------------------------------------------------- Holm, p-values, verdicts


def test_holm_matches_hand_worked_examples():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    adjusted, rejected = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert rejected.tolist() == [True, False, False, True]
    # 0.01 x3 = 0.03, 0.02 x2 = 0.04, 0.03 x1 = 0.03 -> 0.04: Holm rejects all three where
    # Bonferroni (0.05 / 3 = 0.0167) would reject only the first
    adjusted, rejected = holm([0.03, 0.01, 0.02])
    np.testing.assert_allclose(adjusted, [0.04, 0.03, 0.04])
    assert rejected.all()
    np.testing.assert_allclose(holm([0.5, 0.9])[0], [1.0, 1.0])  # capped at 1
    with pytest.raises(ValueError):
        holm([0.2, 1.5])


def test_bootstrap_p_value_counts_the_draws_beyond_zero():
    draws = np.concatenate([np.full(9, -1.0), np.full(990, 1.0)])  # 9 of 999 at or below 0
    assert bootstrap_p_value(draws) == pytest.approx(2 * 10 / 1000)
    assert bootstrap_p_value(np.linspace(-1, 1, 101)) == 1.0


def test_verdict_needs_the_interval_to_exclude_zero():
    assert verdict(Interval(-0.1, -0.2, -0.01, 0.95)) == "costs"
    assert verdict(Interval(0.1, 0.01, 0.2, 0.95)) == "gains"
    assert verdict(Interval(-0.1, -0.2, 0.01, 0.95)) == "no detectable cost"
    assert percentile_interval(np.arange(101.0), 50.0, 0.9).low == pytest.approx(5.0)


def shifted(centre, spread, n=999):
    """Draws evenly spread over centre +- spread (a known share below zero)."""
    return centre + spread * np.linspace(-1, 1, n)


def test_verdicts_on_constructed_families():
    family = {"cost": shifted(-0.1, 0.05), "gain": shifted(0.2, 0.1), "none": shifted(0.0, 0.1)}
    estimates = {k: float(np.mean(v)) for k, v in family.items()}
    judged = verdicts(family, estimates)
    assert {k: v.verdict for k, v in judged.items()} == {
        "cost": "costs",
        "gain": "gains",
        "none": "no detectable cost",
    }
    assert judged["cost"].interval.high < 0 and judged["none"].interval.excludes_zero is False


def test_multiplicity_removes_a_lone_marginal_cost():
    marginal = shifted(-0.1, 0.102)  # about 1 % of the draws at or above zero: p ~ 0.02
    alone = verdicts({"a": marginal}, {"a": -0.1})["a"]
    assert alone.p_value < 0.05 and alone.verdict == "costs"
    family = {"a": marginal, **{f"null{i}": shifted(0.0, 0.1) for i in range(5)}}
    crowded = verdicts(family, {k: float(np.mean(v)) for k, v in family.items()})["a"]
    assert crowded.p_adjusted == pytest.approx(6 * alone.p_value)
    assert crowded.verdict == "no detectable cost"
    assert crowded.interval.level == pytest.approx(1 - 0.05 / 6)  # Holm's level at rank 1
    with pytest.raises(ValueError, match="same comparisons"):
        verdicts({"a": marginal}, {"b": 0.0})


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.075, 0.1, 0.2, 0.3])
@pytest.mark.parametrize("family_size", [1, 2, 3, 4, 6, 7, 12, 30])
def test_holm_rejects_at_the_fewest_draws_that_holm_draws_counts(alpha, family_size):
    # The smallest bootstrap p-value at n draws is 2 / (n + 1); at holm_draws' n, Holm's first
    # step must reject it (p * m can be alpha plus a rounding error, e.g. alpha 0.3, m 3, n 19)
    # and at one draw fewer it must not, so that the check and the procedure agree exactly.
    needed = holm_draws(family_size, alpha)
    family = [1.0] * (family_size - 1)
    assert holm([2 / (needed + 1), *family], alpha)[1][0]
    require_holm_draws(needed, family_size, alpha)
    if needed > 1:
        assert not holm([2 / needed, *family], alpha)[1][0]
        with pytest.raises(ValueError, match="cannot decide"):
            require_holm_draws(needed - 1, family_size, alpha)


def test_holm_accepts_a_product_one_rounding_above_alpha():
    assert 2 / 20 * 3 > 0.3  # the floating-point product, the exact one is 0.3
    assert holm([2 / 20, 1.0, 1.0], alpha=0.3)[1][0]
    assert not holm([0.1001, 1.0, 1.0], alpha=0.3)[1][0]  # a real excess is not forgiven


def test_one_comparison_is_only_about_the_verdict_of_its_interval():
    # verdicts() of one comparison needs p <= alpha as well as the 1 - alpha interval: the two
    # are not exactly dual, so a few intervals that exclude zero stay "no detectable cost",
    # and never the reverse (the docstring of verdicts says how many).
    rng = np.random.default_rng(0)
    disagree = 0
    for _ in range(2000):
        centre = rng.uniform(-4, 4)
        draws = rng.normal(centre, 1.0, 200)
        judged = verdicts({"a": draws}, {"a": centre})["a"].verdict
        plain = verdict(percentile_interval(draws, centre, 0.95))
        assert judged in (plain, "no detectable cost")
        disagree += judged != plain
    assert 0.005 < disagree / 2000 < 0.04
