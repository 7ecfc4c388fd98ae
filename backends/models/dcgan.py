"""A DCGAN (Radford et al., 2015): generator, discriminator and both generator losses.

The conv stacks are sized from the config's ``image_size`` (28 for
Fashion-MNIST, 8 for scikit-learn digits, 32, 64, ...): the generator maps a
latent vector to a ``base x base`` grid and doubles it with transposed
convolutions; the discriminator mirrors it.

The generator's feature blocks are named submodules ``layer1``, ``layer2``,
... (each a conv block whose output is a feature map ``(B, C, H, W)``) and
``to_image`` turns the last one into pixels in [-1, 1]; ``layer_names()``
lists the feature blocks so forward hooks can read or edit them (the latent
studio's feature brushes). :class:`DCGAN` holds both networks, so one state
dict (``generator.*``, ``discriminator.*``) saves the pair.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from backends.models._config import ModelConfig
from backends.models._sizing import conv_plan

GENERATOR_LOSSES = ("non_saturating", "minimax")


@dataclasses.dataclass(kw_only=True)
class DCGANConfig(ModelConfig):
    nz: int = 64  # latent size
    ngf: int = 64  # generator width: channels of its last feature block
    ndf: int = 64  # discriminator width: channels of its first block
    nc: int = 1  # image channels (1 grey, 3 colour)
    image_size: int = 28
    # Batch statistics make each data-parallel rank normalise over its own
    # shard; turn them off when a run must match single-process training exactly.
    batch_norm: bool = True

    def validate(self) -> None:
        for name in ("nz", "ngf", "ndf", "nc"):
            self._positive_int(name)
        conv_plan(self.image_size, "DCGANConfig")


def _norm(channels: int, enabled: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if enabled else nn.Identity()


class Generator(nn.Module):
    """``forward(z: (B, nz)) -> images (B, nc, image_size, image_size)`` in [-1, 1]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        base, doublings = conv_plan(config.image_size, "DCGANConfig")
        channels = config.ngf * 2 ** (doublings - 1)
        bias = not config.batch_norm  # a bias before BatchNorm is cancelled by it
        # layer1 projects z (as a 1x1 map) to the base grid.
        self.layer1 = nn.Sequential(
            nn.ConvTranspose2d(config.nz, channels, base, 1, 0, bias=bias),
            _norm(channels, config.batch_norm),
            nn.ReLU(inplace=True),
        )
        for i in range(2, doublings + 1):
            block = nn.Sequential(
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=bias),
                _norm(channels // 2, config.batch_norm),
                nn.ReLU(inplace=True),
            )
            self.add_module(f"layer{i}", block)
            channels //= 2
        self.to_image = nn.Sequential(nn.ConvTranspose2d(channels, config.nc, 4, 2, 1), nn.Tanh())
        self._n_layers = doublings
        _init_dcgan(self)

    def layer_names(self) -> list[str]:
        """Names of the feature blocks, input side first (``layer1`` is the smallest grid)."""
        return [f"layer{i}" for i in range(1, self._n_layers + 1)]

    def sample_latent(
        self,
        n: int,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` latent vectors from the prior N(0, I), shape (n, nz)."""
        return torch.randn(n, self.config.nz, device=device, generator=generator)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.size(0), self.config.nz, 1, 1)
        for name in self.layer_names():
            x = getattr(self, name)(x)
        return self.to_image(x)


class Discriminator(nn.Module):
    """``forward(images) -> logits (B,)``; positive means "looks real"."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        base, doublings = conv_plan(config.image_size, "DCGANConfig")
        channels = config.ndf
        # No normalisation on the first block: it sees raw pixels (DCGAN paper).
        self.layer1 = nn.Sequential(
            nn.Conv2d(config.nc, channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)
        )
        bias = not config.batch_norm
        for i in range(2, doublings + 1):
            block = nn.Sequential(
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=bias),
                _norm(channels * 2, config.batch_norm),
                nn.LeakyReLU(0.2, inplace=True),
            )
            self.add_module(f"layer{i}", block)
            channels *= 2
        self.head = nn.Conv2d(channels, 1, base, 1, 0)
        self._n_layers = doublings
        _init_dcgan(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, self._n_layers + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.head(x).reshape(-1)


class DCGAN(nn.Module):
    """The pair, for checkpoints: ``.generator`` and ``.discriminator``."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images for latents ``z``; training steps call the two halves directly."""
        return self.generator(z)


def _init_dcgan(module: nn.Module) -> None:
    # DCGAN paper: all weights from N(0, 0.02); BatchNorm scales from N(1, 0.02).
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def generator_loss(d_fake_logits: torch.Tensor, mode: str = "non_saturating") -> torch.Tensor:
    """Loss the generator minimises, from the discriminator's logits on fakes.

    ``"minimax"`` is the original game's ``mean log(1 - D(G(z)))``: its gradient
    vanishes while D confidently rejects the fakes, which is early training.
    ``"non_saturating"`` is ``mean -log D(G(z))``: same fixed point, strong
    gradient exactly then. Both are written through ``softplus`` on logits
    (``log D = -softplus(-l)``, ``log(1 - D) = -softplus(l)``) for stability.
    """
    if mode == "non_saturating":
        return F.softplus(-d_fake_logits).mean()
    if mode == "minimax":
        return -F.softplus(d_fake_logits).mean()
    raise ValueError(
        f"generator loss mode must be one of {', '.join(GENERATOR_LOSSES)}, got {mode!r}"
    )


def discriminator_loss(d_real_logits: torch.Tensor, d_fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: real images labelled 1, generated ones 0 (sum of the two means)."""
    return F.softplus(-d_real_logits).mean() + F.softplus(d_fake_logits).mean()
