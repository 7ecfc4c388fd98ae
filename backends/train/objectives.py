"""Training objectives: what one optimizer step computes for each model, its losses and previews.

An objective knows the model's training objective and nothing about
parallelism: the trainer hands :meth:`Objective.step` a
:class:`~backends.train.step.StepOps` (the modules to call, already wrapped
by a strategy, their optimizers, autocast, gradient scaler and clipping) and
the step's micro-batches. GPT, VAE and classifier are one network with one
optimizer: they give :meth:`Objective.loss` and the base class runs the step.
DCGAN alternates a discriminator and a generator step with two optimizers
(:meth:`GANObjective.step`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.distributed.fsdp import FSDPModule

from backends.train.data import Batch, TrainData
from backends.train.image_grid import save_image_grid
from backends.train.step import StepOps

LossParts = dict[str, torch.Tensor]
StepResult = tuple[LossParts, dict[str, torch.Tensor]]  # mean losses; gradient norms


class MeanOverMicroBatches:
    """Running means of named scalars over the ``count`` micro-batches of one step."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        self.sums[name] = self.sums.get(name, 0) + value.detach().float() / self.count


class Objective:
    """A single-network objective; subclasses give ``loss``."""

    kind = ""
    has_eval = True

    def parts(self, root: nn.Module) -> dict[str, nn.Module]:
        """The networks a strategy wraps, each with its own optimizer."""
        return {"model": root}

    def loss(self, modules: dict[str, nn.Module], batch: Batch) -> tuple[torch.Tensor, LossParts]:
        raise NotImplementedError

    def step(self, ops: StepOps, micro_batches: Sequence[Batch]) -> StepResult:
        """One optimizer step of the single network: accumulate over micro-batches, clip, apply."""
        part = next(iter(ops.modules))
        ops.zero_grads(part)
        means = MeanOverMicroBatches(len(micro_batches))
        for i, batch in enumerate(micro_batches):
            with ops.accumulating(part, last=i == len(micro_batches) - 1):
                with ops.autocast():
                    loss, parts = self.loss(ops.modules, batch)
                ops.backward(loss / len(micro_batches))
            for key, value in {"loss": loss, **parts}.items():
                means.add(key, value)
        return means.sums, {"grad_norm": ops.apply_gradients(part)}

    def tokens(self, batch_size: int, data: TrainData) -> int:
        """Tokens per global batch (language models only; 0 otherwise)."""
        return 0

    def sample(
        self, modules: dict[str, nn.Module], data: TrainData, step: int, folder: Path, write: bool,
        seed: int,
    ) -> Path | None:
        """Write a preview of what the model does now (rank 0 writes; every rank computes)."""
        return None


class LanguageModelObjective(Objective):
    """Next-token cross-entropy of the GPT; previews are sampled text."""

    kind = "gpt"

    def loss(self, modules: dict[str, nn.Module], batch: Batch) -> tuple[torch.Tensor, LossParts]:
        x, y = batch
        _, loss = modules["model"](x, y)
        return loss, {}

    def tokens(self, batch_size: int, data: TrainData) -> int:
        return batch_size * data.train.block_size

    @torch.no_grad()
    def sample(
        self, modules: dict[str, nn.Module], data: TrainData, step: int, folder: Path, write: bool,
        seed: int, max_new_tokens: int = 200,
    ) -> Path | None:
        from backends.data.text import CharTokenizer

        model = modules["model"]
        tokenizer = CharTokenizer.from_dict(cast(dict[str, Any], data.tokenizer))
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


class VAEObjective(Objective):
    """Reconstruction plus KL of the VAE; previews decode the same latents every time."""

    kind = "vae"

    def loss(self, modules: dict[str, nn.Module], batch: Batch) -> tuple[torch.Tensor, LossParts]:
        x = batch[0]
        _, parts = modules["model"](x)
        return parts["loss"], {"recon": parts["recon"], "kl": parts["kl"]}

    @torch.no_grad()
    def sample(
        self, modules: dict[str, nn.Module], data: TrainData, step: int, folder: Path, write: bool,
        seed: int,
    ) -> Path | None:
        model = modules["model"]
        raw = _unwrapped(model)
        device = next(iter(_module_tensors(model))).device
        g = torch.Generator().manual_seed(seed)  # the same latents every time: frames of one film
        z = torch.randn(64, raw.config.latent_dim, generator=g).to(device)
        was_training = model.training
        model.eval()
        # decode() is not forward(): an FSDP root must be gathered by hand around it.
        fsdp = model if isinstance(model, FSDPModule) else None
        if fsdp is not None:
            fsdp.unshard()
        try:
            images = raw.decode(z).float().cpu()
        finally:
            if fsdp is not None:
                fsdp.reshard()
            model.train(was_training)
        if not write:
            return None
        return save_image_grid(images, folder / f"step_{step:07d}.png")


