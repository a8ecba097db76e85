"""Intervals for cross-validated scores: the folds of one cross-validation are not independent.

The folds share most of their training data, so their scores are positively correlated, and an
interval that resamples them as if they were independent (the two-level bootstrap of
:func:`aligninfo.stats.hierarchical_bootstrap_mean` over folds and seeds) is too narrow: on
:func:`synthetic_cv`, whose answer is known, it covers about 0.75 at a nominal 0.95 with 3 folds
and 5 seeds (:func:`cv_coverage` measures it). :class:`CrossValidated` uses instead the
*corrected resampled t* of Nadeau and Bengio (2003), which Bouckaert and Frank (2004) apply to
(repeated) k-fold cross-validation: the mean of the ``J`` per-split scores has its variance
estimated as ``(1 / J + n_test / n_train) s²`` instead of ``s² / J`` (``s²``: the variance of the
scores over splits; ``n_test / n_train = 1 / (k - 1)`` for k folds), with ``J - 1`` degrees of
freedom. Its splits are the folds, each the mean of the seeds run on it
(:meth:`CrossValidated.fold_means`, argued there); and since a seed's training effect can be
shared by all the folds (one pretrained encoder per seed, probed fold by fold), which the
spread of the fold means never sees, the variance of the seed means over the seeds is added
(:meth:`CrossValidated.moments`), and the degrees of freedom become ``min(J - 1, S - 1)`` for
``S`` seeds. It is a heuristic correction, not an exact one; its coverage is measured, not
assumed (:func:`cv_coverage`, on a case whose seed effect is shared by the folds or half
shared). A method trained afresh in each fold (a supervised reference fitted per
fold) shares no seed effect between its folds: each fold mean already carries its training noise,
and the seed term would count it twice (too wide an interval); ``shared=False`` leaves it out for
such a method (:meth:`CrossValidated.moments`)::

    cv = CrossValidated(scores, n_folds=3)        # scores: (methods, seeds, folds)
    CrossValidated(scores, 3, shared=[True, False])  # method 1: a new model in each fold
    cv.interval(0), cv.difference(1, 0)           # Intervals (corrected t, folds + seeds)
    cv.verdicts({"InfoNCE - raw": (1, 0)})        # paired corrected t tests, Holm
    cv_coverage(n_folds=3, n_seeds=5)             # {"bootstrap": ..., "corrected_t": ...}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm
from scipy.stats import t as student_t

from aligninfo.stats import (
    TIE_TOLERANCE,
    VERDICTS,
    Interval,
    Verdict,
    hierarchical_bootstrap_mean,
    holm,
    verdict,
)

__all__ = ["TIE_TOLERANCE", "CrossValidated", "cv_coverage", "synthetic_cv"]

K = TypeVar("K", bound=Hashable)


def _corrected_moments(
    values: NDArray[np.float64], n_folds: int, seed_term: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Mean, corrected standard error and degrees of freedom of cross-validated scores.

    ``se² = (1 / J + 1 / (k - 1)) s²(fold means) + s²(seed means) / S`` (the seed term only
    with ``seed_term`` and two seeds or more), with ``J - 1`` degrees of freedom, or
    ``min(J - 1, S - 1)`` with the seed term, as :meth:`CrossValidated.moments` explains.

    Args:
        values: ``(..., seeds, folds)`` scores, over the last two axes.
        n_folds: Folds of the cross-validation, ``k``.
        seed_term: Add the variance of the seed means (a seed effect shared by the folds).

    Returns:
        ``(...)`` means, ``(...)`` standard errors and the degrees of freedom.
    """
    n_seeds, n_splits = values.shape[-2:]
    folds, seeds = values.mean(axis=-2), values.mean(axis=-1)
    var = (1 / n_splits + 1 / (n_folds - 1)) * folds.var(axis=-1, ddof=1)
    df = n_splits - 1
    if seed_term and n_seeds >= 2:
        var = var + seeds.var(axis=-1, ddof=1) / n_seeds
        df = min(df, n_seeds - 1)
    return values.mean(axis=(-2, -1)), np.sqrt(var), df


