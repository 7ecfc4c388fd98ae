"""The decoding loop: a continuation of a prompt, token by token with a KV cache, streamed.

:func:`generate` reads the prompt once, then decodes one token per step from
the cached keys and values, picking each with the samplers of
:mod:`backends.text.sampling`. Every token carries its raw and sampled
probability, its entropy and the most likely alternatives; released tokens go
to a callback as they are decoded (through :class:`~backends.text.streaming.TextStream`,
so a partial stop string never reaches the caller). The model and tokenizer are
described in :mod:`backends.text.language_model`.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from backends.progress import ProgressCallback, report
from backends.text.language_model import LanguageModel, inference, model_device
from backends.text.prompts import prepare_prompt
from backends.text.results import Alternative, GeneratedToken, GenerationResult
from backends.text.sampling import SamplingConfig, choose_token, process_logits
from backends.text.streaming import TextStream


def context_window_start(length: int, start: int, block_size: int) -> int:
    """Where the model's input window starts for a sequence of ``length`` tokens.

    The window stays put while it fits; once the sequence outgrows the
    context, it jumps forward to keep the last three quarters of the context
    (with a KV cache that means one re-read of those tokens every quarter
    context, not one per token). Cached and uncached decoding both use this
    rule, so they see the same tokens and give the same text.
    """
    if length - start <= block_size:
        return start
    keep = max(1, block_size - block_size // 4)
    return length - keep


def end_of_text_ids(tokenizer: Any) -> set[int]:
    """The token ids that end the text: the tokenizer's ``eos_ids`` and its ``eos_id``."""
    ids = set(getattr(tokenizer, "eos_ids", ()) or ())
    if getattr(tokenizer, "eos_id", None) is not None:
        ids.add(tokenizer.eos_id)
    return ids


