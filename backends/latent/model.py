"""One view of a DCGAN generator or a VAE for the latent studio: sample, decode, encode, hook.

:class:`LatentModel` hides the difference between the two families:

* latents by seed: ``latents_for_seeds`` draws one z per seed from its own
  ``torch.Generator``, so a grid cell's image depends only on its seed (and
  the truncation / temperature), never on its neighbours;
* ``decode(z, edits)`` returns images in [0, 1] with brush edits applied
  through forward hooks on the model's inner layers;
* ``encode`` (VAE only) maps real images to their posterior means;
* ``brush_layers`` names the inner feature maps a brush can edit, with their
  (C, h, w) shapes, found by a probe forward pass.

``open_latent_model`` accepts a checkpoint folder, a run folder (its newest
checkpoint) or a shipped demo name, and refuses anything that is not a DCGAN
or a VAE with a message that says what to open instead.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import torch

from backends.latent import brushes
from backends.latent.catalog import (  # noqa: F401  (re-exported: how checkpoints are found)
    LATENT_KINDS,
    LatentModelError,
    _read_meta,
    checkpoint_kind,
    demo_names,
    resolve_checkpoint,
)

if TYPE_CHECKING:
    from backends.models.dcgan import DCGAN
    from backends.models.vae import VAE


class AutoencoderNet(Protocol):
    """What a VAE-kind ``net`` offers: decode latents, encode images to (mean, log-variance)."""

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class LayerNamedNet(Protocol):
    """A ``net`` that names its own brush layers (the DCGAN generator, an ``AutoencoderKL``)."""

    def layer_names(self) -> list[str]: ...


@dataclass
class LatentModel:
    """A generator (DCGAN) or a decoder/encoder pair (VAE), in eval mode on the CPU.

    ``net`` is the module the hooks go on and ``brush_layers`` maps a layer
    name (a submodule path of ``net``) to its feature-map shape (C, h, w).
    """

    kind: str
    net: torch.nn.Module
    latent_dim: int
    image_size: int
    channels: int
    source: str = ""
    step: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    brush_layers: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Hooks are registered on the shared module for the length of one
        # forward; the lock keeps two workers (grid, brush view, a statistics
        # pass) from seeing each other's hooks.
        self._lock = threading.RLock()
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        if not self.brush_layers:
            self.brush_layers = self._probe_layers()

    # ------------------------------------------------------------ description

    @property
    def name(self) -> str:
        step = f" @ step {self.step}" if self.step is not None else ""
        return f"{self.kind.upper()} {Path(self.source).name}{step}"

    @property
    def can_encode(self) -> bool:
        return self.kind == "vae"

    def class_names(self) -> list[str]:
        """Class names of the dataset the model was trained on, when its checkpoint says."""
        names = self.meta.get("class_names")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
        return []

    # ------------------------------------------------------------ latents

    def latents_for_seeds(
        self, seeds: Sequence[int], truncation: float | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """One latent per seed, ``(len(seeds), latent_dim)``.

        ``truncation`` (GAN): entries with magnitude above it are redrawn
        until none is (the truncation trick: fewer, more typical images).
        ``temperature`` (VAE prior): z is scaled by it; below 1 gives
        blander, more average samples.
        """
        if truncation is not None and truncation <= 0:
            raise LatentModelError(f"truncation must be > 0 (or off), got {truncation}")
        if temperature <= 0:
            raise LatentModelError(f"temperature must be > 0, got {temperature}")
        rows = []
        for seed in seeds:
            g = torch.Generator().manual_seed(int(seed))
            z = torch.randn(self.latent_dim, generator=g)
            if truncation is not None:
                for _ in range(1000):
                    outside = z.abs() > truncation
                    if not outside.any():
                        break
                    z[outside] = torch.randn(int(outside.sum()), generator=g)
                z = z.clamp(-truncation, truncation)  # only bites if 1000 redraws did not suffice
            rows.append(z * temperature)
        return torch.stack(rows) if rows else torch.zeros(0, self.latent_dim)

    def check_latents(self, z: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``z`` as a float tensor (n, latent_dim), or a clear error naming the sizes."""
        z = torch.as_tensor(np.asarray(z) if not isinstance(z, torch.Tensor) else z).float()
        if z.dim() == 1:
            z = z[None]
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise LatentModelError(
                f"latents have size {tuple(z.shape)[-1] if z.dim() else 0} but this model takes "
                f"{self.latent_dim}; load latents saved from a model with latent size {self.latent_dim}"
            )
        if not torch.isfinite(z).all():
            raise LatentModelError("latents contain NaN or infinity")
        return z

    # ------------------------------------------------------------ decode / encode

    def _decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        if self.kind == "dcgan":
            return (self.net(z) + 1.0) / 2.0  # the generator's tanh range [-1, 1] -> [0, 1]
        return cast(AutoencoderNet, self.net).decode(z)

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        edits: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """Images (n, C, H, W) in [0, 1] for latents (n, d), with brush ``edits`` applied."""
        z = self.check_latents(z)
        with self._lock:
            if not edits:
                return self._decode_raw(z).clamp(0.0, 1.0)
            with brushes.edit_layers(self.net, edits, self._flat_shapes()):
                return self._decode_raw(z).clamp(0.0, 1.0)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Posterior means (n, d) of images (n, C, H, W) in [0, 1]; VAE only."""
        if not self.can_encode:
            raise LatentModelError(
                "a DCGAN has no encoder: encode images with a VAE checkpoint, or pick grid cells as anchors"
            )
        expected = (self.channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise LatentModelError(
                f"images must be (n, {', '.join(map(str, expected))}), got {tuple(images.shape)}"
            )
        with self._lock:
            mu, _ = cast(AutoencoderNet, self.net).encode(images.float())
        return mu

    @torch.no_grad()
    def activations(self, z: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The named layers' feature maps (n, C, h, w) for latents z (no edits)."""
        z = self.check_latents(z)
        with self._lock, brushes.capture_layers(self.net, layers, self._flat_shapes()) as captured:
            self._decode_raw(z)
        return dict(captured)

    # ------------------------------------------------------------ internals

    def _flat_shapes(self) -> dict[str, tuple[int, int, int]]:
        return dict(self.brush_layers)

    def _candidate_layers(self) -> tuple[list[str], dict[str, tuple[int, int, int]]]:
        """Hookable inner layers, input side first, plus the shapes of flat ones."""
        if self.kind == "dcgan":
            return list(cast(LayerNamedNet, self.net).layer_names()), {}
        names_fn = getattr(self.net, "layer_names", None)
        if callable(names_fn):
            return list(names_fn()), {}
        # The VAE decoder: the linear layer that makes the first feature map (its
        # output is reshaped to (C, base, base)) and each activation between the
        # transposed convolutions.
        shapes: dict[str, tuple[int, int, int]] = {}
        names: list[str] = []
        top = getattr(self.net, "_top_channels", None)
        base = getattr(self.net, "_base", None)
        if hasattr(self.net, "from_latent") and top and base:
            names.append("from_latent")
            shapes["from_latent"] = (int(top), int(base), int(base))
        decoder = getattr(self.net, "decoder", None)
        if isinstance(decoder, torch.nn.Sequential):
            for index, module in enumerate(decoder):
                if not isinstance(module, torch.nn.ConvTranspose2d | torch.nn.Conv2d | torch.nn.Linear):
                    if index < len(decoder) - 1:
                        names.append(f"decoder.{index}")
        return names, shapes

    def _probe_layers(self) -> dict[str, tuple[int, int, int]]:
        names, flat = self._candidate_layers()
        z = torch.zeros(1, self.latent_dim)
        with torch.no_grad(), brushes.capture_layers(self.net, names, flat) as captured:
            self._decode_raw(z)
        return {
            name: _feature_shape(captured[name])
            for name in names
            if name in captured and captured[name].dim() == 4
        }


