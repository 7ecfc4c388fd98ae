"""Stable-Diffusion-style ``AutoencoderKL`` folders in the latent studio (optional ``diffusers``).

A folder holding a diffusers ``config.json`` (``_class_name: AutoencoderKL``)
and ``diffusion_pytorch_model.safetensors`` opens as a :class:`SDLatentModel`,
the studio's :class:`~backends.latent.model.LatentModel` with these choices:

* **latents** are the posterior means times ``scaling_factor`` (the space a
  diffusion model works in, roughly unit variance), flattened to one vector of
  ``C * h * w`` numbers, so interpolation, directions, exports and seeds work
  on them exactly as on a workbench VAE's z. Seeds draw that vector from
  N(0, I).
* **images** go in and come out in [0, 1] (the VAE's own range is [-1, 1]).
* **brush layers** are the decoder's blocks after the mid-block attention:
  ``mid_block.resnets.1``, each ``up_blocks.i.resnets.j`` and upsampler. The
  attention (and ``conv_in`` / ``mid_block.resnets.0`` before it) mixes every
  position with every other, so an edit there cannot stay under its mask.
* **GroupNorm statistics are frozen while a brush edits**: every GroupNorm
  normalises with its mean and variance over the whole image, so a local edit
  shifts them and changes every pixel (zeroing 3 units in a 16 x 16 patch
  changed all 4,096 pixels of a 64 x 64 image). An edited decode therefore runs
  twice: once unedited to record each GroupNorm's statistics, once with the
  edit and those statistics. The edit then spreads only as far as the
  convolutions reach (a decode without strokes takes the plain single pass).

``diffusers`` is imported only when such a folder is opened (it costs about a
second). Weights are read from safetensors only; a folder with pickled weights
alone is refused.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import torch

from backends.latent import brushes
from backends.latent.catalog import LatentModelError
from backends.latent.model import LatentModel

EXTRA = "pip install 'workbench[diffusers]'"
CLASS_NAME = "AutoencoderKL"
STATISTICS_SAMPLES = 8


def read_diffusers_config(folder: Path) -> dict[str, Any] | None:
    """The folder's ``config.json`` when it is a diffusers config, else None."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentModelError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(config, dict) or "_class_name" not in config:
        return None
    return config


def is_autoencoder_kl_folder(path: str | Path) -> bool:
    """True for a folder (or a ``vae/`` subfolder of a pipeline) with a diffusers config."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return False
    try:
        return read_diffusers_config(folder) is not None or (
            read_diffusers_config(folder / "vae") is not None
        )
    except LatentModelError:
        return True  # a damaged config: let open_sd_vae say so


def refuse_language_model(path: str | Path) -> None:
    """A transformers folder (its config names a ``model_type``) is refused with where it goes."""
    config_path = Path(path).expanduser() / "config.json"
    if not config_path.is_file():
        return
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return
    if isinstance(config, dict) and config.get("model_type"):
        raise LatentModelError(
            f"{path} holds a transformers {config['model_type']!r} model (a language model); "
            "open it in the text playground"
        )


class AutoencoderKLNet(torch.nn.Module):
    """An ``AutoencoderKL`` with the studio's conventions: flat scaled latents, [0, 1] images."""

    # A diffusers AutoencoderKL: an optional dependency without type information.
    vae: Any

    def __init__(self, vae: torch.nn.Module, latent_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.vae = vae
        self.latent_shape = latent_shape
        self.scaling = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
        self.shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], *self.latent_shape) / self.scaling + self.shift
        x = self.vae.decode(z.to(self._dtype())).sample.float()
        return (x + 1.0) / 2.0

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (images * 2.0 - 1.0).to(self._dtype())
        dist = self.vae.encode(x).latent_dist
        mean = (dist.mean.float() - self.shift) * self.scaling
        return mean.flatten(1), dist.logvar.float().flatten(1)

    def _dtype(self) -> torch.dtype:
        return next(self.vae.parameters()).dtype

    def layer_names(self) -> list[str]:
        """Decoder blocks after the mid-block attention, input side first (see module doc)."""
        decoder = self.vae.decoder
        names: list[str] = []
        if len(decoder.mid_block.resnets) > 1:
            names.append(f"vae.decoder.mid_block.resnets.{len(decoder.mid_block.resnets) - 1}")
        for i, block in enumerate(decoder.up_blocks):
            for j in range(len(block.resnets)):
                names.append(f"vae.decoder.up_blocks.{i}.resnets.{j}")
            for k in range(len(block.upsamplers or ())):
                names.append(f"vae.decoder.up_blocks.{i}.upsamplers.{k}")
        return names

    def group_norms(self) -> list[torch.nn.GroupNorm]:
        return [m for m in self.vae.decoder.modules() if isinstance(m, torch.nn.GroupNorm)]


