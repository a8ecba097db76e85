"""Encoders, decoders and the multimodal container the objectives train.

Shapes: tabular inputs ``(batch, features)``; spectra or short time series ``(batch, length)`` or
``(batch, channels, length)``; image patches ``(batch, channels, height, width)``. Every encoder
maps its input to ``(batch, out_dim)``; every decoder maps ``(batch, in_dim)`` back to an input's
shape.

:class:`MultimodalEncoder` holds one encoder per modality (keyed like the batch dict, e.g.
``"x1"``, ``"x2"``), optional decoders (reconstruction objectives), an optional :class:`Fusion`
head (CoMM) and optional projection heads (:func:`make_projector`). It separates two spaces, as
the self-supervised papers do (SimCLR, Barlow Twins, VICReg, DeCUR, CoMM):

- the *backbone* representation ``h = model.encode(key, x)``, which probes read by default;
- the *projected* embedding ``z = model.embed(key, x) = model.project(key, h)``, on which the
  losses of :mod:`aligninfo.losses` act (``project`` is the identity for a key without a head).

The fused representation of CoMM is ``model.fuse({key: h})`` (what its probes read) and its
projected embedding ``model.project(FUSED, fused)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "ENCODERS",
    "CNN2dDecoder",
    "CNN2dEncoder",
    "Conv1dEncoder",
    "FUSED",
    "Fusion",
    "LinearEncoder",
    "MLP",
    "MLPDecoder",
    "MultimodalEncoder",
    "make_encoder",
    "make_projector",
]

FUSED = "fused"
"""Key of the projection head on the fused representation (CoMM) in ``projectors``."""

_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda d: nn.Identity(),
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
}


def _positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")


class LinearEncoder(nn.Module):
    """Linear map of the flattened input, ``z = W x (+ b)``.

    Args:
        in_dim: Number of input features (after flattening).
        out_dim: Embedding size.
        bias: Learn an offset.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True) -> None:
        super().__init__()
        _positive(in_dim=in_dim, out_dim=out_dim)
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """Encode.

        Args:
            x: ``(batch, *in_shape)`` with ``prod(in_shape) == in_dim``.

        Returns:
            ``(batch, out_dim)``.
        """
        return self.linear(x.flatten(1))


class MLP(nn.Module):
    """Multi-layer perceptron on the flattened input: (Linear, norm, GELU, dropout) x n, Linear.

    Args:
        in_dim: Number of input features (after flattening).
        out_dim: Output size.
        hidden: Widths of the hidden layers (empty: a linear map).
        norm: ``"none"``, ``"batch"`` or ``"layer"`` normalisation after each hidden Linear.
        dropout: Dropout probability after each hidden activation.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (256, 256),
        norm: str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _positive(in_dim=in_dim, out_dim=out_dim)
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {sorted(_NORMS)}, got {norm!r}")
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            _positive(hidden=h)
            layers += [nn.Linear(width, h), _NORMS[norm](h), nn.GELU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Encode.

        Args:
            x: ``(batch, *in_shape)`` with ``prod(in_shape) == in_dim``.

        Returns:
            ``(batch, out_dim)``.
        """
        return self.net(x.flatten(1))


