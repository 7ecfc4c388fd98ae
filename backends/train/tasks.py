"""What "one training step" means for each model: its losses, its parts, its previews.

A task knows the model's training objective and nothing about parallelism:
the trainer hands it the modules to call (already wrapped by a strategy) and
one micro-batch at a time. GPT, VAE and classifier are one network with one
optimizer (:meth:`Task.loss`); DCGAN alternates a discriminator and a
generator step with two optimizers (:meth:`DCGANTask.step`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from backends.train.data import Batch, TrainData

LossParts = dict[str, torch.Tensor]


class Task:
    """A single-network task; subclasses give ``loss``."""

    kind = ""
    has_eval = True

    def parts(self, root: nn.Module) -> dict[str, nn.Module]:
        """The networks a strategy wraps, each with its own optimizer."""
        return {"model": root}

    def loss(self, fwd: dict[str, nn.Module], batch: Batch) -> tuple[torch.Tensor, LossParts]:
        raise NotImplementedError

    def tokens(self, batch_size: int, data: TrainData) -> int:
        """Tokens per global batch (language models only; 0 otherwise)."""
        return 0

    def sample(
        self, fwd: dict[str, nn.Module], data: TrainData, step: int, folder: Path, write: bool, seed: int
    ) -> Path | None:
        """Write a preview of what the model does now (rank 0 writes; every rank computes)."""
        return None


class GPTTask(Task):
    kind = "gpt"

    def loss(self, fwd, batch):
        x, y = batch
        _, loss = fwd["model"](x, y)
        return loss, {}

    def tokens(self, batch_size, data):
        return batch_size * data.train.block_size

    @torch.no_grad()
    def sample(self, fwd, data, step, folder, write, seed, max_new_tokens: int = 200):
        from backends.data.text import CharTokenizer

        model = fwd["model"]
        tokenizer = CharTokenizer.from_dict(data.tokenizer)
        device = next(iter(_module_tensors(model))).device
        block = data.train.block_size
        prompt = data.extra.get("prompt") or "\n"
        ids = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)
        # A CPU generator seeded the same on every rank keeps TP/FSDP ranks drawing the same tokens.
        g = torch.Generator().manual_seed(seed + step)
        was_training = model.training
        model.eval()
        try:
            for _ in range(max_new_tokens):
                logits, _ = model(ids[:, -block:])
                probs = torch.softmax(logits[0, -1].float() / 0.8, dim=-1).cpu()
                nxt = torch.multinomial(probs, 1, generator=g).to(device)
                ids = torch.cat([ids, nxt[None]], dim=1)
        finally:
            model.train(was_training)
        if not write:
            return None
        path = folder / f"step_{step:07d}.txt"
        path.write_text(tokenizer.decode(ids[0].tolist()), encoding="utf-8")
        return path


class VAETask(Task):
    kind = "vae"

    def loss(self, fwd, batch):
        x = batch[0]
        _, parts = fwd["model"](x)
        return parts["loss"], {"recon": parts["recon"], "kl": parts["kl"]}

    @torch.no_grad()
    def sample(self, fwd, data, step, folder, write, seed):
        model = fwd["model"]
        raw = getattr(model, "module", model)
        device = next(iter(_module_tensors(model))).device
        g = torch.Generator().manual_seed(seed)  # the same latents every time: frames of one film
        z = torch.randn(64, raw.config.latent_dim, generator=g).to(device)
        was_training = model.training
        model.eval()
        # decode() is not forward(): an FSDP root must be gathered by hand around it.
        gathered = hasattr(model, "unshard") and hasattr(model, "reshard")
        if gathered:
            model.unshard()
        try:
            images = raw.decode(z).float().cpu()
        finally:
            if gathered:
                model.reshard()
            model.train(was_training)
        if not write:
            return None
        return save_image_grid(images, folder / f"step_{step:07d}.png")


class ClassifierTask(Task):
    kind = "classifier"

    def loss(self, fwd, batch):
        x, y = batch
        logits, loss = fwd["model"](x, y)
        accuracy = (logits.argmax(-1) == y).float().mean()
        return loss, {"accuracy": accuracy.detach()}


class DCGANTask(Task):
    """Alternating steps: the discriminator on real vs generated, then the generator."""

    kind = "dcgan"
    has_eval = False

    def __init__(self, generator_loss_mode: str) -> None:
        self.mode = generator_loss_mode

    def parts(self, root):
        return {"generator": root.generator, "discriminator": root.discriminator}

    def step(
        self,
        fwd: dict[str, nn.Module],
        micro: list[Batch],
        nz: int,
        backward: Callable[[torch.Tensor], None],
        finish: Callable[[str], torch.Tensor],
        autocast: Callable[[], AbstractContextManager],
        zero: Callable[[str], None],
    ) -> tuple[LossParts, dict[str, torch.Tensor]]:
        from backends.models.dcgan import discriminator_loss, generator_loss

        G, D = fwd["generator"], fwd["discriminator"]
        n = len(micro)
        sums: dict[str, torch.Tensor] = {}

        def add(name: str, value: torch.Tensor) -> None:
            sums[name] = sums.get(name, 0) + value.detach().float() / n

        zero("discriminator")
        for (real, *_rest) in micro:
            z = torch.randn(real.size(0), nz, device=real.device)
            with torch.no_grad(), autocast():
                fake = G(z)
            with autocast():
                d_real, d_fake = D(real), D(fake)
                loss_d = discriminator_loss(d_real, d_fake)
            backward(loss_d / n)
            add("loss_d", loss_d)
            add("d_real", torch.sigmoid(d_real.float()).mean())
            add("d_fake", torch.sigmoid(d_fake.float()).mean())
        norm_d = finish("discriminator")
        zero("generator")
        for (real, *_rest) in micro:
            z = torch.randn(real.size(0), nz, device=real.device)
            with autocast():
                loss_g = generator_loss(D(G(z)), self.mode)
            backward(loss_g / n)
            add("loss_g", loss_g)
        norm_g = finish("generator")
        zero("discriminator")  # the generator step left gradients in D: not D's to apply
        parts = {"loss": sums["loss_d"] + sums["loss_g"], **sums}
        return parts, {"grad_norm": norm_g, "grad_norm_d": norm_d}

    @torch.no_grad()
    def sample(self, fwd, data, step, folder, write, seed):
        G = fwd["generator"]
        raw = getattr(G, "module", G)
        device = next(iter(_module_tensors(G))).device
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(64, raw.config.nz, generator=g).to(device)
        was_training = G.training
        G.eval()
        try:
            images = G(z).float().cpu()
        finally:
            G.train(was_training)
        if not write:
            return None
        return save_image_grid((images + 1) / 2, folder / f"step_{step:07d}.png")


def build_task(config: Any) -> Task:
    if config.model == "gpt":
        return GPTTask()
    if config.model == "vae":
        return VAETask()
    if config.model == "classifier":
        return ClassifierTask()
    if config.model == "dcgan":
        return DCGANTask(config.gan_loss)
    raise ValueError(f"no training task for model {config.model!r}")


def _module_tensors(module: nn.Module):
    yield from module.parameters()
    yield from module.buffers()


def save_image_grid(images: torch.Tensor, path: Path, columns: int = 8) -> Path:
    """Tile images (N, C, H, W) in [0, 1] into one PNG, ``columns`` per row, 2-pixel gaps."""
    from PIL import Image

    images = images.clamp(0, 1)
    n, c, h, w = images.shape
    rows = (n + columns - 1) // columns
    pad = 2
    grid = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images[i].permute(1, 2, 0).numpy()
    pixels = (grid * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)
    return path
