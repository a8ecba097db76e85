"""The advice that the verdicts of one setting support, and no more.

A verdict (:data:`aligninfo.stats.VERDICTS`) says "costs" or "gains" only when its interval
excludes zero; "no detectable cost" is an interval that includes zero, which is *not* evidence
that alignment costs nothing. So the advice never turns "no detectable cost" into "align"::

    advise({"info_nce": "no detectable cost"}, {"decur": "no detectable cost"}).kind
    # "undecided": no cost was detected, none was excluded either

A gain or a cost over the raw inputs may come from learning a representation at all rather than
from aligning it. Where the non-aligned learned reference (SimCLR) was run, an objective's gain
counts for alignment, and its cost against it, only when it also gains (costs) against that
reference (``learned``).

The advice picks among objectives ("one gains"), so the verdicts it reads must be judged with
their group as one family: :func:`rejudge` does it, from the p-values the chapters save, before
:func:`advise`. :data:`TABLE` holds the rules, in the order they are tried: each row's kind,
condition and wording give both :func:`advise` and :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from aligninfo.stats import VERDICTS, holm

__all__ = ["KINDS", "RULES", "TABLE", "Advice", "Rule", "advise", "rejudge"]

COSTS, UNDECIDED, GAINS = VERDICTS
Verdicts = Mapping[str, str]
"""A verdict (:data:`aligninfo.stats.VERDICTS`) by objective."""


def _check(verdicts: Verdicts) -> None:
    if bad := {m: v for m, v in verdicts.items() if v not in VERDICTS}:
        raise ValueError(f"verdicts must be among {VERDICTS}; got {bad}")


def _names(verdicts: Verdicts, wanted: str) -> list[str]:
    return [m for m, v in verdicts.items() if v == wanted]


def _verb(names: list[str], one: str = "gains", many: str = "gain") -> str:
    """``"a, b gain"`` or ``"a gains"``: the names and the verb that agrees with them."""
    return f"{', '.join(names)} {one if len(names) == 1 else many}"


class _Facts:
    """One setting's verdicts (the arguments of :func:`advise`) and the names the rules read."""

    def __init__(self, pure: Verdicts, rescue: Verdicts, learned: Verdicts | None) -> None:
        self.pure, self.rescue, self.learned = pure, rescue, learned
        self.costly, self.gaining = _names(pure, COSTS), _names(pure, GAINS)
        self.earned, self.charged = self.counted(self.gaining), self.counted(self.costly, COSTS)
        # the objectives with a specificity term or fusion that gain over the raw inputs: those
        # whose gain counts, those that cost against SimCLR, the others
        self.helping = _names(rescue, GAINS)
        self.rescuers = self.counted(self.helping)
        self.losing = [m for m in self.helping if (learned or {}).get(m) == COSTS]
        self.unsure = [m for m in self.helping if m not in self.rescuers + self.losing]
        self.also = "" if learned is None else " (and against SimCLR)"
        spared = [m for m in pure if m not in self.charged]
        caveat = f" ({_verb(spared, 'does', 'do')} not)" if spared else ""
        self.head = f"pure alignment costs{self.also}: {', '.join(self.charged)}{caveat}"

    def counted(self, names: list[str], verdict: str = GAINS) -> list[str]:
        """The gains (costs) that count for (against) alignment: all, or those against SimCLR."""
        learned = self.learned
        return names if learned is None else [m for m in names if learned.get(m) == verdict]

    def against(self, names: list[str], brackets: bool = False) -> str:
        """``"against SimCLR: a costs, b shows no detectable cost"`` ("" without SimCLR)."""
        if self.learned is None or not names:
            return ""
        said = {COSTS: "costs", UNDECIDED: "shows no detectable cost", GAINS: "gains"}
        text = "against SimCLR: " + ", ".join(
            f"{m} {said[self.learned[m]] if m in self.learned else 'was not compared'}"
            for m in names
        )
        return f" ({text})" if brackets else text


def _rescue_note(f: _Facts) -> str:
    """What the objectives with a specificity term or fusion did, beside a pure gain."""
    notes = [_verb(f.helping) + f.against(f.helping, True)] if f.helping else []
    if costly := _names(f.rescue, COSTS):
        notes.append(_verb(costly, "costs", "cost"))
    return "" if not notes else "; with a specificity term or fusion, " + " and ".join(notes)


def _mixed(f: _Facts) -> str:
    also = f"; {_verb(f.helping)}" if f.helping else ""
    return (
        f"mixed: {_verb(f.charged, 'costs', 'cost')} and {_verb(f.earned)}"
        f"{f.against(f.charged + f.earned, True)}{also}: whether alignment costs depends on the "
        "objective"
    )


