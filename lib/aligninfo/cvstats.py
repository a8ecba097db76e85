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
freedom. Its splits are the folds: the training seeds of a method, all run on the same folds,
are averaged within each fold first (:meth:`CrossValidated.fold_means`, argued there). It is a
heuristic correction, not an exact one; its coverage is measured, not assumed::

    cv = CrossValidated(scores, n_folds=3)        # scores: (methods, seeds, folds)
    cv.interval(0), cv.difference(1, 0)           # Intervals (corrected t over the folds)
    cv.verdicts({"InfoNCE - raw": (1, 0)})        # paired corrected t tests, Holm
    cv_coverage(n_folds=3, n_seeds=5)             # {"bootstrap": ..., "corrected_t": ...}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from aligninfo.stats import (
    Interval,
    Verdict,
    hierarchical_bootstrap_mean,
    seed_verdicts,
    student_interval,
)

__all__ = ["CrossValidated", "corrected_replicates", "cv_coverage", "synthetic_cv"]

K = TypeVar("K", bound=Hashable)


def corrected_replicates(values: ArrayLike, test_train_ratio: float) -> NDArray[np.float64]:
    """Per-split scores spread about their mean so that Student's t on them is the corrected t.

    Scaling the deviations from the mean by ``sqrt(1 + J · ratio)`` turns the standard error
    ``s / √J`` of Student's t into ``s · sqrt(1 / J + ratio)``, Nadeau and Bengio's, and keeps
    the mean and the ``J - 1`` degrees of freedom; so :func:`aligninfo.stats.student_interval`
    and :func:`aligninfo.stats.seed_verdicts` applied to the result give the corrected
    resampled t interval and test.

    Args:
        values: ``(J,)`` (or any shape, flattened) score of each split, or paired difference.
        test_train_ratio: ``n_test / n_train`` of one split (``1 / (k - 1)`` for k folds).

    Returns:
        ``(J,)`` replicates with the same mean.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if not test_train_ratio > 0:
        raise ValueError(f"test_train_ratio must be positive, got {test_train_ratio}")
    return v.mean() + (v - v.mean()) * np.sqrt(1 + len(v) * test_train_ratio)


@dataclass(frozen=True)
class CrossValidated:
    """Scores of several methods on the same cross-validation splits, corrected-t intervals.

    Every interval and test reads one replicate per fold, the mean over the seeds of the
    fold's scores (:meth:`fold_means`): ``J = n_folds`` splits, ``J - 1`` degrees of freedom.

    Attributes:
        scores: ``(methods, seeds, folds)`` score of each method on each held-out fold, for
            each training seed (all methods on the same folds: differences are paired). A
            method that does not depend on the seed (raw inputs) repeats its one run on every
            seed row.
        n_folds: Folds of the cross-validation (``n_test / n_train = 1 / (n_folds - 1)``).
        bounds: The range of a score (e.g. ``(0, 1)`` for an accuracy), to which intervals are
            clipped (a t interval can leave it; the clipped interval covers as often); None:
            no clipping.
    """

    scores: NDArray[np.float64]
    n_folds: int
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        s = np.asarray(self.scores, dtype=np.float64)
        if s.ndim != 3 or s.shape[1] < 1 or s.shape[2] < 2 or not np.all(np.isfinite(s)):
            raise ValueError(
                f"scores must be finite (methods, seeds >= 1, folds >= 2), got {s.shape}"
            )
        if self.n_folds < 2:
            raise ValueError(f"n_folds must be at least 2, got {self.n_folds}")
        object.__setattr__(self, "scores", s)

    @property
    def estimate(self) -> NDArray[np.float64]:
        """``(methods,)`` mean score over seeds and folds."""
        return self.scores.mean(axis=(1, 2))

    def fold_means(self, a: int, b: int | None = None) -> NDArray[np.float64]:
        """``(folds,)`` mean over seeds of each fold's score of ``a`` (minus that of ``b``).

        Why the folds, and not the (seed, fold) pairs, are the replicates: the corrected t
        counts the splits of the data, and the seeds of one method all run on the same folds,
        so they add no split; they vary only the training, and the fold's test samples, which
        set most of a fold's score, are shared by its seeds. Counting seeds x folds as ``J``
        overstates the replicates, most of all where the seeds barely change the score: a
        method that ignores the seed (raw inputs) repeats each fold's value on every seed
        row, so ``J = 15`` replicates of 3 values at 3 folds x 5 seeds, and its 95 % interval
        covered 0.84-0.86 on :func:`synthetic_cv`. Averaging the seeds within each fold first,
        for every method alike, counts the folds once whatever the seeds add, and keeps the
        seed noise in the estimate (a seed effect shared by the folds moves every fold mean);
        the measured coverage is then 0.95-0.99 from no seed noise to much
        (:func:`cv_coverage` over ``seed_noise``). The price: ``J - 1`` degrees of freedom,
        so wider intervals at few folds.
        """
        values = self.scores[a] - (0.0 if b is None else self.scores[b])
        return np.asarray(values.mean(axis=0), dtype=np.float64)

    def _replicates(self, a: int, b: int | None = None) -> NDArray[np.float64]:
        return corrected_replicates(self.fold_means(a, b), 1 / (self.n_folds - 1))

    def interval(self, method: int, level: float = 0.95) -> Interval:
        """Corrected resampled t interval of one method's mean score (within ``bounds``)."""
        return self._clip(student_interval(self._replicates(method), level))

    def difference(self, a: int, b: int, level: float = 0.95) -> Interval:
        """Paired corrected t interval of ``score[a] - score[b]`` (same splits)."""
        return self._clip(student_interval(self._replicates(a, b), level), difference=True)

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
        family and its corrected t interval at Holm's level excludes zero
        (:func:`~aligninfo.stats.seed_verdicts` on the corrected replicates).

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
            named = {str(i): self._replicates(*pairs[k]) for i, k in enumerate(keys)}
            judged = seed_verdicts(named, alpha)
            out |= {k: judged[str(i)] for i, k in enumerate(keys)}
        return {key: out[key] for key in pairs}


