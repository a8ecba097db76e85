"""The advice that the verdicts of one setting support, and no more.

A verdict (:data:`aligninfo.stats.VERDICTS`) says "costs" or "gains" only when its interval
excludes zero; "no detectable cost" is an interval that includes zero, which is *not* evidence
that alignment costs nothing. So the advice never turns "no detectable cost" into "align"::

    advise({"info_nce": "no detectable cost"}, {"decur": "no detectable cost"}).kind
    # "undecided": no cost was detected, none was excluded either

- ``"align"``: no pure-alignment objective costs and at least one gains over the reference.
- ``"mixed"``: one pure-alignment objective costs and another gains: whether alignment costs
  depends on the objective, and the advice names which does what.
- ``"undecided"``: no pure-alignment objective costs and none gains: no verdict is decided,
  the setting is undecided at this budget (seeds, sites, epochs).
- ``"undecided, specificity gains"``: no pure-alignment verdict is decided, and an objective
  with a specificity term or fusion gains: that objective has earned its place, pure alignment
  is undecided at this budget.
- ``"align + specificity"``: pure alignment costs and an objective with a specificity term or
  fusion gains.
- ``"specificity undecided"``: pure alignment costs and no objective with a specificity term
  or fusion gains, but at least one shows no detectable cost: undecided at this budget between
  it and a representation that was not aligned.
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
    'no pure-alignment objective costs and one gains: "align"; one costs and another gains: '
    '"mixed: depends on the objective", naming each; none costs and none gains '
    '(no verdict decided): "undecided at this budget", not "align", and where an objective '
    "with a specificity term or fusion gains, that gain is said beside it; pure alignment "
    'costs and an objective with a specificity term or fusion gains: "align + specificity"; '
    "pure alignment costs and such an objective shows no detectable cost: undecided at this "
    "budget between it and a representation that was not aligned; pure alignment costs and "
    'nothing tried recovers it: "keep a non-aligned representation"'
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


def advise(pure: Mapping[str, str], rescue: Mapping[str, str]) -> Advice:
    """The advice that one setting's verdicts against a reference support.

    Args:
        pure: The verdict of each pure-alignment objective run (InfoNCE, CCA, ...), by name.
        rescue: The verdict of each objective with a specificity term or fusion run (DeCUR,
            InfoNCE + SimCLR, CoMM, ...), by name.

    Returns:
        The :class:`Advice` (the rules: :data:`RULES`).

    Raises:
        ValueError: when a verdict is not one of :data:`aligninfo.stats.VERDICTS`.
    """
    _check(pure)
    _check(rescue)
    if not pure:
        return Advice("not run", "no pure-alignment objective was run")
    costly, gaining = _names(pure, COSTS), _names(pure, GAINS)
    rescuers = _names(rescue, GAINS)
    if costly and gaining:
        also = "" if not rescuers else f"; {_verb(rescuers, 'gains', 'gain')}"
        return Advice(
            "mixed",
            f"mixed: {_verb(costly, 'costs', 'cost')} and {_verb(gaining, 'gains', 'gain')}"
            f"{also}: whether alignment costs depends on the objective",
        )
    if gaining:
        return Advice(
            "align",
            f"no pure-alignment objective costs and {_verb(gaining, 'gains', 'gain')}: align",
        )
    if not costly:
        undecided = (
            "no pure-alignment objective shows a detectable cost, and none gains: no verdict "
            "is decided, so pure alignment is undecided at this budget (not a reason to align)"
        )
        if rescuers:
            return Advice(
                "undecided, specificity gains",
                f"{undecided}; {_verb(rescuers, 'gains', 'gain')}: "
                "align + specificity has earned its place",
            )
        return Advice("undecided", undecided)
    spared = [m for m in pure if m not in costly]
    caveat = "" if not spared else f" (not every one: {_verb(spared, 'does', 'do')} not)"
    if rescuers:
        return Advice(
            "align + specificity",
            f"pure alignment costs{caveat}; {_verb(rescuers, 'gains', 'gain')}: "
            "align + specificity",
        )
    if open_ := _names(rescue, UNDECIDED):
        return Advice(
            "specificity undecided",
            f"pure alignment costs{caveat}; "
            f"{_verb(open_, 'shows', 'show')} no detectable cost (no verdict decided): "
            "undecided at this budget between align + specificity and a "
            "representation that was not aligned",
        )
    tried = "nothing tried recovers it" if rescue else "no specificity term or fusion was run"
    return Advice(
        "keep non-aligned",
        f"pure alignment costs{caveat} and {tried}: keep a non-aligned representation",
    )
