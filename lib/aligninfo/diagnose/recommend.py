"""The recommendation (align / align + specificity / do not align) and the sentences behind it."""

from __future__ import annotations

import numpy as np

from aligninfo.diagnose.phase import PhasePlacement
from aligninfo.diagnose.regime import RegimeMap
from aligninfo.diagnose.settings import ALIGN_MAX_LOST, NO_ALIGN_MIN_LOST, RHO_MIN
from aligninfo.linalg import Array
from aligninfo.stats import Interval

__all__ = [
    "aligned_pid_sentence",
    "fmt",
    "phase_sentence",
    "placement_sentence",
    "recommend",
    "regime_sentence",
]


def recommend(
    full: dict[str, Array],
    r2: dict[str, Interval],
    lost: dict[str, Interval],
    pid: dict[str, Interval],
    regime: RegimeMap,
    names: tuple[str, str],
    k: int,
    phase: PhasePlacement | None = None,
) -> tuple[str, list[str]]:
    """The recommendation for reading Y from X1, and the sentences it rests on.

    The advice rests on the lost share at k, the canonical pairs that hold out of fold. The
    phase placement adds a sentence and does not change the advice: where it is settled in a
    regime in which alignment misses the signal ("prediction only", "neither"), a nuisance pair
    ranks above a signal pair, so an embedding of the signal's size keeps the nuisance; but k
    counts every pair that holds, the signal pairs among them, so the lost share already
    measures an embedding large enough to reach them (a signal pair that does not hold is
    counted as lost). The sentence names the size the advice needs.
    """
    n1, n2 = names
    top = float(full["rho_oof"][0])
    share = lost["X1"]
    reasons = [
        f"the modalities share {k} canonical direction(s) whose out-of-fold correlation "
        f"exceeds {RHO_MIN} with an interval above 0 (the largest: {top:.2f}); the lost share "
        f"below is for these {k} and moves with k: {_k_sensitivity(full, k)}",
        f"a linear read-out of Y from {n1} reaches R² {fmt(r2['X1'])} out of fold; from its "
        f"top {k} canonical variates (what an alignment objective keeps) {fmt(r2['aligned X1'])}",
        f"so alignment would remove a share {fmt(share)} of what {n1} predicts of Y "
        f"(decision thresholds, a choice: below {ALIGN_MAX_LOST} align, above "
        f"{NO_ALIGN_MIN_LOST} do not)",
        f"PID on copula-normalised features: redundant {fmt(pid['redundant'])} nats, unique to "
        f"{n1} {fmt(pid['unique1'])}, unique to {n2} {fmt(pid['unique2'])}, synergy "
        f"{fmt(pid['synergy'])}",
    ]
    reasons.append(regime_sentence(regime))
    if phase is not None and (words := placement_sentence(phase, k)):
        reasons.append(words)
    if top <= RHO_MIN:
        reasons.append(
            "no canonical pair holds out of fold: there is nothing shared for alignment to find"
        )
        return "do not align", reasons
    if not np.isfinite(share.high) or not r2["X1"].low > 0:
        reasons.append(f"{n1} does not reliably predict Y linearly: the lost share is uncertain")
        return "align + specificity", reasons
    if share.high < ALIGN_MAX_LOST:
        reasons.append(
            "the task lives in what both sensors see (multi-view redundancy): alignment keeps it"
        )
        return "align", reasons
    if share.low > NO_ALIGN_MIN_LOST:
        reasons.append(
            f"most of what {n1} knows of Y is specific to it: an alignment objective discards it"
        )
        return "do not align", reasons
    keep = (
        "add a term that keeps modality-specific variance (intra-modal or reconstruction, "
        "chapter 6) to the alignment objective"
    )
    if share.estimate < ALIGN_MAX_LOST:
        reasons.append(
            f"the lost share is small, but its interval reaches above {ALIGN_MAX_LOST}: the data "
            f"cannot rule out a loss, so {keep}"
        )
    else:
        reasons.append(f"part of the task is specific to {n1}: {keep}")
    return "align + specificity", reasons


def placement_sentence(p: PhasePlacement, k: int) -> str:
    """What a settled placement where alignment misses the signal means for the advice ("" else).

    Args:
        p: The phase placement.
        k: Aligned variates the lost share is measured at.
    """
    missing = ("prediction only", "neither")
    if not (p.settled and p.regime in missing and p.majority in missing):
        return ""
    signal = [j + 1 for j, s in enumerate(p.signal_alignment) if s]
    if not signal:
        return ""
    size, last = len(signal), max(signal)
    return (
        f"the placement ('{p.regime}', settled) says a nuisance pair ranks above a signal "
        f"pair: an alignment of the signal's size ({size} variate(s)) keeps the nuisance, "
        f"not the task; the advice holds for an embedding of at least {last} variate(s) "
        f"(signal pair(s) {', '.join(map(str, signal))}; the lost share is measured at k = {k})"
    )


def _k_sensitivity(full: dict[str, Array], k: int) -> str:
    """The lost share (point estimate) with one aligned variate fewer and one more."""
    r2_x1, curve = float(full["r2"][0]), full["r2"][3 : 3 + len(full["rho"])]
    parts = [
        f"{(r2_x1 - curve[j - 1]) / r2_x1:.2f} with k = {j}"
        for j in (k - 1, k + 1)
        if 1 <= j <= len(curve)
    ]
    return "lost share " + " and ".join(parts) if parts and r2_x1 > 0 else "see r2_aligned_curve"


