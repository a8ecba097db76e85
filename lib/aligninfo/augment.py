"""Batch augmentations for intra-modal objectives (SimCLR, DeCUR, CoMM).

Each augmentation is a callable ``(batch, ...) -> (batch, ...)`` of the same shape that draws an
independent transformation per sample from torch's global generator on the batch's device (so a
seeded run is reproducible and a checkpoint's RNG state resumes it exactly).

- Tabular / spectral inputs ``(batch, features)`` or ``(batch, channels, length)``:
  :class:`GaussianNoise`, :class:`FeatureMask`.
- Image patches ``(batch, channels, height, width)``, any channel count: :class:`RandomFlip`,
  :class:`RandomResizedCrop`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Augment",
    "Compose",
    "FeatureMask",
    "GaussianNoise",
    "RandomFlip",
    "RandomResizedCrop",
    "default_augment",
    "patch_augment",
]

Augment = Callable[[Tensor], Tensor]


def _check_patches(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} expects patches (batch, channels, height, width), got {x.shape}")


@dataclass(frozen=True)
class GaussianNoise:
    """Add ``N(0, std^2)`` noise to every entry.

    Attributes:
        std: Noise standard deviation, >= 0.
    """

    std: float = 0.1

    def __post_init__(self) -> None:
        if not self.std >= 0:
            raise ValueError(f"std must be >= 0, got {self.std}")

    def __call__(self, x: Tensor) -> Tensor:
        """Args: x: ``(batch, ...)``. Returns: noisy copy, same shape."""
        return x + self.std * torch.randn_like(x)


@dataclass(frozen=True)
class FeatureMask:
    """Zero each entry (feature, band, time step) independently with probability ``p``.

    Attributes:
        p: Masking probability in [0, 1).
    """

    p: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.p < 1:
            raise ValueError(f"p must be in [0, 1), got {self.p}")

    def __call__(self, x: Tensor) -> Tensor:
        """Args: x: ``(batch, ...)``. Returns: masked copy, same shape."""
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep.to(x.dtype)


@dataclass(frozen=True)
class RandomFlip:
    """Flip each patch left-right and (optionally) up-down, each with probability 1/2.

    Attributes:
        vertical: Also flip up-down (natural for overhead imagery).
    """

    vertical: bool = True

    def __call__(self, x: Tensor) -> Tensor:
        """Args: x: ``(batch, channels, height, width)``. Returns: flipped copy, same shape."""
        _check_patches(x, "RandomFlip")
        dims = (-1, -2) if self.vertical else (-1,)
        for dim in dims:
            flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
            x = torch.where(flip, x.flip(dim), x)
        return x


@dataclass(frozen=True)
class RandomResizedCrop:
    """Crop a random square window of each patch and resample it to the full size (bilinear).

    The window's side is a fraction of the patch's side drawn uniformly from ``scale``; its
    position is uniform inside the patch. One affine sampling grid per sample, no Python loop.

    Attributes:
        scale: Range of the window side as a fraction of the patch side, within (0, 1].
    """

    scale: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {self.scale}")

    def __call__(self, x: Tensor) -> Tensor:
        """Args: x: ``(batch, channels, height, width)``. Returns: cropped copy, same shape."""
        _check_patches(x, "RandomResizedCrop")
        n = x.shape[0]
        lo, hi = self.scale
        side = lo + (hi - lo) * torch.rand(n, device=x.device)
        shift = (1 - side).unsqueeze(1) * (2 * torch.rand(n, 2, device=x.device) - 1)
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0] = side
        theta[:, 1, 1] = side
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", align_corners=False)


class Compose:
    """Apply augmentations in order.

    Args:
        *transforms: Callables ``(batch, ...) -> (batch, ...)``.
    """

    def __init__(self, *transforms: Augment) -> None:
        self.transforms = transforms

    def __call__(self, x: Tensor) -> Tensor:
        """Args: x: ``(batch, ...)``. Returns: augmented copy, same shape."""
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return f"Compose{self.transforms!r}"


def default_augment(noise: float = 0.1, mask: float = 0.1) -> Compose:
    """Augmentation for tabular or spectral inputs: Gaussian noise then feature masking."""
    return Compose(GaussianNoise(noise), FeatureMask(mask))


def patch_augment(scale: tuple[float, float] = (0.5, 1.0)) -> Compose:
    """Augmentation for image patches: random flips then a random resized crop."""
    return Compose(RandomFlip(), RandomResizedCrop(scale))
