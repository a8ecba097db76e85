"""The diagnosis itself: :func:`diagnose` checks its inputs, estimates and assembles the report."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from aligninfo.diagnose.estimates import (
    Blocks,
    assign_folds,
    bootstrap,
    centred_interval,
    choose_k,
    copula_normal,
    group_weights,
    holds,
    in_sample,
    out_of_fold,
    r2_draws,
    standardise,
    weighted_corr,
    weighted_cross_prediction,
)
from aligninfo.diagnose.inputs import (
    DiagnoseInputError,
    check_joint,
    check_matrix,
    check_rank,
    group_ids,
    label_ids,
    target_columns,
    transposed_hint,
)
from aligninfo.diagnose.phase import PhasePlacement, Spectra, place
from aligninfo.diagnose.recommend import aligned_pid_sentence, phase_sentence, recommend
from aligninfo.diagnose.regime import regime_map
from aligninfo.diagnose.report import Diagnosis
from aligninfo.diagnose.settings import (
    MAX_COLUMNS,
    N_REPEATS,
    RHO_NEAR_COPY,
    SAMPLES_PER_DIM,
    X2_SCALES,
)
from aligninfo.linalg import Array
from aligninfo.pid import PID
from aligninfo.stats import Interval, percentile_interval

__all__ = ["diagnose"]


def diagnose(
    x1: ArrayLike,
    x2: ArrayLike,
    y: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    n_boot: int = 200,
    seed: int = 0,
    k: int | None = None,
    target: str = "auto",
    names: tuple[str, str] = ("X1", "X2"),
    level: float = 0.95,
    progress: bool = True,
    resample_groups: ArrayLike | None = None,
    x2_scale: str = "standardised",
) -> Diagnosis:
    """Diagnose a paired data set: should X1 and X2 be aligned (see the module docstring)?

    Args:
        x1: Modality 1, shape (n, p1) (the one the task is read from).
        x2: Modality 2, shape (n, p2), rows paired with x1.
        y: Target, shape (n,): continuous, or classes (integers or labels); None for none.
        groups: Group label of each row (e.g. site), shape (n,): resampled and kept within
            one fold; None resamples rows.
        n_boot: Bootstrap resamples, >= 20.
        seed: Seed of the folds and the resamples.
        k: Aligned variates; None picks them out of fold (see RHO_MIN).
        target: "auto" (integers with at most MAX_CLASSES values are classes),
            "continuous" or "categorical".
        names: Names of the modalities, for the report.
        level: Coverage of the intervals.
        progress: Show a progress bar when the bootstrap takes more than 2 s.
        resample_groups: Group label of each row that the bootstrap resamples whole while
            the folds split rows freely, shape (n,): groups too few to hold out (Houston's
            scan-order polygons); not with ``groups``. With a class target and groups of one
            class each (as polygons are), groups and ``groups`` alike are drawn within their
            class, so that every resample holds every class.
        x2_scale: How cross-prediction (the phase diagram's Δ_pred) sees X2's columns:
            "standardised" (default: the usual per-feature normalisation) or "as given" (their
            own scale, Kamai et al.'s setting). Nothing else depends on it.

    Returns:
        The :class:`Diagnosis`.

    Raises:
        DiagnoseInputError: Mismatched rows, NaN or infinite values, constant or linearly
            dependent columns, too few samples for the dimension, too few groups, bad k,
            both kinds of groups, an unknown x2_scale.
    """
    if x2_scale not in X2_SCALES:
        raise DiagnoseInputError(
            f"x2_scale must be one of {', '.join(X2_SCALES)}, got {x2_scale!r}"
        )
    a1, a2 = check_matrix(x1, "X1"), check_matrix(x2, "X2")
    n = len(a1)
    if len(a2) != n:
        raise DiagnoseInputError(
            f"X1 has {n} rows but X2 has {len(a2)}: rows must be paired"
            + transposed_hint((a1, "X1"), (a2, "X2"))
        )
    if y is not None and len(np.asarray(y)) != n:
        raise DiagnoseInputError(f"X1 has {n} rows but Y has {len(np.asarray(y))}")
    if a1.shape[1] + a2.shape[1] > MAX_COLUMNS:
        raise DiagnoseInputError(
            f"X1 and X2 have {a1.shape[1]} + {a2.shape[1]} columns, more than {MAX_COLUMNS}: "
            "reduce them first (e.g. PCA of each modality)"
            + transposed_hint((a1, "X1"), (a2, "X2"))
        )
    budget = n // SAMPLES_PER_DIM - a1.shape[1] - a2.shape[1]
    t, kind, n_classes = (
        target_columns(y, target, budget) if y is not None else (np.zeros((n, 0)), None, 0)
    )
    dim = a1.shape[1] + a2.shape[1] + t.shape[1]
    if n < SAMPLES_PER_DIM * dim:
        raise DiagnoseInputError(
            f"too few samples for the dimension: {n} rows for {dim} columns of (X1, X2, Y); "
            f"need at least {SAMPLES_PER_DIM} per column ({SAMPLES_PER_DIM * dim})"
            + transposed_hint((a1, "X1"), (a2, "X2"))
        )
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 20:
        raise DiagnoseInputError(f"n_boot must be an integer >= 20, got {n_boot!r}")
    if not 0 < level < 1:
        raise DiagnoseInputError(f"level must be in (0, 1), got {level!r}")
    check_rank([(a1, "X1"), (a2, "X2")])
    if groups is not None and resample_groups is not None:
        raise DiagnoseInputError(
            "give groups (held out whole and resampled) or resample_groups (resampled only), "
            "not both"
        )
    ids, n_groups, repeats = group_ids(groups, n, np.hstack([a1, a2]))
    boot_ids = ids
    if resample_groups is not None:
        boot_ids, n_groups = label_ids(resample_groups, n, "resample_groups")
    strata = class_strata(boot_ids, t) if kind == "categorical" else None
    b = Blocks(a1.shape[1], a2.shape[1], t.shape[1])
    k_max = min(b.p1, b.p2)
    if k is not None and (isinstance(k, bool) or int(k) != k or not 1 <= k <= k_max):
        raise DiagnoseInputError(f"k must be an integer in [1, {k_max}], got {k!r}")
    std = np.hstack([standardise(a1), standardise(a2), t])
    t_cop = copula_normal(t) if kind == "continuous" else t
    cop = np.hstack([copula_normal(a1), copula_normal(a2), t_cop])
    check_joint(std, cop, b)
    rng = np.random.default_rng(seed)
    scale = _x2_scale(a2, x2_scale)
    runs = [out_of_fold(std, b, assign_folds(ids, rng), k_max, scale) for _ in range(N_REPEATS)]
    weights = group_weights(boot_ids, n_boot, rng, strata)
    rho_runs = [weighted_corr(r["u1"], r["u2"], weights) for r in runs]
    rho_w = np.mean(rho_runs, axis=0)
    rho_low = np.quantile(rho_w[1:], (1 - level) / 2, axis=0)
    if k is None:
        k = choose_k(rho_w[0], rho_low)
    stat = in_sample(b, k_max, k, kind is not None)
    full = stat(std, cop)
    draws, failed = bootstrap(stat, std, cop, boot_ids, n_boot, rng, progress, full, strata)
    phase = None
    if kind is not None:
        pred = np.mean([r["pred"] for r in runs], axis=0)
        full["r2"], draws["r2"] = r2_draws(std[:, b.t], pred, weights)
        x2 = std[:, b.x2] * scale[None, :]
        cross_runs = [weighted_cross_prediction(r["f1"], x2, weights) for r in runs]
        curves = np.vstack([full["r2"][None], draws["r2"]])
        spectra = Spectra(rho_w, np.mean(cross_runs, axis=0), *_curves(curves, k_max))
        fold_spectra = [
            Spectra(
                rho_r[:1],
                cross_r[:1],
                *_curves(r2_draws(std[:, b.t], r["pred"], weights[:1])[0][None], k_max),
            )
            for rho_r, cross_r, r in zip(rho_runs, cross_runs, runs, strict=True)
        ]
        phase = place(spectra, holds(rho_w[0], rho_low), level, x2_scale, fold_spectra, n)
    full["rho_oof"], full["rho_oof_low"] = rho_w[0], rho_low
    how = _resampling(groups, resample_groups, strata)
    info = Sampling(n_groups, how, n_boot, seed, level)
    d = assemble(full, draws, b, k, kind, n_classes, names, info, std, phase)
    if failed:
        d.reasons.append(
            f"{failed} of {n_boot} resamples had a singular covariance (a class or a column's "
            "variation missing from the rows drawn) and were left out of the in-sample intervals"
        )
    if full["rho"][0] > RHO_NEAR_COPY:
        d.reasons.append(
            f"warning: the largest canonical correlation is {full['rho'][0]:.3f}, above "
            f"{RHO_NEAR_COPY}: {names[0]} and {names[1]} are near copies of each other (one "
            "sensor seen twice?); alignment then has nothing to remove, and the informations "
            "and the placement rest on a near-singular covariance"
        )
    if repeats:
        d.reasons.append(
            f"{repeats} row(s) of (X1, X2) repeat earlier ones: identical rows were kept in one "
            "fold and resampled together"
        )
    return d


class Sampling(NamedTuple):
    """How the diagnosis resampled: groups (None: rows), in words, resamples, seed, level."""

    n_groups: int | None
    how: str
    n_boot: int
    seed: int
    level: float


def class_strata(ids: np.ndarray, t: Array) -> np.ndarray | None:
    """The class of each group when every group holds one class (a one-hot target), else None.

    Args:
        ids: Group of each row, 0.., shape (n,).
        t: One-hot target without its last class, shape (n, q).
    """
    classes = np.where(t.any(axis=1), t.argmax(axis=1), t.shape[1])
    n_groups = int(ids.max()) + 1
    lowest = np.full(n_groups, np.iinfo(np.int64).max)
    highest = np.full(n_groups, -1)
    np.minimum.at(lowest, ids, classes)
    np.maximum.at(highest, ids, classes)
    return lowest if np.array_equal(lowest, highest) else None


def _resampling(groups: object, resample_groups: object, strata: np.ndarray | None) -> str:
    """The resampling in words, for the record."""
    how = (
        "rows"
        if groups is None and resample_groups is None
        else "groups"
        if resample_groups is None
        else "groups, split by the folds"
    )
    return how + (", within classes" if strata is not None and how != "rows" else "")


def _curves(curves: Array, k_max: int) -> tuple[Array, Array, Array]:
    """R² of Y from the top-j variates, the top-j cross-prediction features and all of X1.

    Args:
        curves: Out-of-fold R² of every model, shape (rows, 3 + 3 k_max).
        k_max: Canonical pairs.
    """
    return curves[:, 3 : 3 + k_max], curves[:, 3 + 2 * k_max : 3 + 3 * k_max], curves[:, 0]


def _x2_scale(a2: Array, how: str) -> Array:
    """Factor of each standardised column of X2 for cross-prediction, shape (p2,).

    Ones for "standardised"; for "as given", each column's standard deviation over their root
    mean square (the overall scale cancels from Δ_pred; only the columns' ratios matter).
    """
    if how == "standardised":
        return np.ones(a2.shape[1])
    sd = a2.std(axis=0)
    return np.asarray(sd / np.sqrt(np.mean(sd**2)), dtype=np.float64)


def assemble(
    full: dict[str, Array],
    draws: dict[str, Array],
    b: Blocks,
    k: int,
    kind: str | None,
    n_classes: int,
    names: tuple[str, str],
    info: Sampling,
    std: Array,
    phase: PhasePlacement | None,
) -> Diagnosis:
    """Intervals, the regime map and the recommendation from the statistics."""
    level = info.level

    def iv(estimate: float, d: Array) -> Interval:
        finite = d[np.isfinite(d)]
        if finite.size < 2 or not np.isfinite(estimate):
            return Interval(float(estimate), float("nan"), float("nan"), level)
        return percentile_interval(finite, float(estimate), level)

    rho = [
        centred_interval(full["rho"][j], draws["rho"][:, j], level) for j in range(len(full["rho"]))
    ]
    base = {
        "n": len(std),
        "dims": (b.p1, b.p2),
        "names": names,
        "target": kind,
        "n_classes": n_classes,
        "n_groups": info.n_groups,
        "n_boot": info.n_boot,
        "seed": info.seed,
        "k": k,
        "rho": rho,
        "rho_oof": [float(r) for r in full["rho_oof"]],
        "rho_oof_low": [float(r) for r in full["rho_oof_low"]],
    }
    if kind is None:
        reason = "no target given: the recommendation needs Y (what the task is)"
        return Diagnosis(**base, reasons=[reason], resampling=info.how)  # type: ignore[arg-type]
    k_max = len(full["rho"])
    cols = [0, 1, 2, 2 + k, 2 + k_max + k]  # X1, X2, X1+X2, top-k of X1, top-k of X2
    r2_full, r2_draws = full["r2"][cols], draws["r2"][:, cols]
    keys = ("X1", "X2", "X1+X2", "aligned X1", "aligned X2")
    r2 = {key: iv(r2_full[i], r2_draws[:, i]) for i, key in enumerate(keys)}
    cost, lost = {}, {}
    for m, (own, al) in {"X1": (0, 3), "X2": (1, 4)}.items():
        c_full, c_draws = r2_full[own] - r2_full[al], r2_draws[:, own] - r2_draws[:, al]
        cost[m] = iv(c_full, c_draws)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_draws = np.where(r2_draws[:, own] > 0, c_draws / r2_draws[:, own], np.nan)
        s_full = c_full / r2_full[own] if r2_full[own] > 0 else float("nan")
        lost[m] = iv(s_full, s_draws)
    fields = list(PID.__dataclass_fields__)
    pid, pid_aligned = (
        {f: centred_interval(full[key][i], draws[key][:, i], level) for i, f in enumerate(fields)}
        for key in ("pid", "pid_aligned")
    )
    regime = regime_map(std, b, k)
    recommendation, reasons = recommend(full, r2, lost, pid, regime, names, k, phase)
    reasons.insert(4, aligned_pid_sentence(pid, pid_aligned, names[0], k))
    if phase is not None:
        reasons.insert(6, phase_sentence(phase))
    reasons += _sampling_sentences(info, len(std))
    if kind == "categorical":
        reasons.append(
            f"Y has {n_classes} classes: R² is that of the one-hot code, and the PID's "
            "informations are Gaussian (Wilks' lambda) values, which can exceed log(classes): "
            "compare the atoms with one another, not with the entropy of Y"
        )
    return Diagnosis(
        **base,  # type: ignore[arg-type]
        r2=r2,
        r2_aligned_curve={
            "X1": [float(v) for v in full["r2"][3 : 3 + k_max]],
            "X2": [float(v) for v in full["r2"][3 + k_max : 3 + 2 * k_max]],
        },
        cost=cost,
        lost_share=lost,
        pid=pid,
        pid_aligned=pid_aligned,
        regime=regime,
        recommendation=recommendation,
        reasons=reasons,
        resampling=info.how,
        phase=phase,
    )


def _sampling_sentences(info: Sampling, n: int) -> list[str]:
    """What the resampling assumes, when it is not whole groups held out and resampled."""
    if info.n_groups is None or info.n_groups == n:
        return [
            "rows were resampled and split as independent samples: if they are not (pixels of "
            "one scene, repeated visits of a site), the intervals are optimistic; give groups"
        ]
    if not info.how.startswith("groups, split"):
        return []
    within = " within each class (each group holds one)" if "classes" in info.how else ""
    return [
        f"the intervals resample the {info.n_groups} groups{within}, but the folds split them "
        "(too few to hold whole groups out): out-of-fold R² and correlations are optimistic "
        "when rows of one group are alike"
    ]
