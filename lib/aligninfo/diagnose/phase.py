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
   :data:`~aligninfo.diagnose.settings.R2_SIGNAL` to the out-of-fold R² of Y (the gain of the
   top-j over the top-(j-1) variates; they are uncorrelated, so the gains add up), else
   *nuisance*;
3. Δ_align and Δ_pred from the split spectra (0 when no component is signal, infinite when
   none is nuisance), and the regime;
4. the resamples of the diagnosis (groups or rows reweighting the fixed out-of-fold values)
   repeat steps 2-3, which gives intervals and the share of resamples in each regime: how
   sure the placement is.

On the diagram of chapter 12 (one signal and one nuisance coordinate, noise variance γ^s = 1 on
the signal of both, γ_x^n = 1) the data sit at the point with the same alignment answer: the
signal strength κ whose correlation κ²/(κ² + 1) is the smallest signal correlation, and the
nuisance correlation ν, the largest nuisance one; ``gamma_y_n`` is the nuisance variance in X2
that puts the prediction boundary where the data's Δ_pred does. Cross-prediction is not
invariant to the scale of X2's columns: the values are those of the standardised columns, the
scale a prediction objective sees after the usual per-feature normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aligninfo.diagnose.settings import R2_SIGNAL
from aligninfo.linalg import Array
from aligninfo.nuisance import REGIMES
from aligninfo.stats import Interval

__all__ = ["PhasePlacement", "place", "regime_of", "separation"]


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
        delta_alignment: min signal / max nuisance canonical correlation, with its interval.
        delta_prediction: The same for the cross-prediction values.
        regime: One of :data:`aligninfo.nuisance.REGIMES`.
        regime_shares: Share of the resamples placed in each regime.
        kappa: The diagram's signal strength κ (γ^s = 1) with the smallest signal correlation
            (NaN without signal).
        nu: The diagram's nuisance correlation ν, the largest nuisance correlation.
        gamma_y_n: The nuisance variance in X2 (γ_x^n = 1) whose prediction boundary passes
            where the data's Δ_pred puts it (NaN when undefined: no signal or no nuisance).
        threshold: The R² gain above which a component is signal.
    """

    rho: list[float]
    cross_prediction: list[float]
    gain_alignment: list[float]
    gain_prediction: list[float]
    signal_alignment: list[bool]
    signal_prediction: list[bool]
    delta_alignment: Interval
    delta_prediction: Interval
    regime: str
    regime_shares: dict[str, float]
    kappa: Interval
    nu: Interval
    gamma_y_n: float
    threshold: float = R2_SIGNAL

    @property
    def sureness(self) -> float:
        """Share of the resamples placed in the same regime as the data."""
        return self.regime_shares[self.regime]


def separation(values: Array, signal: Array) -> float:
    """min(values[signal]) / max(values[~signal]): 0 without signal, inf without nuisance.

    Values are clipped at 0 (an out-of-fold correlation can come out slightly negative).
    """
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    s = np.asarray(signal, dtype=bool)
    if not s.any():
        return 0.0
    floor = float(v[~s].max()) if (~s).any() else 0.0
    return float("inf") if floor <= 0 else float(v[s].min() / floor)


def regime_of(delta_alignment: float, delta_prediction: float) -> str:
    """The regime: which of alignment (Δ_align > 1) and prediction (Δ_pred > 1) recover."""
    return REGIMES[2 * (not delta_alignment > 1) + (not delta_prediction > 1)]


def _coordinates(rho: Array, signal: np.ndarray) -> tuple[float, float]:
    """(κ, ν) on the diagram: κ²/(κ² + 1) is the smallest signal correlation.

    ν is the largest nuisance correlation (0 without nuisance); κ is NaN without signal.
    """
    v = np.clip(np.asarray(rho, dtype=np.float64), 0.0, 1 - 1e-9)
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


def place(
    rho: Array, cross: Array, curve_alignment: Array, curve_prediction: Array, level: float
) -> PhasePlacement:
    """Place the data (row 0) and each resample (rows 1..) on the phase diagram.

    Args:
        rho: Out-of-fold canonical correlations, shape (1 + n_boot, k_max).
        cross: Out-of-fold cross-prediction values, shape (1 + n_boot, k_max).
        curve_alignment: Out-of-fold R² of Y from the top-j canonical variates of X1,
            j = 1..k_max, shape (1 + n_boot, k_max).
        curve_prediction: The same from the top-j cross-prediction features of X1.
        level: Coverage of the intervals.

    Returns:
        The :class:`PhasePlacement`.
    """
    gain_a = np.diff(curve_alignment, axis=1, prepend=0.0)
    gain_p = np.diff(curve_prediction, axis=1, prepend=0.0)
    sig_a, sig_p = gain_a > R2_SIGNAL, gain_p > R2_SIGNAL
    da = np.array([separation(r, s) for r, s in zip(rho, sig_a, strict=True)])
    dp = np.array([separation(c, s) for c, s in zip(cross, sig_p, strict=True)])
    regimes = [regime_of(a, p) for a, p in zip(da, dp, strict=True)]
    kappa, nu = np.array([_coordinates(r, s) for r, s in zip(rho, sig_a, strict=True)]).T
    shares = {r: float(np.mean([x == r for x in regimes[1:]])) for r in REGIMES}
    return PhasePlacement(
        rho=[float(v) for v in rho[0]],
        cross_prediction=[float(v) for v in cross[0]],
        gain_alignment=[float(v) for v in gain_a[0]],
        gain_prediction=[float(v) for v in gain_p[0]],
        signal_alignment=[bool(v) for v in sig_a[0]],
        signal_prediction=[bool(v) for v in sig_p[0]],
        delta_alignment=_interval(da[0], da[1:], level),
        delta_prediction=_interval(dp[0], dp[1:], level),
        regime=regimes[0],
        regime_shares=shares,
        kappa=_interval(kappa[0], kappa[1:], level),
        nu=_interval(nu[0], nu[1:], level),
        gamma_y_n=_gamma_y_n(float(kappa[0]), float(nu[0]), float(dp[0])),
    )


def _gamma_y_n(kappa: float, nu: float, delta_prediction: float) -> float:
    """γ_y^n with τ(κ) / (ν sqrt(γ_y^n)) = Δ_pred, τ(κ) = κ² / sqrt(κ² + 1) (γ_x^n = 1)."""
    if not (np.isfinite(kappa) and nu > 0 and 0 < delta_prediction < np.inf):
        return float("nan")
    tau = kappa**2 / np.sqrt(kappa**2 + 1)
    return float((tau / (nu * delta_prediction)) ** 2)