def _learned_cost(f: _Facts) -> str:
    """``"a costs over the raw inputs, but against SimCLR: a shows no detectable cost"``."""
    return f"{_verb(f.costly, 'costs', 'cost')} over the raw inputs, but {f.against(f.costly)}"


def _align(f: _Facts) -> str:
    against = "" if f.learned is None else " and against SimCLR"
    none = "no pure-alignment objective shows a detectable cost"
    lead = f"{_learned_cost(f)} (a learned representation's cost)" if f.costly else none
    return f"{lead} and {_verb(f.earned)} over the raw inputs{against}: align{_rescue_note(f)}"


def _learned(why: str) -> Callable[[_Facts], str]:
    """The text of a gain over the raw inputs that does not count for alignment."""
    return lambda f: (
        f"a learned representation gains: {_verb(f.gaining)} over the raw inputs, but "
        f"{f.against(f.gaining)}: {why}{_rescue_note(f)}"
        + (f"; {_learned_cost(f)}" if f.costly else "")
    )


_UNDECIDED = (
    "no pure-alignment objective shows a detectable cost, and none gains: no verdict is "
    "decided, so pure alignment is undecided at this budget (not a reason to align)"
)


def _undecided(f: _Facts) -> str:
    if not f.helping:
        return _UNDECIDED
    gains = f"{_verb(f.helping)} over the raw inputs, {f.against(f.helping)}"
    return f"{_UNDECIDED}; {gains}: not shown to come from alignment"


def _specificity_undecided(f: _Facts) -> str:
    open_ = _names(f.rescue, UNDECIDED)
    said = [f"{_verb(open_, 'shows', 'show')} no detectable cost"] if open_ else []
    if f.unsure:
        said.append(f"{_verb(f.unsure)} over the raw inputs, {f.against(f.unsure)}")
    return (
        f"{f.head}; {'; '.join(said)} (no gain decided against every reference): undecided at "
        "this budget between align + specificity and a representation that was not aligned"
    )


def _keep(f: _Facts) -> str:
    if f.losing:
        why = f"{_verb(f.losing)} over the raw inputs but {f.against(f.losing)}"
    else:
        why = "nothing tried recovers it" if f.rescue else "no specificity term or fusion was run"
    return f"{f.head}; {why}: keep a non-aligned representation"


@dataclass(frozen=True)
class Rule:
    """One rule of the advice: the first rule whose condition holds gives the advice.

    Attributes:
        kind: The kind of advice it gives (one of :data:`KINDS`).
        undecided: Whether its verdicts leave the choice (align or not) undecided at this budget;
            False where they decide it, and where nothing was compared.
        wording: The rule in words, for :data:`RULES`.
        holds: Whether it applies to a setting's verdicts.
        text: The advice in words, naming the objectives it rests on.
    """

    kind: str
    undecided: bool
    wording: str
    holds: Callable[[_Facts], bool]
    text: Callable[[_Facts], str]


TABLE: tuple[Rule, ...] = (
    Rule("not run", False, 'no pure-alignment objective compared: "not run"',
         lambda f: not f.pure, lambda f: "no pure-alignment objective was run"),
    Rule("mixed", False, 'one pure-alignment objective costs and another gains: "mixed: depends '
         'on the objective", naming each', lambda f: bool(f.charged and f.earned), _mixed),
    Rule("align", False, 'none costs and one gains: "align"', lambda f: bool(f.earned), _align),
    Rule("learned representation gains", False, "none costs, and one gains over the raw inputs, "
         'but each such one costs against SimCLR: "a learned representation gains", and aligning '
         "it costs", lambda f: not f.charged and bool(f.gaining)
         and all((f.learned or {}).get(m) == COSTS for m in f.gaining),
         _learned("the gain is a learned representation's, and aligning it costs")),
    Rule("learned representation gains", True, 'none costs and one gains over the raw inputs '
         "only: \"a learned representation gains\", with alignment's verdict against SimCLR",
         lambda f: not f.charged and bool(f.gaining),
         _learned("the gain is not shown to come from alignment")),
    Rule("undecided, specificity gains", True, "none costs or gains over the raw inputs (no "
         'verdict decided): "undecided at this budget", not "align", and where an objective with '
         "a specificity term or fusion gains, that gain is said beside it",
         lambda f: not f.costly and bool(f.rescuers),
         lambda f: f"{_UNDECIDED}; {_verb(f.rescuers)}{f.also}: align + specificity has earned "
         "its place"),
    Rule("undecided", True, "the same without such a gain", lambda f: not f.costly, _undecided),
    Rule("align + specificity", False, "pure alignment costs and an objective with a "
         'specificity term or fusion gains: "align + specificity"',
         lambda f: bool(f.charged and f.rescuers),
         lambda f: f"{f.head}; {_verb(f.rescuers)}{f.also}: align + specificity"),
    Rule("specificity undecided", True, "pure alignment costs and such an objective shows no "
         "detectable cost, or gains over the raw inputs and shows no detectable cost against "
         "SimCLR or was not compared with it: undecided at this budget between it and a "
         "representation that was not aligned",
         lambda f: bool(f.charged and (_names(f.rescue, UNDECIDED) or f.unsure)),
         _specificity_undecided),
    Rule("learned representation costs", True, 'pure alignment costs over the raw inputs only: "a '
         "learned representation costs\", with alignment's verdict against SimCLR",
         lambda f: not f.charged,
         lambda f: f"a learned representation costs: {_learned_cost(f)}: the cost is not shown to "
         f"come from alignment{_rescue_note(f)}"),
    Rule("keep non-aligned", False, 'pure alignment costs and nothing tried recovers it: "keep '
         'a non-aligned representation"', lambda f: True, _keep),
)  # fmt: skip
"""The rules of :func:`advise`, tried in order (a gain or cost counts as :meth:`_Facts.counted`
says)."""

