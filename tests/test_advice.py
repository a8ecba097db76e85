"""The advice of chapter 11 on constructed verdicts: "no detectable cost" is never "align"."""

from __future__ import annotations

import pytest

from aligninfo.advice import KINDS, RULES, advise

ND = "no detectable cost"


@pytest.mark.parametrize(
    ("pure", "rescue", "kind"),
    [
        ({"info_nce": ND, "vicreg": ND}, {"decur": ND}, "undecided"),
        ({"info_nce": ND}, {}, "undecided"),
        ({"info_nce": ND, "vicreg": "gains"}, {}, "align"),
        ({"info_nce": "gains"}, {"decur": "costs"}, "align"),
        ({"info_nce": "costs"}, {"decur": "gains", "comm": ND}, "align + specificity"),
        ({"info_nce": "costs", "cca": ND}, {"decur": ND}, "specificity undecided"),
        ({"info_nce": "costs"}, {"decur": "costs"}, "keep non-aligned"),
        ({"info_nce": "costs"}, {}, "keep non-aligned"),
        ({}, {"decur": "gains"}, "not run"),
        ({"info_nce": "gains", "vicreg": "costs"}, {}, "mixed"),
        ({"info_nce": "gains", "vicreg": "costs"}, {"decur": "costs"}, "mixed"),
        ({"info_nce": "costs", "cca": "gains"}, {"decur": "gains"}, "mixed"),
        ({"info_nce": ND}, {"decur": "gains", "comm": ND}, "undecided, specificity gains"),
        ({"info_nce": ND}, {"decur": "costs"}, "undecided"),
    ],
)
def test_the_advice_follows_the_verdicts(pure: dict, rescue: dict, kind: str) -> None:
    got = advise(pure, rescue)
    assert got.kind == kind and got.kind in KINDS


def test_no_detectable_cost_is_undecided_not_align() -> None:
    got = advise({"info_nce": ND, "barlow_twins": ND}, {"cross_self": ND})
    assert "undecided at this budget" in got.text
    assert not got.text.endswith("align")
    rescue = advise({"info_nce": "costs"}, {"cross_self": ND})
    assert "undecided at this budget" in rescue.text
    assert "cross_self" in rescue.text


def test_the_text_names_what_it_rests_on() -> None:
    assert "and vicreg gains: align" in advise({"info_nce": ND, "vicreg": "gains"}, {}).text
    both = advise({"info_nce": "gains", "vicreg": "gains"}, {}).text
    assert "info_nce, vicreg gain: align" in both
    mixed = advise({"info_nce": "costs", "cca": ND}, {"decur": "gains"})
    assert mixed.text.endswith("align + specificity") and "cca does not" in mixed.text
    assert "no specificity term or fusion was run" in advise({"cca": "costs"}, {}).text


def test_a_verdict_outside_the_three_stops() -> None:
    with pytest.raises(ValueError, match="verdicts must be among"):
        advise({"info_nce": "no cost"}, {})


def test_the_rules_in_words_name_every_outcome() -> None:
    for words in ('"align"', "undecided at this budget", '"align + specificity"', "keep a non"):
        assert words in RULES


def test_mixed_pure_verdicts_say_the_cost_depends_on_the_objective() -> None:
    # one pure-alignment objective costs, another gains: neither "keep non-aligned" nor "align"
    got = advise({"info_nce": "gains", "vicreg": "costs"}, {"decur": "costs"})
    assert got.text.startswith("mixed: vicreg costs and info_nce gains")
    assert got.text.endswith("depends on the objective")
    with_rescue = advise({"info_nce": "gains", "vicreg": "costs"}, {"decur": "gains"}).text
    assert "; decur gains: whether alignment costs depends on the objective" in with_rescue


def test_a_rescue_gain_is_said_when_pure_alignment_is_undecided() -> None:
    got = advise({"info_nce": ND, "cca": ND}, {"decur": "gains", "cross_self": "gains"})
    assert "pure alignment is undecided at this budget" in got.text
    assert got.text.endswith("decur, cross_self gain: align + specificity has earned its place")
    assert "decur" not in advise({"info_nce": ND}, {"decur": ND}).text


def test_every_kind_is_reachable_and_in_the_rules() -> None:
    verdicts = ("costs", ND, "gains")
    seen = {
        advise({"a": a, "b": b}, {"r": r} if r else {}).kind
        for a in verdicts
        for b in verdicts
        for r in (*verdicts, None)
    }
    assert seen | {"not run"} == set(KINDS)
    assert '"mixed: depends on the objective"' in RULES
