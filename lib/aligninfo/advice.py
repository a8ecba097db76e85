"""The advice that the verdicts of one setting support, and no more.

A verdict (:data:`aligninfo.stats.VERDICTS`) says "costs" or "gains" only when its interval
excludes zero; "no detectable cost" is an interval that includes zero, which is *not* evidence
that alignment costs nothing. So the advice never turns "no detectable cost" into "align"::

    advise({"info_nce": "no detectable cost"}, {"decur": "no detectable cost"}).kind
    # "undecided": no cost was detected, none was excluded either

A gain over the raw inputs may come from learning a representation at all rather than from
aligning it. Where the non-aligned learned reference (SimCLR) was run, an objective's gain counts
for alignment only when it also gains against that reference (``learned``); otherwise the advice
says that a learned representation gains and gives alignment's verdict against SimCLR.

- ``"align"``: no pure-alignment objective costs and at least one gains over the reference (and
  over SimCLR, where SimCLR was compared).
- ``"learned representation gains"``: no pure-alignment objective costs, one gains over the
  raw inputs, but none gains against SimCLR: the gain is not shown to come from alignment.
- ``"mixed"``: one pure-alignment objective costs and another gains: whether alignment costs
  depends on the objective, and the advice names which does what.
- ``"undecided"``: no pure-alignment objective shows a detectable cost and none gains: no
  verdict is decided, the setting is undecided at this budget (seeds, sites, epochs).
- ``"undecided, specificity gains"``: no pure-alignment verdict is decided, and an objective
  with a specificity term or fusion gains (over SimCLR too, where compared): that objective has
  earned its place, pure alignment is undecided at this budget.
- ``"align + specificity"``: pure alignment costs and an objective with a specificity term or
  fusion gains (over SimCLR too, where compared).
- ``"specificity undecided"``: pure alignment costs and no objective with a specificity term
  or fusion gains, but at least one shows no detectable cost (or gains over the raw inputs
  without gaining against SimCLR): undecided at this budget between it and a representation
  that was not aligned.
- ``"keep non-aligned"``: pure alignment costs and every objective with a specificity term or
  fusion run costs too (or none was run).
- ``"not run"``: no pure-alignment objective was compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aligninfo.stats import VERDICTS

__all__ = ["KINDS", "RULES", "Advice", "advise"]

COSTS, UNDECIDED, GAINS = VERDICTS
KINDS = (
    "align",
    "learned representation gains",
    "mixed",
    "undecided",
    "undecided, specificity gains",
    "align + specificity",
    "specificity undecided",
    "keep non-aligned",
    "not run",
)
"""Every kind of advice :func:`advise` gives."""

RULES = (
    "a gain counts for alignment only where it is also a gain against SimCLR, the non-aligned "
    "learned reference, when SimCLR was compared; "
    'no pure-alignment objective costs and one gains: "align"; one gains over the raw inputs '
    'but none against SimCLR: "a learned representation gains", with alignment\'s verdict '
    'against SimCLR; one costs and another gains: "mixed: depends on the objective", naming '
    'each; none costs and none gains (no verdict decided): "undecided at this budget", not '
    '"align", and where an objective with a specificity term or fusion gains, that gain is '
    "said beside it; pure alignment costs and an objective with a specificity term or fusion "
    'gains: "align + specificity"; pure alignment costs and such an objective shows no '
    "detectable cost: undecided at this budget between it and a representation that was not "
    'aligned; pure alignment costs and nothing tried recovers it: "keep a non-aligned '
    'representation"'
)
"""The rules of :func:`advise`, in words (for the text that presents its advice)."""


@dataclass(frozen=True)
class Advice:
    """The advice for one setting.

    Attributes:
        kind: One of :data:`KINDS`.
        text: The advice in words, naming the objectives it rests on.
    """

    kind: str
    text: str


def _names(verdicts: Mapping[str, str], wanted: str) -> list[str]:
    return [m for m, v in verdicts.items() if v == wanted]


def _verb(names: list[str], one: str, many: str) -> str:
    """``"a, b gain"`` or ``"a gains"``: the names and the verb that agrees with them."""
    return f"{', '.join(names)} {one if len(names) == 1 else many}"


def _check(verdicts: Mapping[str, str]) -> None:
    bad = {m: v for m, v in verdicts.items() if v not in VERDICTS}
    if bad:
        raise ValueError(f"verdicts must be among {VERDICTS}; got {bad}")


def _earned(gaining: list[str], learned: Mapping[str, str] | None) -> list[str]:
    """The objectives whose gain counts for alignment: all, or those that gain against SimCLR."""
    return gaining if learned is None else [m for m in gaining if learned.get(m) == GAINS]


def _against(names: list[str], learned: Mapping[str, str] | None) -> str:
    """``"against SimCLR: a costs, b shows no detectable cost"`` ("" when SimCLR was not run)."""
    if learned is None or not names:
        return ""
    said = {COSTS: "costs", UNDECIDED: "shows no detectable cost", GAINS: "gains"}
    return "against SimCLR: " + ", ".join(
        f"{m} {said[learned[m]] if m in learned else 'was not compared'}" for m in names
    )


def _rescue_note(rescue: Mapping[str, str], learned: Mapping[str, str] | None) -> str:
    """What the objectives with a specificity term or fusion did, for the "align" advice."""
    notes = []
    if gaining := _names(rescue, GAINS):
        against = _against(gaining, learned)
        notes.append(_verb(gaining, "gains", "gain") + (f" ({against})" if against else ""))
    if costly := _names(rescue, COSTS):
        notes.append(_verb(costly, "costs", "cost"))
    return "" if not notes else "; with a specificity term or fusion, " + " and ".join(notes)


def advise(
    pure: Mapping[str, str],
    rescue: Mapping[str, str],
    learned: Mapping[str, str] | None = None,
) -> Advice:
    """The advice that one setting's verdicts against a reference support.

    Args:
        pure: The verdict of each pure-alignment objective run (InfoNCE, CCA, ...) against the
            raw inputs, by name.
        rescue: The verdict of each objective with a specificity term or fusion run (DeCUR,
            InfoNCE + SimCLR, CoMM, ...) against the raw inputs, by name.
        learned: The verdicts of the same objectives against SimCLR, the learned reference that
            was not aligned, by name; None where SimCLR was not run. A gain over the raw inputs
            counts for alignment only with a gain here too.

    Returns:
        The :class:`Advice` (the rules: :data:`RULES`).

    Raises:
        ValueError: when a verdict is not one of :data:`aligninfo.stats.VERDICTS`.
    """
    for verdicts in (pure, rescue, learned or {}):
        _check(verdicts)
    if not pure:
        return Advice("not run", "no pure-alignment objective was run")
    costly, gaining = _names(pure, COSTS), _names(pure, GAINS)
    if costly and gaining:
        rescuers = _names(rescue, GAINS)
        also = "" if not rescuers else f"; {_verb(rescuers, 'gains', 'gain')}"
        against = _against(gaining, learned)
        return Advice(
            "mixed",
            f"mixed: {_verb(costly, 'costs', 'cost')} and {_verb(gaining, 'gains', 'gain')}"
            f"{f' ({against})' if against else ''}{also}: whether alignment costs depends on "
            "the objective",
        )
    if gaining:
        return _gain(gaining, rescue, learned)
    if not costly:
        return _undecided(rescue, learned)
    return _costs(pure, costly, rescue, learned)


def _gain(
    gaining: list[str], rescue: Mapping[str, str], learned: Mapping[str, str] | None
) -> Advice:
    """No pure-alignment objective costs and ``gaining`` gain over the raw inputs."""
    note = _rescue_note(rescue, learned)
    if earned := _earned(gaining, learned):
        against = " over the raw inputs" + ("" if learned is None else " and against SimCLR")
        return Advice(
            "align",
            "no pure-alignment objective shows a detectable cost and "
            f"{_verb(earned, 'gains', 'gain')}{against}: align{note}",
        )
    against = _against(gaining, learned)
    if all(learned.get(m) == COSTS for m in gaining if learned is not None):
        why = "the gain is a learned representation's, and aligning it costs"
    else:
        why = "the gain is not shown to come from alignment"
    return Advice(
        "learned representation gains",
        f"a learned representation gains: {_verb(gaining, 'gains', 'gain')} over the raw "
        f"inputs, but {against}: {why}{note}",
    )


def _undecided(rescue: Mapping[str, str], learned: Mapping[str, str] | None) -> Advice:
    """No pure-alignment verdict is decided."""
    undecided = (
        "no pure-alignment objective shows a detectable cost, and none gains: no verdict "
        "is decided, so pure alignment is undecided at this budget (not a reason to align)"
    )
    gaining = _names(rescue, GAINS)
    if rescuers := _earned(gaining, learned):
        against = "" if learned is None else " (and against SimCLR)"
        return Advice(
            "undecided, specificity gains",
            f"{undecided}; {_verb(rescuers, 'gains', 'gain')}{against}: "
            "align + specificity has earned its place",
        )
    if gaining:
        undecided += (
            f"; {_verb(gaining, 'gains', 'gain')} over the raw inputs, "
            f"{_against(gaining, learned)}: not shown to come from alignment"
        )
    return Advice("undecided", undecided)


def _costs(
    pure: Mapping[str, str],
    costly: list[str],
    rescue: Mapping[str, str],
    learned: Mapping[str, str] | None,
) -> Advice:
    """Some pure-alignment objectives cost and none gains."""
    spared = [m for m in pure if m not in costly]
    caveat = "" if not spared else f" ({_verb(spared, 'does', 'do')} not)"
    head = f"pure alignment costs: {', '.join(costly)}{caveat}"
    gaining = _names(rescue, GAINS)
    if rescuers := _earned(gaining, learned):
        against = "" if learned is None else " (and against SimCLR)"
        return Advice(
            "align + specificity",
            f"{head}; {_verb(rescuers, 'gains', 'gain')}{against}: align + specificity",
        )
    open_ = _names(rescue, UNDECIDED)
    losing = [m for m in gaining if learned is not None and learned.get(m) == COSTS]
    unsure = [m for m in gaining if m not in losing]
    if open_ or unsure:
        said = [] if not open_ else [f"{_verb(open_, 'shows', 'show')} no detectable cost"]
        if unsure:
            said.append(
                f"{_verb(unsure, 'gains', 'gain')} over the raw inputs, {_against(unsure, learned)}"
            )
        return Advice(
            "specificity undecided",
            f"{head}; {'; '.join(said)} (no gain decided against every reference): undecided "
            "at this budget between align + specificity and a representation that was not "
            "aligned",
        )
    if losing:
        return Advice(
            "keep non-aligned",
            f"{head}; {_verb(losing, 'gains', 'gain')} over the raw inputs but "
            f"{_against(losing, learned)}: keep a non-aligned representation",
        )
    tried = "nothing tried recovers it" if rescue else "no specificity term or fusion was run"
    return Advice(
        "keep non-aligned",
        f"{head}; {tried}: keep a non-aligned representation",
    )
