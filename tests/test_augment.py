"""Augmentations: shapes, per-sample randomness, reproducibility and exact special cases."""

import pytest
import torch

from aligninfo.augment import (
    Compose,
    FeatureMask,
    GaussianNoise,
    RandomFlip,
    RandomResizedCrop,
    default_augment,
    patch_augment,
)


def test_gaussian_noise_statistics():
    torch.manual_seed(0)
    x = torch.zeros(2000, 50)
    noisy = GaussianNoise(0.3)(x)
    assert noisy.std().item() == pytest.approx(0.3, rel=0.02)
    assert torch.equal(GaussianNoise(0.0)(x), x)


def test_feature_mask_rate_and_values():
    torch.manual_seed(0)
    x = torch.randn(1000, 40)
    masked = FeatureMask(0.25)(x)
    zeroed = masked == 0
    assert zeroed.float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert torch.equal(masked[~zeroed], x[~zeroed])  # the rest untouched


def test_flip_produces_each_flip_of_each_patch():
    torch.manual_seed(0)
    x = torch.arange(4.0).view(1, 1, 2, 2).repeat(200, 3, 1, 1)
    out = RandomFlip()(x)
    variants = {tuple(p[0].flatten().tolist()) for p in out}
    assert variants == {(0, 1, 2, 3), (1, 0, 3, 2), (2, 3, 0, 1), (3, 2, 1, 0)}
    assert torch.equal(out[:, 0], out[:, 2])  # channels flipped together


def test_full_scale_crop_is_the_identity():
    x = torch.randn(5, 3, 8, 8)
    out = RandomResizedCrop(scale=(1.0, 1.0))(x)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=1e-5)


def test_crop_zooms_in_differently_per_sample():
    torch.manual_seed(0)
    ramp = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(6, 2, 16, 16).contiguous()
    out = RandomResizedCrop(scale=(0.3, 0.6))(ramp)
    assert out.shape == ramp.shape
    spans = out[:, 0, 0, -1] - out[:, 0, 0, 0]  # a zoomed ramp spans less
    assert (spans < 2 * 0.7).all() and spans.unique().numel() == 6


def test_patch_augmentations_need_patches():
    with pytest.raises(ValueError, match="patches"):
        RandomFlip()(torch.randn(4, 10))
    with pytest.raises(ValueError, match="patches"):
        RandomResizedCrop()(torch.randn(4, 2, 10))


@pytest.mark.parametrize(
    ("augment", "shape"), [(default_augment(), (8, 30)), (patch_augment(), (8, 4, 12, 12))]
)
def test_seeded_augmentations_are_reproducible(augment, shape):
    x = torch.randn(shape)
    torch.manual_seed(3)
    a = augment(x)
    torch.manual_seed(3)
    b = augment(x)
    c = augment(x)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)


def test_compose_applies_in_order():
    torch.manual_seed(0)
    out = Compose(lambda x: x + 1, lambda x: 2 * x)(torch.zeros(2, 3))
    assert torch.equal(out, torch.full((2, 3), 2.0))


def test_invalid_parameters_raise():
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-0.1)
    with pytest.raises(ValueError, match="p must"):
        FeatureMask(1.0)
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrop((0.0, 1.0))
