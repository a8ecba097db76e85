"""Uncertainty of the experiments: bootstrap intervals, paired differences, Holm, verdicts.

One place for every interval the chapters quote::

    boot = hierarchical_bootstrap_r2(y_test, preds, sites)     # preds (methods, seeds, n)
    boot.interval(0)                                            # Interval of method 0's R²
    diff = boot.difference(1, 0)                                # paired: method 1 - method 0
    table = verdicts({"InfoNCE - raw": boot.draws[:, 1] - boot.draws[:, 0], ...},
                     {"InfoNCE - raw": boot.estimate[1] - boot.estimate[0], ...})
    table["InfoNCE - raw"].verdict                              # "costs", "no detectable cost"
                                                                # or "gains"

- :func:`bootstrap`: percentile or BCa interval of a statistic of independent samples.
- :func:`bootstrap_r2` (site bootstrap, one run per method) and
  :func:`hierarchical_bootstrap_r2` (two levels: sites, then seeds) score predictions on held-out
  sites; :func:`hierarchical_bootstrap_mean` resamples a grid of per-(seed, unit) scores
  (units: folds, sites, test pixels; ``groups=`` resamples the units by group, e.g. the test
  pixels of one polygon together). All methods share the resamples, so differences are
  *paired*.
- :func:`holm`: Holm's step-down adjustment of a family of p-values;
  :func:`bootstrap_p_value`: the two-sided p-value dual to the percentile interval.
- :func:`verdict` (one comparison) and :func:`verdicts` (a family, Holm at level ``alpha``):
  a difference counts as a cost or a gain only when its interval excludes zero;
  :func:`holm_draws` / :func:`require_holm_draws`: enough draws for Holm's first step.
- :func:`student_interval` and :func:`seed_verdicts`: the same decisions from a few
  independent replicates (seeds that each draw their own data) by Student's t. With five
  seeds the percentile bootstrap covers about 84 % at a nominal 95 %, and its p-value floor
  ``2 / (n_boot + 1)`` passes any Holm family whenever every seed agrees on the sign, which
  happens one time in sixteen with no difference at all (``tests/test_seed_stats.py``).

Why two levels: a score averaged over seeds and held-out sites varies with both the sites
that happen to be held out and the seeds that happen to be run. Resampling only the sites
treats the seeds as fixed and gives intervals too narrow when training is seed-sensitive
(``tests/test_stats.py`` measures both coverages).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm
from scipy.stats import t as student_t

__all__ = [
    "RELATIVE_TOLERANCE",
    "TIE_TOLERANCE",
    "VERDICTS",
    "Bootstrap",
    "Interval",
    "Verdict",
    "bootstrap",
    "bootstrap_p_value",
    "bootstrap_r2",
    "family_verdicts",
    "hierarchical_bootstrap_mean",
    "hierarchical_bootstrap_r2",
    "holm",
    "holm_draws",
    "percentile_interval",
    "require_holm_draws",
    "seed_verdicts",
    "student_interval",
    "verdict",
    "verdicts",
    "weighted_r2",
]

Array = NDArray[np.float64]
K = TypeVar("K", bound=Hashable)
VERDICTS = ("costs", "no detectable cost", "gains")
"""The three verdicts on a difference (method minus reference, higher is better)."""


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval.

    Attributes:
        estimate: The statistic on the full data.
        low: Lower end.
        high: Upper end.
        level: Nominal coverage, e.g. 0.95.
    """

    estimate: float
    low: float
    high: float
    level: float

    @property
    def excludes_zero(self) -> bool:
        """Whether zero lies outside ``[low, high]``."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def percentile_interval(draws: ArrayLike, estimate: float, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles.

    Args:
        draws: ``(n_boot,)`` bootstrap replicates of the statistic.
        estimate: The statistic on the full data.
        level: Nominal coverage.

    Returns:
        The interval.
    """
    _level(level)
    d = np.asarray(draws, dtype=np.float64).ravel()
    if len(d) < 2 or not np.all(np.isfinite(d)):
        raise ValueError("need at least two finite bootstrap draws")
    low, high = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high), level)


