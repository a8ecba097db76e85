"""Invariances the losses must have (and two they must not), on random embeddings.

Barlow Twins and DeCUR standardise each column, so a positive affine map per column changes
nothing; VICReg only forgives a translation shared by both embeddings; InfoNCE and NT-Xent see
only cosine similarities, so a rotation of both embeddings, or a positive rescaling of each
sample, changes nothing; CCA sees covariances, invariant under translations and a common
rotation; cross-prediction forgives any invertible linear map of the embedding. Every loss is
invariant under a common permutation of the batch.
"""

import numpy as np
import pytest
import torch

from aligninfo import losses as L

N, D = 32, 5


def embeddings(seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(N, D, generator=g, dtype=torch.float64).float()
    z2 = (0.6 * z1 + torch.randn(N, D, generator=g)).float()
    return z1, z2


def rotation(d=D, seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return torch.tensor(q, dtype=torch.float32)


def positive_affine(z, seed):
    g = torch.Generator().manual_seed(seed)
    scale = torch.rand(z.shape[1], generator=g) * 3 + 0.2
    shift = torch.randn(z.shape[1], generator=g) * 5
    return z * scale + shift


@pytest.mark.parametrize(
    "loss", [L.barlow_twins, lambda a, b: L.decur(a, b, 2)], ids=["barlow_twins", "decur"]
)
def test_correlation_losses_are_invariant_under_positive_affine_maps_per_column(loss):
    z1, z2 = embeddings()
    before = loss(z1, z2).item()
    after = loss(positive_affine(z1, 3), positive_affine(z2, 4)).item()
    assert after == pytest.approx(before, rel=1e-4, abs=1e-5)


def test_barlow_twins_is_not_invariant_under_a_sign_flip():
    z1, z2 = embeddings()
    flipped = z1.clone()
    flipped[:, 0] = -flipped[:, 0]
    assert L.barlow_twins(flipped, z2).item() > L.barlow_twins(z1, z2).item() + 0.1


def test_vicreg_is_invariant_under_a_common_translation_only():
    z1, z2 = embeddings()
    shift = torch.randn(D) * 4
    before = L.vicreg(z1, z2).item()
    assert L.vicreg(z1 + shift, z2 + shift).item() == pytest.approx(before, rel=1e-5)
    assert L.vicreg(z1 + shift, z2).item() > before + 1.0  # the invariance term sees it
    assert L.vicreg(3 * z1, 3 * z2).item() != pytest.approx(before, rel=1e-3)  # scale matters


@pytest.mark.parametrize("loss", [L.info_nce, L.nt_xent], ids=["info_nce", "nt_xent"])
def test_contrastive_losses_are_invariant_under_a_common_rotation(loss):
    z1, z2 = embeddings()
    r = rotation()
    assert loss(z1 @ r, z2 @ r).item() == pytest.approx(loss(z1, z2).item(), rel=1e-5)


@pytest.mark.parametrize("loss", [L.info_nce, L.nt_xent], ids=["info_nce", "nt_xent"])
def test_cosine_losses_are_invariant_under_positive_rescaling_of_each_sample(loss):
    z1, z2 = embeddings()
    g = torch.Generator().manual_seed(5)
    c1, c2 = torch.rand(N, 1, generator=g) + 0.1, torch.rand(N, 1, generator=g) * 10 + 0.1
    assert loss(c1 * z1, c2 * z2).item() == pytest.approx(loss(z1, z2).item(), rel=1e-5)


def test_info_nce_rotating_one_embedding_only_changes_it():
    z1, z2 = embeddings()
    assert L.info_nce(z1 @ rotation(), z2).item() != pytest.approx(L.info_nce(z1, z2).item())


def test_cca_is_invariant_under_translations_and_a_common_rotation():
    z1, z2 = embeddings()
    before = L.cca(z1, z2).item()
    r = rotation()
    assert L.cca(z1 + 7.0, z2 - 3.0).item() == pytest.approx(before, rel=1e-4)
    assert L.cca(z1 @ r, z2 @ r).item() == pytest.approx(before, rel=1e-4)


def test_cross_prediction_is_invariant_under_invertible_maps_of_the_embedding():
    z1, z2 = embeddings()
    m = torch.randn(D, D, generator=torch.Generator().manual_seed(6)) + 2 * torch.eye(D)
    before = L.cross_prediction(z1, z2, ridge=0.0).item()
    after = L.cross_prediction(z1 @ m + 4.0, z2 - 1.0, ridge=0.0).item()
    assert after == pytest.approx(before, rel=1e-3)


@pytest.mark.parametrize(
    "loss",
    [L.info_nce, L.nt_xent, L.cca, L.barlow_twins, L.vicreg, L.cross_prediction],
    ids=["info_nce", "nt_xent", "cca", "barlow_twins", "vicreg", "cross_prediction"],
)
def test_losses_are_invariant_under_a_common_permutation_of_the_batch(loss):
    z1, z2 = embeddings()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(7))
    assert loss(z1[perm], z2[perm]).item() == pytest.approx(loss(z1, z2).item(), rel=1e-5)


@pytest.mark.parametrize("loss", [L.info_nce, L.barlow_twins, L.cca, L.vicreg])
def test_symmetric_losses_do_not_depend_on_the_order_of_the_modalities(loss):
    z1, z2 = embeddings()
    assert loss(z2, z1).item() == pytest.approx(loss(z1, z2).item(), rel=1e-5)
