"""Should I align my two sensors? A diagnosis of a paired data set, before any training.

:func:`diagnose` reads two modalities X1, X2 (rows paired) and optionally a target Y, and
reports what the theory chapters predict an alignment objective would do to them:

- **Canonical correlations** of the standardised modalities with bootstrap intervals, and the
  same canonical pairs' correlations out of fold (fitted on the other folds): a correlation
  that holds out of fold is a property of the sensors, one that does not is overfitting.
- **The alignment ceiling** (chapter 3): the aligned representation of X_m is spanned by its
  top-k canonical variates (unless given, k = the leading pairs whose out-of-fold correlation
  exceeds :data:`RHO_MIN` with a bootstrap interval above 0: a pair that holds out of fold
  only by chance would hide a loss). Out-of-fold R² of Y from X_m and from those variates; their
  difference is what alignment would cost a linear read-out of Y, and its share of R²(Y | X_m),
  the *lost share*, is the data's counterpart of the model's unique share (proportional to it,
  theorem ``thm-linear-cost`` of chapter 5).
- **An estimated PID** (:mod:`aligninfo.pid`) on copula-normalised features (each column
  replaced by the normal scores of its ranks) with a bootstrap interval; each log-determinant
  is corrected by its exact Gaussian bias (:func:`aligninfo.pid.logdet_bias`).
- **The regime map** of chapter 5 for the data's own sensors: the cost
  Δ_σ = R²_σ(X1) - R²_σ(aligned limit) of σ-informativeness (an embedding with room for all of
  X1; the aligned limit spends its whole budget on the top-k canonical variates) over the
  unique share u (the target's cross-covariance with X1 moved between the aligned directions
  and the rest at fixed R²(Y | X1), everything else as estimated) and the read-out noise σ,
  with the data placed at its estimated share.
- **Kamai et al.'s phase diagram** (:mod:`aligninfo.diagnose.phase`): which canonical pairs
  and cross-prediction directions carry the task (signal) or not (nuisance), whether
  alignment and cross-prediction of that size keep the signal (the four regimes; *unsettled*
  on a tie, *not placed* without signal), with the share of resamples that agree (an upper
  bound: the folds are not refitted per resample), the placement of each fold assignment and
  at other signal shares, and the data's point on chapter 12's diagram. Cross-prediction sees
  X2 standardised, or as given (``x2_scale``).
- **A recommendation**: *align*, *align + specificity* (an alignment objective plus a term that
  keeps modality-specific variance, chapter 6) or *do not align*, with the numbers it rests on.

Every interval resamples rows, or whole groups (e.g. sites) when ``groups`` is given, and
cross-validation folds never split a group; identical rows count as one group. Groups too few
to hold out (``resample_groups``: Houston's scan-order polygons) are resampled while the folds
split them; groups of one class each are drawn within their class. Out-of-fold
quantities are averaged over :data:`N_REPEATS` fold assignments. The intervals are conditional
on k (the lost share moves with it: ``r2_aligned_curve`` has every k). Columns are
standardised once on all rows, a rescaling to which least squares and CCA are invariant (up to
their tiny ridges), so nothing of the held-out rows reaches a fold's fits; k is chosen from X1
and X2 alone, never from Y. R² intervals resample the held-out rows of fixed out-of-fold
predictions (as chapter 8's site bootstrap does); in-sample statistics (canonical
correlations, PIDs) are recomputed on each resample and reported as the estimate plus the
bootstrap spread (resampling duplicates rows, which shifts log-determinants).

Example::

    d = diagnose(x1, x2, y, groups=sites, n_boot=200)
    print(d.recommendation, d.reasons)
    d.save("out/")  # diagnosis.json and diagnosis.png

The subpackage's modules, by concern: :mod:`~aligninfo.diagnose.inputs` (reading and
checking), :mod:`~aligninfo.diagnose.estimates` (out-of-fold fits, resamples),
:mod:`~aligninfo.diagnose.regime` (the regime map), :mod:`~aligninfo.diagnose.recommend`
(the recommendation and its sentences), :mod:`~aligninfo.diagnose.report` (the record) and
:mod:`~aligninfo.diagnose.figure`, with :func:`diagnose` in :mod:`~aligninfo.diagnose.core`
and the thresholds in :mod:`~aligninfo.diagnose.settings`.
"""

from aligninfo.diagnose.core import diagnose
from aligninfo.diagnose.estimates import copula_normal
from aligninfo.diagnose.figure import plot
from aligninfo.diagnose.inputs import (
    LOADERS,
    DiagnoseInputError,
    NamedPair,
    load_named,
    read_array,
    read_labels,
)
from aligninfo.diagnose.phase import PhasePlacement
from aligninfo.diagnose.regime import RegimeMap
from aligninfo.diagnose.report import Diagnosis
from aligninfo.diagnose.settings import RECOMMENDATIONS

__all__ = [
    "LOADERS",
    "RECOMMENDATIONS",
    "Diagnosis",
    "DiagnoseInputError",
    "NamedPair",
    "PhasePlacement",
    "RegimeMap",
    "copula_normal",
    "diagnose",
    "load_named",
    "plot",
    "read_array",
    "read_labels",
]
