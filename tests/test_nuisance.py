"""Nuisance shared across modalities: spectra, Kamai et al.'s special case, cross-prediction."""

import numpy as np
import pytest
import torch

from aligninfo import losses as L
from aligninfo.frontier import random_frames
from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import principal_angles
from aligninfo.linear_pairs import train_linear, weight
from aligninfo.nuisance import (
    REGIMES,
    NuisanceModel,
    add_nuisance,
    cross_prediction_error,
    cross_prediction_map,
    cross_prediction_projection,
    cross_prediction_values,
    recovery,
    signal_kept,
    spiked_model,
)
from aligninfo.train import TrainConfig


def spiked_params(seed, k=2, d=5):
    rng = np.random.default_rng(seed)
    gxn, gyn = rng.uniform(0.2, 3.0, d - k), rng.uniform(0.2, 3.0, d - k)
    return dict(
        kappas=rng.uniform(0.3, 1.5, k),
        gamma_x_s=rng.uniform(0.1, 2.0, k),
        gamma_y_s=rng.uniform(0.1, 2.0, k),
        gamma_x_n=gxn,
        gamma_y_n=gyn,
        etas=rng.uniform(0, 1, d - k) * np.sqrt(gxn * gyn),
    )


def kamai_values(kappas, gamma_x_s, gamma_y_s, gamma_x_n, gamma_y_n, etas):
    """Their closed forms, written out here independently of the library."""
    k2 = kappas**2
    rho = k2 / np.sqrt((k2 + gamma_x_s) * (k2 + gamma_y_s))
    nu = etas / np.sqrt(gamma_x_n * gamma_y_n)
    tau = k2 / np.sqrt(k2 + gamma_x_s)
    xi = etas / np.sqrt(gamma_x_n)
    return rho, nu, tau, xi


@pytest.mark.parametrize("seed", range(4))
def test_spiked_model_has_the_covariances_of_kamai_et_al(seed):
    p = spiked_params(seed)
    nm = spiked_model(**p, seed=seed)
    c11, c12 = nm.model.covariance("X1"), nm.model.cross_covariance("X1", "X2")
    var_x = np.concatenate([p["kappas"] ** 2 + p["gamma_x_s"], p["gamma_x_n"]])
    assert np.allclose(np.linalg.eigvalsh(c11), np.sort(var_x))
    cross = np.concatenate([p["kappas"] ** 2, p["etas"]])
    assert np.allclose(np.linalg.svd(c12, compute_uv=False), np.sort(cross)[::-1])


@pytest.mark.parametrize("seed", range(4))
def test_spiked_spectra_split_into_kamai_signal_and_nuisance_values(seed):
    p = spiked_params(seed)
    nm = spiked_model(**p, seed=seed)
    assert nm.is_separable()
    sp = nm.split_spectra()
    rho, nu, tau, xi = kamai_values(**p)
    for got, want in zip(
        (sp["rho_signal"], sp["rho_nuisance"], sp["tau_signal"], sp["xi_nuisance"]),
        (rho, nu, tau, xi),
        strict=True,
    ):
        assert np.allclose(got, np.sort(want)[::-1])
    assert np.allclose(nm.model.canonical_correlations(), np.sort(np.r_[rho, nu])[::-1])
    assert np.allclose(cross_prediction_values(nm.model), np.sort(np.r_[tau, xi])[::-1])


@pytest.mark.parametrize("seed", range(3))
def test_spectra_from_posterior_information_hold_for_any_model(seed):
    nm = NuisanceModel.random(seed=seed, nuisance_scale=1.5)
    assert not nm.is_separable()
    q1, q2 = nm.posterior_information(1), nm.posterior_information(2)
    lam = np.linalg.eigvalsh(q1)
    assert lam.min() > -1e-12 and lam.max() < 1
    rho2 = np.sort(np.linalg.eigvals(q1 @ q2).real)[::-1]
    rho = nm.model.canonical_correlations()
    assert np.allclose(rho[: rho2.size] ** 2, rho2, atol=1e-10)
    a2 = nm.shared_loading(2)
    w, v = np.linalg.eigh(q1)
    root = (v * np.sqrt(w.clip(0))) @ v.T
    tau2 = np.sort(np.linalg.eigvalsh(root @ a2.T @ a2 @ root))[::-1]
    tau = cross_prediction_values(nm.model)
    assert np.allclose(tau[: tau2.size] ** 2, tau2, atol=1e-10)
    with pytest.raises(ValueError, match="not separable"):
        nm.split_spectra()