@dataclass(frozen=True)
class CrossValidated:
    """Scores of several methods on the same cross-validation splits, corrected-t intervals.

    The mean of a method's ``(seeds, folds)`` scores varies with the folds (the split of the
    data, which the seeds share) and with the seeds (the training). Its variance is estimated
    as the sum of the two (:meth:`moments`): the corrected resampled t's over the fold means,
    ``(1 / J + 1 / (k - 1)) s²_folds``, plus ``s²_seeds / S``, the variance of the seed means
    over the ``S`` seeds. The second term is needed when a seed's training effect is shared by
    all its folds, as when one pretrained encoder per seed is probed fold by fold: that effect
    moves every fold mean alike and is invisible in ``s²_folds``. Degrees of freedom:
    ``J - 1``, or ``min(J - 1, S - 1)`` with the seed term (why: :meth:`moments`).

    With one seed (``S = 1``) the seed term cannot be estimated: the interval is then
    conditional on that one training run (it does not cover the variation between seeds;
    :attr:`over_seeds` is False). A method that ignores the seed (raw inputs, its one run
    repeated on every seed row) has ``s²_seeds = 0`` and gets the interval of its folds.

    Attributes:
        scores: ``(methods, seeds, folds)`` score of each method on each held-out fold, for
            each training seed (all methods on the same folds: differences are paired). A
            method that does not depend on the seed (raw inputs) repeats its one run on every
            seed row.
        n_folds: Folds of the cross-validation (``n_test / n_train = 1 / (n_folds - 1)``).
        bounds: The range of a score (e.g. ``(0, 1)`` for an accuracy), to which intervals are
            clipped (a t interval can leave it; the clipped interval covers as often); None:
            no clipping.
        shared: Whether each method's seed effect is shared by its folds (one trained model
            per seed, read by every fold), one flag for all methods or one per method. False:
            a method trained afresh in each (seed, fold), or one that ignores the seed; its
            interval, and that of a difference of two such methods, has no seed term
            (:meth:`moments`).
    """

    scores: NDArray[np.float64]
    n_folds: int
    bounds: tuple[float, float] | None = None
    shared: bool | Sequence[bool] = True

    def __post_init__(self) -> None:
        s = np.asarray(self.scores, dtype=np.float64)
        if s.ndim != 3 or s.shape[1] < 1 or s.shape[2] < 2 or not np.all(np.isfinite(s)):
            raise ValueError(
                f"scores must be finite (methods, seeds >= 1, folds >= 2), got {s.shape}"
            )
        if self.n_folds < 2:
            raise ValueError(f"n_folds must be at least 2, got {self.n_folds}")
        if s.shape[2] != self.n_folds:
            raise ValueError(
                f"scores must be (methods, seeds, folds) with one column per fold: {s.shape} "
                f"has {s.shape[2]} columns for n_folds={self.n_folds} (transposed?)"
            )
        self._check_bounds(s)
        flags = np.asarray(self.shared, dtype=bool)
        if flags.ndim > 1 or (flags.ndim == 1 and len(flags) != len(s)):
            raise ValueError(f"shared needs one flag or one per method ({len(s)}), got {flags}")
        object.__setattr__(self, "scores", s)
        object.__setattr__(self, "shared", tuple(np.broadcast_to(flags, len(s)).tolist()))

    def _check_bounds(self, scores: NDArray[np.float64]) -> None:
        """Raise a ValueError unless ``bounds`` is None or a finite ``low < high`` of all scores."""
        if self.bounds is None:
            return
        low, high = self.bounds
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"bounds must be finite with low < high, got {self.bounds}")
        if scores.min() < low or scores.max() > high:
            raise ValueError(
                f"scores lie in [{scores.min():g}, {scores.max():g}], outside bounds {self.bounds}"
            )

    @property
    def estimate(self) -> NDArray[np.float64]:
        """``(methods,)`` mean score over seeds and folds."""
        return self.scores.mean(axis=(1, 2))

    @property
    def over_seeds(self) -> bool:
        """Whether the intervals include the variation between seeds (two seeds or more)."""
        return self.scores.shape[1] >= 2

    def _values(self, a: int, b: int | None) -> NDArray[np.float64]:
        """``(seeds, folds)`` scores of ``a`` (minus those of ``b``)."""
        return self.scores[a] - (0.0 if b is None else self.scores[b])

    def fold_means(self, a: int, b: int | None = None) -> NDArray[np.float64]:
        """``(folds,)`` mean over seeds of each fold's score of ``a`` (minus that of ``b``).

        The folds, not the (seed, fold) pairs, are the replicates of the corrected t: the
        seeds run on the same folds and add no split of the data. Counting seeds x folds as
        ``J`` overstates the replicates most where the seeds barely change the score: a method
        that ignores the seed repeats each fold's value on every seed row (``J = 15``
        replicates of 3 values at 3 folds x 5 seeds), and its 95 % interval covered 0.84-0.86
        on :func:`synthetic_cv`.
        """
        return np.asarray(self._values(a, b).mean(axis=0), dtype=np.float64)

    def seed_means(self, a: int, b: int | None = None) -> NDArray[np.float64]:
        """``(seeds,)`` mean over folds of each seed's score of ``a`` (minus that of ``b``)."""
        return np.asarray(self._values(a, b).mean(axis=1), dtype=np.float64)

    def moments(self, a: int, b: int | None = None) -> tuple[float, float, int]:
        """Mean, standard error and degrees of freedom of ``a``'s mean score (minus ``b``'s).

        ``se² = (1 / J + 1 / (k - 1)) s²(fold means) + s²(seed means) / S``, with
        ``min(J - 1, S - 1)`` degrees of freedom; no seed term with one seed, nor when neither
        ``a`` nor ``b`` is :attr:`shared` (fold means only, ``J - 1`` degrees of freedom). Both
        terms count the (seed, fold) noise, and the first inflates it by Nadeau and Bengio's
        factor, so the estimate errs wide.

        Degrees of freedom: ``s²(seed means)`` rests on ``S - 1`` of them, so where the seed
        term dominates and the seeds are fewer than the folds, ``J - 1`` is too many: 5 folds
        x 2 seeds covered 0.78 and 0.69 at a seed noise of 1.5 and 3 with ``J - 1``. A
        Welch-Satterthwaite count from the two estimated terms raised that only to about 0.81
        and 0.76, capped at ``J - 1`` or not (with one or two degrees of freedom the seed term
        is often small by chance, and the count then large), and uncapped it undercovers
        where the seeds are many (3 folds x 5 seeds at a noise of 1.5 to 3: 0.96 to 0.91,
        where ``J - 1`` gives 0.99 to 0.94). So ``min(J - 1, S - 1)``: the same as ``J - 1``
        where ``S >= J``, wider where ``S < J`` (the t quantile 3.0 and 4.6 times ``J - 1``'s
        with 2 seeds and 3 or 5 folds, even when the seed effect is small).

        Why a method trained afresh in each fold (``shared`` False) has no seed term: its
        training noise is new in every (seed, fold), so it already spreads the fold means
        (``s²(fold means)`` holds it divided by ``S``, and the factor above counts it), and
        ``s²(seed means) / S`` would add it a second time. A difference with a shared method
        keeps the term (the shared method's seed effect moves every fold alike).

        Measured 95 % coverage (:func:`cv_coverage`, 1,000 simulated cross-validations per
        cell, Monte Carlo s.e. about 0.007; ``seed_noise`` 0, 0.5, 1, 1.5, 2, 3; at 1 and 2 the
        seed means spread about 3 and 6 times as much as the fold means with 3 folds x 5 seeds):

        - seed effect fully shared by the folds (``shared=1``): 3 folds x 5 seeds 0.95-0.995,
          5 x 10 0.97-0.99; 2 seeds, 3 or 5 folds, 0.95-1.0 up to a noise of 2 (with ``J - 1``
          degrees of freedom: 0.75-0.83 at 2), 0.86-0.88 at 3; 3 seeds 0.92-0.995 up to 2,
          0.85-0.86 at 3; 5 x 5 0.93-0.99 up to 2, 0.90 at 3. The large noises undercover
          whatever the degrees of freedom while the seeds are few: the accuracy saturates at
          chance, seeds that all land near it agree, and their small spread makes an interval
          that misses low (5 x 5 at 3: 6.8 % of the intervals miss low, 1.6 % high). 1 seed
          (no seed term, an interval conditional on the run; 3 folds) 0.95-0.98 up to 0.5,
          then 0.77 and 0.48 at 1 and 2. The fold means alone (the interval before the seed
          term) covered 0.88 and 0.70 at 1 and 2 with 3 folds x 5 seeds.
        - half shared (``shared=0.5``): 0.97-1.0 in every cell above; 1 seed 0.89-0.98.
        - a new model per fold (``shared=0``, ``seed_noise`` 0, 0.3, 0.7, 1.5, 3, 3 folds):
          without the seed term (``shared=False`` here) 5 seeds 0.97-0.98, 2 seeds 0.96-0.98;
          with it 0.99-1.0 (too wide).
        """
        flags = np.asarray(self.shared)  # (methods,) after __post_init__
        seed_term = bool(flags[a] or (b is not None and flags[b]))
        mean, se, df = _corrected_moments(self._values(a, b), self.n_folds, seed_term)
        return float(mean), float(se), df

    def _t_interval(self, a: int, b: int | None, level: float) -> Interval:
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        mean, se, df = self.moments(a, b)
        half = float(student_t.ppf((1 + level) / 2, df)) * se
        return Interval(mean, mean - half, mean + half, level)

    def _p_value(self, a: int, b: int) -> float:
        """Two-sided p-value of the corrected t test of a zero mean difference ``a - b``.

        Paired scores whose difference does not spread (a standard error of at most
        :data:`TIE_TOLERANCE` times the largest score of ``a`` and ``b``: zero up to rounding)
        give 1, as :func:`aligninfo.stats.seed_verdicts` does: a t statistic needs a spread,
        and a constant difference over a few folds and seeds is a tie, not a decided one.
        """
        mean, se, df = self.moments(a, b)
        if se <= TIE_TOLERANCE * float(np.abs(self.scores[[a, b]]).max()):
            return 1.0
        return float(2 * student_t.sf(abs(mean) / se, df))

    def interval(self, method: int, level: float = 0.95) -> Interval:
        """Corrected t interval of one method's mean score (within ``bounds``)."""
        return self._clip(self._t_interval(method, None, level))

    def difference(self, a: int, b: int, level: float = 0.95) -> Interval:
        """Paired corrected t interval of ``score[a] - score[b]`` (same splits and seeds)."""
        return self._clip(self._t_interval(a, b, level), difference=True)

    def _clip(self, ci: Interval, difference: bool = False) -> Interval:
        """``ci`` within ``bounds``, or within ``±(high - low)`` for a difference."""
        if self.bounds is None:
            return ci
        low, high = self.bounds
        if difference:
            low, high = low - high, high - low
        return Interval(ci.estimate, max(ci.low, low), min(ci.high, high), ci.level)

    def verdicts(
        self,
        pairs: Mapping[K, tuple[int, int]],
        alpha: float = 0.05,
        family: Callable[[K], Hashable] | None = None,
    ) -> dict[K, Verdict]:
        """Judge paired differences ``a - b``: corrected t tests, Holm at ``alpha`` per family.

        A difference is a cost or a gain only when Holm's procedure rejects it within its
        family and its corrected t interval (:meth:`moments` of the paired scores) at Holm's
        level ``1 - alpha / (m - rank + 1)`` excludes zero.

        Args:
            pairs: ``(a, b)`` method indices of each difference, by key.
            alpha: Family-wise error rate of every family.
            family: Maps a key to the name of its Holm family (None: one family of all), as
                :func:`aligninfo.stats.family_verdicts` does for bootstrap draws.

        Returns:
            A :class:`~aligninfo.stats.Verdict` per key, in the order of ``pairs``.
        """
        members: dict[Hashable, list[K]] = {}
        for key in pairs:
            members.setdefault(None if family is None else family(key), []).append(key)
        out: dict[K, Verdict] = {}
        for keys in members.values():
            p = np.array([self._p_value(*pairs[k]) for k in keys])
            adjusted, rejected = holm(p, alpha)
            ranks = np.empty(len(keys), dtype=int)
            ranks[np.argsort(p, kind="stable")] = np.arange(1, len(keys) + 1)
            for i, key in enumerate(keys):
                ci = self._t_interval(*pairs[key], 1 - alpha / (len(keys) - ranks[i] + 1))
                judged = verdict(ci) if rejected[i] else VERDICTS[1]
                out[key] = Verdict(ci, float(p[i]), float(adjusted[i]), judged)
        return {key: out[key] for key in pairs}


