"""The advice of chapter 11 on constructed verdicts: "no detectable cost" is never "align"."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from aligninfo.advice import KINDS, RULES, TABLE, advise, rejudge
from aligninfo.stats import holm

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
    both = {"info_nce": "costs", "decur": "gains"}
    assert advise(costs, {"decur": "gains"}, both).kind == "align + specificity"
    open_ = advise(costs, {"decur": "gains"}, {"info_nce": "costs", "decur": ND})
    assert open_.kind == "specificity undecided" and "against SimCLR: decur" in open_.text
    # a cost that does not count (info_nce not compared with SimCLR) is no reason for either
    assert advise(costs, {"decur": "gains"}, {"decur": "gains"}).kind == (
        "learned representation costs"
    )
    lost = advise(costs, {"decur": "gains"}, {"info_nce": "costs", "decur": "costs"})
    assert lost.kind == "keep non-aligned" and "against SimCLR: decur costs" in lost.text
    assert "SimCLR" in RULES


def test_a_cost_shared_with_simclr_is_not_advice_to_keep_non_aligned() -> None:
    # Houston's LiDAR (kNN) at smoke scale: InfoNCE costs over the raw inputs, but so does
    # SimCLR, and InfoNCE against SimCLR is undecided: the cost is a learned representation's
    shared = advise({"info_nce": "costs"}, {}, {"info_nce": ND})
    assert shared.kind == "learned representation costs" and shared.undecided
    assert "against SimCLR: info_nce shows no detectable cost" in shared.text
    assert advise({"info_nce": "costs"}, {}).kind == "keep non-aligned"  # SimCLR not run
    both = advise({"info_nce": "costs"}, {}, {"info_nce": "costs"})
    assert both.kind == "keep non-aligned"
    assert both.text.startswith("pure alignment costs (and against SimCLR): info_nce;")
    # mixed reads the gains and costs that count: a gain shared with SimCLR is not one, so the
    # cost that counts decides, as the gain that counts does beside a shared cost ("align")
    shared_gain = advise(
        {"info_nce": "costs", "cca": "gains"}, {}, {"info_nce": "costs", "cca": "costs"}
    )
    assert shared_gain.kind == "keep non-aligned" and "(cca does not)" in shared_gain.text
    shared_cost = advise(
        {"info_nce": "costs", "cca": "gains"}, {}, {"info_nce": ND, "cca": "gains"}
    )
    assert shared_cost.kind == "align" and "a learned representation's cost" in shared_cost.text
    assert "a cost against it" in RULES


def test_the_wording_names_what_costs_and_what_the_rescue_did() -> None:
    costs = advise({"info_nce": "costs", "cca": ND, "vicreg": "costs"}, {})
    assert costs.text.startswith("pure alignment costs: info_nce, vicreg (cca does not)")
    align = advise({"info_nce": "gains", "cca": ND}, {"decur": "costs", "comm": "gains"})
    assert align.text.startswith("no pure-alignment objective shows a detectable cost")
    assert "with a specificity term or fusion, comm gains and decur costs" in align.text
    assert "decur" not in advise({"info_nce": "gains"}, {"decur": ND}).text


VERDICTS3 = ("costs", ND, "gains")


def every_advice() -> list:
    """The advice of every setting of two pure objectives, one other, with and without SimCLR."""
    out = []
    for a, b, r in itertools.product(VERDICTS3, VERDICTS3, (*VERDICTS3, None)):
        rescue = {"r": r} if r else {}
        names = ("a", "b", "r")[: 2 + bool(r)]
        for learned in itertools.product((*VERDICTS3, None), repeat=len(names)):
            against = {m: v for m, v in zip(names, learned, strict=True) if v}
            out += [advise({"a": a, "b": b}, rescue, against), advise({"a": a, "b": b}, rescue)]
    return out


def test_the_rules_and_the_kinds_come_from_one_table() -> None:
    assert KINDS == tuple(dict.fromkeys(rule.kind for rule in TABLE))
    assert all(rule.wording in RULES for rule in TABLE)
    # every rule of the table is reached, by the kind and the openness it gives
    reached = {(a.kind, a.undecided) for a in every_advice()} | {(advise({}, {}).kind, False)}
    assert reached == {(rule.kind, rule.undecided) for rule in TABLE}


class Reading:
    """A setting as RULES' words read it: "costs" and "gains" are those that count."""

    def __init__(self, pure: dict, rescue: dict, learned: dict | None) -> None:
        self.pure, self.learned = pure, learned

        def counts(m: str, v: str) -> bool:
            return learned is None or learned.get(m) == v

        self.costs = any(v == "costs" and counts(m, v) for m, v in pure.items())
        self.gains = any(v == "gains" and counts(m, v) for m, v in pure.items())
        self.raw_gains = [m for m, v in pure.items() if v == "gains"]
        self.raw_decided = any(v != ND for v in pure.values())
        self.rescued = any(v == "gains" and counts(m, v) for m, v in rescue.items())
        self.open = any(
            v == ND or (v == "gains" and (learned or {}).get(m, ND) == ND)
            for m, v in rescue.items()
        )