def _bca_interval(draws: Array, estimate: float, jackknife: Array, level: float) -> Interval:
    """Bias-corrected and accelerated interval (Efron 1987) from draws and jackknife values."""
    below = np.mean(draws < estimate) + 0.5 * np.mean(draws == estimate)
    z0 = norm.ppf(np.clip(below, 1e-10, 1 - 1e-10))
    centred = jackknife.mean() - jackknife
    denominator = 6 * np.sum(centred**2) ** 1.5
    accel = np.sum(centred**3) / denominator if denominator > 0 else 0.0
    z = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    adjusted = norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    low, high = np.quantile(draws, adjusted)
    return Interval(float(estimate), float(low), float(high), level)


def bootstrap(
    data: ArrayLike,
    statistic: Callable[[np.ndarray], float],
    n_boot: int = 2000,
    level: float = 0.95,
    method: str = "percentile",
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of a statistic of independent samples (rows of ``data``).

    Args:
        data: ``(n, ...)`` samples, resampled along the first axis.
        statistic: Maps an ``(n, ...)`` array to a float.
        n_boot: Number of resamples.
        level: Nominal coverage.
        method: ``"percentile"`` or ``"bca"`` (bias-corrected and accelerated, with the
            acceleration from the jackknife).
        seed: Seed of the resamples.

    Returns:
        The interval around ``statistic(data)``.
    """
    x = np.asarray(data)
    if len(x) < 2 or n_boot < 2:
        raise ValueError("need at least two samples and two resamples")
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}")
    rng = np.random.default_rng(seed)
    n = len(x)
    draws = np.array([statistic(x[rng.integers(0, n, n)]) for _ in range(n_boot)])
    estimate = float(statistic(x))
    if method == "percentile":
        return percentile_interval(draws, estimate, level)
    _level(level)
    jackknife = np.array([statistic(np.delete(x, i, axis=0)) for i in range(n)])
    return _bca_interval(draws, estimate, jackknife, level)


# --------------------------------------------------------------------------- resampling


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of several methods' scores on shared resamples.

    Attributes:
        estimate: ``(methods,)`` scores on the full data.
        draws: ``(n_boot, methods)`` scores on each resample (the same resample in a row).
    """

    estimate: Array
    draws: Array

    def interval(self, method: int, level: float = 0.95) -> Interval:
        """Percentile interval of one method's score."""
        return percentile_interval(self.draws[:, method], self.estimate[method], level)

    def difference(self, a: int, b: int, level: float = 0.95) -> Interval:
        """Paired percentile interval of ``score[a] - score[b]`` (same resamples)."""
        return percentile_interval(
            self.draws[:, a] - self.draws[:, b], self.estimate[a] - self.estimate[b], level
        )


def weighted_r2(y: ArrayLike, pred: ArrayLike, weights: ArrayLike) -> Array:
    """R² of predictions with sample weights (multiplicities of a bootstrap draw).

    ``R² = 1 - sum w (y - pred)^2 / sum w (y - mean_w y)^2`` with the weighted mean, so that
    integer weights give the ordinary R² of the data set in which sample ``i`` appears ``w_i``
    times.

    Args:
        y: ``(n,)`` targets.
        pred: ``(runs, n)`` or ``(n,)`` predictions.
        weights: ``(draws, n)`` or ``(n,)`` non-negative weights, each row with a positive sum.

    Returns:
        ``(draws, runs)`` R² values (leading axes of size one kept).
    """
    y_a = np.asarray(y, dtype=np.float64)
    p = np.atleast_2d(np.asarray(pred, dtype=np.float64))
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if y_a.ndim != 1 or p.shape[1] != len(y_a) or w.shape[1] != len(y_a):
        raise ValueError(
            f"expected y (n,), pred (runs, n), weights (draws, n); got {y_a.shape}, "
            f"{p.shape}, {w.shape}"
        )
    if np.any(w < 0) or np.any(w.sum(axis=1) <= 0):
        raise ValueError("weights must be non-negative with a positive sum per row")
    total = w.sum(axis=1, keepdims=True)
    mean = (w @ y_a)[:, None] / total  # (draws, 1)
    sst = (w * (y_a[None, :] - mean) ** 2).sum(axis=1)  # (draws,)
    sse = w @ ((y_a[None, :] - p) ** 2).T  # (draws, runs)
    if np.any(sst <= 0):
        raise ValueError("the target is constant on a weighted draw; R² is undefined")
    out: Array = 1.0 - sse / sst[:, None]
    return out


def _group_index(groups: ArrayLike, n: int) -> tuple[NDArray[np.intp], int]:
    labels = np.asarray(groups)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"groups must be (n,) like y, got shape {labels.shape}")
    _, index = np.unique(labels, return_inverse=True)
    return index, int(index.max()) + 1


