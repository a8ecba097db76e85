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
    one = advise({"info_nce": ND, "vicreg": "gains"}, {}).text
    assert one.startswith("no pure-alignment objective shows a detectable cost and vicreg gains")
    both = advise({"info_nce": "gains", "vicreg": "gains"}, {}).text
    assert "info_nce, vicreg gain over the raw inputs: align" in both
    mixed = advise({"info_nce": "costs", "cca": ND}, {"decur": "gains"})
    assert mixed.text.endswith("align + specificity") and "cca does not" in mixed.text
    assert advise({"cca": "costs"}, {}).text == (
        "pure alignment costs: cca; no specificity term or fusion was run: keep a non-aligned "
        "representation"
    )


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
        advise({"a": a, "b": b}, {"r": r} if r else {}, learned).kind
        for a in verdicts
        for b in verdicts
        for r in (*verdicts, None)
        for learned in (None, {"a": ND, "b": ND, "r": ND})
    }
    assert seen | {"not run"} == set(KINDS)
    assert '"mixed: depends on the objective"' in RULES


SMOKE_HOUSTON_LIDAR = ({"info_nce": "gains"}, {"comm": "gains"})


def test_a_gain_shared_with_simclr_is_not_advice_to_align() -> None:
    # Houston's LiDAR at smoke scale: InfoNCE gains over the raw inputs, but so does SimCLR, and
    # InfoNCE against SimCLR is undecided: the gain is a learned representation's
    pure, rescue = SMOKE_HOUSTON_LIDAR
    got = advise(pure, rescue, {"info_nce": ND, "comm": ND})
    assert got.kind == "learned representation gains"
    assert "a learned representation gains" in got.text
    assert "against SimCLR: info_nce shows no detectable cost" in got.text
    assert "align" not in got.text.replace("alignment", "")
    costly = advise(pure, rescue, {"info_nce": "costs", "comm": "costs"})
    assert costly.kind == "learned representation gains" and "aligning it costs" in costly.text
    assert advise(pure, rescue).kind == "align"  # SimCLR not run: the raw inputs alone
    earned = advise(pure, rescue, {"info_nce": "gains", "comm": ND})
    assert earned.kind == "align" and "gains over the raw inputs and against SimCLR" in earned.text
    assert "not compared" in advise(pure, {}, {"cca": ND}).text


def test_a_rescue_gain_counts_only_with_a_gain_against_simclr() -> None:
    undecided = advise({"info_nce": ND}, {"decur": "gains"}, {"decur": ND})
    assert undecided.kind == "undecided" and "has earned its place" not in undecided.text
    assert "decur gains over the raw inputs, against SimCLR: decur shows" in undecided.text
    earned = advise({"info_nce": ND}, {"decur": "gains"}, {"decur": "gains"})
    assert earned.kind == "undecided, specificity gains"
    costs = {"info_nce": "costs"}
    assert advise(costs, {"decur": "gains"}, {"decur": "gains"}).kind == "align + specificity"
    open_ = advise(costs, {"decur": "gains"}, {"decur": ND})
    assert open_.kind == "specificity undecided" and "against SimCLR: decur" in open_.text
    lost = advise(costs, {"decur": "gains"}, {"decur": "costs"})
    assert lost.kind == "keep non-aligned" and "against SimCLR: decur costs" in lost.text
    assert "SimCLR" in RULES


def test_the_wording_names_what_costs_and_what_the_rescue_did() -> None:
    costs = advise({"info_nce": "costs", "cca": ND, "vicreg": "costs"}, {})
    assert costs.text.startswith("pure alignment costs: info_nce, vicreg (cca does not)")
    align = advise({"info_nce": "gains", "cca": ND}, {"decur": "costs", "comm": "gains"})
    assert align.text.startswith("no pure-alignment objective shows a detectable cost")
    assert "with a specificity term or fusion, comm gains and decur costs" in align.text
    assert "decur" not in advise({"info_nce": "gains"}, {"decur": ND}).text