# Each rule of TABLE, in order: a phrase of its wording, and what those words say of a setting
READINGS = (
    ('"not run"', lambda s: not s.pure),
    ("one pure-alignment objective costs and another gains", lambda s: s.costs and s.gains),
    ('none costs and one gains: "align"', lambda s: not s.costs and s.gains),
    (
        "none costs, and one gains over the raw inputs, but each such one costs against SimCLR",
        lambda s: (
            not s.costs
            and s.raw_gains
            and all((s.learned or {}).get(m) == "costs" for m in s.raw_gains)
        ),
    ),
    ("none costs and one gains over the raw inputs only", lambda s: not s.costs and s.raw_gains),
    ("none costs or gains over the raw inputs", lambda s: not s.raw_decided and s.rescued),
    ("the same without such a gain", lambda s: not s.raw_decided),
    (
        "pure alignment costs and an objective with a specificity term or fusion gains",
        lambda s: s.costs and s.rescued,
    ),
    (
        "pure alignment costs and such an objective shows no detectable cost, or gains over the "
        "raw inputs and shows no detectable cost against SimCLR or was not compared",
        lambda s: s.costs and s.open,
    ),
    ("pure alignment costs over the raw inputs only", lambda s: not s.costs),
    ("pure alignment costs and nothing tried recovers it", lambda s: s.costs),
)


def settings() -> Iterator[tuple[dict, dict, dict | None]]:
    """Every setting of up to two pure objectives and two others, SimCLR's verdicts on each of
    them given, missing or SimCLR not run."""
    names = {"pure": ("a", "b"), "rescue": ("r", "s")}
    groups = {
        group: [
            dict(zip(them, vs, strict=False))
            for n in range(3)
            for vs in itertools.product(VERDICTS3, repeat=n)
        ]
        for group, them in names.items()
    }
    for pure, rescue in itertools.product(groups["pure"], groups["rescue"]):
        run = [*pure, *rescue]
        yield pure, rescue, None
        for against in itertools.product((*VERDICTS3, None), repeat=len(run)):
            yield pure, rescue, {m: v for m, v in zip(run, against, strict=True) if v}


def test_every_setting_gets_the_kind_of_the_first_rule_whose_words_hold() -> None:
    assert len(READINGS) == len(TABLE)
    for (phrase, _), rule in zip(READINGS, TABLE, strict=True):
        assert phrase in rule.wording and rule.wording in RULES, phrase
    reached = set()
    for pure, rescue, learned in settings():
        reading = Reading(pure, rescue, learned)
        first = next(i for i, (_, holds) in enumerate(READINGS) if holds(reading))
        got, rule = advise(pure, rescue, learned), TABLE[first]
        assert (got.kind, got.undecided) == (rule.kind, rule.undecided), (pure, rescue, learned)
        reached.add(first)
    assert reached == set(range(len(TABLE)))