def _cluster_counts(n_groups: int, n_boot: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``(n_boot, n_groups)``: how often each group is picked in each draw (with replacement)."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot}")
    picks = rng.integers(0, n_groups, (n_boot, n_groups))  # the stream of row-by-row draws
    flat = (picks + n_groups * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_groups).reshape(n_boot, n_groups)


def bootstrap_r2(
    y: ArrayLike, preds: ArrayLike, groups: ArrayLike, n_boot: int = 1000, seed: int = 0
) -> Array:
    """R² of several predictors on bootstrap resamples of whole groups (a cluster bootstrap).

    Each draw picks as many groups as there are, with replacement, and keeps every sample of
    each picked group (as often as it was picked). All predictors are scored on the same draws,
    so differences between their columns are paired. One run per predictor: use
    :func:`hierarchical_bootstrap_r2` to resample seeds too.

    Args:
        y: ``(n,)`` held-out targets.
        preds: ``(runs, n)`` or ``(n,)`` predictions of ``y``.
        groups: ``(n,)`` group label of each sample.
        n_boot: Number of draws.
        seed: Seed of the draws.

    Returns:
        ``(n_boot, runs)`` R² values.
    """
    index, n_groups = _group_index(groups, len(np.asarray(y)))
    counts = _cluster_counts(n_groups, n_boot, np.random.default_rng(seed))
    return weighted_r2(y, preds, counts[:, index])


def hierarchical_bootstrap_r2(
    y: ArrayLike,
    preds: ArrayLike,
    groups: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    resample_seeds: bool = True,
) -> Bootstrap:
    """Two-level bootstrap of the seed-averaged R² on held-out groups: groups, then seeds.

    Each draw resamples the groups (sites) as :func:`bootstrap_r2` does (the same draws for
    the same ``seed``) and, independently, the training seeds (as many as there are, with
    replacement); a method's score on the draw is its R² on the resampled sites averaged over
    the resampled seeds. All methods share the draws (paired differences). With one seed (or
    ``resample_seeds=False``) it reduces to the site bootstrap of the seed average.

    Args:
        y: ``(n,)`` held-out targets.
        preds: ``(methods, seeds, n)`` predictions (``(seeds, n)``: one method).
        groups: ``(n,)`` group (site) of each sample.
        n_boot: Number of draws.
        seed: Seed of the draws.
        resample_seeds: Resample the seeds too (False: treat them as fixed).

    Returns:
        Estimates (mean over seeds of the R² on all samples) and draws, per method.
    """
    p = np.asarray(preds, dtype=np.float64)
    p = p[None] if p.ndim == 2 else p
    if p.ndim != 3:
        raise ValueError(f"preds must be (methods, seeds, n) or (seeds, n), got {p.shape}")
    n_methods, n_seeds, n = p.shape
    index, n_groups = _group_index(groups, n)
    counts = _cluster_counts(n_groups, n_boot, np.random.default_rng(seed))
    r2 = weighted_r2(y, p.reshape(n_methods * n_seeds, n), counts[:, index])
    r2 = r2.reshape(n_boot, n_methods, n_seeds)
    picks = _seed_picks(n_seeds, n_boot, seed, resample_seeds)  # (n_boot, n_seeds) counts
    draws = np.einsum("bms,bs->bm", r2, picks) / n_seeds
    full = weighted_r2(y, p.reshape(n_methods * n_seeds, n), np.ones(n))
    return Bootstrap(full.reshape(n_methods, n_seeds).mean(axis=1), draws)