def aligned_pid_sentence(
    pid: dict[str, Interval], aligned: dict[str, Interval], name: str, k: int
) -> str:
    """What the aligned variates keep of X1's information on Y and of its unique part."""
    return (
        f"the top {k} canonical variates of {name} carry I = {fmt(aligned['mi1'])} nats on Y "
        f"of the {fmt(pid['mi1'])} that {name} carries, and keep {fmt(aligned['unique1'])} "
        f"nats of its unique information {fmt(pid['unique1'])}"
    )


def regime_sentence(m: RegimeMap) -> str:
    """Where, along the read-out noise σ, the aligned limit costs or helps against X1."""
    sign = np.sign(m.delta_hat)
    runs, start = [], 0
    for i in range(1, len(sign) + 1):
        if i == len(sign) or sign[i] != sign[start]:
            word = {1.0: "costs", -1.0: "helps"}.get(float(sign[start]), "is neutral")
            runs.append(f"{word} for σ in [{m.sigmas[start]:.2g}, {m.sigmas[i - 1]:.2g}]")
            start = i
    return (
        f"on the regime map, at the data's unique share {m.share_hat:.2f} (in sample), the "
        f"aligned limit (top {m.k} canonical variates, embedding size {m.size}) against the "
        f"whole first modality, read under noise σ: " + ", ".join(runs)
    )


def phase_sentence(p: PhasePlacement) -> str:
    """Which components carry the task, the separations, the regime and how sure it is."""
    head = "on Kamai et al.'s phase diagram: "
    if p.regime == "not placed":
        why = (
            "a single canonical pair (a modality with one column) leaves nothing to compare"
            if len(p.rho) < 2
            else f"no component carries the task (none adds more than {p.signal_share:g} of "
            "R²(Y | X1) to the out-of-fold R² with an interval above 0)"
        )
        return head + f"not placed: {why}"

    def listed(signal: list[bool]) -> str:
        chosen = [str(j + 1) for j, s in enumerate(signal) if s]
        return ", ".join(chosen) if chosen else "none"

    return (
        head + f"the canonical pairs that carry the task (signal: each adds more than "
        f"{p.signal_share:g} of R²(Y | X1), {p.threshold:.3f}, to the out-of-fold R² of Y, with "
        f"an interval above 0) are {listed(p.signal_alignment)} of {len(p.rho)}, the "
        f"cross-prediction directions {listed(p.signal_prediction)}; "
        f"Δ_align = min signal / max nuisance correlation = {fmt(p.delta_alignment)} (pairs "
        f"that do not hold out of fold count as {RHO_MIN}) and Δ_pred ({p.x2_scale} X2) = "
        f"{fmt(p.delta_prediction)}, above 1 where the method of that size keeps the signal: "
        + _placement_words(p)
        + _weak_words(p)
    )


def _placement_words(p: PhasePlacement) -> str:
    """The placement led by what most resamples say, its doubts, and its sensitivity."""
    words = (
        f"most resamples ({p.regime_shares[p.majority]:.0%}) place it in '{p.majority}'"
        + ("" if p.majority == p.regime else f" (the data's own estimate: '{p.regime}')")
        + " (shares of resamples that do not refit the folds: upper bounds on the agreement)"
    )
    if not p.settled:
        words += "; unsettled: " + _unsettled_because(p)
    if len(set(p.repeat_regimes)) > 1:
        words += f"; the {len(p.repeat_regimes)} fold assignments, each placed on its own: " + (
            ", ".join(p.repeat_regimes)
        )
    moved = {q: r for q, r in p.sensitivity.items() if r != p.regime}
    if moved:
        words += "; with other signal shares: " + ", ".join(
            f"{q}: '{r}'" for q, r in p.sensitivity.items()
        )
    return words


def _unsettled_because(p: PhasePlacement) -> str:
    """Why a placement is not settled (see :attr:`PhasePlacement.settled`)."""
    if p.regime == "unsettled":
        return "a tie at the noise floor"
    why = []
    if any(d.low <= 1 <= d.high for d in (p.delta_alignment, p.delta_prediction)):
        why.append("an interval of Δ contains 1")
    if p.one_sided:
        parts = {"alignment": "canonical pair", "prediction": "cross-prediction direction"}
        delta = "Δ_align" if p.one_sided == "alignment" else "Δ_pred"
        why.append(
            f"no {parts[p.one_sided]} carries the task detectably while the other method's "
            f"components do, so {delta} = 0 is a lack of evidence, not a loss of the signal"
        )
    if p.untied_regime not in ("", p.regime):
        why.append(
            "two signal components are tied in value (the task can leak between their "
            "directions); counting the one that gains less as nuisance places it in "
            f"'{p.untied_regime}'"
        )
    return "; ".join(why)


def _weak_words(p: PhasePlacement) -> str:
    """A warning when signal pairs do not hold out of fold."""
    if not p.weak_signal:
        return ""
    return (
        f"; weak signal: signal pair(s) {', '.join(map(str, p.weak_signal))} do not hold out of "
        f"fold (correlation at most {RHO_MIN} or an interval reaching 0), so the task is shared "
        "too weakly for alignment to find it"
    )


def fmt(i: Interval) -> str:
    """An interval as "estimate [low, high]" with three decimals."""
    return f"{i.estimate:.3f} [{i.low:.3f}, {i.high:.3f}]"