class Conv1dEncoder(nn.Module):
    """1-D CNN for spectra or short time series.

    Stride-2 convolutions (each halving the length, BatchNorm, GELU), adaptive average pooling to
    ``pooled_length`` positions (keeping coarse position, i.e. which part of the spectrum), then a
    Linear layer.

    Args:
        in_channels: Input channels (1 for a single spectrum).
        out_dim: Embedding size.
        channels: Output channels of each convolution.
        kernel_size: Odd kernel size.
        pooled_length: Positions kept by the final pooling.
    """

    def __init__(
        self,
        in_channels: int,
        out_dim: int,
        channels: Sequence[int] = (32, 64, 64),
        kernel_size: int = 5,
        pooled_length: int = 4,
    ) -> None:
        super().__init__()
        _positive(in_channels=in_channels, out_dim=out_dim, pooled_length=pooled_length)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        width = in_channels
        for c in channels:
            _positive(channels=c)
            layers += [
                nn.Conv1d(width, c, kernel_size, stride=2, padding=kernel_size // 2),
                nn.BatchNorm1d(c),
                nn.GELU(),
            ]
            width = c
        layers += [nn.AdaptiveAvgPool1d(pooled_length), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * pooled_length, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """Encode.

        Args:
            x: ``(batch, channels, length)``, or ``(batch, length)`` when ``in_channels == 1``.

        Returns:
            ``(batch, out_dim)``.
        """
        if x.dim() == 2 and self.in_channels == 1:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv1dEncoder expects (batch, {self.in_channels}, length), got {tuple(x.shape)}"
            )
        return self.head(self.features(x))


class CNN2dEncoder(nn.Module):
    """Small 2-D CNN for image patches with any number of channels.

    A 3x3 stem, stride-2 3x3 convolutions (BatchNorm, GELU) halving the resolution, global
    average pooling and a Linear layer.

    Args:
        in_channels: Bands of the patch (e.g. 12 for Sentinel-2, 2 for Sentinel-1).
        out_dim: Embedding size.
        channels: Output channels of the stem and each downsampling convolution.
    """

    def __init__(
        self, in_channels: int, out_dim: int, channels: Sequence[int] = (32, 64, 128)
    ) -> None:
        super().__init__()
        _positive(in_channels=in_channels, out_dim=out_dim)
        if not channels:
            raise ValueError("channels must name at least one convolution")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        width = in_channels
        for i, c in enumerate(channels):
            _positive(channels=c)
            stride = 1 if i == 0 else 2
            layers += [nn.Conv2d(width, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.GELU()]
            width = c
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """Encode.

        Args:
            x: ``(batch, in_channels, height, width)``.

        Returns:
            ``(batch, out_dim)``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"CNN2dEncoder expects (batch, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        return self.head(self.features(x))


class MLPDecoder(nn.Module):
    """MLP from an embedding back to an input of any shape (tabular, spectral, small patches).

    Args:
        in_dim: Embedding size.
        out_shape: Shape of one input sample, e.g. ``(features,)`` or ``(channels, length)``.
        hidden: Widths of the hidden layers.
    """

    def __init__(
        self, in_dim: int, out_shape: int | Sequence[int], hidden: Sequence[int] = (256,)
    ) -> None:
        super().__init__()
        self.out_shape = (out_shape,) if isinstance(out_shape, int) else tuple(out_shape)
        self.net = MLP(in_dim, math.prod(self.out_shape), hidden)

    def forward(self, z: Tensor) -> Tensor:
        """Decode.

        Args:
            z: ``(batch, in_dim)``.

        Returns:
            ``(batch, *out_shape)``.
        """
        return self.net(z).view(z.shape[0], *self.out_shape)


class CNN2dDecoder(nn.Module):
    """Decoder from an embedding to an image patch: Linear, then (upsample x2, conv) blocks.

    Args:
        in_dim: Embedding size.
        out_channels: Bands of the patch.
        out_size: ``(height, width)`` of the patch.
        channels: Channels of the feature maps, coarsest first (one upsampling each).
    """

    def __init__(
        self,
        in_dim: int,
        out_channels: int,
        out_size: tuple[int, int],
        channels: Sequence[int] = (128, 64, 32),
    ) -> None:
        super().__init__()
        _positive(in_dim=in_dim, out_channels=out_channels, height=out_size[0], width=out_size[1])
        if not channels:
            raise ValueError("channels must name at least one feature map")
        self.out_size = out_size
        factor = 2 ** (len(channels) - 1)
        self.start = (channels[0], -(-out_size[0] // factor), -(-out_size[1] // factor))
        self.project = nn.Linear(in_dim, math.prod(self.start))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.GELU(),
            ]
        layers.append(nn.Conv2d(channels[-1], out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Decode.

        Args:
            z: ``(batch, in_dim)``.

        Returns:
            ``(batch, out_channels, height, width)``.
        """
        x = self.net(self.project(z).view(z.shape[0], *self.start))
        return x[:, :, : self.out_size[0], : self.out_size[1]]


def make_projector(in_dim: int, out_dim: int, hidden: int | None = None) -> nn.Sequential:
    """Projection head of the self-supervised papers: Linear, BatchNorm, ReLU, Linear.

    SimCLR (Chen et al. 2020), Barlow Twins (Zbontar et al. 2021), VICReg (Bardes et al. 2022)
    and DeCUR (Wang et al. 2023) compute their losses on such a head above the backbone and
    evaluate the backbone; this is the two-layer version.

    Args:
        in_dim: Size of the backbone representation.
        out_dim: Size of the projected embedding (where the loss acts).
        hidden: Width of the hidden layer (None: ``max(in_dim, out_dim)``).

    Returns:
        A module mapping ``(batch, in_dim)`` to ``(batch, out_dim)``.
    """
    width = max(in_dim, out_dim) if hidden is None else hidden
    _positive(in_dim=in_dim, out_dim=out_dim, hidden=width)
    return nn.Sequential(
        nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, out_dim)
    )


class Fusion(nn.Module):
    """Fuse per-modality embeddings into one, tolerating missing modalities (CoMM-style).

    A missing modality is replaced by a learned placeholder vector; the embeddings are
    concatenated in key order and passed through an MLP.

    Args:
        in_dims: Embedding size of each modality, by key.
        out_dim: Fused embedding size.
        hidden: Hidden widths of the MLP.
    """

    def __init__(
        self, in_dims: Mapping[str, int], out_dim: int, hidden: Sequence[int] = (256,)
    ) -> None:
        super().__init__()
        if not in_dims:
            raise ValueError("Fusion needs at least one modality")
        self.keys = sorted(in_dims)
        self.missing = nn.ParameterDict(
            {k: nn.Parameter(torch.zeros(in_dims[k])) for k in self.keys}
        )
        self.mlp = MLP(sum(in_dims.values()), out_dim, hidden)

    def forward(self, h: Mapping[str, Tensor | None]) -> Tensor:
        """Fuse.

        Args:
            h: Embedding ``(batch, in_dims[key])`` per key, or None for a missing modality.

        Returns:
            ``(batch, out_dim)``.
        """
        present = [v for v in h.values() if v is not None]
        if not present:
            raise ValueError("Fusion needs at least one modality present")
        n = present[0].shape[0]
        parts = []
        for k in self.keys:
            v = h.get(k)
            parts.append(self.missing[k].expand(n, -1) if v is None else v)
        return self.mlp(torch.cat(parts, dim=1))


class MultimodalEncoder(nn.Module):
    """One encoder (backbone) per modality, plus optional decoders, fusion and projection heads.

    Args:
        encoders: Encoder per modality key (the keys of the batch dict, e.g. ``"x1"``, ``"x2"``).
        decoders: Decoder per modality key, for reconstruction objectives (they decode the
            backbone representation).
        fusion: Fusion head over the encoders' outputs, for CoMM-style objectives.
        projectors: Projection head per modality key (and optionally :data:`FUSED` for the
            fusion head's output), e.g. :func:`make_projector`; the losses act on their
            outputs. A key without a head projects by the identity.
    """

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        decoders: Mapping[str, nn.Module] | None = None,
        fusion: Fusion | None = None,
        projectors: Mapping[str, nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if not encoders:
            raise ValueError("MultimodalEncoder needs at least one encoder")
        self.encoders = nn.ModuleDict(dict(encoders))
        self.decoders = nn.ModuleDict(dict(decoders or {}))
        self.fusion = fusion
        self.projectors = nn.ModuleDict()
        for key, head in (projectors or {}).items():
            self.set_projector(key, head)

    def set_projector(self, key: str, head: nn.Module) -> None:
        """Attach (or replace) the projection head of a modality key or of :data:`FUSED`.

        Args:
            key: A modality key, or :data:`FUSED` (needs a fusion head).
            head: Module mapping ``(batch, dim)`` backbone features to ``(batch, out)``.
        """
        if key not in self.encoders and not (key == FUSED and self.fusion is not None):
            raise ValueError(f"no encoder (or fusion head) for projector key {key!r}")
        self.projectors[key] = head

    @property
    def keys(self) -> list[str]:
        """Modality keys, in the order the encoders were given."""
        return list(self.encoders)

    def encode(self, key: str, x: Tensor) -> Tensor:
        """The backbone representation of one modality (what probes read by default).

        Args:
            key: Modality key.
            x: ``(batch, *in_shape)``.

        Returns:
            ``(batch, dim)``.
        """
        if key not in self.encoders:
            raise ValueError(f"no encoder for {key!r}; have {self.keys}")
        return self.encoders[key](x)

    def project(self, key: str, h: Tensor) -> Tensor:
        """Apply the projection head of ``key`` (the identity when it has none).

        Args:
            key: Modality key or :data:`FUSED`.
            h: ``(batch, dim)`` backbone (or fused) representation.

        Returns:
            ``(batch, out_dim)`` projected embedding (``h`` itself without a head).
        """
        return self.projectors[key](h) if key in self.projectors else h

    def embed(self, key: str, x: Tensor) -> Tensor:
        """The embedding the losses act on: ``project(key, encode(key, x))``.

        Args:
            key: Modality key.
            x: ``(batch, *in_shape)``.

        Returns:
            ``(batch, out_dim)``.
        """
        return self.project(key, self.encode(key, x))

    def decode(self, key: str, z: Tensor) -> Tensor:
        """Reconstruct one modality from an embedding.

        Args:
            key: Modality key.
            z: ``(batch, dim)``.

        Returns:
            ``(batch, *in_shape)``.
        """
        if key not in self.decoders:
            raise ValueError(f"no decoder for {key!r}; a reconstruction objective needs one")
        return self.decoders[key](z)

    def fuse(self, h: Mapping[str, Tensor | None]) -> Tensor:
        """Fuse per-modality embeddings (None for a masked modality).

        Args:
            h: ``(batch, dim_key)`` or None per key.

        Returns:
            ``(batch, fused_dim)``.
        """
        if self.fusion is None:
            raise ValueError("this model has no fusion head; a CoMM objective needs one")
        return self.fusion(h)

    def forward(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Backbone representation of every modality present in the batch.

        Args:
            batch: ``(batch, *in_shape)`` per modality key (other keys are ignored).

        Returns:
            ``(batch, dim)`` per modality key.
        """
        return {k: enc(batch[k]) for k, enc in self.encoders.items() if k in batch}


def make_encoder(
    kind: str, in_shape: int | Sequence[int], out_dim: int, **kwargs: Any
) -> nn.Module:
    """Build an encoder by name (for the command line and chapter parameters).

    Args:
        kind: A key of :data:`ENCODERS`: ``"linear"``, ``"mlp"``, ``"conv1d"`` or ``"cnn2d"``.
        in_shape: Shape of one sample: ``features``, ``(channels, length)`` or
            ``(channels, height, width)``.
        out_dim: Embedding size.
        **kwargs: Passed to the encoder's constructor.

    Returns:
        The encoder.
    """
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder {kind!r}; choose from {sorted(ENCODERS)}")
    shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    if kind in ("linear", "mlp"):
        return ENCODERS[kind](math.prod(shape), out_dim, **kwargs)
    channels = shape[0] if len(shape) > 1 else 1
    return ENCODERS[kind](channels, out_dim, **kwargs)


ENCODERS: dict[str, Callable[..., nn.Module]] = {
    "linear": LinearEncoder,
    "mlp": MLP,
    "conv1d": Conv1dEncoder,
    "cnn2d": CNN2dEncoder,
}