class ClassifierObjective(Objective):
    """Cross-entropy of the classifier, with its accuracy alongside."""

    kind = "classifier"

    def loss(self, modules: dict[str, nn.Module], batch: Batch) -> tuple[torch.Tensor, LossParts]:
        x, y = batch
        logits, loss = modules["model"](x, y)
        accuracy = (logits.argmax(-1) == y).float().mean()
        return loss, {"accuracy": accuracy.detach()}


class GANObjective(Objective):
    """Alternating steps: the discriminator on real vs generated, then the generator."""

    kind = "dcgan"
    has_eval = False

    def __init__(self, generator_loss_mode: str) -> None:
        self.mode = generator_loss_mode

    def parts(self, root: nn.Module) -> dict[str, nn.Module]:
        gan = cast(Any, root)  # backends.models.dcgan.DCGAN
        return {"generator": gan.generator, "discriminator": gan.discriminator}

    def step(self, ops: StepOps, micro_batches: Sequence[Batch]) -> StepResult:
        """A discriminator step, then a generator step, each with its own optimizer."""
        means = MeanOverMicroBatches(len(micro_batches))
        norm_d = self._discriminator_step(ops, micro_batches, means)
        norm_g = self._generator_step(ops, micro_batches, means)
        ops.zero_grads("discriminator")  # the generator step left gradients in D: not D's to apply
        sums = means.sums
        parts = {"loss": sums["loss_d"] + sums["loss_g"], **sums}
        return parts, {"grad_norm": norm_g, "grad_norm_d": norm_d}

    def _discriminator_step(
        self, ops: StepOps, micro_batches: Sequence[Batch], means: MeanOverMicroBatches
    ) -> torch.Tensor:
        from backends.models.dcgan import discriminator_loss

        G, D = ops.modules["generator"], ops.modules["discriminator"]
        nz = _unwrapped(G).config.nz
        ops.zero_grads("discriminator")
        for (real, *_rest) in micro_batches:
            z = torch.randn(real.size(0), nz, device=real.device)
            with torch.no_grad(), ops.autocast():
                fake = G(z)
            with ops.autocast():
                d_real, d_fake = D(real), D(fake)
                loss_d = discriminator_loss(d_real, d_fake)
            ops.backward(loss_d / means.count)
            means.add("loss_d", loss_d)
            means.add("d_real", torch.sigmoid(d_real.float()).mean())
            means.add("d_fake", torch.sigmoid(d_fake.float()).mean())
        return ops.apply_gradients("discriminator")

    def _generator_step(
        self, ops: StepOps, micro_batches: Sequence[Batch], means: MeanOverMicroBatches
    ) -> torch.Tensor:
        from backends.models.dcgan import generator_loss

        G, D = ops.modules["generator"], ops.modules["discriminator"]
        nz = _unwrapped(G).config.nz
        ops.zero_grads("generator")
        for (real, *_rest) in micro_batches:
            z = torch.randn(real.size(0), nz, device=real.device)
            with ops.autocast():
                loss_g = generator_loss(D(G(z)), self.mode)
            ops.backward(loss_g / means.count)
            means.add("loss_g", loss_g)
        return ops.apply_gradients("generator")

    @torch.no_grad()
    def sample(
        self, modules: dict[str, nn.Module], data: TrainData, step: int, folder: Path, write: bool,
        seed: int,
    ) -> Path | None:
        G = modules["generator"]
        raw = _unwrapped(G)
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


def build_objective(config: Any) -> Objective:
    """The objective that trains ``config.model`` (the GAN's generator loss from ``gan_loss``)."""
    if config.model == "gpt":
        return LanguageModelObjective()
    if config.model == "vae":
        return VAEObjective()
    if config.model == "classifier":
        return ClassifierObjective()
    if config.model == "dcgan":
        return GANObjective(config.gan_loss)
    raise ValueError(f"no training objective for model {config.model!r}")


def _unwrapped(module: nn.Module) -> Any:
    """The model inside a DDP wrapper (FSDP2 and TP work in place: the module itself)."""
    return getattr(module, "module", module)


def _module_tensors(module: nn.Module) -> Iterator[torch.Tensor]:
    yield from module.parameters()
    yield from module.buffers()
