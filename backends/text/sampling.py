"""How each next token is picked: :class:`SamplingConfig` and the samplers, in transformers' order.

Sampling follows Hugging Face ``transformers`` exactly, in its order, so that
"top-p 0.9" means here what it means there::

    raw logits
      -> repetition penalty   (every distinct id of prompt and output, once)
      -> temperature          (logits / t)
      -> top-k                (keeps every token tied with the k-th value)
      -> top-p                (smallest set with mass >= p, crossing token kept)
      -> softmax -> one draw from a seeded ``torch.Generator``

Greedy decoding is its own mode: the repetition penalty applies, the warpers
do not, and the arg-max is taken. A temperature of 0 selects greedy (never a
division by zero). On CPU, a generator seeded with ``s`` draws the same
numbers as ``torch.manual_seed(s)``, so a seeded round reproduces what
``transformers.set_seed(s); model.generate(do_sample=True)`` produces.

Each sampler is a pure function on a logits tensor (last dimension = vocab),
so it can be tested on hand-made numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch

from backends.fields import field_names, unknown_fields
from backends.text.errors import GenerationError

FILTERED = float("-inf")  # what a filtered logit becomes (as in transformers)
# Shown next to each generated token: the most likely alternatives at that step.
DEFAULT_ALTERNATIVES = 5
#: The longest continuation one call writes; its token buffer is allocated up front.
MAX_NEW_TOKENS = 100_000


# ---------------------------------------------------------------- settings

@dataclasses.dataclass(kw_only=True)
class SamplingConfig:
    """How to pick each next token. ``validate`` is the one place values are checked.

    ``top_k = 0`` and ``top_p = 1.0`` switch those filters off, and
    ``repetition_penalty = 1.0`` switches the penalty off, as in transformers.
    ``seed = None`` picks a fresh seed, which is reported with the result so the
    run can be repeated exactly.
    """

    greedy: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 200
    seed: int | None = None
    stop: tuple[str, ...] = ()
    alternatives: int = DEFAULT_ALTERNATIVES

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        self.stop = tuple(self.stop)

    @property
    def is_greedy(self) -> bool:
        """Greedy mode, chosen explicitly or by a temperature of exactly 0."""
        return self.greedy or self.temperature == 0

    def validate(self) -> None:
        """Raise :class:`GenerationError` naming the first bad field and the fix."""

        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise GenerationError(f"{name} must be a number, got {value!r}")
            return float(value)

        def integer(name: str, low: int) -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise GenerationError(f"{name} must be a whole number >= {low}, got {value!r}")
            return value

        if number("temperature") < 0 or math.isinf(self.temperature):
            raise GenerationError(
                f"temperature must be 0 (greedy) or a positive number, got {self.temperature}; "
                "try 0.7-1.0"
            )
        top_p = number("top_p")
        if not 0 < top_p <= 1:
            raise GenerationError(
                f"top_p must be in (0, 1], got {self.top_p}; use 1.0 to switch it off"
            )
        integer("top_k", 0)
        penalty = number("repetition_penalty")
        if not 0 < penalty < math.inf:
            raise GenerationError(
                f"repetition_penalty must be a positive number, got {self.repetition_penalty}; "
                "1.0 switches it off, 1.1-1.3 discourages repeats"
            )
        integer("max_new_tokens", 1)
        if self.max_new_tokens > MAX_NEW_TOKENS:
            raise GenerationError(
                f"max_new_tokens is {self.max_new_tokens:,}: use at most {MAX_NEW_TOKENS:,} "
                "(continue from the result for more)"
            )
        integer("alternatives", 0)
        if self.seed is not None:
            integer("seed", 0)
            if self.seed >= 2**63:
                raise GenerationError(f"seed must be below 2**63, got {self.seed}")
        for stop in self.stop:
            if not isinstance(stop, str) or not stop:
                raise GenerationError(f"stop strings must be non-empty text, got {stop!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingConfig:
        unknown = unknown_fields(cls, data)
        if unknown:
            raise GenerationError(
                f"unknown sampling setting(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(field_names(cls)))}"
            )
        values: dict[str, Any] = {k: (tuple(v) if k == "stop" else v) for k, v in data.items()}
        config = cls(**values)
        config.validate()
        return config


# ---------------------------------------------------------------- samplers (pure functions)


def apply_repetition_penalty(
    logits: torch.Tensor, previous_ids: torch.Tensor | Sequence[int], penalty: float
) -> torch.Tensor:
    """Penalise every token id that already occurred: positive logits / penalty, negative * penalty.

    Applied once per distinct id however often it occurred (the penalised
    values are computed from the original logits, then written back), on the
    raw logits before temperature; a logit of 0 stays 0. ``logits`` is (V,)
    or (B, V); ``previous_ids`` is (n,) or (B, n).
    """
    if penalty == 1.0:
        return logits
    ids = torch.as_tensor(previous_ids, dtype=torch.long, device=logits.device)
    if ids.numel() == 0:
        return logits
    squeeze = logits.dim() == 1
    scores = logits.unsqueeze(0) if squeeze else logits
    ids = ids.reshape(scores.size(0), -1) if ids.dim() == 1 else ids
    seen = scores.gather(-1, ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    out = scores.scatter(-1, ids, seen)
    return out.squeeze(0) if squeeze else out


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide by ``temperature`` (> 0); below 1 sharpens, above 1 flattens the distribution."""
    if temperature <= 0:
        raise GenerationError(
            f"temperature must be positive to sample (got {temperature}); use greedy mode for 0"
        )
    if temperature == 1.0:
        return logits
    return logits / temperature


