"""Reading one paired comparison along an axis of a parameter sweep (chapter 10).

A sweep runs a chapter at points along an axis (the embedding size ``k``, the temperature, the
budget). Each point decides every comparison (objective against reference, one probe) within its
own Holm families. A sentence that reads one comparison along the whole axis ("costs at every
``k`` tried") claims something at all its points at once, so the axis's points make one more
family: :func:`along` runs Holm's procedure across them, and a point keeps its own verdict only
where that procedure rejects too. :func:`reverses` and :func:`partly_decided` read those axis
verdicts; :func:`run_everywhere` and :func:`probe_disagreements` count over the points without
counting a point twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from aligninfo.stats import holm

UNDECIDED = "no detectable cost"
"""The verdict of a paired interval that contains zero."""

OBJECTIVE_GROUPS: dict[str, tuple[str, ...]] = {
    "pure alignment": ("info_nce", "cca", "barlow_twins", "vicreg"),
    "alignment + specificity": ("decur", "cross_self", "cross_recon"),
    "fused": ("comm",),
    "unimodal": ("simclr", "supervised"),
}
"""The book's objectives by what they optimise (chapter 11's groups), in display order."""

Cell = tuple[str, str, float]
"""One comparison at one point of an axis: (tick, the point's own verdict, unadjusted p-value)."""


def along(cells: Sequence[Cell], alpha: float) -> list[tuple[str, str]]:
    """Verdicts of one comparison along one axis, the axis's points one Holm family.

    Args:
        cells: ``(n_points,)`` cells of the comparison, in the axis's order, at the points where
            it was run.
        alpha: The family-wise level (the chapter's).

    Returns:
        ``[(tick, verdict)]`` in the same order: the point's own verdict where Holm's procedure
        across the axis rejects on the unadjusted p-values, "no detectable cost" elsewhere.
    """
    if not cells:
        return []
    rejected = holm([p for _, _, p in cells], alpha)[1]
    return [
        (tick, own if ok else UNDECIDED) for (tick, own, _), ok in zip(cells, rejected, strict=True)
    ]


def reverses(axis: Mapping[str, Sequence[Cell]], alpha: float) -> list[str]:
    """The objectives whose comparison is decided both ways along an axis.

    A cost at one point and a gain at another, after Holm across the axis: only that shows the
    difference depends on the axis.

    Args:
        axis: ``{objective: its cells along the axis}`` (see :func:`along`).
        alpha: The family-wise level.

    Returns:
        The objectives that reverse, in the mapping's order.
    """
    return [m for m, cells in axis.items() if {"costs", "gains"} <= _found(cells, alpha)]


def partly_decided(
    axis: Mapping[str, Sequence[Cell]], alpha: float
) -> dict[str, tuple[list[str], list[str]]]:
    """The objectives decided at some points of an axis and undecided at the others.

    Read after Holm across the axis; an objective decided both ways is a reversal, not this.

    Args:
        axis: ``{objective: its cells along the axis}`` (see :func:`along`).
        alpha: The family-wise level.

    Returns:
        ``{objective: (ticks where decided, ticks where undecided)}``.
    """
    out = {}
    for m, cells in axis.items():
        seq = along(cells, alpha)
        if len({v for _, v in seq}) == 2 and UNDECIDED in {v for _, v in seq}:
            out[m] = ([t for t, v in seq if v != UNDECIDED], [t for t, v in seq if v == UNDECIDED])
    return out


def _found(cells: Sequence[Cell], alpha: float) -> set[str]:
    return {v for _, v in along(cells, alpha)}


def run_everywhere(ran: Sequence[Collection[str]], candidates: Iterable[str]) -> list[str]:
    """The candidates run at every point of an axis.

    An average along the axis over these compares like with like, not one objective at one
    point with three at another.

    Args:
        ran: ``(n_points,)`` the objectives run at each point.
        candidates: The objectives to keep, in the order returned.

    Returns:
        The candidates found at every point (none when there is no point).
    """
    return [m for m in candidates if ran and all(m in r for r in ran)]


def probe_disagreements(
    points: Iterable[Mapping[tuple[str, str, str], str]], probes: tuple[str, str]
) -> tuple[int, int]:
    """How many comparisons two probes judged, and on how many their verdicts differ.

    Args:
        points: One mapping per distinct point (a point that sits on several axes given once):
            ``{(objective, reference, probe): verdict}``.
        probes: The two probes compared, e.g. ``("linear", "knn")``.

    Returns:
        ``(verdicts that differ, comparisons judged by both probes)``.
    """
    differ = compared = 0
    first, second = probes
    for verdicts in points:
        for m, ref in {key[:2] for key in verdicts}:
            if (m, ref, first) in verdicts and (m, ref, second) in verdicts:
                compared += 1
                differ += verdicts[m, ref, first] != verdicts[m, ref, second]
    return differ, compared
