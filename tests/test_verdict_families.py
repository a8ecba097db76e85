"""Verdicts judged within families that do not depend on which other comparisons a run makes,
and enough bootstrap draws for Holm's first step (``aligninfo.stats``)."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.stats import (
    VERDICTS,
    bootstrap_p_value,
    family_verdicts,
    holm_draws,
    require_holm_draws,
    verdicts,
)

N_BOOT = 2000
OTHERS = ("barlow_twins", "vicreg", "cca", "decur", "cross_self", "cross_recon", "comm")


def _draws(n_nonnegative: int, n_boot: int = N_BOOT) -> np.ndarray:
    """``(n_boot,)`` draws of a cost: all negative but ``n_nonnegative`` of them (p fixed)."""
    d = -np.linspace(1.0, 2.0, n_boot)
    d[:n_nonnegative] = np.linspace(0.0, 0.5, n_nonnegative)
    return d


def _null(n_boot: int = N_BOOT) -> np.ndarray:
    """Draws symmetric about zero: p = 1."""
    return np.linspace(-1.0, 1.0, n_boot)


def _run(methods: tuple[str, ...]) -> tuple[dict, dict]:
    """Differences of a run that trains ``methods``: InfoNCE's ridge verdict has p ~ 0.02,
    every other comparison is null. Keys ``(method, probe)``."""
    diffs = {}
    for m in methods:
        for probe in ("linear", "knn"):
            costly = m == "info_nce" and probe == "linear"
            diffs[(m, probe)] = _draws(19) if costly else _null()
    return diffs, {k: float(np.median(v)) for k, v in diffs.items()}


def test_a_verdict_does_not_change_with_the_number_of_methods_run() -> None:
    key = ("info_nce", "linear")
    p = bootstrap_p_value(_run(("info_nce",))[0][key])
    assert 0.05 / 8 < p < 0.05 / 2  # decided in a family of two, not in a family of eight
    by_method = {}
    by_probe = {}
    for methods in (("info_nce",), ("info_nce", "barlow_twins"), ("info_nce", *OTHERS)):
        diffs, ests = _run(methods)
        by_method[len(methods)] = family_verdicts(diffs, ests, lambda k: k[0])[key].verdict
        by_probe[len(methods)] = family_verdicts(diffs, ests, lambda k: k[1])[key].verdict
    # one family per method (its probes): the same verdict whichever methods run
    assert set(by_method.values()) == {"costs"}
    # one family per probe over the methods run: the verdict flips with their number
    assert by_probe[1] == by_probe[2] == "costs" and by_probe[8] == "no detectable cost"


def test_family_verdicts_is_verdicts_within_each_family() -> None:
    diffs, ests = _run(("info_nce", "barlow_twins", "vicreg"))
    got = family_verdicts(diffs, ests, lambda k: k[0])
    assert list(got) == list(diffs)  # in the input order
    for m in ("info_nce", "barlow_twins", "vicreg"):
        keys = [(m, "linear"), (m, "knn")]
        alone = verdicts({k: diffs[k] for k in keys}, {k: ests[k] for k in keys})
        for k in keys:
            assert got[k] == alone[k]
            assert got[k].verdict in VERDICTS


def test_family_verdicts_rejects_mismatched_names() -> None:
    diffs, ests = _run(("info_nce",))
    with pytest.raises(ValueError, match="same comparisons"):
        family_verdicts(diffs, {("info_nce", "linear"): 0.0}, lambda k: k[0])


@pytest.mark.parametrize("family_size", [1, 2, 5, 16])
def test_holm_draws_is_the_fewest_draws_that_can_decide(family_size: int) -> None:
    needed = holm_draws(family_size, 0.05)
    for n_boot, decided in ((needed, True), (needed - 1, False)):
        if n_boot < 2:
            continue
        # every draw of every comparison below zero: the strongest evidence the draws allow
        diffs = {i: _draws(0, n_boot) for i in range(family_size)}
        got = verdicts(diffs, {i: -1.5 for i in diffs})
        assert all(
            v.verdict == ("costs" if decided else "no detectable cost") for v in got.values()
        )


def test_too_few_draws_stop_with_a_message_naming_them() -> None:
    require_holm_draws(holm_draws(2), 2)  # enough: no error
    with pytest.raises(ValueError, match=r"n_boot = 60 .* family of 2 .* n_boot >= 79"):
        require_holm_draws(60, 2, 0.05)
    diffs = {("a", "linear"): _draws(0, 60), ("a", "knn"): _draws(0, 60)}
    with pytest.raises(ValueError, match="n_boot = 60"):
        family_verdicts(diffs, dict.fromkeys(diffs, -1.5), lambda k: k[0])
    # the same draws decide a family of one
    one = family_verdicts(diffs, dict.fromkeys(diffs, -1.5), lambda k: k)
    assert {v.verdict for v in one.values()} == {"costs"}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_holm_draws_needs_a_positive_family_size(bad: object) -> None:
    with pytest.raises(ValueError, match="family_size"):
        holm_draws(bad)  # type: ignore[arg-type]
