"""What one optimizer step is made of, handed to an objective as one object: :class:`StepOps`.

An objective (``backends.train.objectives``) decides what to compute; the
trainer decides how: which modules to call (wrapped by a strategy), under
which autocast, with which gradient scaler, how gradients accumulate over
micro-batches (synchronised across ranks only on the last) and how they are
clipped and applied. :func:`clip_gradients` and :func:`step_optimizer` are
those last two jobs on their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from backends.parallel.grads import clip_grad_norm


def autocast_for(precision: str, device_type: str) -> contextlib.AbstractContextManager[object]:
    """The autocast context of a precision (``fp32``: none; ``bf16``, ``fp16``: mixed)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type, dtype=dtype)


def clip_gradients(
    optimizer: torch.optim.Optimizer, max_norm: float, scaler: torch.amp.GradScaler | None = None
) -> torch.Tensor:
    """Clip the gradients of ``optimizer``'s parameters to ``max_norm`` (0: measure only).

    With a gradient scaler they are unscaled first. Returns the norm before clipping.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if scaler is not None:
        scaler.unscale_(optimizer)
    return clip_grad_norm(params, max_norm)


def step_optimizer(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None = None) -> None:
    """Apply the gradients (through the scaler, which then updates its scale, if there is one)."""
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


@dataclass
class StepOps:
    """The modules, optimizers and gradient handling one training step works with.

    ``modules`` and ``optimizers`` are keyed by part name (``"model"``; a GAN's
    ``"generator"`` and ``"discriminator"``); the modules are what to call
    (already wrapped by the strategy).
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    precision: str  # "fp32" | "bf16" | "fp16"
    device_type: str  # "cpu" | "cuda"
    max_grad_norm: float  # 0: measure the norm, never clip
    grad_scaler: torch.amp.GradScaler | None = None  # fp16 on CUDA only

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """The context a forward pass runs in (mixed precision, or none for fp32)."""
        return autocast_for(self.precision, self.device_type)

    def zero_grads(self, part: str) -> None:
        """Forget ``part``'s gradients (before accumulating new ones)."""
        self.optimizers[part].zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradients of ``loss`` (scaled first under a gradient scaler)."""
        (self.grad_scaler.scale(loss) if self.grad_scaler is not None else loss).backward()

    @contextlib.contextmanager
    def accumulating(self, part: str, last: bool) -> Iterator[None]:
        """Around one micro-batch's backward: gradients sync across ranks on the ``last`` one only.

        DDP accumulates locally under ``no_sync`` and all-reduces on the last
        micro-batch; FSDP2 does the same by flag. Other modules have nothing to sync.
        """
        module = self.modules[part]
        set_sync = getattr(module, "set_requires_gradient_sync", None)
        if last:
            if set_sync is not None:
                set_sync(True)
            yield
            return
        no_sync = getattr(module, "no_sync", None)
        if no_sync is not None:
            with no_sync():
                yield
            return
        if set_sync is not None:
            set_sync(False)
        yield

    def apply_gradients(self, part: str) -> torch.Tensor:
        """Clip ``part``'s gradients and step its optimizer; returns the gradient norm."""
        optimizer = self.optimizers[part]
        norm = clip_gradients(optimizer, self.max_grad_norm, self.grad_scaler)
        step_optimizer(optimizer, self.grad_scaler)
        return norm
