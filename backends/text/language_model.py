"""What generation and scoring need of a model, and running one for inference.

A language model here is anything called as ``model(idx, kv_cache=cache,
last_only=True) -> (logits, _)`` with ``model.config.block_size`` /
``vocab_size`` and ``model.new_kv_cache()``: the workbench GPT, or
:class:`backends.text.hf.HFCausalLM` around a ``transformers`` model. Its
tokenizer is anything with ``encode(text) -> list[int]`` and ``decode(ids) -> str``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

import torch

# Below this many parameters, CPU decoding runs faster on one thread (suggested_threads).
SMALL_MODEL_PARAMETERS = 5_000_000


class ModelShape(Protocol):
    """The sizes generation reads from ``model.config``."""

    @property
    def block_size(self) -> int: ...

    @property
    def vocab_size(self) -> int: ...


class LanguageModel(Protocol):
    """A model :func:`~backends.text.generation.generate` and
    :func:`~backends.text.scoring.score_text` can drive."""

    training: bool

    @property
    def config(self) -> ModelShape: ...

    def __call__(self, idx: torch.Tensor, *args: Any, **kwargs: Any) -> Any: ...

    def new_kv_cache(self) -> Any: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...


def model_device(model: LanguageModel) -> torch.device:
    """Where the model's weights are (the CPU for a model without any)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def suggested_threads(model: LanguageModel) -> int | None:
    """1 for a small model on the CPU, else None (leave torch's setting alone).

    Decoding one token of a model of a few million parameters is a chain of
    tiny matrix products; splitting each over several threads costs more in
    hand-offs than it saves (a 0.35 M-parameter model decodes ~10x faster on
    one thread than on two busy cores). torch's thread count is per thread,
    so setting it inside a worker leaves the rest of the process alone.
    """
    if model_device(model).type != "cpu":
        return None
    n = sum(p.numel() for p in model.parameters())
    return 1 if n < SMALL_MODEL_PARAMETERS else None


@contextlib.contextmanager
def inference(model: LanguageModel, threads: int | None = None) -> Iterator[None]:
    """Eval mode, ``torch.inference_mode`` and ``threads`` intra-op threads for the block;
    the model's mode and torch's thread count are restored after it."""
    was_training = model.training
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)
        if threads:
            torch.set_num_threads(previous_threads)
