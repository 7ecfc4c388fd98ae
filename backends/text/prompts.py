"""A prompt as token ids: encoding it, checking it, fitting it to a context, saying what was cut.

Also :func:`measure_prompt`, how a prompt fits a given model's context, which
reads only the tokenizer and config where it can. Nothing here imports torch at
import time: the playground measures its template preview through this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.text.errors import GenerationError


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


def check_prompt_ids(ids: Sequence[int], vocab_size: int, block_size: int) -> list[int]:
    """``ids`` as ints, refused when one is outside the vocabulary or they overflow the context."""
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


def prepare_prompt(
    tokenizer: Any, prompt: str | Sequence[int], block_size: int, vocab_size: int, truncate: bool
) -> tuple[list[int], int]:
    """The ids a generation starts from and how many of the oldest were dropped to fit.

    An empty prompt starts from the tokenizer's BOS (an error when it has
    none); with ``truncate`` a prompt longer than the context is fitted by
    :func:`fit_prompt`, else it is refused.
    """
    prompt_ids = encode_prompt(tokenizer, prompt) if isinstance(prompt, str) else list(prompt)
    if not prompt_ids:
        bos = getattr(tokenizer, "bos_id", None)
        if bos is None:
            raise GenerationError("the prompt is empty; type at least one character to continue")
        prompt_ids = [bos]
    dropped = 0
    if truncate:
        prompt_ids, dropped = fit_prompt(prompt_ids, block_size, getattr(tokenizer, "bos_id", None))
    return check_prompt_ids(prompt_ids, vocab_size, block_size), dropped


def truncation_note(dropped: int, block_size: int) -> str:
    """What a person is told when a prompt was cut to fit the context ('' when nothing was)."""
    if not dropped:
        return ""
    return (
        f"prompt left-truncated: its first {dropped} token{'s' if dropped != 1 else ''} "
        f"did not fit the model's context of {block_size} tokens and were dropped"
    )


# ---------------------------------------------------------------- does a prompt fit?


@dataclass
class PromptFit:
    """How a prompt fits a model's context: its tokens, the context and what would be dropped."""

    tokens: int
    context: int
    dropped: int

    @property
    def note(self) -> str:
        if self.dropped:
            return truncation_note(self.dropped, self.context)
        return f"{self.tokens} tokens; fits the context of {self.context}"


def _prompt_reader(where: str) -> tuple[Any, int]:
    """(tokenizer, context) without loading weights where that is possible (any Hugging Face
    folder other than GPT-2 reads only its tokenizer and config)."""
    from backends.text.models import hf_model_type, is_hf_folder, load_text_model

    path = Path(where).expanduser()
    if path.is_dir() and is_hf_folder(path) and hf_model_type(path) not in (None, "gpt2"):
        from backends.text.hf import HFTextTokenizer, context_length, import_transformers

        transformers = import_transformers()
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # any reader failure: one line
            raise GenerationError(
                f"{path}: the tokenizer or config could not be read ({exc})"
            ) from exc
        return HFTextTokenizer(tok, {tok.eos_token_id}), context_length(config, tok)
    loaded = load_text_model(where)
    return loaded.tokenizer, loaded.context


def measure_prompt(where: str | Path, text: str) -> PromptFit:
    """Tokens of ``text`` for the model at ``where`` and how many a generation would drop."""
    tokenizer, context = _prompt_reader(str(where))
    ids = encode_prompt(tokenizer, text)
    _, dropped = fit_prompt(ids, context, getattr(tokenizer, "bos_id", None))
    return PromptFit(len(ids), context, dropped)
