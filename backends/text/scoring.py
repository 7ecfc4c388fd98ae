"""How surprised a model is by a text: per-token negative log-likelihood (bits) and perplexity."""

from __future__ import annotations

import math
from typing import Any

import torch

from backends.progress import ProgressCallback, report
from backends.text.errors import GenerationError
from backends.text.language_model import LanguageModel, inference, model_device
from backends.text.prompts import check_prompt_ids, encode_prompt
from backends.text.results import ScoredToken, TextScore


def score_text(
    model: LanguageModel,
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
    check_prompt_ids(ids, int(model.config.vocab_size), len(ids))
    block = int(model.config.block_size)
    stride = max(1, block // 2)
    data = torch.tensor(ids, dtype=torch.long, device=model_device(model))
    bits = [0.0] * len(ids)
    with inference(model):
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
    tokens = [
        ScoredToken(i, tokenizer.decode([i]), b) for i, b in zip(ids[1:], bits[1:], strict=True)
    ]
    return TextScore(tokens=tokens, first_text=tokenizer.decode([ids[0]]))
