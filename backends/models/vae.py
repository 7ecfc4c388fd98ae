"""A convolutional variational autoencoder (Kingma & Welling, 2013) with a beta-weighted KL.

Images go in and come out in [0, 1] (the data loaders' ``scale="unit"``):
``encode(x) -> (mu, logvar)``, ``reparameterize`` draws ``z = mu + sigma * eps``
while training and returns ``mu`` in eval mode, ``decode(z)`` gives pixels in
[0, 1]. ``forward(x) -> (recon, parts)`` where ``parts`` holds the scalar
``loss = recon + beta * kl`` and its two terms, each summed over an image's
pixels / latent dimensions and averaged over the batch (the negative ELBO per
image when ``beta == 1``). The conv stacks are sized from ``image_size`` like
DCGAN's (28 -> 14 -> 7, 8 -> 4).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from backends.models._config import ConfigError, ModelConfig
from backends.models._sizing import conv_plan


@dataclasses.dataclass(kw_only=True)
class VAEConfig(ModelConfig):
    latent_dim: int = 16
    nc: int = 1  # image channels
    image_size: int = 28
    hidden: int = 32  # channels of the first encoder block; doubled per halving
    beta: float = 1.0  # weight of the KL term (beta-VAE; 1 is the plain ELBO)
    # "bce": Bernoulli likelihood on [0, 1] pixels; "mse": Gaussian, summed squared error.
    recon_loss: str = "bce"

    def validate(self) -> None:
        for name in ("latent_dim", "nc", "hidden"):
            self._positive_int(name)
        conv_plan(self.image_size, "VAEConfig")
        if isinstance(self.beta, bool) or not isinstance(self.beta, int | float) or self.beta < 0:
            raise ConfigError(f"VAEConfig.beta must be a number >= 0, got {self.beta!r}")
        self._choice("recon_loss", ("bce", "mse"))


class VAE(nn.Module):
    """``forward(x) -> (recon in [0, 1], {"loss", "recon", "kl"})``."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        base, doublings = conv_plan(config.image_size, "VAEConfig")
        self._base = base
        enc: list[nn.Module] = []
        channels, width = config.nc, config.hidden
        for _ in range(doublings):
            enc += [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            channels, width = width, width * 2
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self._top_channels = channels
        flat = channels * base * base
        self.to_mu = nn.Linear(flat, config.latent_dim)
        self.to_logvar = nn.Linear(flat, config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, flat)
        dec: list[nn.Module] = []
        for i in range(doublings):
            out = config.nc if i == doublings - 1 else channels // 2
            dec.append(nn.ConvTranspose2d(channels, out, 4, 2, 1))
            if i != doublings - 1:
                dec.append(nn.LeakyReLU(0.2))
            channels = out
        # The decoder ends in logits; decode() applies the sigmoid, the loss uses
        # the logits directly (binary_cross_entropy_with_logits is the stable form).
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A sample ``mu + exp(logvar / 2) * eps`` in training, the mean ``mu`` in eval."""
        if not self.training:
            return mu
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def _decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.from_latent(z), 0.2)
        h = h.view(z.size(0), self._top_channels, self._base, self._base)
        return self.decoder(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], shape (B, nc, image_size, image_size), for latents (B, latent_dim)."""
        return torch.sigmoid(self._decode_logits(z))

    def sample_latent(
        self,
        n: int,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` latent vectors from the prior N(0, I)."""
        return torch.randn(n, self.config.latent_dim, device=device, generator=generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        logits = self._decode_logits(z)
        batch = x.size(0)
        if self.config.recon_loss == "bce":
            recon_loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch
        else:
            recon_loss = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / batch
        # KL(N(mu, sigma^2) || N(0, 1)), closed form, summed over latent dimensions.
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
        loss = recon_loss + self.config.beta * kl
        return torch.sigmoid(logits), {"loss": loss, "recon": recon_loss, "kl": kl}
