"""Text generation: Hugging Face-order samplers, streaming decoding with a KV cache, perplexity.

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
numbers as ``torch.manual_seed(s)``, so a seeded run reproduces what
``transformers.set_seed(s); model.generate(do_sample=True)`` produces.

Each sampler is a pure function on a logits tensor (last dimension = vocab),
so it can be tested on hand-made numbers. :func:`generate` streams released
tokens to a callback as they are decoded; stop strings are held back while
they could still match, so a partial stop string never reaches the caller.
:func:`score_text` gives per-token negative log-likelihood and perplexity.

The model is anything called as ``model(idx, kv_cache=cache, last_only=True)
-> (logits, _)`` with ``model.config.block_size`` and ``model.new_kv_cache()``
(the workbench GPT); the tokenizer anything with ``encode(text) -> list[int]`` and
``decode(ids) -> str`` (see :mod:`backends.text_models`).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from backends.progress import ProgressCallback, report

FILTERED = float("-inf")  # what a filtered logit becomes (as in transformers)
# Shown next to each generated token: the most likely alternatives at that step.
DEFAULT_ALTERNATIVES = 5
# Below this many parameters, CPU decoding runs faster on one thread (suggested_threads).
SMALL_MODEL_PARAMETERS = 5_000_000


class GenerationError(ValueError):
    """Bad generation input (a setting, a prompt, a model); the message says the fix."""


# ---------------------------------------------------------------- settings


#: The longest continuation one call writes; its token buffer is allocated up front.
MAX_NEW_TOKENS = 100_000

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
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise GenerationError(
                f"unknown sampling setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        config = cls(**{k: (tuple(v) if k == "stop" else v) for k, v in data.items()})
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


# ---------------------------------------------------------------- records


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


# ---------------------------------------------------------------- prompt checks


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text``; characters the tokenizer cannot encode are named in the error."""
    try:
        return list(tokenizer.encode(text))
    except (KeyError, ValueError, IndexError) as exc:
        unknown = []
        for ch in dict.fromkeys(text):
            try:
                tokenizer.encode(ch)
            except (KeyError, ValueError, IndexError):
                unknown.append(ch)
        if not unknown:
            raise GenerationError(f"the tokenizer could not encode the prompt: {exc}") from exc
        shown = ", ".join(repr(ch) for ch in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise GenerationError(
            f"the prompt has characters this model never saw: {shown}{more}; "
            "remove or replace them (a character-level model knows only its training text's "
            "characters)"
        ) from exc


def _check_prompt_ids(ids: Sequence[int], vocab_size: int, block_size: int) -> list[int]:
    ids = [int(i) for i in ids]
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise GenerationError(
            f"token id(s) {bad[:5]} are outside the model's vocabulary of {vocab_size}; "
            "was the prompt made with another tokenizer?"
        )
    if len(ids) > block_size:
        raise GenerationError(
            f"the prompt is {len(ids)} tokens but the model's context is {block_size} tokens; "
            f"shorten the prompt by at least {len(ids) - block_size} tokens"
        )
    return ids


def fit_prompt(
    ids: Sequence[int], block_size: int, bos_id: int | None = None
) -> tuple[list[int], int]:
    """Left-truncate ``ids`` to the context: (kept ids, number of tokens dropped).

    A leading BOS token is kept (the model was trained with text starting
    there); the tokens dropped are the oldest ones after it.
    """
    ids = list(ids)
    dropped = max(0, len(ids) - block_size)
    if not dropped:
        return ids, 0
    if bos_id is not None and ids and ids[0] == bos_id and block_size > 1:
        return [ids[0], *ids[len(ids) - block_size + 1 :]], dropped
    return ids[-block_size:], dropped


def truncation_note(dropped: int, block_size: int) -> str:
    """What a person is told when a prompt was cut to fit the context ('' when nothing was)."""
    if not dropped:
        return ""
    return (
        f"prompt left-truncated: its first {dropped} token{'s' if dropped != 1 else ''} "
        f"did not fit the model's context of {block_size} tokens and were dropped"
    )


# ---------------------------------------------------------------- streaming text


class _TextStream:
    """Turns decoded tokens into released tokens: complete characters, no stop-string prefix.

    A byte-level tokenizer can split one character over several tokens; the
    partial text decodes to U+FFFD, so such tokens wait (with empty text) until
    the character completes. Stop strings: the text is cut at the first full
    match; a tail that is the start of a stop string is held back until it
    completes or diverges. Only tokens whose whole text lies before the
    held-back tail are released.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._stop = tuple(stop)
        self._pending_ids: list[int] = []
        self.text = ""  # all decoded text so far (may hold a tail not yet released)
        self._waiting: list[tuple[GeneratedToken, int]] = []  # (token, end offset in text)
        self.stop_string: str | None = None
        self.stopped = False

    def add(self, token: GeneratedToken, final: bool = False) -> list[GeneratedToken]:
        """Add one decoded token; return the tokens that may now be shown."""
        self._pending_ids.append(token.token_id)
        piece = self._tokenizer.decode(self._pending_ids)
        if piece.endswith("\ufffd") and not final:
            token.text = ""  # an incomplete character: its text arrives with a later token
        else:
            token.text = piece
            self._pending_ids = []
        search_from = max(0, len(self.text) - max((len(s) for s in self._stop), default=0))
        self.text += token.text
        self._waiting.append((token, len(self.text)))
        cut = self._find_stop(search_from)
        if cut is not None:
            self.text = self.text[:cut]
            self.stopped = True
            return self._release(cut, truncate=True)
        return self._release(len(self.text) - self._held_back())

    def flush(self) -> list[GeneratedToken]:
        """Release everything still held back (the text ended without a stop string)."""
        return self._release(len(self.text))

    def _find_stop(self, start: int) -> int | None:
        best: int | None = None
        for stop in self._stop:
            at = self.text.find(stop, start)
            if at >= 0 and (best is None or at < best):
                best, self.stop_string = at, stop
        return best

    def _held_back(self) -> int:
        """Length of the longest tail of the text that is a proper prefix of a stop string."""
        longest = 0
        for stop in self._stop:
            for n in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:n]):
                    longest = n
                    break
        return longest

    def _release(self, upto: int, truncate: bool = False) -> list[GeneratedToken]:
        released = []
        while self._waiting:
            token, end = self._waiting[0]
            start = end - len(token.text)
            if end <= upto:
                released.append(token)
            elif truncate and start < upto:
                token.text = token.text[: upto - start]
                released.append(token)
            elif not truncate:
                break
            self._waiting.pop(0)
        return released


# ---------------------------------------------------------------- generation


def _model_device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def suggested_threads(model: torch.nn.Module) -> int | None:
    """1 for a small model on the CPU, else None (leave torch's setting alone).

    Decoding one token of a model of a few million parameters is a chain of
    tiny matrix products; splitting each over several threads costs more in
    hand-offs than it saves (a 0.35 M-parameter model decodes ~10x faster on
    one thread than on two busy cores). torch's thread count is per thread,
    so setting it inside a worker leaves the rest of the process alone.
    """
    if _model_device(model).type != "cpu":
        return None
    n = sum(p.numel() for p in model.parameters())
    return 1 if n < SMALL_MODEL_PARAMETERS else None


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


def generate(
    model: torch.nn.Module,
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
    the KV cache is tested against). A prompt longer than the context is an
    left-truncated (its oldest tokens dropped, a leading BOS kept; the count is
    ``result.dropped_prompt_tokens`` and ``result.note`` says it), or an error
    with ``truncate_prompt=False``. ``threads`` sets torch's intra-op threads for this call (see
    :func:`suggested_threads`). Raises :class:`GenerationError` on bad input.
    """
    config = config or SamplingConfig()
    config.validate()
    block_size = model.config.block_size
    vocab_size = model.config.vocab_size
    if isinstance(prompt, str):
        prompt_ids = encode_prompt(tokenizer, prompt)
    else:
        prompt_ids = list(prompt)
    if not prompt_ids:
        bos = getattr(tokenizer, "bos_id", None)
        if bos is None:
            raise GenerationError("the prompt is empty; type at least one character to continue")
        prompt_ids = [bos]
    dropped = 0
    if truncate_prompt:
        prompt_ids, dropped = fit_prompt(prompt_ids, block_size, getattr(tokenizer, "bos_id", None))
    prompt_ids = _check_prompt_ids(prompt_ids, vocab_size, block_size)

    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    device = _model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    eos_ids = set(getattr(tokenizer, "eos_ids", ()) or ())
    if getattr(tokenizer, "eos_id", None) is not None:
        eos_ids.add(tokenizer.eos_id)
    greedy = config.is_greedy
    n_alt = min(config.alternatives, vocab_size)
    texts: dict[int, str] = {}

    def token_text(token_id: int) -> str:
        if token_id not in texts:
            texts[token_id] = tokenizer.decode([token_id])
        return texts[token_id]

    ids = torch.empty(len(prompt_ids) + config.max_new_tokens, dtype=torch.long, device=device)
    ids[: len(prompt_ids)] = torch.tensor(prompt_ids, dtype=torch.long)
    length = len(prompt_ids)
    stream = _TextStream(tokenizer, config.stop)
    shown: list[GeneratedToken] = []
    finish_reason = "length"
    times: list[float] = []
    cache = model.new_kv_cache() if use_cache else None
    window = 0

    def emit(tokens: list[GeneratedToken]) -> None:
        shown.extend(tokens)
        if on_token is not None:
            for token in tokens:
                on_token(token)

    was_training = model.training
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    model.eval()
    started = time.perf_counter()
    try:
        with torch.inference_mode():
            for step in range(config.max_new_tokens):
                new_window = context_window_start(length, window, block_size)
                # last_only: the next token needs one position's logits, not the prompt's.
                if cache is None:
                    logits, _ = model(ids[None, new_window:length], last_only=True)
                elif step == 0 or new_window != window:
                    cache.reset()
                    logits, _ = model(ids[None, new_window:length], kv_cache=cache, last_only=True)
                else:
                    logits, _ = model(
                        ids[None, length - 1 : length], kv_cache=cache, last_only=True
                    )
                window = new_window
                raw = logits[0, -1].float()
                processed = process_logits(raw, ids[:length], config)
                token_id = int(choose_token(processed, greedy, generator))
                now = time.perf_counter() - started
                times.append(now)
                ids[length] = token_id
                length += 1

                raw_logp = raw.log_softmax(-1)
                # Greedy without a penalty leaves the logits as they were: one softmax serves both.
                logp = raw_logp if processed is raw else processed.log_softmax(-1)
                entropy = -(raw_logp.exp() * raw_logp).sum().item() / math.log(2)
                alternatives = []
                if n_alt:
                    top = torch.topk(raw_logp, n_alt)
                    p_after = logp[top.indices].exp().tolist()
                    for alt_id, lp, pa in zip(
                        top.indices.tolist(), top.values.tolist(), p_after, strict=True
                    ):
                        alternatives.append(
                            Alternative(alt_id, token_text(alt_id), math.exp(lp), pa)
                        )
                if token_id in eos_ids:
                    finish_reason = "eos"
                    break
                token = GeneratedToken(
                    index=step,
                    token_id=token_id,
                    text="",
                    logprob_raw=float(raw_logp[token_id]),
                    logprob=float(logp[token_id]),
                    entropy_bits=entropy,
                    alternatives=alternatives,
                    time_s=now,
                )
                last = step == config.max_new_tokens - 1
                emit(stream.add(token, final=last))
                if stream.stopped:
                    finish_reason = "stop"
                    break
                report(progress, (step + 1) / config.max_new_tokens)
            if not stream.stopped:
                emit(stream.flush())
    finally:
        model.train(was_training)
        if threads:
            torch.set_num_threads(previous_threads)
    elapsed = time.perf_counter() - started
    decode_span = times[-1] - times[0] if len(times) > 1 else 0.0
    return GenerationResult(
        prompt_ids=prompt_ids,
        text="".join(t.text for t in shown),
        tokens=shown,
        finish_reason=finish_reason,
        seed=seed,
        config={**config.to_dict(), "seed": seed},
        generated_tokens=len(times),
        time_to_first_token_s=times[0] if times else math.nan,
        elapsed_s=elapsed,
        tokens_per_s=(len(times) - 1) / decode_span if decode_span > 0 else math.nan,
        stop_string=stream.stop_string if stream.stopped else None,
        dropped_prompt_tokens=dropped,
        context=block_size,
    )


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


def score_text(
    model: torch.nn.Module,
    tokenizer: Any,
    text: str,
    *,
    progress: ProgressCallback | None = None,
) -> TextScore:
    """How surprised the model is by each token of ``text`` (bits), with total and perplexity.

    A text longer than the context is read in overlapping windows (stride of
    half a context), so every token after the first is scored once with at
    least half a context before it.
    """
    ids = encode_prompt(tokenizer, text)
    if len(ids) < 2:
        raise GenerationError("paste at least two tokens of text to score")
    _check_prompt_ids(ids, model.config.vocab_size, len(ids))
    block = model.config.block_size
    stride = max(1, block // 2)
    device = _model_device(model)
    data = torch.tensor(ids, dtype=torch.long, device=device)
    bits = [0.0] * len(ids)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            scored_upto = 1  # position 0 has no context and is not scored
            start = 0
            while scored_upto < len(ids):
                end = min(len(ids), start + block)
                logits, _ = model(data[None, start:end])
                logp = logits[0].float().log_softmax(-1)
                targets = data[start + 1 : end]
                nll = -logp[:-1].gather(-1, targets[:, None])[:, 0] / math.log(2)
                for pos in range(max(scored_upto, start + 1), end):
                    bits[pos] = float(nll[pos - start - 1])
                scored_upto = end
                start += stride
                report(progress, scored_upto / len(ids))
    finally:
        model.train(was_training)
    tokens = [
        ScoredToken(i, tokenizer.decode([i]), b) for i, b in zip(ids[1:], bits[1:], strict=True)
    ]
    return TextScore(tokens=tokens, first_text=tokenizer.decode([ids[0]]))