def apply_top_k(logits: torch.Tensor, top_k: int, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Keep tokens whose logit is at least the k-th largest (so ties with the k-th all survive).

    ``top_k = 0`` keeps everything. The rest become ``-inf``.
    """
    if top_k <= 0:
        return logits
    k = min(max(top_k, min_tokens_to_keep), logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, FILTERED)


def apply_top_p(logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches ``top_p``.

    The token whose probability crosses the threshold is kept; a set whose
    mass equals ``top_p`` exactly gets nothing extra. At least
    ``min_tokens_to_keep`` tokens survive. Probabilities are those of the
    logits given (already temperature-scaled and top-k filtered in the
    pipeline). Computed as transformers does (ascending sort, cumulative
    softmax, drop what lies at or below ``1 - top_p``) so rounding at the
    boundary agrees with it too.
    """
    if top_p >= 1.0:
        return logits
    ascending, order = torch.sort(logits, dim=-1, descending=False)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = cumulative <= (1 - top_p)
    drop_sorted[..., -max(1, min_tokens_to_keep) :] = False
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, FILTERED)


def process_logits(
    raw_logits: torch.Tensor, previous_ids: torch.Tensor | Sequence[int], config: SamplingConfig
) -> torch.Tensor:
    """The logits a token is drawn from: the whole pipeline, in transformers' order.

    Greedy mode applies only the repetition penalty (as transformers does for
    ``do_sample=False``); the arg-max is unaffected by the warpers anyway.
    """
    scores = apply_repetition_penalty(raw_logits, previous_ids, config.repetition_penalty)
    if config.is_greedy:
        return scores
    scores = apply_temperature(scores, config.temperature)
    scores = apply_top_k(scores, config.top_k)
    return apply_top_p(scores, config.top_p)


def choose_token(
    processed_logits: torch.Tensor, greedy: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The next token id(s): arg-max when ``greedy``, else one draw from softmax(logits).

    ``processed_logits`` is (V,) or (B, V); the result has the leading shape
    with the vocab dimension removed. The draw is ``torch.multinomial`` on the
    float32 softmax with ``generator``, the same call transformers makes.
    """
    if greedy:
        return processed_logits.argmax(dim=-1)
    probs = processed_logits.float().softmax(dim=-1)
    squeeze = probs.dim() == 1
    drawn = torch.multinomial(probs.unsqueeze(0) if squeeze else probs, 1, generator=generator)
    return drawn.reshape(()) if squeeze else drawn.squeeze(-1)