def _seed_picks(n_seeds: int, n_boot: int, seed: int, resample: bool) -> Array:
    """``(n_boot, n_seeds)`` multiplicities of each seed (all ones without resampling)."""
    if not resample:
        return np.ones((n_boot, n_seeds))
    rng = np.random.default_rng([seed, 1])  # a stream apart from the groups' draws
    return _cluster_counts(n_seeds, n_boot, rng).astype(np.float64)


def hierarchical_bootstrap_mean(
    scores: ArrayLike,
    n_boot: int = 2000,
    seed: int = 0,
    resample_seeds: bool = True,
    groups: ArrayLike | None = None,
) -> Bootstrap:
    """Two-level bootstrap of a mean score over a grid of seeds x units (folds, sites, pixels).

    Each draw resamples the units and, independently, the seeds (each as many as there are,
    with replacement) and averages the scores of the resampled grid. All methods share the
    draws (paired differences). With ``groups``, the units are resampled by group (a cluster
    bootstrap): a draw picks as many groups as there are, with replacement, and keeps every
    unit of a picked group as often as it was picked, so that units of one group (the test
    pixels of one polygon) are never treated as independent.

    Args:
        scores: ``(methods, seeds, units)`` score of each method, seed and unit
            (``(seeds, units)``: one method); e.g. accuracy per (seed, fold), or the 0/1 hit
            of each (seed, test pixel).
        n_boot: Number of draws.
        seed: Seed of the draws.
        resample_seeds: Resample the seeds too (False: only the units).
        groups: ``(units,)`` group of each unit (None: every unit its own group). A draw's
            score is the mean over the units it holds (groups of unequal sizes weigh by
            their size).

    Returns:
        Estimates (the grand mean) and draws, per method.
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s[None] if s.ndim == 2 else s
    if s.ndim != 3 or not np.all(np.isfinite(s)):
        raise ValueError(f"scores must be finite (methods, seeds, units), got shape {s.shape}")
    _, n_seeds, n_units = s.shape
    picks = _seed_picks(n_seeds, n_boot, seed, resample_seeds)
    if groups is None:
        units = _cluster_counts(n_units, n_boot, np.random.default_rng(seed)).astype(np.float64)
        draws = np.einsum("msu,bs,bu->bm", s, picks, units) / (n_seeds * n_units)
        return Bootstrap(s.mean(axis=(1, 2)), draws)
    index, n_groups = _group_index(groups, n_units)
    member = np.zeros((n_units, n_groups))
    member[np.arange(n_units), index] = 1.0
    sums = s @ member  # (methods, seeds, groups): score summed over each group's units
    sizes = np.bincount(index, minlength=n_groups).astype(np.float64)
    counts = _cluster_counts(n_groups, n_boot, np.random.default_rng(seed)).astype(np.float64)
    draws = np.einsum("msg,bs,bg->bm", sums, picks, counts) / (n_seeds * (counts @ sizes))[:, None]
    return Bootstrap(s.mean(axis=(1, 2)), draws)


# --------------------------------------------------------------------------- decisions


def bootstrap_p_value(differences: ArrayLike) -> float:
    """Two-sided bootstrap p-value of ``difference = 0``, dual to the percentile interval.

    ``p = min(1, 2 min((#{d <= 0} + 1), (#{d >= 0} + 1)) / (n_boot + 1))``: the percentile
    interval at level ``1 - a`` excludes zero about when ``p < a``.

    Args:
        differences: ``(n_boot,)`` bootstrap replicates of a difference.

    Returns:
        The p-value in ``(0, 1]``.
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    below, above = np.sum(d <= 0), np.sum(d >= 0)
    return float(min(1.0, 2 * (min(below, above) + 1) / (len(d) + 1)))


def holm(p_values: ArrayLike, alpha: float = 0.05) -> tuple[Array, NDArray[np.bool_]]:
    """Holm's step-down adjustment, controlling the family-wise error rate at ``alpha``.

    Sort the ``m`` p-values; the ``i``-th smallest (from 1) is multiplied by ``m - i + 1``, the
    products made non-decreasing (running maximum) and capped at 1. A hypothesis is rejected
    when its adjusted p-value is at most ``alpha``, up to floating-point rounding
    (:data:`RELATIVE_TOLERANCE`; the same comparison as :func:`holm_draws`).

    Args:
        p_values: ``(m,)`` p-values of the family.
        alpha: Family-wise level.

    Returns:
        ``(adjusted p-values (m,), rejected (m,) booleans)``, in the input order.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("p-values must lie in [0, 1]")
    _level(1 - alpha)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted, _at_most(adjusted, alpha)


RELATIVE_TOLERANCE = 1e-9
"""How far above ``alpha`` an adjusted p-value may lie by rounding alone and still be rejected.

A product such as ``(2 / 20) * 3`` is ``0.30000000000000004`` in floating point: without the
tolerance, :func:`holm` would never reject at ``alpha = 0.3`` a p-value that is exactly
``alpha / 3``, although :func:`holm_draws` counts it as enough."""


def _at_most(value: ArrayLike, alpha: float) -> NDArray[np.bool_]:
    """``value <= alpha`` up to rounding (:data:`RELATIVE_TOLERANCE`), elementwise."""
    return np.asarray(value, dtype=np.float64) <= alpha * (1 + RELATIVE_TOLERANCE)


def holm_draws(family_size: int, alpha: float = 0.05) -> int:
    """The fewest bootstrap draws with which Holm's first step can reject in a family.

    :func:`bootstrap_p_value` cannot go below ``2 / (n_boot + 1)``, and Holm's procedure rejects
    its smallest p-value only when ``p <= alpha / family_size``. Fewer draws than this make every
    verdict of the family "no detectable cost" whatever the data, and the more so the larger the
    family: a verdict would then change with the family's size alone.

    Args:
        family_size: ``m``, the number of comparisons judged together.
        alpha: Family-wise error rate.

    Returns:
        The smallest ``n_boot`` with ``2 / (n_boot + 1) <= alpha / m``, compared exactly as
        :func:`holm` compares (``m · 2 / (n_boot + 1)`` against ``alpha``, up to rounding).
    """
    if isinstance(family_size, bool) or not isinstance(family_size, int) or family_size < 1:
        raise ValueError(f"family_size must be a positive integer, got {family_size!r}")
    _level(1 - alpha)

    def first_step_rejects(n_boot: int) -> bool:
        return bool(_at_most(2 / (n_boot + 1) * family_size, alpha))

    n = max(1, math.ceil(2 * family_size / alpha - 1))
    while not first_step_rejects(n):
        n += 1
    while n > 1 and first_step_rejects(n - 1):
        n -= 1
    return n


def require_holm_draws(n_boot: int, family_size: int, alpha: float = 0.05) -> None:
    """Stop when ``n_boot`` draws are too few for Holm's first step (:func:`holm_draws`).

    Raises:
        ValueError: naming the draws, the family size and the number needed.
    """
    needed = holm_draws(family_size, alpha)
    if n_boot < needed:
        raise ValueError(
            f"n_boot = {n_boot} bootstrap draws cannot decide a Holm family of {family_size} "
            f"comparisons at alpha = {alpha:g}: the smallest bootstrap p-value, "
            f"2 / (n_boot + 1) = {2 / (n_boot + 1):.4g}, is above alpha / {family_size} = "
            f"{alpha / family_size:.4g}; use n_boot >= {needed}"
        )


def verdict(interval: Interval) -> str:
    """The verdict on one difference (method minus reference; higher is better).

    Returns:
        ``"costs"`` when the whole interval is below zero, ``"gains"`` when above, else
        ``"no detectable cost"``.
    """
    if interval.high < 0:
        return VERDICTS[0]
    if interval.low > 0:
        return VERDICTS[2]
    return VERDICTS[1]


@dataclass(frozen=True)
class Verdict:
    """One comparison of a family, judged at a family-wise level.

    Attributes:
        interval: Percentile interval at the level Holm's procedure uses for it,
            ``1 - alpha / (m - rank + 1)`` (rank 1: the smallest p-value).
        p_value: Bootstrap p-value (:func:`bootstrap_p_value`).
        p_adjusted: Holm-adjusted p-value.
        verdict: ``"costs"``, ``"no detectable cost"`` or ``"gains"``.
    """

    interval: Interval
    p_value: float
    p_adjusted: float
    verdict: str


def verdicts(
    differences: Mapping[K, ArrayLike],
    estimates: Mapping[K, float],
    alpha: float = 0.05,
) -> dict[K, Verdict]:
    """Judge a family of differences (method minus reference) with Holm's procedure.

    A difference is a cost (or a gain) only when Holm's procedure rejects "no difference" at
    family-wise level ``alpha`` *and* its percentile interval at Holm's level for it excludes
    zero (below: costs; above: gains); otherwise "no detectable cost".

    With one comparison Holm's level is the interval's, ``1 - alpha``, but the verdict is only
    approximately :func:`verdict` of that interval, and never more decided: the p-value
    (:func:`bootstrap_p_value`, which counts the draws on each side of zero, plus one) and the
    interval's interpolated quantiles are not exactly dual, so an interval whose end lies just
    beyond zero can go with ``p > alpha``. Such a comparison is "no detectable cost" here and
    "costs" or "gains" for :func:`verdict`; the reverse cannot happen. With 200 normal draws
    whose mean lies uniformly within four of their standard deviations of zero, about 2 % of
    comparisons disagree this way (``tests/test_stats.py`` measures it).

    Args:
        differences: ``(n_boot,)`` paired bootstrap replicates of each difference, by name.
        estimates: The difference on the full data, by the same names.
        alpha: Family-wise error rate.

    Returns:
        A :class:`Verdict` per name.
    """
    names = list(differences)
    if set(names) != set(estimates):
        raise ValueError("differences and estimates must name the same comparisons")
    if not names:
        return {}
    p = np.array([bootstrap_p_value(differences[k]) for k in names])
    adjusted, rejected = holm(p, alpha)
    ranks = np.empty(len(p), dtype=int)
    ranks[np.argsort(p, kind="stable")] = np.arange(1, len(p) + 1)
    out = {}
    for i, name in enumerate(names):
        level = 1 - alpha / (len(p) - ranks[i] + 1)
        interval = percentile_interval(differences[name], estimates[name], level)
        judged = verdict(interval) if rejected[i] else VERDICTS[1]
        out[name] = Verdict(interval, float(p[i]), float(adjusted[i]), judged)
    return out


def family_verdicts(
    differences: Mapping[K, ArrayLike],
    estimates: Mapping[K, float],
    family: Callable[[K], Hashable],
    alpha: float = 0.05,
) -> dict[K, Verdict]:
    """Judge many comparisons, Holm's procedure within each family that ``family`` names.

    A verdict depends on its own family only: with families defined by what a comparison is
    (one method against one reference on one view, say) rather than by which other
    comparisons a run happens to make, the same comparison gets the same verdict in a run of
    every method and in a run of a few. Each family is checked for enough bootstrap draws
    (:func:`require_holm_draws`).

    Args:
        differences: ``(n_boot,)`` paired bootstrap replicates of each difference, by key.
        estimates: The difference on the full data, by the same keys.
        family: Maps a key to the name of its family.
        alpha: Family-wise error rate of every family.

    Returns:
        A :class:`Verdict` per key, as :func:`verdicts` gives it within the key's family.

    Raises:
        ValueError: when the keys differ, or a family has too few draws for Holm.
    """
    if set(differences) != set(estimates):
        raise ValueError("differences and estimates must name the same comparisons")
    members: dict[Hashable, list[K]] = {}
    for key in differences:
        members.setdefault(family(key), []).append(key)
    out: dict[K, Verdict] = {}
    for keys in members.values():
        for key in keys:
            require_holm_draws(np.size(differences[key]), len(keys), alpha)
        out |= verdicts({k: differences[k] for k in keys}, {k: estimates[k] for k in keys}, alpha)
    return {key: out[key] for key in differences}


# --------------------------------------------------------------------------- few replicates


def _student(values: ArrayLike) -> tuple[float, float, int]:
    """Mean, standard error and number of ``(n,)`` independent replicates (n >= 2, finite)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if len(v) < 2 or not np.all(np.isfinite(v)):
        raise ValueError(f"need at least two finite replicates, got {v.tolist()}")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))), len(v)