def synthetic_cv(
    rng: np.random.Generator,
    n_folds: int,
    n_seeds: int,
    per_class_fold: int = 50,
    separation: float = 1.0,
    seed_noise: float = 0.1,
) -> tuple[NDArray[np.float64], float]:
    """A cross-validated accuracy whose expected value is known in closed form.

    Two classes on a line, ``x ~ N(±separation, 1)``, ``per_class_fold`` samples of each class
    in each of ``n_folds`` stratified folds. The classifier thresholds ``x`` at the midpoint of
    the two training class means plus a training noise: a seed effect shared by the folds
    (a pretrained representation) and a (seed, fold) effect, each of variance
    ``seed_noise² / 2``. With ``m`` training samples per class the threshold is
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

    Returns:
        ``(n_seeds, n_folds)`` accuracy on each held-out fold, and the expected accuracy.
    """
    m = per_class_fold * (n_folds - 1)
    fold = np.tile(np.arange(n_folds), per_class_fold)
    x = {c: sign * separation + rng.standard_normal(len(fold)) for c, sign in ((0, -1), (1, 1))}
    shared = rng.normal(0, seed_noise / np.sqrt(2), n_seeds)
    acc = np.empty((n_seeds, n_folds))
    for f in range(n_folds):
        train, test = fold != f, fold == f
        middle = (x[0][train].mean() + x[1][train].mean()) / 2
        t = middle + shared + rng.normal(0, seed_noise / np.sqrt(2), n_seeds)
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
        **case: Settings of :func:`synthetic_cv` (``per_class_fold``, ``separation``,
            ``seed_noise``).

    Returns:
        ``{"bootstrap": ..., "corrected_t": ...}``: the share of simulated cross-validations
        whose interval holds the expected accuracy (the two-level bootstrap over folds and
        seeds, and :meth:`CrossValidated.interval`; without ``bootstrap``, the latter only),
        and ``"n_rep"``.
    """
    rng = np.random.default_rng(seed)
    hits = np.zeros(2)
    for r in range(n_rep):
        acc, truth = synthetic_cv(rng, n_folds, n_seeds, **case)  # type: ignore[arg-type]
        t = CrossValidated(acc[None], n_folds).interval(0, level)
        hits[1] += t.low <= truth <= t.high
        if bootstrap:
            boot = hierarchical_bootstrap_mean(acc, n_boot, seed + r).interval(0, level)
            hits[0] += boot.low <= truth <= boot.high
    out = {"corrected_t": hits[1] / n_rep, "n_rep": n_rep}
    return {"bootstrap": hits[0] / n_rep, **out} if bootstrap else out
