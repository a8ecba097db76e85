"""The diagnosis's figure: canonical correlations, R², PID, regime map and phase diagram."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from aligninfo.diagnose.regime import RegimeMap
from aligninfo.diagnose.settings import RHO_MIN
from aligninfo.linalg import Array
from aligninfo.stats import Interval

if TYPE_CHECKING:
    from aligninfo.diagnose.phase import PhasePlacement
    from aligninfo.diagnose.report import Diagnosis

__all__ = ["plot", "plot_phase_plane"]


def plot(d: Diagnosis, path: str | os.PathLike[str]) -> None:
    """Draw the diagnosis (canonical correlations, R², PID, regime map, phase diagram)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(17, 8.5), constrained_layout=True)
    _plot_rho(axes[0, 0], d)
    if d.target is not None and d.regime is not None and d.phase is not None:
        _plot_r2(axes[0, 1], d)
        _plot_pid(axes[1, 0], d)
        _plot_regime(fig, axes[1, 1], d.regime, d.lost_share["X1"], d.names[0])
        _plot_spectra(axes[0, 2], d.phase)
        plot_phase_plane(axes[1, 2], {f"{d.names[0]} / {d.names[1]}": d.phase})
        fig.suptitle(f"recommendation: {d.recommendation}")
    else:
        for ax in axes.ravel()[1:]:
            ax.set_axis_off()
        fig.suptitle("no target: canonical correlations only")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _errors(intervals: Sequence[Interval]) -> Array:
    """Error-bar lengths below and above each estimate, shape (2, len(intervals))."""
    low = [i.estimate - i.low for i in intervals]
    high = [i.high - i.estimate for i in intervals]
    return np.nan_to_num(np.clip(np.array([low, high]), 0, None))


def _plot_rho(ax: Any, d: Diagnosis) -> None:
    j = np.arange(1, len(d.rho) + 1)
    est = np.array([r.estimate for r in d.rho])
    err = _errors(d.rho)
    ax.bar(j, est, color="C0", alpha=0.6, label="in sample (bootstrap interval)")
    ax.errorbar(j, est, yerr=err, fmt="none", ecolor="k", lw=1)
    ax.plot(j, d.rho_oof, "r_", ms=10, mew=2, label="same pair, out of fold")
    ax.axhline(RHO_MIN, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="canonical pair", ylabel="correlation", ylim=(-0.1, 1.0))
    ax.set_title(f"{d.names[0]} / {d.names[1]}: canonical correlations")
    ax.legend(frameon=False, fontsize=8)