KINDS = tuple(dict.fromkeys(rule.kind for rule in TABLE))
"""Every kind of advice :func:`advise` gives."""

RULES = (
    "a gain counts for alignment, and a cost against it, only where it is also a gain (a cost) "
    "against SimCLR, the non-aligned learned reference, when SimCLR was compared; the first rule "
    "that holds gives the advice: " + "; ".join(rule.wording for rule in TABLE)
)
"""The rules of :func:`advise`, in words (for the text that presents its advice)."""


@dataclass(frozen=True)
class Advice:
    """The advice for one setting.

    Attributes:
        kind: One of :data:`KINDS`.
        text: The advice in words, naming the objectives it rests on.
        undecided: Whether the verdicts leave the choice undecided (:attr:`Rule.undecided`).
    """

    kind: str
    text: str
    undecided: bool = False


def advise(pure: Verdicts, rescue: Verdicts, learned: Verdicts | None = None) -> Advice:
    """The advice that one setting's verdicts against a reference support.

    Args:
        pure: The verdict of each pure-alignment objective run (InfoNCE, CCA, ...) against the
            raw inputs, by name.
        rescue: The verdict of each objective with a specificity term or fusion run (DeCUR,
            InfoNCE + SimCLR, CoMM, ...) against the raw inputs, by name.
        learned: The verdicts of the same objectives against SimCLR, the learned reference that
            was not aligned, by name; None where SimCLR was not run. A gain (cost) over the raw
            inputs counts for (against) alignment only with a gain (cost) here too.

    Returns:
        The :class:`Advice` of the first rule of :data:`TABLE` that holds.

    Raises:
        ValueError: when a verdict is not one of :data:`aligninfo.stats.VERDICTS`.
    """
    for verdicts in (pure, rescue, learned or {}):
        _check(verdicts)
    facts = _Facts(pure, rescue, learned)
    rule = next(rule for rule in TABLE if rule.holds(facts))
    return Advice(rule.kind, rule.text(facts), rule.undecided)


def rejudge(
    verdicts: Verdicts,
    p_values: Mapping[str, float],
    estimates: Mapping[str, float],
    alpha: float = 0.05,
) -> dict[str, str]:
    """The verdicts of a group of comparisons, with the group as one Holm family.

    A chapter judges each comparison within its own small family (one objective against one
    reference: its probes, its targets); advice that picks among a group's objectives ("one of
    them gains") needs a family that covers the group. A verdict stays "costs" or "gains" only
    when Holm's procedure over the group's unadjusted p-values rejects it too *and* the sign of
    its estimate is its direction; otherwise it becomes "no detectable cost". So the re-judging
    only withdraws verdicts: a decided one still rests on its chapter's interval, which excludes
    zero.

    Args:
        verdicts: The chapter's verdict of each comparison of the group, by name.
        p_values: Its unadjusted p-value, by the same names.
        estimates: Its estimate (method minus reference), by the same names.
        alpha: The family-wise level (the chapters').

    Returns:
        The verdict of each comparison at the group level, by name, in the input order.

    Raises:
        ValueError: when the three mappings name different comparisons, or a verdict is not one
            of :data:`aligninfo.stats.VERDICTS`.
    """
    names = list(verdicts)
    if set(names) != set(p_values) or set(names) != set(estimates):
        raise ValueError("verdicts, p_values and estimates must name the same comparisons")
    _check(verdicts)
    _, rejected = holm([p_values[m] for m in names], alpha)
    sign = {COSTS: -1.0, UNDECIDED: 0.0, GAINS: 1.0}
    return {
        m: verdicts[m] if ok and np.sign(estimates[m]) == sign[verdicts[m]] else UNDECIDED
        for m, ok in zip(names, rejected, strict=True)
    }
