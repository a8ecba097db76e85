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
