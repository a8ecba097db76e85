"""The data placed on Kamai et al.'s phase diagram: does alignment, or prediction, find the task?

Kamai et al. 2026 (arXiv:2606.11190), and theorem ``thm-nuisance`` of chapter 12 in the
book's model, split the common variation of two modalities into *signal* (what the task reads)
and *nuisance* (seen by both, ignored by the task). Alignment (CCA) of size d_s keeps the signal
iff every signal canonical correlation exceeds every nuisance one, Δ_align = min ρ_signal /
max ρ_nuisance > 1; cross-prediction (reduced-rank regression of X2 on X1) likewise with its
singular values, Δ_pred > 1. The two answers give the four regimes of
:data:`aligninfo.nuisance.REGIMES`.

The estimator (our choice, written for this library; Kamai et al. estimate their parameters
with other steps):

1. the spectra: each canonical pair's out-of-fold correlation, and each cross-prediction
   direction's out-of-fold value (the root of the variance of the standardised X2 that its
   held-out feature explains), directions fitted on the other folds;
2. the split: a component is *signal* when its held-out variate of X1 adds more than
   :data:`~aligninfo.diagnose.settings.SIGNAL_SHARE` of the out-of-fold R²(Y | X1) to the
   out-of-fold R² of Y (the gain of the top-j over the top-(j-1) variates; they are
   uncorrelated, so the gains add up) and the gain's bootstrap interval lies above 0, else
   *nuisance*;
3. the floor: a canonical pair that does not hold out of fold by the rule that chooses k
   (:func:`~aligninfo.diagnose.estimates.holds`: correlation above
   :data:`~aligninfo.diagnose.settings.RHO_MIN`, interval above 0) cannot be told from noise,
   and its correlation counts as RHO_MIN, signal or nuisance (without this, pure-noise pairs
   set the nuisance floor near 0 and inflate Δ_align, e.g. when the signal and a nearby
   nuisance share two pairs and both are read as signal);
4. Δ_align and Δ_pred from the split spectra (infinite when no component is nuisance, NaN, a
   tie, when the smallest signal and the largest nuisance correlation are both at the noise
   floor), and the regime: *unsettled* on a tie, *not placed* when no component carries the
   task (or there is a single canonical pair: nothing to compare); a placement is not
   *settled* when an interval of Δ contains 1, when undoing a leak between two tied signal
   components (adjacent values not separated by the data: the one that gains less counted as
   nuisance) moves it, or when no component of one method carries the task while the other's
   do (that method's Δ is 0 for want of evidence, not because it loses the signal);
5. the resamples of the diagnosis (groups or rows reweighting the fixed out-of-fold values)
   repeat steps 2-4, which gives intervals and the share of resamples in each regime; the
   folds, directions and holding pairs are not refitted per resample, so the agreeing share
   is an upper bound on how sure the placement is
   (:data:`~aligninfo.diagnose.settings.PLACEMENT_SHARES`); each fold assignment's own
   placement (refitted) and the placement at other signal shares are reported too.

On the diagram of chapter 12 (one signal and one nuisance coordinate, noise variance γ^s = 1 on
the signal of both, γ_x^n = 1) the data sit at the point with the same alignment answer: the
signal strength κ whose correlation κ²/(κ² + 1) is the smallest signal correlation, and the
nuisance correlation ν, the largest nuisance one; ``gamma_y_n`` is the nuisance variance in X2
that puts the prediction boundary where the data's Δ_pred does. Cross-prediction is not
invariant to the scale of X2's columns: by default the values are those of the standardised
columns, the scale a prediction objective sees after the usual per-feature normalisation;
``x2_scale="as given"`` keeps the columns' own scale (Kamai et al.'s setting, in which a loud
column of X2 draws the prediction), and the regime can differ between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.stats import norm

from aligninfo.diagnose.settings import RHO_MIN, SIGNAL_SHARE, SIGNAL_SHARES_CHECKED
from aligninfo.linalg import Array
from aligninfo.nuisance import REGIMES
from aligninfo.stats import Interval

__all__ = ["PLACEMENTS", "PhasePlacement", "Spectra", "place", "regime_of", "separation"]

PLACEMENTS = (*REGIMES, "unsettled", "not placed")
"""The four regimes, a tie (*unsettled*) and no placement (no component carries the task)."""


@dataclass(frozen=True)
class PhasePlacement:
    """Where the data sit on Kamai et al.'s phase diagram (see the module docstring).

    Attributes:
        rho: Out-of-fold canonical correlations, shape (k_max,).
        cross_prediction: Out-of-fold cross-prediction values, shape (k_max,).
        gain_alignment: Out-of-fold R² of Y gained by each canonical variate of X1.
        gain_prediction: The same for each cross-prediction feature of X1.
        signal_alignment: Which canonical pairs are signal (gain above the threshold).
        signal_prediction: Which cross-prediction directions are signal.
        holds: Which canonical pairs hold out of fold (the rule that chooses k).
        delta_alignment: min signal / max nuisance canonical correlation, with its interval.
        delta_prediction: The same for the cross-prediction values.
        regime: One of :data:`PLACEMENTS`.
        regime_shares: Share of the resamples placed in each of :data:`PLACEMENTS` (an upper
            bound on the agreement, see :data:`~aligninfo.diagnose.settings.PLACEMENT_SHARES`).
        kappa: The diagram's signal strength κ (γ^s = 1) with the smallest signal correlation
            (NaN without signal).
        nu: The diagram's nuisance correlation ν, the largest nuisance correlation.
        gamma_y_n: The nuisance variance in X2 (γ_x^n = 1) whose prediction boundary passes
            where the data's Δ_pred puts it (NaN when undefined: no signal or no nuisance).
        threshold: The R² gain above which a component is signal (share × R²(Y | X1)).
        signal_share: The share of R²(Y | X1) that defines the threshold.
        x2_scale: How cross-prediction saw X2's columns: "standardised" or "as given".
        sensitivity: The regime at each share of :data:`SIGNAL_SHARES_CHECKED` (keys "0.05").
        repeat_regimes: The regime of each fold assignment's own placement (refitted folds).
        untied_regime: The regime when, of two signal components tied in value (adjacent,
            their difference's interval containing 0), the one that gains less counts as
            nuisance: near-equal correlations let the task leak from one direction into the
            other, which reads a nuisance as signal and inflates Δ. Equal to ``regime`` when
            no such tie moves it; "" when not computed.
    """

    rho: list[float]
    cross_prediction: list[float]
    gain_alignment: list[float]
    gain_prediction: list[float]
    signal_alignment: list[bool]
    signal_prediction: list[bool]
    holds: list[bool]
    delta_alignment: Interval
    delta_prediction: Interval
    regime: str
    regime_shares: dict[str, float]
    kappa: Interval
    nu: Interval
    gamma_y_n: float
    threshold: float
    signal_share: float = SIGNAL_SHARE
    x2_scale: str = "standardised"
    sensitivity: dict[str, str] = field(default_factory=dict)
    repeat_regimes: list[str] = field(default_factory=list)
    untied_regime: str = ""

    @property
    def sureness(self) -> float:
        """Share of the resamples placed in the same regime as the data (an upper bound)."""
        return self.regime_shares[self.regime]

    @property
    def majority(self) -> str:
        """The placement most resamples agree on (ties: the data's own, then the first)."""
        best = max(self.regime_shares.values())
        if self.regime_shares[self.regime] == best:
            return self.regime
        return next(r for r, s in self.regime_shares.items() if s == best)

    @property
    def settled(self) -> bool:
        """Placed in a regime, no Δ interval holding 1, no tie moving it, and no one_sided."""
        if self.regime not in REGIMES or self.untied_regime not in ("", self.regime):
            return False
        if self.one_sided:
            return False
        return not any(d.low <= 1 <= d.high for d in (self.delta_alignment, self.delta_prediction))

    @property
    def one_sided(self) -> str:
        """The method with no signal component while the other has one ("" when none).

        "alignment" or "prediction": that method's Δ is then 0 for want of a signal component,
        which is no evidence that it loses the signal (the signal lies in some of its
        directions, undetected: e.g. a weak task, few rows).
        """
        a, p = any(self.signal_alignment), any(self.signal_prediction)
        return "" if a == p else "prediction" if a else "alignment"

    @property
    def weak_signal(self) -> list[int]:
        """Signal canonical pairs (1-based) that do not hold out of fold (too weakly shared)."""
        pairs = zip(self.signal_alignment, self.holds, strict=True)
        return [j + 1 for j, (s, h) in enumerate(pairs) if s and not h]


class Spectra(NamedTuple):
    """Out-of-fold spectra and R² curves of the data (row 0) and its resamples (rows 1..).

    Attributes:
        rho: Canonical correlations, shape (rows, k_max).
        cross: Cross-prediction values, shape (rows, k_max).
        curve_alignment: R² of Y from the top-j canonical variates of X1, j = 1..k_max.
        curve_prediction: The same from the top-j cross-prediction features of X1.
        r2_x1: R²(Y | X1), shape (rows,).
    """

    rho: Array
    cross: Array
    curve_alignment: Array
    curve_prediction: Array
    r2_x1: Array


def separation(values: Array, signal: Array, holds: Array | None = None) -> float:
    """min(values[signal]) / max(values[~signal]): inf without nuisance, NaN on a noise tie.

    Values are clipped at 0 (an out-of-fold correlation can come out slightly negative). A
    component that does not hold (``holds`` False) counts as RHO_MIN, the noise floor; when
    the smallest signal value and the largest nuisance value are both that floor, the ratio is
    a tie (NaN). Without ``holds`` every component holds. Without signal, 0.
    """
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    s = np.asarray(signal, dtype=bool)
    h = np.ones_like(s) if holds is None else np.asarray(holds, dtype=bool)
    if not s.any():
        return 0.0
    v = np.where(h, v, RHO_MIN)
    if not (~s).any():
        return float("inf")
    i, j = np.flatnonzero(s)[v[s].argmin()], np.flatnonzero(~s)[v[~s].argmax()]
    if not (h[i] or h[j]):
        return float("nan")
    return float("inf") if v[j] <= 0 else float(v[i] / v[j])


def regime_of(delta_alignment: float, delta_prediction: float) -> str:
    """The regime: which of alignment (Δ_align > 1) and prediction (Δ_pred > 1) recover.

    A tie (NaN) of either is *unsettled*.
    """
    if np.isnan(delta_alignment) or np.isnan(delta_prediction):
        return "unsettled"
    return REGIMES[2 * (not delta_alignment > 1) + (not delta_prediction > 1)]


def _coordinates(rho: Array, signal: np.ndarray, holds: np.ndarray) -> tuple[float, float]:
    """(κ, ν) on the diagram: κ²/(κ² + 1) is the smallest signal correlation.

    ν is the largest nuisance correlation (0 without nuisance); κ is NaN without signal.
    Pairs that do not hold count as RHO_MIN, as in :func:`separation`.
    """
    v = np.where(holds, np.clip(np.asarray(rho, dtype=np.float64), 0.0, 1 - 1e-9), RHO_MIN)
    nu = float(v[~signal].max()) if (~signal).any() else 0.0
    if not signal.any():
        return float("nan"), nu
    low = float(v[signal].min())
    return float(np.sqrt(low / (1 - low))), nu


def _interval(estimate: float, draws: Array, level: float) -> Interval:
    """Percentile interval that allows infinite draws (no interpolation between draws)."""
    d = np.asarray(draws, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size < 2:
        return Interval(float(estimate), float("nan"), float("nan"), level)
    q = np.quantile(d, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return Interval(float(estimate), float(q[0]), float(q[1]), level)


def _signal(gain: Array, r2_x1: Array, share: float, holds_over: np.ndarray) -> np.ndarray:
    """Signal components of each row: gain above share × R²(Y | X1) (> 0), interval above 0."""
    threshold = share * np.asarray(r2_x1, dtype=np.float64)[:, None]
    return (gain > threshold) & (threshold > 0) & holds_over[None, :]


def _regimes(
    s: Spectra, holds: np.ndarray, share: float, above: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Array, Array, list[str]]:
    """Signal splits, separations and regimes of every row of the spectra at one share."""
    gain_a = np.diff(s.curve_alignment, axis=1, prepend=0.0)
    gain_p = np.diff(s.curve_prediction, axis=1, prepend=0.0)
    sig_a = _signal(gain_a, s.r2_x1, share, above[0])
    sig_p = _signal(gain_p, s.r2_x1, share, above[1])
    deltas, regimes = _split_regimes(s, holds, sig_a, sig_p)
    return sig_a, sig_p, gain_a, gain_p, deltas, regimes


def _split_regimes(
    s: Spectra, holds: np.ndarray, sig_a: np.ndarray, sig_p: np.ndarray
) -> tuple[Array, list[str]]:
    """Separations (shape (2, rows)) and regimes of every row, given the signal splits."""
    da = np.array([separation(r, g, holds) for r, g in zip(s.rho, sig_a, strict=True)])
    dp = np.array([separation(c, g) for c, g in zip(s.cross, sig_p, strict=True)])
    placed = (sig_a.any(axis=1) | sig_p.any(axis=1)) & (s.rho.shape[1] >= 2)
    regimes = [
        regime_of(a, p) if ok else "not placed" for a, p, ok in zip(da, dp, placed, strict=True)
    ]
    return np.vstack([da, dp]), regimes


def _untied(
    values: Array, signal: np.ndarray, gain: Array, level: float, n: int | None = None
) -> np.ndarray:
    """The signal split with leaks between tied components undone.

    Two components adjacent in value are tied when their difference's bootstrap interval
    contains 0 or, for canonical correlations (``n`` given), when the difference is within
    z sqrt(2) (1 - ρ²) / sqrt(n) (z of the level; the asymptotic standard error of a sample
    canonical correlation is (1 - ρ²) / sqrt(n), which the resamples of fixed directions
    miss): the data do not separate their directions, and the task can leak from one into
    the other. Of two tied signal components, the one that gains less is counted as nuisance.

    Args:
        values: The values of the data (row 0) and of its resamples, shape (rows, k).
        signal: The data's signal split, shape (k,).
        gain: The data's R² gains, shape (k,).
        level: Coverage of the intervals.
        n: Rows, for the asymptotic standard error of canonical correlations; None: none.

    Returns:
        The split, shape (k,).
    """
    order = np.argsort(-values[0])
    z = float(norm.ppf((1 + level) / 2))
    out = signal.copy()
    for i, j in zip(order[:-1], order[1:], strict=True):
        if not (signal[i] and signal[j]):
            continue
        low, high = np.quantile(values[1:, i] - values[1:, j], [(1 - level) / 2, (1 + level) / 2])
        tied = low <= 0 <= high
        if n is not None:
            rho = np.clip((values[0, i] + values[0, j]) / 2, 0.0, 1.0)
            tied |= values[0, i] - values[0, j] <= z * np.sqrt(2) * (1 - rho**2) / np.sqrt(n)
        if tied:
            out[i if gain[i] < gain[j] else j] = False
    return out


def place(
    s: Spectra,
    holds: Sequence[bool] | np.ndarray,
    level: float,
    x2_scale: str = "standardised",
    repeats: Sequence[Spectra] = (),
    n: int | None = None,
) -> PhasePlacement:
    """Place the data (row 0) and each resample (rows 1..) on the phase diagram.

    Args:
        s: The out-of-fold spectra and R² curves of the data and its resamples.
        holds: Which canonical pairs hold out of fold (the rule that chooses k), (k_max,).
        level: Coverage of the intervals (and of the gains' intervals above 0).
        x2_scale: How the cross-prediction values saw X2's columns, for the record.
        repeats: Each fold assignment's own spectra (one row each), placed for the record.
        n: Rows, for the asymptotic ties of canonical correlations (None: bootstrap only).

    Returns:
        The :class:`PhasePlacement`.
    """
    h = np.asarray(holds, dtype=bool)
    above_a, above_p = (
        np.asarray(np.quantile(np.diff(c[1:], axis=1, prepend=0.0), (1 - level) / 2, axis=0) > 0)
        for c in (s.curve_alignment, s.curve_prediction)
    )
    above = (above_a, above_p)
    sig_a, sig_p, gain_a, gain_p, (da, dp), regimes = _regimes(s, h, SIGNAL_SHARE, above)
    kappa, nu = np.array([_coordinates(r, g, h) for r, g in zip(s.rho, sig_a, strict=True)]).T
    shares = {r: float(np.mean([x == r for x in regimes[1:]])) for r in PLACEMENTS}
    first = Spectra(*(np.asarray(a)[:1] for a in s))
    sensitivity = {f"{q:g}": _regimes(first, h, q, above)[-1][0] for q in SIGNAL_SHARES_CHECKED}
    untied = (
        _untied(s.rho, sig_a[0], gain_a[0], level, n)[None],
        _untied(s.cross, sig_p[0], gain_p[0], level)[None],
    )
    return PhasePlacement(
        rho=[float(v) for v in s.rho[0]],
        cross_prediction=[float(v) for v in s.cross[0]],
        gain_alignment=[float(v) for v in gain_a[0]],
        gain_prediction=[float(v) for v in gain_p[0]],
        signal_alignment=[bool(v) for v in sig_a[0]],
        signal_prediction=[bool(v) for v in sig_p[0]],
        holds=[bool(v) for v in h],
        delta_alignment=_interval(da[0], da[1:], level),
        delta_prediction=_interval(dp[0], dp[1:], level),
        regime=regimes[0],
        regime_shares=shares,
        kappa=_interval(kappa[0], kappa[1:], level),
        nu=_interval(nu[0], nu[1:], level),
        gamma_y_n=_gamma_y_n(float(kappa[0]), float(nu[0]), float(dp[0])),
        threshold=float(SIGNAL_SHARE * s.r2_x1[0]),
        x2_scale=x2_scale,
        sensitivity=sensitivity,
        repeat_regimes=[_regimes(r, h, SIGNAL_SHARE, above)[-1][0] for r in repeats],
        untied_regime=_split_regimes(first, h, *untied)[1][0],
    )


def _gamma_y_n(kappa: float, nu: float, delta_prediction: float) -> float:
    """γ_y^n with τ(κ) / (ν sqrt(γ_y^n)) = Δ_pred, τ(κ) = κ² / sqrt(κ² + 1) (γ_x^n = 1)."""
    if not (np.isfinite(kappa) and nu > 0 and 0 < delta_prediction < np.inf):
        return float("nan")
    tau = kappa**2 / np.sqrt(kappa**2 + 1)
    return float((tau / (nu * delta_prediction)) ** 2)