def student_interval(values: ArrayLike, level: float = 0.95) -> Interval:
    """Student's t interval of the mean of independent replicates (e.g. seeds).

    Args:
        values: ``(n,)`` one score per replicate, n >= 2.
        level: Nominal coverage.

    Returns:
        ``mean ± t_{n-1, (1 + level) / 2} · s / √n``.
    """
    _level(level)
    mean, se, n = _student(values)
    half = float(student_t.ppf((1 + level) / 2, n - 1)) * se
    return Interval(mean, mean - half, mean + half, level)


TIE_TOLERANCE = 1e-12
"""A standard error at most this times the values' scale is no spread (rounding alone)."""


def _t_p_value(mean: float, se: float, n: int, scale: float = 0.0) -> float:
    """Two-sided p-value of the one-sample t test of ``mean = 0``.

    Replicates that all agree (``se`` at most :data:`TIE_TOLERANCE` times ``scale``, the
    largest absolute value: zero up to rounding) give no p-value below 1: a t statistic needs
    a spread, and equal values over a few replicates (accuracies are counts, folds few) are a
    tie, not evidence that the spread is nil; calling them decided would turn a tie into a verdict.
    """
    if se <= TIE_TOLERANCE * scale or se == 0:
        return 1.0
    return float(2 * student_t.sf(abs(mean) / se, n - 1))