class _Decoder:
    """One generation's state: the token buffer, the KV cache and its window, the seeded draw."""

    def __init__(
        self,
        model: LanguageModel,
        tokenizer: Any,
        config: SamplingConfig,
        prompt_ids: list[int],
        seed: int,
        use_cache: bool,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.prompt_ids = prompt_ids
        self.seed = seed
        self.block_size = int(model.config.block_size)
        device = model_device(model)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.ids = torch.empty(
            len(prompt_ids) + config.max_new_tokens, dtype=torch.long, device=device
        )
        self.ids[: len(prompt_ids)] = torch.tensor(prompt_ids, dtype=torch.long)
        self.length = len(prompt_ids)
        self.cache = model.new_kv_cache() if use_cache else None
        self.window = 0
        self.eos_ids = end_of_text_ids(tokenizer)
        self.n_alternatives = min(config.alternatives, int(model.config.vocab_size))
        self.times: list[float] = []  # when each token was decoded, from the start
        self._texts: dict[int, str] = {}

    def next_logits(self, step: int) -> torch.Tensor:
        """The raw float logits for the next token (the whole window is read again on the
        first step and whenever the window moves; otherwise only the newest token)."""
        ids, length = self.ids, self.length
        window = context_window_start(length, self.window, self.block_size)
        # last_only: the next token needs one position's logits, not the prompt's.
        if self.cache is None:
            logits, _ = self.model(ids[None, window:length], last_only=True)
        elif step == 0 or window != self.window:
            self.cache.reset()
            logits, _ = self.model(ids[None, window:length], kv_cache=self.cache, last_only=True)
        else:
            newest = ids[None, length - 1 : length]
            logits, _ = self.model(newest, kv_cache=self.cache, last_only=True)
        self.window = window
        return logits[0, -1].float()

    def draw(self, raw: torch.Tensor) -> tuple[int, torch.Tensor]:
        """Pick the next token from ``raw`` logits: (its id, the logits it was drawn from)."""
        processed = process_logits(raw, self.ids[: self.length], self.config)
        token_id = int(choose_token(processed, self.config.is_greedy, self.generator))
        return token_id, processed

    def append(self, token_id: int) -> None:
        self.ids[self.length] = token_id
        self.length += 1

    def describe(
        self, step: int, token_id: int, raw: torch.Tensor, processed: torch.Tensor, now: float
    ) -> GeneratedToken:
        """The token as shown (its text still empty): probabilities, entropy, alternatives."""
        raw_logp = raw.log_softmax(-1)
        # Greedy without a penalty leaves the logits as they were: one softmax serves both.
        logp = raw_logp if processed is raw else processed.log_softmax(-1)
        entropy = -(raw_logp.exp() * raw_logp).sum().item() / math.log(2)
        return GeneratedToken(
            index=step,
            token_id=token_id,
            text="",
            logprob_raw=float(raw_logp[token_id]),
            logprob=float(logp[token_id]),
            entropy_bits=entropy,
            alternatives=self.alternatives(raw_logp, logp),
            time_s=now,
        )

    def alternatives(self, raw_logp: torch.Tensor, logp: torch.Tensor) -> list[Alternative]:
        """The most likely tokens by raw probability, each with its probability after sampling."""
        if not self.n_alternatives:
            return []
        top = torch.topk(raw_logp, self.n_alternatives)
        p_after = logp[top.indices].exp().tolist()
        return [
            Alternative(alt_id, self.token_text(alt_id), math.exp(lp), pa)
            for alt_id, lp, pa in zip(
                top.indices.tolist(), top.values.tolist(), p_after, strict=True
            )
        ]

    def token_text(self, token_id: int) -> str:
        if token_id not in self._texts:
            self._texts[token_id] = self.tokenizer.decode([token_id])
        return self._texts[token_id]

    def run(
        self,
        stream: TextStream,
        emit: Callable[[list[GeneratedToken]], None],
        progress: ProgressCallback | None,
        started: float,
    ) -> str:
        """Decode until the end of text, a stop string or ``max_new_tokens``; the finish reason."""
        steps = self.config.max_new_tokens
        for step in range(steps):
            raw = self.next_logits(step)
            token_id, processed = self.draw(raw)
            now = time.perf_counter() - started
            self.times.append(now)
            self.append(token_id)
            if token_id in self.eos_ids:
                return "eos"
            token = self.describe(step, token_id, raw, processed, now)
            emit(stream.add(token, final=step == steps - 1))
            if stream.stopped:
                return "stop"
            report(progress, (step + 1) / steps)
        return "length"


    def result(
        self,
        shown: list[GeneratedToken],
        stream: TextStream,
        finish_reason: str,
        elapsed: float,
        dropped: int,
    ) -> GenerationResult:
        """The finished generation: its shown tokens, timings and what repeats it."""
        times = self.times
        decode_span = times[-1] - times[0] if len(times) > 1 else 0.0
        return GenerationResult(
            prompt_ids=self.prompt_ids,
            text="".join(t.text for t in shown),
            tokens=shown,
            finish_reason=finish_reason,
            seed=self.seed,
            config={**self.config.to_dict(), "seed": self.seed},
            generated_tokens=len(times),
            time_to_first_token_s=times[0] if times else math.nan,
            elapsed_s=elapsed,
            tokens_per_s=(len(times) - 1) / decode_span if decode_span > 0 else math.nan,
            stop_string=stream.stop_string if stream.stopped else None,
            dropped_prompt_tokens=dropped,
            context=self.block_size,
        )


def generate(
    model: LanguageModel,
    tokenizer: Any,
    prompt: str | Sequence[int],
    config: SamplingConfig | None = None,
    *,
    on_token: Callable[[GeneratedToken], None] | None = None,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
    truncate_prompt: bool = True,
    threads: int | None = None,
) -> GenerationResult:
    """Generate a continuation of ``prompt`` (text, or token ids), streaming tokens as they come.

    ``on_token`` gets each token once it may be shown (complete characters,
    no part of a stop string), on the calling thread. ``progress`` gets the
    fraction of ``max_new_tokens`` done after every token; raising
    :class:`backends.progress.Cancelled` from it stops the generation.
    ``use_cache=False`` recomputes the whole window every step (the reference
    the KV cache is tested against). A prompt longer than the context is
    left-truncated (its oldest tokens dropped, a leading BOS kept; the count is
    ``result.dropped_prompt_tokens`` and ``result.note`` says it), or an error
    with ``truncate_prompt=False``. ``threads`` sets torch's intra-op threads for this call (see
    :func:`~backends.text.language_model.suggested_threads`). Raises
    :class:`~backends.text.errors.GenerationError` on bad input.
    """
    config = config or SamplingConfig()
    config.validate()
    block_size = int(model.config.block_size)
    prompt_ids, dropped = prepare_prompt(
        tokenizer, prompt, block_size, int(model.config.vocab_size), truncate_prompt
    )
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    decoder = _Decoder(model, tokenizer, config, prompt_ids, seed, use_cache)
    stream = TextStream(tokenizer, config.stop)
    shown: list[GeneratedToken] = []

    def emit(tokens: list[GeneratedToken]) -> None:
        shown.extend(tokens)
        if on_token is not None:
            for token in tokens:
                on_token(token)

    with inference(model, threads):
        started = time.perf_counter()
        finish_reason = decoder.run(stream, emit, progress, started)
        if not stream.stopped:
            emit(stream.flush())
    elapsed = time.perf_counter() - started
    return decoder.result(shown, stream, finish_reason, elapsed, dropped)
