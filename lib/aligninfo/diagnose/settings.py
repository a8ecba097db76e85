"""The diagnosis's fixed settings: sizes, thresholds (each a stated choice) and texts."""

from __future__ import annotations

__all__ = [
    "ALIGN_MAX_LOST",
    "BIAS_CORRECTION",
    "CCA_RIDGE",
    "MAX_CLASSES",
    "MAX_COLUMNS",
    "NO_ALIGN_MIN_LOST",
    "N_FOLDS",
    "N_REPEATS",
    "PLACEMENT_SHARES",
    "RECOMMENDATIONS",
    "RHO_MIN",
    "RHO_NEAR_COPY",
    "SAMPLES_PER_DIM",
    "SIGNAL_SHARE",
    "SIGNAL_SHARES_CHECKED",
    "X2_SCALES",
]

SAMPLES_PER_DIM = 5
"""Refuse fewer than this many rows per column of (X1, X2, Y)."""
MAX_COLUMNS = 1000
"""Refuse more columns of (X1, X2) than this (a choice: each of the n_boot resamples computes
covariances and a CCA of that size; reduce the columns first, e.g. PCA per modality)."""
N_FOLDS = 5
"""Cross-validation folds of the out-of-fold R² and canonical correlations."""
N_REPEATS = 5
"""Fold assignments averaged (repeated cross-validation), so the answer does not hang on one."""
RHO_MIN = 0.1
"""A canonical pair counts as aligned when its out-of-fold correlation exceeds this (a choice:
the smallest correlation worth aligning) *and* its bootstrap interval excludes 0; the aligned
pairs are the leading run of pairs that do (a pair that fails ends the run)."""
ALIGN_MAX_LOST = 0.1
"""Recommend *align* when the lost share's upper bound is below this (a choice: a tenth of
the linear R² is taken as negligible; nothing in the theory fixes it)."""
NO_ALIGN_MIN_LOST = 0.5
"""Recommend *do not align* when the lost share's lower bound is above this (a choice: most of
what X1 predicts would be lost)."""
MAX_CLASSES = 30
"""An integer target with at most this many distinct values is read as classes (auto)."""
CCA_RIDGE = 1e-6
"""Ridge added to standardised covariances before CCA (chapter 8's choice)."""
RECOMMENDATIONS = ("align", "align + specificity", "do not align")
BIAS_CORRECTION = (
    "Mutual informations are Gaussian (log-determinant) entropies of the sample covariance of "
    "copula-normalised features (normal scores of ranks; a one-hot class target is used as "
    "is), each log-determinant corrected by its exact bias under Gaussianity, "
    "E log|C_hat| - log|C| = p log(2/nu) + sum_{i=1..p} digamma((nu - i + 1)/2), nu = n - 1 "
    "(Wishart). The correction is exact for Gaussian data and approximate for copula-normalised "
    "or one-hot data; the MMI split min(I1, I2) biases the redundancy low when I1 and I2 are "
    "close. Intervals: the estimate plus the spread of the statistic over resamples of the "
    "rows (or groups)."
)
SIGNAL_SHARE = 0.05
"""On the phase diagram, a canonical pair (or cross-prediction direction) is *signal* when its
variate of X1 adds more than this share of the out-of-fold R²(Y | X1) to the out-of-fold R² of
Y, with a bootstrap interval of the gain above 0 (a choice: a twentieth of what X1 predicts;
the threshold scales with R²(Y | X1), so a weak task is not read as having no signal, and the
gain must hold over resamples, so noise is not read as signal). Below it a component is
counted as nuisance when it holds out of fold (see RHO_MIN), as noise otherwise."""
SIGNAL_SHARES_CHECKED = (0.02, 0.05, 0.1, 0.2)
"""Shares at which the placement is recomputed, to show how it moves with SIGNAL_SHARE."""
RHO_NEAR_COPY = 0.99
"""Warn when the largest canonical correlation exceeds this: X1 and X2 are near copies of
each other (one sensor seen twice), and nothing is specific to either."""
X2_SCALES = ("standardised", "as given")
"""How cross-prediction sees the columns of X2: standardised (the usual per-feature
normalisation; the default) or as given (Kamai et al.'s setting, where a loud column of X2 draws
the prediction). Canonical correlations and least squares do not depend on it."""
PLACEMENT_SHARES = (
    "The shares of resamples in each regime reweight rows (groups) of fixed out-of-fold "
    "values: the folds, the fitted directions and which pairs hold out of fold are not refitted "
    "per resample. The share that agrees with the placement is therefore an upper bound on how "
    "sure it is, and the shares of the other regimes are lower bounds on the uncertainty; "
    "repeat_regimes gives the placement of each fold assignment, refitted."
)