def _plot_r2(ax: Any, d: Diagnosis) -> None:
    keys = list(d.r2)
    est = [d.r2[key].estimate for key in keys]
    err = _errors([d.r2[key] for key in keys])
    labels = [key.replace("X1", d.names[0]).replace("X2", d.names[1]) for key in keys]
    ax.barh(range(len(keys)), est, xerr=err, color=["C0", "C1", "C2", "C0", "C1"])
    for bar in ax.patches[3:]:
        bar.set_alpha(0.45)
    ax.set_yticks(range(len(keys)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="out-of-fold R² of Y (linear)", title=f"aligned = top {d.k} canonical variates")


def _plot_pid(ax: Any, d: Diagnosis) -> None:
    atoms = ("redundant", "unique1", "unique2", "synergy")
    labels = ["redundant", f"unique to {d.names[0]}", f"unique to {d.names[1]}", "synergy"]
    from matplotlib.patches import Patch

    colours = ["C2", "C0", "C1", "C4"]
    x = np.arange(4)
    handles = []
    for shift, pid, alpha, label in (
        (-0.2, d.pid, 1.0, f"{d.names[0]}, {d.names[1]}"),
        (0.2, d.pid_aligned, 0.45, f"top {d.k} canonical variates of {d.names[0]}, {d.names[1]}"),
    ):
        est = [pid[a].estimate for a in atoms]
        err = _errors([pid[a] for a in atoms])
        ax.bar(x + shift, est, 0.4, yerr=err, color=colours, alpha=alpha)
        handles.append(Patch(facecolor="grey", alpha=alpha, label=label))
    ax.set_xticks(x, labels, fontsize=8)
    ax.legend(handles=handles, frameon=False, fontsize=8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(ylabel="nats", title="PID of Y (MMI, copula-normalised, bias-corrected)")


def _plot_regime(fig: Any, ax: Any, m: RegimeMap, lost: Interval, name: str) -> None:
    bound = max(float(np.abs(m.delta).max()), 1e-9)
    image = ax.pcolormesh(m.shares, m.sigmas, m.delta.T, cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.contour(m.shares, m.sigmas, m.delta.T, levels=[0.0], colors="k", linewidths=0.8)
    ax.set_yscale("log")
    if np.isfinite(lost.low) and np.isfinite(lost.high):
        ax.axvspan(max(lost.low, 0), min(lost.high, 1), color="k", alpha=0.15)
    ax.axvline(m.share_hat, color="k", lw=2, label=f"this data set (k = {m.k})")
    ax.set(
        xlabel=f"unique share u (share of R²(Y | {name}) outside the aligned directions)",
        ylabel="read-out noise σ",
        title=f"cost of alignment Δσ = R²σ({name}) - R²σ(aligned limit)",
    )
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    fig.colorbar(image, ax=ax, label="Δσ (red: alignment costs)")


def _plot_spectra(ax: Any, p: PhasePlacement) -> None:
    """Canonical correlations and cross-prediction values, signal components in colour."""
    j = np.arange(1, len(p.rho) + 1)
    ax.bar(
        j - 0.2,
        np.clip(p.rho, 0, None),
        0.4,
        color=["C2" if s else "0.7" for s in p.signal_alignment],
        label="canonical correlation",
    )
    ax.bar(
        j + 0.2,
        p.cross_prediction,
        0.4,
        hatch="//",
        edgecolor="k",
        lw=0.3,
        color=["C2" if s else "0.7" for s in p.signal_prediction],
        label="cross-prediction value",
    )
    ax.set(
        xlabel="component (out of fold)",
        ylabel="value",
        title=f"signal (green: R² gain > {p.threshold:.3f}) vs nuisance (grey)",
    )
    ax.legend(frameon=False, fontsize=8)


def plot_phase_plane(ax: Any, points: dict[str, PhasePlacement], kappa_max: float = 2.5) -> None:
    """Data sets on the (κ, ν) plane of chapter 12's diagram (γ^s = 1, γ_x^n = 1).

    Above the solid curve ν = κ²/(κ² + 1) alignment loses the signal. Each point is a
    :class:`~aligninfo.diagnose.phase.PhasePlacement` with its bootstrap intervals; filled
    when cross-prediction keeps the signal, hollow when not, and the dashed curve of its
    colour is the prediction boundary ν = τ(κ) / sqrt(γ_y^n) at its own γ_y^n. The legend
    gives the regime most resamples agree on, and their share.

    Args:
        ax: Matplotlib axes.
        points: Label -> placement.
        kappa_max: Right end of the κ axis.
    """
    kap = np.linspace(0.0, kappa_max, 200)
    ax.plot(kap, kap**2 / (kap**2 + 1), "k-", lw=1.2, label="alignment boundary")
    for i, (label, p) in enumerate(points.items()):
        colour = f"C{i}"
        x, y = p.kappa, p.nu
        kept = p.delta_prediction.estimate > 1
        if np.isfinite(x.estimate):
            ax.errorbar(
                x.estimate,
                y.estimate,
                xerr=_errors([x]),
                yerr=_errors([y]),
                fmt="o",
                color=colour,
                ms=8,
                mfc=colour if kept else "white",
                capsize=3,
                label=f"{label}: {p.majority} ({p.regime_shares[p.majority]:.0%})",
            )
        if np.isfinite(p.gamma_y_n):
            tau = kap**2 / np.sqrt(kap**2 + 1)
            ax.plot(kap, tau / np.sqrt(p.gamma_y_n), "--", color=colour, lw=0.8)
    ax.set(
        xlim=(0, kappa_max),
        ylim=(0, 1),
        xlabel="signal strength $\\kappa$",
        ylabel="nuisance correlation $\\nu$",
        title="phase diagram (filled: cross-prediction keeps the signal)",
    )
    ax.legend(frameon=False, fontsize=7, loc="lower right")