def seed_verdicts(differences: Mapping[str, ArrayLike], alpha: float = 0.05) -> dict[str, Verdict]:
    """Judge a family of paired differences measured on a few independent replicates.

    The counterpart of :func:`verdicts` for replicates that are themselves the sampling units
    (each seed draws its own data and weights): each difference is tested by the paired t test
    over the replicates, Holm's procedure runs over the family at level ``alpha``, and a
    difference is a cost (or a gain) only when rejected *and* its Student interval at Holm's
    level for it, ``1 - alpha / (m - rank + 1)``, excludes zero.

    Args:
        differences: ``(n,)`` per-replicate paired differences (method minus reference), by
            name; n >= 2.
        alpha: Family-wise error rate.

    Returns:
        A :class:`Verdict` per name (its interval: Student's, at Holm's level).
    """
    names = list(differences)
    if not names:
        return {}
    moments = {k: _student(differences[k]) for k in names}
    scales = {k: float(np.abs(np.asarray(differences[k], dtype=np.float64)).max()) for k in names}
    p = np.array([_t_p_value(*moments[k], scales[k]) for k in names])
    adjusted, rejected = holm(p, alpha)
    ranks = np.empty(len(p), dtype=int)
    ranks[np.argsort(p, kind="stable")] = np.arange(1, len(p) + 1)
    out = {}
    for i, name in enumerate(names):
        interval = student_interval(differences[name], 1 - alpha / (len(p) - ranks[i] + 1))
        judged = verdict(interval) if rejected[i] else VERDICTS[1]
        out[name] = Verdict(interval, float(p[i]), float(adjusted[i]), judged)
    return out