def test_undecided_is_said_by_the_advice_of_every_kind_that_leaves_the_choice_open() -> None:
    open_ = {
        "undecided": advise({"info_nce": ND}, {}),
        "undecided, specificity gains": advise({"info_nce": ND}, {"decur": "gains"}),
        "specificity undecided": advise({"info_nce": "costs"}, {"decur": ND}),
        "learned representation gains": advise({"info_nce": "gains"}, {}, {"info_nce": ND}),
    }
    for kind, got in open_.items():
        assert got.kind == kind and got.undecided, got
    # decided: for, against, or depending on the objective; and nothing compared is not open
    assert not advise({"info_nce": "gains"}, {}).undecided
    assert not advise({"info_nce": "costs"}, {}).undecided
    assert not advise({"info_nce": "costs", "cca": "gains"}, {}).undecided
    assert not advise({}, {"decur": ND}).undecided
    # a gain over the raw inputs that costs against SimCLR decides: not aligned
    lost = advise({"info_nce": "gains"}, {}, {"info_nce": "costs"})
    assert lost.kind == "learned representation gains" and not lost.undecided


def test_rejudge_withdraws_what_the_group_does_not_reject() -> None:
    group = ("info_nce", "cca", "barlow_twins", "vicreg")
    # each gains within its own family (p = 0.02 < 0.05), none over four (4 x 0.02 > 0.05)
    verdicts, p, est = (
        {m: "gains" for m in group},
        dict.fromkeys(group, 0.02),
        dict.fromkeys(group, 0.1),
    )
    assert rejudge(verdicts, p, est) == dict.fromkeys(group, ND)
    # one clear gain survives the group; the others stay undecided
    p = {"info_nce": 0.001, "cca": 0.4, "barlow_twins": 0.6, "vicreg": 0.9}
    verdicts = {"info_nce": "gains", "cca": ND, "barlow_twins": ND, "vicreg": ND}
    assert rejudge(verdicts, p, est) == verdicts
    # Holm's step-down, not Bonferroni: 0.04 is rejected once 0.01 is (2 x 0.04 would not be)
    two = {"info_nce": "costs", "cca": "costs"}
    got = rejudge(two, {"info_nce": 0.01, "cca": 0.04}, {"info_nce": -1.0, "cca": -1.0})
    assert got == two


def test_rejudge_never_adds_a_verdict_nor_turns_its_direction() -> None:
    tiny = {"info_nce": 1e-4, "cca": 1e-4}
    undecided = rejudge({"info_nce": ND, "cca": ND}, tiny, {"info_nce": 1.0, "cca": -1.0})
    assert undecided == {"info_nce": ND, "cca": ND}
    # a "costs" whose estimate is positive is no verdict at the group level
    got = rejudge({"info_nce": "costs", "cca": "gains"}, tiny, {"info_nce": 0.5, "cca": 0.5})
    assert got == {"info_nce": ND, "cca": "gains"}


def test_rejudge_keeps_exactly_what_holm_rejects_over_the_group() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        names = [f"m{i}" for i in range(int(rng.integers(1, 7)))]
        p = dict(zip(names, rng.uniform(0, 0.1, len(names)).tolist(), strict=True))
        est = dict(zip(names, rng.normal(size=len(names)).tolist(), strict=True))
        verdicts = {m: "gains" if est[m] > 0 else "costs" for m in names}
        rejected = dict(zip(names, holm(list(p.values()))[1], strict=True))
        got = rejudge(verdicts, p, est)
        assert got == {m: verdicts[m] if rejected[m] else ND for m in names}


def test_rejudge_refuses_mismatched_or_unknown_inputs() -> None:
    with pytest.raises(ValueError, match="same comparisons"):
        rejudge({"info_nce": ND}, {"cca": 0.1}, {"info_nce": 0.0})
    with pytest.raises(ValueError, match="verdicts must be among"):
        rejudge({"info_nce": "no cost"}, {"info_nce": 0.1}, {"info_nce": 0.0})