def synthetic_cv(
    rng: np.random.Generator,
    n_folds: int,
    n_seeds: int,
    per_class_fold: int = 50,
    separation: float = 1.0,
    seed_noise: float = 0.1,
    shared: float = 0.5,
) -> tuple[NDArray[np.float64], float]:
    """A cross-validated accuracy whose expected value is known in closed form.

    Two classes on a line, ``x ~ N(±separation, 1)``, ``per_class_fold`` samples of each class
    in each of ``n_folds`` stratified folds. The classifier thresholds ``x`` at the midpoint of
    the two training class means plus a training noise of variance ``seed_noise²``: a seed
    effect shared by all the folds of a seed (a share ``shared`` of that variance; ``1``:
    chapter 9's structure, one pretrained encoder per seed that every fold's probe reads)
    and a (seed, fold) effect (the rest). With ``m`` training samples per class the threshold is
    ``N(0, 1 / (2 m) + seed_noise²)``, so the expected accuracy of the procedure is
    ``Φ(separation / sqrt(1 + 1 / (2 m) + seed_noise²))``: the quantity a cross-validated
    mean estimates (for training sets of the folds' size).

    Args:
        rng: Source of the data and the training noise.
        n_folds: Folds (at least 2).
        n_seeds: Training seeds, each run on every fold.
        per_class_fold: Samples of each class in each fold.
        separation: Half the distance between the class means.
        seed_noise: Standard deviation of the training noise of the threshold.
        shared: Share of the training noise's variance common to the folds of a seed, in
            ``[0, 1]``.

    Returns:
        ``(n_seeds, n_folds)`` accuracy on each held-out fold, and the expected accuracy.
    """
    if not 0 <= shared <= 1:
        raise ValueError(f"shared must lie in [0, 1], got {shared}")
    m = per_class_fold * (n_folds - 1)
    fold = np.tile(np.arange(n_folds), per_class_fold)
    x = {c: sign * separation + rng.standard_normal(len(fold)) for c, sign in ((0, -1), (1, 1))}
    common = rng.normal(0, seed_noise * np.sqrt(shared), n_seeds)
    acc = np.empty((n_seeds, n_folds))
    for f in range(n_folds):
        train, test = fold != f, fold == f
        middle = (x[0][train].mean() + x[1][train].mean()) / 2
        t = middle + common + rng.normal(0, seed_noise * np.sqrt(1 - shared), n_seeds)
        hits = (x[1][test][None] > t[:, None]).sum(1) + (x[0][test][None] <= t[:, None]).sum(1)
        acc[:, f] = hits / (2 * per_class_fold)
    truth = float(norm.cdf(separation / np.sqrt(1 + 1 / (2 * m) + seed_noise**2)))
    return acc, truth