def _feature_shape(feature_map: torch.Tensor) -> tuple[int, int, int]:
    """The (C, h, w) of a batch of feature maps (n, C, h, w)."""
    _, channels, height, width = feature_map.shape
    return int(channels), int(height), int(width)


# ---------------------------------------------------------------- opening


def _check_kind(kind: object, folder: Path) -> str:
    if kind not in LATENT_KINDS:
        what = {"gpt": "a GPT (text) checkpoint: open it in the text playground",
                "classifier": "a classifier checkpoint: open it in the evaluation panel"}.get(
            str(kind), f"a {kind!r} checkpoint")
        raise LatentModelError(
            f"{folder} is {what}; the latent studio opens DCGAN or VAE checkpoints"
        )
    return str(kind)


def _build(kind: str, config: Mapping[str, Any]) -> torch.nn.Module:
    if kind == "dcgan":
        from backends.models.dcgan import DCGAN, DCGANConfig

        return DCGAN(DCGANConfig.from_dict(config))
    from backends.models.vae import VAE, VAEConfig

    return VAE(VAEConfig.from_dict(config))


def _load_weights(folder: Path, kind: str, meta: Mapping[str, Any]) -> torch.nn.Module:
    """Build the model from meta.json and load model.safetensors (no pickle involved)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = meta.get("model_config")
    if not isinstance(config, dict):
        raise LatentModelError(f"{folder / 'meta.json'} has no model_config; the checkpoint is damaged")
    try:
        model = _build(kind, config)
    except ValueError as exc:
        raise LatentModelError(f"{folder}: bad model_config ({exc})") from exc
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise LatentModelError(
            f"{folder} has no model.safetensors (a sharded checkpoint? export full weights first)"
        )
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise LatentModelError(f"{weights}: unreadable ({exc}); the file is damaged") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise LatentModelError(f"{weights} does not match its model_config: {first}") from exc
    return model


def open_latent_model(path: str | Path) -> LatentModel:
    """Open a DCGAN or VAE checkpoint (folder, run folder or demo name) for the studio.

    A diffusers ``AutoencoderKL`` folder opens through :mod:`backends.latent.sd_vae`.
    """
    from backends.latent import sd_vae

    if sd_vae.is_autoencoder_kl_folder(path):
        return sd_vae.open_sd_vae(path)
    sd_vae.refuse_language_model(path)
    folder = resolve_checkpoint(path)
    meta = _read_meta(folder)
    kind = _check_kind(meta.get("model"), folder)
    model = _load_with_project_loader(folder, kind)
    if model is None:
        model = _load_weights(folder, kind, meta)
    step = meta.get("step")
    if kind == "dcgan":
        generator = cast("DCGAN", model).generator
        gan = generator.config
        return LatentModel("dcgan", generator, gan.nz, gan.image_size, gan.nc, str(folder),
                           step if isinstance(step, int) else None, dict(meta))
    vae = cast("VAE", model).config
    return LatentModel("vae", model, vae.latent_dim, vae.image_size, vae.nc, str(folder),
                       step if isinstance(step, int) else None, dict(meta))


def _load_with_project_loader(folder: Path, kind: str) -> torch.nn.Module | None:
    """The model through ``backends.checkpoint.load_model`` when that module is installed."""
    try:
        from backends.checkpoint import load_model
    except ImportError:
        return None
    try:
        loaded = load_model(folder)
    except LatentModelError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LatentModelError(f"{folder}: cannot load ({first})") from exc
    return loaded.model