@pytest.mark.parametrize("seed", range(12))
def test_recovery_is_the_spectral_condition_in_separable_models(seed):
    nm = spiked_model(**spiked_params(seed), seed=seed)
    for k in (2, 3):
        rec = recovery(nm, k)
        assert rec.alignment_recovers == (rec.delta_alignment > 1)
        assert rec.prediction_recovers == (rec.delta_prediction > 1)
        assert 0 <= rec.alignment_kept <= 1 + 1e-9 and 0 <= rec.prediction_kept <= 1 + 1e-9


def test_the_four_regimes_occur():
    base = dict(kappas=[1.0], gamma_x_s=[0.5], gamma_y_s=[0.5], gamma_x_n=[1.0])
    seen = set()
    for gyn in (0.3, 10.0):  # target-modality nuisance variance: large traps prediction
        for corr in (0.5, 0.9):  # nuisance canonical correlation: large traps alignment
            eta = corr * np.sqrt(gyn)
            seen.add(recovery(spiked_model(**base, gamma_y_n=[gyn], etas=[eta])).regime)
    assert seen == set(REGIMES)


def test_add_nuisance_composes_the_book_model():
    base = GaussianModel.random(d_shared=2, d_unique=(2, 2), dims=(6, 6), seed=3)
    b = np.random.default_rng(0).standard_normal((6, 1))
    nm = add_nuisance(base, (b, 2 * b))
    assert nm.d_signal == 2 and nm.d_nuisance == 1 and nm.model.d_shared == 3
    assert nm.model.r2("Y1", "X1") != pytest.approx(base.r2("Y1", "X1"))
    c = nm.model.covariance("X1") - base.covariance("X1")
    assert np.allclose(c, b @ b.T)
    zero = add_nuisance(base, (0 * b, 0 * b))
    assert zero.model.r2("Y1", "X1") == pytest.approx(base.r2("Y1", "X1"))
    with pytest.raises(ValueError, match="rows"):
        add_nuisance(base, (b[:5], b))
    with pytest.raises(ValueError, match="loads on the nuisance"):
        NuisanceModel(base, 1)


def test_cross_prediction_projection_is_reduced_rank_regression():
    m = NuisanceModel.random(seed=1).model
    k = 2
    w = cross_prediction_projection(m, k)
    tau = cross_prediction_values(m)
    c22 = m.covariance("X2")
    best = cross_prediction_error(m, w)
    assert best == pytest.approx(np.trace(c22) - np.sum(tau[:k] ** 2))
    b = cross_prediction_map(m, k)
    assert np.linalg.matrix_rank(b) == k
    lb = m.loading("X2") - b @ m.loading("X1")
    assert np.trace(lb @ lb.T) == pytest.approx(best)  # B is the readout of W X1
    others = [cross_prediction_error(m, f) for f in random_frames(m.dims[0], k, 200, seed=2)]
    assert min(others) >= best - 1e-9


def test_cross_prediction_loss_estimates_the_population_error():
    m = NuisanceModel.random(seed=2).model
    w = cross_prediction_projection(m, 2)
    s = m.sample(200_000, seed=0)
    z = torch.tensor(s["X1"] @ w.T, dtype=torch.float32)
    got = L.cross_prediction(z, torch.tensor(s["X2"], dtype=torch.float32), ridge=0.0).item()
    assert got * m.dims[1] == pytest.approx(cross_prediction_error(m, w), rel=0.02)


def whitener(x):
    lam, vec = np.linalg.eigh(np.cov(x, rowvar=False))
    return (vec / np.sqrt(lam)) @ vec.T