def cv_coverage(
    n_folds: int,
    n_seeds: int,
    n_rep: int = 400,
    level: float = 0.95,
    n_boot: int = 400,
    seed: int = 0,
    bootstrap: bool = True,
    assume_shared: bool = True,
    **case: float,
) -> dict[str, float]:
    """Measured coverage of the two intervals of a cross-validated mean on :func:`synthetic_cv`.

    Args:
        n_folds: Folds of each cross-validation.
        n_seeds: Seeds per cross-validation.
        n_rep: Simulated cross-validations.
        level: Nominal coverage of both intervals.
        n_boot: Draws of each bootstrap.
        seed: Seed of the simulation.
        bootstrap: Also measure the bootstrap's coverage (False: only the corrected t's, a
            fraction of the cost).
        assume_shared: The ``shared`` flag of the :class:`CrossValidated` interval (False: no
            seed term, for a method trained afresh in each fold, ``case["shared"] = 0``).
        **case: Settings of :func:`synthetic_cv` (``per_class_fold``, ``separation``,
            ``seed_noise``, ``shared``).

    Returns:
        ``{"bootstrap": ..., "corrected_t": ...}``: the share of simulated cross-validations
        whose interval holds the expected accuracy (the two-level bootstrap over folds and
        seeds, and :meth:`CrossValidated.interval`; without ``bootstrap``, the latter only),
        and ``"n_rep"``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    runs = [synthetic_cv(rng, n_folds, n_seeds, **case) for _ in range(n_rep)]  # type: ignore[arg-type]
    acc, truth = np.array([a for a, _ in runs]), runs[0][1]  # (n_rep, seeds, folds)
    mean, se, df = _corrected_moments(acc, n_folds, assume_shared)
    half = float(student_t.ppf((1 + level) / 2, df)) * se
    covered = (mean - half <= truth) & (truth <= mean + half)
    out = {"corrected_t": float(np.mean(covered)), "n_rep": n_rep}
    if not bootstrap:
        return out
    hits = 0
    for r in range(n_rep):
        boot = hierarchical_bootstrap_mean(acc[r], n_boot, seed + r).interval(0, level)
        hits += boot.low <= truth <= boot.high
    return {"bootstrap": hits / n_rep, **out}