@contextlib.contextmanager
def record_norm_statistics(
    norms: list[torch.nn.GroupNorm],
) -> Iterator[dict[torch.nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]]:
    """While inside, each GroupNorm call appends its input's (mean, var) per (sample, group)."""
    stats: dict[torch.nn.Module, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def hook(module: torch.nn.GroupNorm, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        grouped = x.reshape(x.shape[0], module.num_groups, -1).float()
        stats.setdefault(module, []).append((grouped.mean(-1), grouped.var(-1, unbiased=False)))

    handles = [norm.register_forward_pre_hook(hook) for norm in norms]
    try:
        yield stats
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def frozen_norm_statistics(
    stats: Mapping[torch.nn.Module, list[tuple[torch.Tensor, torch.Tensor]]],
) -> Iterator[None]:
    """While inside, each recorded GroupNorm normalises with the recorded statistics."""
    calls = {module: 0 for module in stats}

    def hook(module: torch.nn.GroupNorm, inputs: tuple[torch.Tensor, ...], _output: Any):
        index = calls[module]
        calls[module] += 1
        mean, var = stats[module][min(index, len(stats[module]) - 1)]
        x = inputs[0]
        grouped = x.reshape(x.shape[0], module.num_groups, -1).float()
        normed = (grouped - mean[..., None]) / torch.sqrt(var[..., None] + module.eps)
        out = normed.reshape(x.shape).to(x.dtype)
        if module.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            out = out * module.weight.reshape(shape) + module.bias.reshape(shape)
        return out

    handles = [module.register_forward_hook(hook) for module in stats]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class SDLatentModel(LatentModel):
    """A :class:`LatentModel` over an ``AutoencoderKL``; brush edits keep GroupNorm frozen."""

    @property
    def name(self) -> str:
        return f"AutoencoderKL {Path(self.source).name}"

    @property
    def statistics_samples(self) -> int:
        """Samples for the unit-statistics pass: the fewest it takes (8). Each sample gives a
        draw level per unit from h x w positions (4,096 at 64 x 64), and a decode costs
        0.15 s at 64 x 64 and seconds at 512 x 512 on a CPU."""
        return STATISTICS_SAMPLES

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        edits: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
        freeze_norms: bool = True,
    ) -> torch.Tensor:
        """Images in [0, 1]; with ``edits``, GroupNorm statistics come from the unedited pass."""
        if not edits or not freeze_norms:
            return super().decode(z, edits)
        z = self.check_latents(z)
        with self._lock:
            with record_norm_statistics(cast(AutoencoderKLNet, self.net).group_norms()) as stats:
                self._decode_raw(z)
            with (
                frozen_norm_statistics(stats),
                brushes.edit_layers(self.net, edits, self._flat_shapes()),
            ):
                return self._decode_raw(z).clamp(0.0, 1.0)


def _diffusers() -> Any:
    try:
        import diffusers
    except ImportError as exc:
        raise LatentModelError(
            f"opening an AutoencoderKL folder needs the optional 'diffusers' package; "
            f"install it with: {EXTRA}"
        ) from exc
    return diffusers


def open_sd_vae(path: str | Path, *, dtype: str | None = None) -> SDLatentModel:
    """Open an ``AutoencoderKL`` folder (or a pipeline folder with ``vae/``) on the CPU."""
    folder, config = _autoencoder_config(Path(path).expanduser())
    _check_weights(folder)
    vae = _load_autoencoder(folder, dtype)
    size = int(config.get("sample_size") or 256)
    if isinstance(config.get("sample_size"), list):
        size = int(config["sample_size"][0])
    channels = int(config.get("in_channels", 3))
    latent_channels = int(config.get("latent_channels", 4))
    factor = 2 ** (len(config.get("block_out_channels", (0,))) - 1)
    latent_shape = (latent_channels, size // factor, size // factor)
    net = AutoencoderKLNet(vae, latent_shape)
    meta = {"model": "autoencoder-kl", "config": config, "latent_shape": list(latent_shape)}
    return SDLatentModel(
        "vae",
        net,
        latent_channels * latent_shape[1] * latent_shape[2],
        size,
        channels,
        str(folder),
        None,
        meta,
    )


def _autoencoder_config(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The folder that holds the AutoencoderKL (``folder`` or its ``vae/``) and its config."""
    config = read_diffusers_config(folder)
    if config is None and read_diffusers_config(folder / "vae") is not None:
        folder = folder / "vae"
        config = read_diffusers_config(folder)
    if config is None:
        raise LatentModelError(
            f"{folder} has no diffusers config.json; an AutoencoderKL folder holds config.json "
            "and diffusion_pytorch_model.safetensors"
        )
    kind = config.get("_class_name")
    if kind != CLASS_NAME:
        raise LatentModelError(
            f"{folder} holds a diffusers {kind!r}, not an {CLASS_NAME}; the latent studio opens "
            "AutoencoderKL (Stable Diffusion VAE) folders, DCGAN and VAE checkpoints"
        )
    return folder, config


def _check_weights(folder: Path) -> None:
    """Refuse a folder without safetensors weights (pickled ``*.bin`` alone is not opened)."""
    if not any(folder.glob("*.safetensors")):
        pickled = any(folder.glob("*.bin"))
        raise LatentModelError(
            f"{folder} has "
            + (
                "only pickled weights (*.bin); convert them to safetensors"
                if pickled
                else "no weights"
            )
            + " (diffusion_pytorch_model.safetensors)"
        )


def _load_autoencoder(folder: Path, dtype: str | None) -> torch.nn.Module:
    """The diffusers AutoencoderKL from ``folder``'s safetensors, in eval mode."""
    diffusers = _diffusers()
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype or "", torch.float32)
    try:
        vae = diffusers.AutoencoderKL.from_pretrained(
            str(folder),
            local_files_only=True,
            use_safetensors=True,
            torch_dtype=torch_dtype,
            low_cpu_mem_usage=False,  # the default asks for the optional accelerate package
        )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LatentModelError(f"{folder}: cannot load the AutoencoderKL ({first})") from exc
    vae.eval()
    return cast(torch.nn.Module, vae)