@pytest.mark.parametrize("seed", [0, 1])
def test_trained_linear_encoders_reach_the_closed_forms(seed):
    """CCA and cross-prediction trained on samples keep the share of the signal predicted.

    Inputs are whitened by their sample covariance, which leaves both optima unchanged (CCA is
    invariant to invertible maps of each modality, cross-prediction to those of its source).
    """
    nm = spiked_model([0.7], [0.1], [0.1], [1.0], [2.0], [0.55 * np.sqrt(2.0)], seed=seed)
    assert recovery(nm).regime == "alignment only"
    m, k = nm.model, 1
    raw = m.sample(2000, seed=seed + 1)
    t1, t2 = whitener(raw["X1"]), whitener(raw["X2"])
    inputs = {
        "cca": {"x1": raw["X1"] @ t1, "x2": raw["X2"] @ t2},
        "cross_prediction": {"x1": raw["X1"] @ t1, "x2": raw["X2"]},
    }
    config = TrainConfig(epochs=8, batch_size=64, lr=0.1, seed=seed, progress=False)
    root = np.linalg.cholesky(m.covariance("X1"))  # angles in the covariance metric
    kept = {}
    for name, closed in (
        ("cca", m.cca_projection(k)),
        ("cross_prediction", cross_prediction_projection(m, k)),
    ):
        run = train_linear(L.make_objective(name), inputs[name], config, m.dims, k)
        w = weight(run.encoders) @ t1
        angle = np.degrees(principal_angles(w @ root, closed @ root)).max()
        assert angle < 10, (name, angle)
        kept[name] = signal_kept(nm, w)
    assert kept["cca"] > 0.9 and kept["cross_prediction"] < 0.1, kept


@pytest.mark.parametrize("seed", range(3))
def test_room_restores_the_signal_only_when_the_partner_sees_every_common_latent(seed):
    """Theorem thm-nuisance item 3 needs A_2^c of full column rank: a blind X2 breaks it."""
    base = GaussianModel.random(d_shared=2, d_unique=(2, 2), dims=(8, 8), seed=seed)
    rng = np.random.default_rng(seed)
    loads = (rng.standard_normal((8, 2)), rng.standard_normal((8, 2)))
    room = 4  # d_s + d_n
    seeing = add_nuisance(base, loads)
    assert signal_kept(seeing, seeing.model.cca_projection(room)) == pytest.approx(1.0, abs=1e-8)
    blind_mixing = base.mixing[1].copy()
    blind_mixing[:, 1] = 0.0  # X2 does not see the second signal latent
    blind_base = GaussianModel(
        (base.mixing[0], blind_mixing),
        base.noise,
        base.target_shared,
        base.target_unique,
        base.target_noise,
    )
    blind = add_nuisance(blind_base, loads)
    assert signal_kept(blind, blind.model.cca_projection(room)) < 0.99


def _inv_sqrt(c):
    lam, vec = np.linalg.eigh(c)
    return (vec / np.sqrt(lam)) @ vec.T


@pytest.mark.parametrize("seed", range(40))
def test_kamai_subspace_recovery_agrees_with_the_criteria_and_the_library(seed):
    """Their covariances built here, their recovery (encoder row space holds the signal axes)."""
    p = spiked_params(seed)
    ks, d = p["kappas"].size, p["kappas"].size + p["etas"].size
    rng = np.random.default_rng([seed, 7])
    k = int(rng.integers(ks, d + 1))
    qx, qy = (np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(2))
    k2 = p["kappas"] ** 2
    sxx = qx @ np.diag(np.r_[k2 + p["gamma_x_s"], p["gamma_x_n"]]) @ qx.T
    syy = qy @ np.diag(np.r_[k2 + p["gamma_y_s"], p["gamma_y_n"]]) @ qy.T
    sxy = qx @ np.diag(np.r_[k2, p["etas"]]) @ qy.T
    left_ca = np.linalg.svd(_inv_sqrt(sxx) @ sxy @ _inv_sqrt(syy))[0]
    left_cp = np.linalg.svd(_inv_sqrt(sxx) @ sxy)[0]

    def holds_signal(left):
        basis = np.linalg.qr((left[:, :k].T @ _inv_sqrt(sxx)).T)[0]
        axes = qx[:, :ks]
        return bool(np.abs(axes - basis @ (basis.T @ axes)).max() < 1e-6)

    rho, nu, tau, xi = kamai_values(**p)
    rank = k - ks + 1
    nu_r = np.sort(nu)[::-1][rank - 1] if rank <= nu.size else 0.0
    xi_r = np.sort(xi)[::-1][rank - 1] if rank <= xi.size else 0.0
    rec = recovery(spiked_model(**p, seed=seed), k)
    assert holds_signal(left_ca) == (rho.min() > nu_r) == rec.alignment_recovers
    assert holds_signal(left_cp) == (tau.min() > xi_r) == rec.prediction_recovers
