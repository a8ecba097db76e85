"""The diagnosis as a record: JSON, a text summary, and the saved report and figure."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aligninfo import __version__
from aligninfo.diagnose.figure import plot
from aligninfo.diagnose.phase import PhasePlacement
from aligninfo.diagnose.recommend import fmt
from aligninfo.diagnose.regime import RegimeMap
from aligninfo.diagnose.settings import (
    ALIGN_MAX_LOST,
    BIAS_CORRECTION,
    CCA_RIDGE,
    MAX_COLUMNS,
    N_FOLDS,
    N_REPEATS,
    NO_ALIGN_MIN_LOST,
    PLACEMENT_SHARES,
    RHO_MIN,
    RHO_NEAR_COPY,
    SAMPLES_PER_DIM,
    SIGNAL_SHARE,
    SIGNAL_SHARES_CHECKED,
)
from aligninfo.jsonio import write_json
from aligninfo.stats import Interval

__all__ = ["Diagnosis"]


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found, with bootstrap intervals (see the module docstring).

    Attributes:
        n: Rows.
        dims: Columns of X1, X2.
        names: Names of X1, X2.
        target: "continuous", "categorical" or None (no target).
        n_classes: Classes of a categorical target (0 otherwise).
        n_groups: Groups resampled (None: rows are resampled).
        n_boot: Bootstrap resamples.
        seed: Seed of the folds and resamples.
        k: Aligned variates (canonical pairs) in the aligned representation.
        rho: In-sample canonical correlations, largest first.
        rho_oof: Each canonical pair's out-of-fold correlation (each fold's directions on its
            held-out rows, pooled, averaged over N_REPEATS fold assignments), same order.
        rho_oof_low: Lower bounds of their bootstrap intervals (groups or rows resampled).
        r2: Out-of-fold R² of Y from "X1", "X2", "X1+X2", "aligned X1", "aligned X2" (the
            top-k canonical variates); for classes, the linear (one-hot) R².
        r2_aligned_curve: Out-of-fold R² from the top-j variates of X1 and X2, j = 1..,
            keys "X1", "X2".
        cost: R²(Y | X_m) - R²(Y | aligned X_m), keys "X1", "X2".
        lost_share: cost / R²(Y | X_m), keys "X1", "X2".
        pid: PID atoms and informations (nats) on copula-normalised features.
        pid_aligned: The same with X1 replaced by its top-k canonical variates (what an
            aligned representation of X1 keeps; see :func:`aligninfo.pid.aligned_unique`).
        regime: The regime map and the data's place on it (None without a target).
        recommendation: One of :data:`RECOMMENDATIONS`, or None without a target.
        reasons: Plain-language sentences the recommendation rests on.
        bias_correction: How the PID is estimated and corrected.
        resampling: What the intervals resample: "rows", "groups" (held out whole by the
            folds too) or "groups, split by the folds"; ", within classes" when drawn
            within their class.
        phase: The data on Kamai et al.'s phase diagram (None without a target).
    """

    n: int
    dims: tuple[int, int]
    names: tuple[str, str]
    target: str | None
    n_classes: int
    n_groups: int | None
    n_boot: int
    seed: int
    k: int
    rho: list[Interval]
    rho_oof: list[float]
    rho_oof_low: list[float] = field(default_factory=list)
    r2: dict[str, Interval] = field(default_factory=dict)
    r2_aligned_curve: dict[str, list[float]] = field(default_factory=dict)
    cost: dict[str, Interval] = field(default_factory=dict)
    lost_share: dict[str, Interval] = field(default_factory=dict)
    pid: dict[str, Interval] = field(default_factory=dict)
    pid_aligned: dict[str, Interval] = field(default_factory=dict)
    regime: RegimeMap | None = None
    recommendation: str | None = None
    reasons: list[str] = field(default_factory=list)
    bias_correction: str = BIAS_CORRECTION
    resampling: str = "rows"
    phase: PhasePlacement | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready values."""
        out: dict[str, Any] = asdict(self)
        out["settings"] = {
            "aligninfo_version": __version__,
            "folds": N_FOLDS,
            "fold_repeats": N_REPEATS,
            "rho_min": RHO_MIN,
            "align_max_lost": ALIGN_MAX_LOST,
            "no_align_min_lost": NO_ALIGN_MIN_LOST,
            "samples_per_dim": SAMPLES_PER_DIM,
            "max_columns": MAX_COLUMNS,
            "cca_ridge": CCA_RIDGE,
            "signal_share": SIGNAL_SHARE,
            "signal_shares_checked": list(SIGNAL_SHARES_CHECKED),
            "rho_near_copy": RHO_NEAR_COPY,
            "placement_shares": PLACEMENT_SHARES,
        }
        return json.loads(json.dumps(out, default=_jsonable))

    def summary(self) -> str:
        """A few lines of text: the numbers and the recommendation."""
        lines = [
            f"{self.names[0]} ({self.dims[0]} columns) vs {self.names[1]} ({self.dims[1]}), "
            f"n = {self.n}"
            + (f", {self.n_groups} groups" if self.n_groups else "")
            + f"; intervals resample {self.resampling}",
            "canonical correlations: "
            + ", ".join(f"{r.estimate:.2f} [{r.low:.2f}, {r.high:.2f}]" for r in self.rho[:5])
            + (" ..." if len(self.rho) > 5 else ""),
            "out of fold: " + ", ".join(f"{r:.2f}" for r in self.rho_oof[:5]),
            f"aligned representation: top {self.k} canonical variates",
        ]
        for key, value in self.r2.items():
            lines.append(f"R²(Y | {key}) = {fmt(value)}")
        for key in self.lost_share:
            lines.append(
                f"alignment costs {key}: {fmt(self.cost[key])} of R², "
                f"a lost share of {fmt(self.lost_share[key])}"
            )
        if self.pid:
            atoms = ("redundant", "unique1", "unique2", "synergy")
            lines.append("PID (nats): " + ", ".join(f"{a} {fmt(self.pid[a])}" for a in atoms))
        if self.phase is not None:
            p = self.phase
            lines.append(
                f"phase diagram (Kamai et al.): {_placed(p)} (at most {p.sureness:.0%} of "
                f"resamples agree; most: {p.majority}); Δ_align {fmt(p.delta_alignment)}, "
                f"Δ_pred ({p.x2_scale} X2) {fmt(p.delta_prediction)}"
            )
        if self.recommendation:
            lines.append(f"recommendation: {self.recommendation.upper()}")
        lines += [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)

    def save(self, folder: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write diagnosis.json (atomically) and diagnosis.png into a folder (created)."""
        out = Path(folder)
        target = write_json(out / "diagnosis.json", self.to_dict())
        figure = out / "diagnosis.png"
        plot(self, figure)
        return target, figure


def _placed(p: PhasePlacement) -> str:
    """The regime in words for the summary."""
    if p.regime in ("unsettled", "not placed"):
        return p.regime.upper()
    return f"{p.regime.upper()} recovers the signal" + ("" if p.settled else " (unsettled)")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
