"""What generation and scoring return: tokens with their alternatives, a result, a text's score.

Plain records (no torch): :class:`GeneratedToken` and :class:`GenerationResult`
from :func:`backends.text.generation.generate`, :class:`TextScore` from
:func:`backends.text.scoring.score_text`. Each turns into a dict for JSON.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from backends.text.prompts import truncation_note


@dataclasses.dataclass
class Alternative:
    """A token the model considered at one step: raw probability and after the samplers."""

    token_id: int
    text: str
    prob_raw: float
    prob: float  # 0 when the samplers filtered it out


@dataclasses.dataclass
class GeneratedToken:
    """One generated token as shown to a person.

    ``logprob_raw`` is the model's own log-probability (softmax of the raw
    logits); ``logprob`` is after the samplers, the distribution it was drawn
    from (in greedy mode: after the repetition penalty). ``time_s`` is when it
    was decoded, counted from the start of the call.
    """

    index: int
    token_id: int
    text: str
    logprob_raw: float
    logprob: float
    entropy_bits: float
    alternatives: list[Alternative]
    time_s: float

    @property
    def prob_raw(self) -> float:
        return math.exp(self.logprob_raw)

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratedToken:
        data = dict(data)
        data["alternatives"] = [Alternative(**a) for a in data.get("alternatives", [])]
        return cls(**data)


@dataclasses.dataclass
class GenerationResult:
    """A finished generation: the text, its tokens, and what is needed to repeat it.

    ``finish_reason`` is ``"length"`` (max_new_tokens reached), ``"stop"``
    (a stop string matched; it and everything after it are cut) or ``"eos"``
    (the model ended the text). ``tokens_per_s`` is the decoding speed after
    the first token, ``(n - 1) / (t_last - t_first)``; the first token's wait,
    which includes reading the prompt, is ``time_to_first_token_s``.
    """

    prompt_ids: list[int]
    text: str
    tokens: list[GeneratedToken]
    finish_reason: str
    seed: int
    config: dict[str, Any]
    generated_tokens: int
    time_to_first_token_s: float
    elapsed_s: float
    tokens_per_s: float
    stop_string: str | None = None
    dropped_prompt_tokens: int = 0  # left-truncated to fit the context (see ``note``)
    context: int = 0

    @property
    def note(self) -> str:
        """The truncation note, or '' when the whole prompt was read."""
        return truncation_note(self.dropped_prompt_tokens, self.context)

    @property
    def perplexity(self) -> float:
        """exp of the mean raw negative log-likelihood of the shown tokens (nan if none)."""
        if not self.tokens:
            return math.nan
        return math.exp(-sum(t.logprob_raw for t in self.tokens) / len(self.tokens))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["perplexity"] = self.perplexity if self.tokens else None
        data["note"] = self.note
        return data


# ---------------------------------------------------------------- perplexity


@dataclasses.dataclass
class ScoredToken:
    """One token of a scored text and the model's surprise at it, in bits."""

    token_id: int
    text: str
    bits: float


@dataclasses.dataclass
class TextScore:
    """Per-token negative log-likelihood of a text; the first token is context, not scored."""

    tokens: list[ScoredToken]
    first_text: str

    @property
    def total_bits(self) -> float:
        return sum(t.bits for t in self.tokens)

    @property
    def perplexity(self) -> float:
        if not self.tokens:
            return math.nan
        return 2 ** (self.total_bits / len(self.tokens))

    @property
    def bits_per_token(self) -> float:
        return self.total_bits / len(self.tokens) if self.tokens else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_text": self.first_text,
            "tokens": [dataclasses.asdict(t) for t in self.tokens],
            "total_bits": self.total_bits,
            "bits_per_token": self.bits_per_token,
            "perplexity": self.perplexity,
        }
